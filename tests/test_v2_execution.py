"""v2 batch modes: Sequential, Parallel, Conditional; ports, control, dependency, fan-out."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from qtforge_orch import AdvancedPluginOrchestrator, PluginManager, WorkflowExecutionStatus
from qtforge_orch.testing import HangingPlugin, wait_until_idle

from .v2_helpers import (
    Code,
    Journal,
    Kind,
    Mode,
    NodeType,
    conn,
    control,
    fn,
    node,
    node_status,
    register,
    run_to_end,
    start,
    states,
    status,
    workflow,
)

pytestmark = pytest.mark.timeout(30)

Status = WorkflowExecutionStatus


# --------------------------------------------------------------------------------------------
# Sequential


def test_sequential_runs_in_dependency_then_declaration_order(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    journal = Journal()
    for name in ("late", "first", "solo", "tail"):
        fn(plugins, name, journal.command(name))
    # "late" is declared first but depends on "first"; "solo" is independent.
    register(
        advanced,
        workflow(
            "seq",
            Mode.Sequential,
            [node("late"), node("first"), node("solo"), node("tail")],
            [conn("first", "late"), conn("late", "tail")],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "seq")
    assert ctx.status is Status.Completed
    entries = journal.snapshot()
    # enter/exit strictly alternate for the same node: never two nodes at once
    assert [e for e, _ in entries] == ["enter", "exit"] * 4
    assert all(entries[i][1] == entries[i + 1][1] for i in range(0, 8, 2))
    order = [n for e, n in entries if e == "enter"]
    assert order.index("first") < order.index("late") < order.index("tail")
    assert order == ["first", "late", "solo", "tail"]
    # the result holds the completed leaves only
    assert ctx.execution_data["result"] == {
        "solo": {"solo_done": True},
        "tail": {"tail_done": True},
    }
    assert status(advanced, execution_id).progress == 1.0


def test_sequential_never_starts_a_second_node_while_one_runs(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    advanced.thread_pool().setMaxThreadCount(4)  # parallelism would be possible
    gate = HangingPlugin()
    b_started = threading.Event()
    fn(plugins, "a", gate)
    fn(plugins, "b", lambda p: b_started.set() or {"b": 1})
    register(advanced, workflow("seq2", Mode.Sequential, [node("a"), node("b")]))
    execution_id = start(advanced, "seq2")
    assert gate.entered.wait(5)
    assert wait_until_idle(advanced, busy=1)  # only the gated node holds a thread
    assert not b_started.is_set(), "Sequential started an independent node concurrently"
    assert states(advanced, execution_id) == {"a": "running", "b": "pending"}
    gate.release()
    assert advanced.wait_for_execution(execution_id, 5000)
    assert b_started.is_set()
    assert status(advanced, execution_id).status is Status.Completed


# --------------------------------------------------------------------------------------------
# Parallel


def test_parallel_runs_independent_nodes_at_the_same_time(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    n = 4
    advanced.thread_pool().setMaxThreadCount(n)
    barrier = threading.Barrier(n, timeout=5)
    threads: set[int] = set()
    lock = threading.Lock()

    def meet(params: dict[str, Any]) -> dict[str, Any]:
        barrier.wait()  # passes only when all n nodes are running at once
        with lock:
            threads.add(threading.get_ident())
        return {"met": params["who"]}

    fn(plugins, "meet", meet)
    nodes = [node(f"n{i}", "meet", configuration={"who": i}) for i in range(n)]
    register(advanced, workflow("par", Mode.Parallel, nodes))
    _, ctx = run_to_end(advanced, "par")
    assert ctx.status is Status.Completed, ctx.error_messages
    assert ctx.execution_data["result"] == {f"n{i}": {"met": i} for i in range(n)}
    assert len(threads) == n
    assert not barrier.broken


def test_parallel_respects_global_max_concurrency(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    advanced.thread_pool().setMaxThreadCount(4)
    lock = threading.Lock()
    entries = [0]
    active = [0]
    peak = [0]
    two_in = threading.Event()
    third_in = threading.Event()
    release = threading.Event()

    def busy(params: dict[str, Any]) -> dict[str, Any]:
        with lock:
            entries[0] += 1
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            if entries[0] == 2:
                two_in.set()
            if entries[0] == 3:
                third_in.set()
        assert release.wait(5)
        with lock:
            active[0] -= 1
        return {"done": params["i"]}

    fn(plugins, "busy", busy)
    register(
        advanced,
        workflow(
            "limited",
            Mode.Parallel,
            [node(f"b{i}", "busy", configuration={"i": i}) for i in range(4)],
            global_configuration={"max_concurrency": 2},
        ),
    )
    execution_id = start(advanced, "limited")
    try:
        assert two_in.wait(5)
        assert wait_until_idle(advanced, busy=2)
        assert not third_in.is_set(), "a third node started past max_concurrency=2"
    finally:
        release.set()
    assert advanced.wait_for_execution(execution_id, 5000)
    ctx = status(advanced, execution_id)
    assert ctx.status is Status.Completed
    assert peak[0] == 2 and entries[0] == 4
    assert ctx.execution_data["result"] == {f"b{i}": {"done": i} for i in range(4)}


def test_parallel_diamond_overlaps_branches_and_joins_their_outputs(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    advanced.thread_pool().setMaxThreadCount(2)
    barrier = threading.Barrier(2, timeout=5)
    fn(plugins, "root", lambda p: {"seed": p["seed"]})

    def branch(params: dict[str, Any]) -> dict[str, Any]:
        barrier.wait()
        return {params["key"]: params["seed"] * params["factor"]}

    fn(plugins, "branch", branch)
    joined: list[dict[str, Any]] = []
    fn(plugins, "join", lambda p: joined.append(dict(p)) or {"total": p["left"] + p["right"]})
    register(
        advanced,
        workflow(
            "diamond",
            Mode.Parallel,
            [
                node("root"),
                node("l", "branch", configuration={"key": "left", "factor": 2}),
                node("r", "branch", configuration={"key": "right", "factor": 3}),
                node("join"),
            ],
            [conn("root", "l"), conn("root", "r"), conn("l", "join"), conn("r", "join")],
        ),
    )
    _, ctx = run_to_end(advanced, "diamond", {"seed": 5})
    assert ctx.status is Status.Completed, ctx.error_messages
    assert joined == [{"left": 10, "right": 15}]
    assert ctx.execution_data["result"] == {"join": {"total": 25}}


# --------------------------------------------------------------------------------------------
# Conditional: the reference's file-validator graph


def _file_validator_graph(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, mode: Mode = Mode.Conditional
) -> Journal:
    journal = Journal()

    def validate(params: dict[str, Any]) -> dict[str, Any]:
        journal.add("enter", "file_validator")
        return {"file_valid": str(params.get("path", "")).endswith(".csv"), **params}

    fn(plugins, "file_validator", validate)
    fn(plugins, "csv_processor", lambda p: journal.add("enter", "csv") or {"processed": p["path"]})
    fn(plugins, "error_handler", lambda p: journal.add("enter", "err") or {"rejected": p["path"]})
    register(
        advanced,
        workflow(
            "files",
            mode,
            [
                node("file_validator", node_type=NodeType.Decision),
                node("process_valid_file", "csv_processor"),
                node("handle_invalid_file", "error_handler"),
            ],
            [
                control("file_validator", "process_valid_file", "file_valid == true"),
                control("file_validator", "handle_invalid_file", "file_valid == false"),
            ],
        ),
    )
    return journal


def test_conditional_valid_file_takes_the_true_branch(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    journal = _file_validator_graph(advanced, plugins)
    execution_id, ctx = run_to_end(advanced, "files", {"path": "/data/incoming/a.csv"})
    assert ctx.status is Status.Completed
    assert states(advanced, execution_id) == {
        "file_validator": "completed",
        "process_valid_file": "completed",
        "handle_invalid_file": "skipped",
    }
    # a taken control edge delivers the source output like a port-less DataFlow
    assert ctx.execution_data["result"] == {
        "process_valid_file": {"processed": "/data/incoming/a.csv"}
    }
    assert ("enter", "err") not in journal.snapshot()


def test_conditional_invalid_file_takes_the_false_branch(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    journal = _file_validator_graph(advanced, plugins)
    execution_id, ctx = run_to_end(advanced, "files", {"path": "/data/incoming/notes.txt"})
    assert ctx.status is Status.Completed
    assert states(advanced, execution_id)["process_valid_file"] == "skipped"
    assert states(advanced, execution_id)["handle_invalid_file"] == "completed"
    assert ctx.execution_data["result"] == {
        "handle_invalid_file": {"rejected": "/data/incoming/notes.txt"}
    }
    assert ("enter", "csv") not in journal.snapshot()
    skipped = node_status(advanced, execution_id, "process_valid_file")
    assert skipped["attempts"] == 0 and skipped["output"] == {}


def test_control_edges_gate_in_parallel_mode_too(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    _file_validator_graph(advanced, plugins, Mode.Parallel)
    execution_id, ctx = run_to_end(advanced, "files", {"path": "x.csv"})
    assert ctx.status is Status.Completed
    assert states(advanced, execution_id)["handle_invalid_file"] == "skipped"


def test_skipped_branch_skips_what_only_it_feeds(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    ran: list[str] = []
    fn(plugins, "decide", lambda p: {"go": p["go"]})
    fn(plugins, "work", lambda p: ran.append("work") or {"w": 1})
    fn(plugins, "after", lambda p: ran.append("after") or {"a": 1})
    register(
        advanced,
        workflow(
            "chain",
            Mode.Parallel,
            [node("decide", node_type=NodeType.Decision), node("work"), node("after")],
            [control("decide", "work", "go == true"), conn("work", "after")],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "chain", {"go": False})
    assert ctx.status is Status.Completed
    assert states(advanced, execution_id) == {
        "decide": "completed",
        "work": "skipped",
        "after": "skipped",
    }
    assert ran == []
    # a leaf that did not complete is not in the result
    assert ctx.execution_data["result"] == {}


def test_conditional_mode_joins_are_or_joins(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    """The branch-merge pattern: the join runs when one branch completed, the other skipped."""
    merged: list[dict[str, Any]] = []
    fn(plugins, "decide", lambda p: {"big": p["n"] > 10})
    fn(plugins, "small", lambda p: {"label": "small"})
    fn(plugins, "large", lambda p: {"label": "large"})
    fn(plugins, "merge", lambda p: merged.append(dict(p)) or {"done": p["label"]})
    graph = (
        [
            node("decide", node_type=NodeType.Decision),
            node("small"),
            node("large"),
            node("merge"),
        ],
        [
            control("decide", "small", "big == false"),
            control("decide", "large", "big == true"),
            conn("small", "merge"),
            conn("large", "merge"),
        ],
    )
    register(advanced, workflow("or", Mode.Conditional, *graph))
    register(advanced, workflow("and", Mode.Parallel, *graph))

    execution_id, ctx = run_to_end(advanced, "or", {"n": 50})
    assert ctx.status is Status.Completed
    assert states(advanced, execution_id) == {
        "decide": "completed",
        "small": "skipped",
        "large": "completed",
        "merge": "completed",
    }
    assert merged == [{"label": "large"}]
    assert ctx.execution_data["result"] == {"merge": {"done": "large"}}

    # Outside Conditional mode a skipped data input skips the join.
    execution_id, ctx = run_to_end(advanced, "and", {"n": 50})
    assert ctx.status is Status.Completed
    assert states(advanced, execution_id)["merge"] == "skipped"
    assert len(merged) == 1


def test_control_condition_that_cannot_be_evaluated_fails_the_decision_node(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    downstream: list[str] = []
    fn(plugins, "decide", lambda p: {"score": "not a number"})
    fn(plugins, "high", lambda p: downstream.append("high") or {})
    register(
        advanced,
        workflow(
            "bad_condition",
            Mode.Conditional,
            [node("decide", node_type=NodeType.Decision), node("high")],
            [control("decide", "high", "score > 5")],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "bad_condition")
    assert ctx.status is Status.Failed
    decide = node_status(advanced, execution_id, "decide")
    assert decide["status"] == "failed"
    assert "score > 5" in decide["error"] and "could not be evaluated" in decide["error"]
    assert downstream == []
    assert any("score > 5" in m for m in ctx.error_messages)


def test_control_condition_on_a_missing_key_fails_a_non_critical_decision_only(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    fn(plugins, "decide", lambda p: {"unrelated": 1})
    fn(plugins, "high", lambda p: {"high": True})
    fn(plugins, "other", lambda p: {"other": True})
    register(
        advanced,
        workflow(
            "missing_key",
            Mode.Parallel,
            [
                node("decide", node_type=NodeType.Decision, configuration={"critical": False}),
                node("high"),
                node("other"),
            ],
            [control("decide", "high", "flag == true")],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "missing_key")
    assert ctx.status is Status.Completed
    assert states(advanced, execution_id) == {
        "decide": "failed",
        "high": "skipped",
        "other": "completed",
    }
    assert "flag" in node_status(advanced, execution_id, "decide")["error"]


# --------------------------------------------------------------------------------------------
# Data flow


def test_port_to_port_data_flow(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    received: list[dict[str, Any]] = []
    fn(plugins, "producer", lambda p: {"numbers": [1, 2, 3], "label": "abc", "extra": "no"})
    fn(plugins, "consumer", lambda p: received.append(dict(p)) or {"sum": sum(p["values"])})
    register(
        advanced,
        workflow(
            "ports",
            Mode.Sequential,
            [
                node("producer", output_ports=["numbers", "label", "extra"]),
                node(
                    "consumer",
                    input_ports=["values", "name"],
                    configuration={"name": "default", "keep": True, "timeout": 5000},
                ),
            ],
            [
                conn("producer", "consumer", source_port="numbers", target_port="values"),
                conn("producer", "consumer", source_port="label", target_port="name"),
            ],
        ),
    )
    _, ctx = run_to_end(advanced, "ports", {"ignored": "roots only"})
    assert ctx.status is Status.Completed, ctx.error_messages
    # inputs overlay the configuration; engine keys are stripped; only the ported values arrive
    assert received == [{"values": [1, 2, 3], "name": "abc", "keep": True}]
    assert ctx.execution_data["result"] == {"consumer": {"sum": 6}}


def test_portless_data_flow_merges_whole_outputs_and_roots_get_the_input(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    seen: dict[str, dict[str, Any]] = {}

    def record(name: str, output: dict[str, Any]) -> Any:
        def run(params: dict[str, Any]) -> dict[str, Any]:
            seen[name] = dict(params)
            return output

        return run

    fn(plugins, "a", record("a", {"x": 1, "shared": "a"}))
    fn(plugins, "b", record("b", {"y": 2, "shared": "b"}))
    fn(plugins, "c", record("c", {"done": True}))
    register(
        advanced,
        workflow(
            "merge",
            Mode.Sequential,
            [node("a", configuration={"opt": 1}), node("b"), node("c")],
            [conn("a", "c"), conn("b", "c")],
        ),
    )
    _, ctx = run_to_end(advanced, "merge", {"input": 42, "opt": 0})
    assert ctx.status is Status.Completed
    assert seen["a"] == {"input": 42, "opt": 0}  # inputs overlay the configuration (DESIGN 5)
    assert seen["b"] == {"input": 42, "opt": 0}
    assert seen["c"] == {"x": 1, "y": 2, "shared": "b"}  # merged in connection order
    assert "input" not in seen["c"]


def test_method_configuration_selects_the_command(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    from qtforge_orch import FunctionPlugin

    plugins.register_plugin(
        FunctionPlugin("multi", execute=lambda p: {"via": "execute"}, other=lambda p: {"via": "o"})
    )
    register(
        advanced,
        workflow(
            "methods",
            Mode.Parallel,
            [node("d", "multi"), node("o", "multi", configuration={"method": "other"})],
        ),
    )
    _, ctx = run_to_end(advanced, "methods")
    assert ctx.execution_data["result"] == {"d": {"via": "execute"}, "o": {"via": "o"}}


def test_missing_command_and_missing_plugin_fail_with_their_codes(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    fn(plugins, "only_execute", lambda p: {})
    register(
        advanced,
        workflow(
            "missing",
            Mode.Parallel,
            [
                node("cmd", "only_execute", configuration={"method": "nope", "critical": False}),
                node("plug", "not_loaded", configuration={"critical": False}),
            ],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "missing")
    assert ctx.status is Status.Completed
    assert "nope" in node_status(advanced, execution_id, "cmd")["error"]
    assert "not_loaded" in node_status(advanced, execution_id, "plug")["error"]


def test_dependency_edges_order_without_passing_data(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    advanced.thread_pool().setMaxThreadCount(4)
    gate = HangingPlugin(output={"secret": "from a"})
    b_params: list[dict[str, Any]] = []
    b_started = threading.Event()

    def b(params: dict[str, Any]) -> dict[str, Any]:
        b_started.set()
        b_params.append(dict(params))
        return {"b": True}

    fn(plugins, "a", gate)
    fn(plugins, "b", b)
    register(
        advanced,
        workflow(
            "dep",
            Mode.Parallel,
            [node("b"), node("a")],  # b declared first: only the edge holds it back
            [conn("a", "b", Kind.Dependency)],
        ),
    )
    execution_id = start(advanced, "dep", {"run": 7})
    assert gate.entered.wait(5)
    assert wait_until_idle(advanced, busy=1)
    assert not b_started.is_set(), "b started before its Dependency predecessor ended"
    gate.release()
    assert advanced.wait_for_execution(execution_id, 5000)
    ctx = status(advanced, execution_id)
    assert ctx.status is Status.Completed
    # no data along a Dependency edge: b reads the execution input like a root
    assert b_params == [{"run": 7}]
    assert ctx.execution_data["result"] == {"b": {"b": True}}


def test_splitter_fans_out_and_aggregator_collects(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    calls: list[Any] = []
    lock = threading.Lock()

    def square(params: dict[str, Any]) -> dict[str, Any]:
        with lock:
            calls.append(params["n"])
        return {"sq": params["n"] * params["n"]}

    aggregated: list[dict[str, Any]] = []
    fn(plugins, "split", lambda p: {"chunks": list(range(1, p["count"] + 1))})
    fn(plugins, "square", square)
    fn(
        plugins,
        "collect",
        lambda p: aggregated.append(dict(p)) or {"total": sum(v["sq"] for v in p["values"])},
    )
    register(
        advanced,
        workflow(
            "fan",
            Mode.Parallel,
            [
                node("split", node_type=NodeType.Splitter, output_ports=["chunks"]),
                node("square", input_ports=["n"]),
                node("collect", node_type=NodeType.Aggregator, input_ports=["values"]),
            ],
            [
                conn("split", "square", source_port="chunks", target_port="n"),
                conn("square", "collect"),
            ],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "fan", {"count": 4})
    assert ctx.status is Status.Completed, ctx.error_messages
    assert calls == [1, 2, 3, 4]  # once per item, in order
    assert node_status(advanced, execution_id, "square")["output"] == {
        "items": [{"sq": 1}, {"sq": 4}, {"sq": 9}, {"sq": 16}]
    }
    assert aggregated == [{"values": [{"sq": 1}, {"sq": 4}, {"sq": 9}, {"sq": 16}]}]
    assert ctx.execution_data["result"] == {"collect": {"total": 30}}


def test_splitter_without_ports_uses_items_and_aggregator_waits_for_all_inputs(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    aggregated: list[dict[str, Any]] = []
    fn(plugins, "split", lambda p: {"items": [{"w": "a"}, {"w": "bb"}]})
    fn(plugins, "length", lambda p: {"len": len(p["w"])})
    fn(plugins, "other", lambda p: {"len": 100})
    fn(plugins, "collect", lambda p: aggregated.append(dict(p)) or {"n": len(p["items"])})
    register(
        advanced,
        workflow(
            "fan2",
            Mode.Parallel,
            [
                node("split", node_type=NodeType.Splitter),
                node("length"),
                node("other"),
                node("collect", node_type=NodeType.Aggregator),
            ],
            [conn("split", "length"), conn("length", "collect"), conn("other", "collect")],
        ),
    )
    _, ctx = run_to_end(advanced, "fan2")
    assert ctx.status is Status.Completed, ctx.error_messages
    assert aggregated == [{"items": [{"len": 1}, {"len": 2}, {"len": 100}]}]
    assert ctx.execution_data["result"] == {"collect": {"n": 3}}


def test_splitter_that_returns_no_list_fails(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    fn(plugins, "split", lambda p: {"items": "not a list"})
    fn(plugins, "each", lambda p: {})
    register(
        advanced,
        workflow(
            "bad_split",
            Mode.Sequential,
            [node("split", node_type=NodeType.Splitter), node("each")],
            [conn("split", "each")],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "bad_split")
    assert ctx.status is Status.Failed
    assert "list" in node_status(advanced, execution_id, "split")["error"]
    assert states(advanced, execution_id)["each"] == "cancelled"


def test_plugin_error_code_and_non_dict_result(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    from qtforge_orch import make_error

    fn(plugins, "denied", lambda p: make_error(Code.PermissionDenied, "no access"))
    fn(plugins, "wrong", lambda p: [1, 2])
    register(advanced, workflow("denied", Mode.Sequential, [node("denied")]))
    register(advanced, workflow("wrong", Mode.Sequential, [node("wrong")]))
    execution_id, ctx = run_to_end(advanced, "denied")
    assert ctx.status is Status.Failed
    assert node_status(advanced, execution_id, "denied")["error"] == "no access"
    execution_id, ctx = run_to_end(advanced, "wrong")
    assert ctx.status is Status.Failed
    assert "must return a dict" in node_status(advanced, execution_id, "wrong")["error"]
