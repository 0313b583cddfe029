"""v2 Streaming mode: item counters, ordering, backpressure, item errors, source failures."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    PluginManager,
    WorkflowExecutionStatus,
    make_error,
)
from qtforge_orch._engine import stream_scheduler

from .v2_helpers import (
    Code,
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
    status,
    workflow,
)

pytestmark = pytest.mark.timeout(30)

Status = WorkflowExecutionStatus
BATCH = 256  # per in-flight batch, the slack the backpressure bound allows: C + 2 * 256
COUNTER_KEYS = ("items_in", "items_out", "items_dropped", "items_failed")


def counters(orch: AdvancedPluginOrchestrator, execution_id: str, node_id: str) -> dict[str, int]:
    found = node_status(orch, execution_id, node_id)
    return {key: found[key] for key in COUNTER_KEYS}


def counting_source(count: int, produced: list[int] | None = None) -> Any:
    def source(params: dict[str, Any]) -> Iterator[int]:
        def generate() -> Iterator[int]:
            for i in range(count):
                if produced is not None:
                    produced[0] += 1
                yield i

        return generate()

    return source


class Collector:
    def __init__(self, port: str) -> None:
        self.port = port
        self.items: list[Any] = []

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        self.items.append(params[self.port])
        return {"stored": True}


# --------------------------------------------------------------------------------------------


def test_exact_counters_with_drops(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    n = 1000
    sink = Collector("data")
    fn(plugins, "src", counting_source(n))
    fn(plugins, "evens", lambda p: {"kept": p["input"]} if p["input"] % 2 == 0 else None)
    fn(plugins, "double", lambda p: {"out": p["input"] * 2})
    fn(plugins, "sink", sink)
    register(
        advanced,
        workflow(
            "drops",
            Mode.Streaming,
            [
                node("src", node_type=NodeType.Source, output_ports=["raw"]),
                node("evens", input_ports=["input"], output_ports=["kept"]),
                node("double", input_ports=["input"], output_ports=["out"]),
                node("sink", node_type=NodeType.Sink, input_ports=["data"]),
            ],
            [
                conn("src", "evens", source_port="raw", target_port="input"),
                conn("evens", "double", source_port="kept", target_port="input"),
                conn("double", "sink", source_port="out", target_port="data"),
            ],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "drops")
    assert ctx.status is Status.Completed, ctx.error_messages
    half = n // 2
    assert counters(advanced, execution_id, "src") == {
        "items_in": n,
        "items_out": n,
        "items_dropped": 0,
        "items_failed": 0,
    }
    assert counters(advanced, execution_id, "evens") == {
        "items_in": n,
        "items_out": half,
        "items_dropped": half,
        "items_failed": 0,
    }
    assert counters(advanced, execution_id, "double") == {
        "items_in": half,
        "items_out": half,
        "items_dropped": 0,
        "items_failed": 0,
    }
    assert counters(advanced, execution_id, "sink") == {
        "items_in": half,
        "items_out": half,
        "items_dropped": 0,
        "items_failed": 0,
    }
    assert sink.items == [i * 2 for i in range(0, n, 2)]
    assert node_status(advanced, execution_id, "evens")["item_errors"] == []
    # the workflow result: the leaf's counters
    assert ctx.execution_data["result"] == {
        "sink": {"items_in": half, "items_out": half, "items_dropped": 0, "items_failed": 0}
    }
    assert {s["status"] for s in ctx.node_states.values()} == {"completed"}


def test_order_is_preserved_through_a_linear_chain(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    advanced.thread_pool().setMaxThreadCount(2)  # fewer threads than stages
    n = 3000
    sink = Collector("value")
    fn(plugins, "src", counting_source(n))
    fn(plugins, "inc", lambda p: {"value": p["value"] + 1})
    fn(plugins, "sink", sink)
    nodes = [node("src", node_type=NodeType.Source)]
    connections = []
    previous = "src"
    for i in range(3):
        nodes.append(node(f"inc{i}", "inc"))
        connections.append(conn(previous, f"inc{i}"))
        previous = f"inc{i}"
    nodes.append(node("sink", node_type=NodeType.Sink))
    connections.append(conn(previous, "sink"))
    register(
        advanced,
        workflow(
            "order",
            Mode.Streaming,
            nodes,
            connections,
            global_configuration={"stream_channel_capacity": 100},
        ),
    )
    _, ctx = run_to_end(advanced, "order")
    assert ctx.status is Status.Completed, ctx.error_messages
    assert sink.items == [i + 3 for i in range(n)]


def test_backpressure_bounds_a_fast_source_behind_a_blocked_sink(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    capacity = 64
    n = 5000
    bound = capacity + 2 * BATCH
    produced = [0]
    blocked = threading.Event()
    release = threading.Event()
    received: list[int] = []

    def slow_sink(params: dict[str, Any]) -> dict[str, Any]:
        if not blocked.is_set():
            blocked.set()
            assert release.wait(10)
        received.append(params["data"])
        return {"ok": True}

    fn(plugins, "src", counting_source(n, produced))
    fn(plugins, "sink", slow_sink)
    register(
        advanced,
        workflow(
            "bp",
            Mode.Streaming,
            [
                node("src", node_type=NodeType.Source, output_ports=["raw_data"]),
                node("sink", node_type=NodeType.Sink, input_ports=["data"]),
            ],
            [conn("src", "sink", source_port="raw_data", target_port="data")],
            global_configuration={"stream_channel_capacity": capacity},
        ),
    )
    execution_id = start(advanced, "bp")
    assert blocked.wait(5)
    try:
        # the source fills the sink's inbox, then must stop
        qtbot.waitUntil(
            lambda: node_status(advanced, execution_id, "src")["items_out"] >= capacity,
            timeout=5000,
        )
        samples = []
        pause = threading.Event()
        for _ in range(5):
            source = node_status(advanced, execution_id, "src")
            samples.append((produced[0], source["items_in"], source["items_out"]))
            assert source["status"] == "running"
            pause.wait(0.05)  # give an unbounded source time to run away
        assert all(p <= bound and i <= bound and o <= bound for p, i, o in samples), samples
        sink = node_status(advanced, execution_id, "sink")
        assert sink["items_out"] == 0 and sink["items_in"] <= BATCH
    finally:
        release.set()
    assert advanced.wait_for_execution(execution_id, 10_000)
    assert status(advanced, execution_id).status is Status.Completed
    assert received == list(range(n))
    assert counters(advanced, execution_id, "src")["items_out"] == n
    assert counters(advanced, execution_id, "sink")["items_in"] == n


def test_item_errors_are_counted_and_the_rest_complete(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    n = 70
    sink = Collector("value")

    def picky(params: dict[str, Any]) -> Any:
        value = params["value"]
        if value % 7 == 0:
            raise ValueError(f"bad item {value}")
        if value % 10 == 1:
            return make_error(Code.InvalidParameters, f"rejected {value}")
        return {"value": value}

    fn(plugins, "src", counting_source(n))
    fn(plugins, "picky", picky)
    fn(plugins, "sink", sink)
    register(
        advanced,
        workflow(
            "errors",
            Mode.Streaming,
            [node("src", node_type=NodeType.Source), node("picky"), node("sink")],
            [conn("src", "picky"), conn("picky", "sink")],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "errors")
    assert ctx.status is Status.Completed, ctx.error_messages
    raised = [i for i in range(n) if i % 7 == 0]
    rejected = [i for i in range(n) if i % 7 != 0 and i % 10 == 1]
    good = [i for i in range(n) if i not in raised and i not in rejected]
    picky_status = node_status(advanced, execution_id, "picky")
    assert picky_status["status"] == "completed"
    assert picky_status["items_in"] == n
    assert picky_status["items_failed"] == len(raised) + len(rejected)
    assert picky_status["items_out"] == len(good)
    assert picky_status["items_dropped"] == 0
    errors = picky_status["item_errors"]
    assert 0 < len(errors) <= 20
    assert any("bad item 0" in e for e in errors)
    assert any("rejected 1" in e for e in errors)
    assert sink.items == good


def test_a_source_that_raises_fails_its_node_and_the_workflow(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    def broken(params: dict[str, Any]) -> Iterator[int]:
        def generate() -> Iterator[int]:
            yield 1
            raise ConnectionError("broker went away")

        return generate()

    fn(plugins, "broken", broken)
    fn(plugins, "sink", lambda p: {})
    register(
        advanced,
        workflow(
            "src_fail",
            Mode.Streaming,
            [node("broken", node_type=NodeType.Source), node("sink", node_type=NodeType.Sink)],
            [conn("broken", "sink")],
        ),
    )
    failures: list[tuple[str, str]] = []
    advanced.node_failed.connect(lambda e, n, err: failures.append((n, err)))
    with qtbot.waitSignal(advanced.workflow_failed, timeout=5000) as failed:
        execution_id = start(advanced, "src_fail")
    assert failed.args[0] == execution_id
    assert "broker went away" in failed.args[1]
    ctx = status(advanced, execution_id)
    assert ctx.status is Status.Failed
    broken_status = node_status(advanced, execution_id, "broken")
    assert broken_status["status"] == "failed"
    assert "ConnectionError" in broken_status["error"]
    assert failures == [("broken", broken_status["error"])]


def test_a_source_whose_first_call_raises_fails_the_workflow(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    def refuse(params: dict[str, Any]) -> Any:
        raise PermissionError("no topic")

    fn(plugins, "refuse", refuse)
    fn(plugins, "sink", lambda p: {})
    register(
        advanced,
        workflow(
            "src_fail2",
            Mode.Streaming,
            [node("refuse", node_type=NodeType.Source), node("sink", node_type=NodeType.Sink)],
            [conn("refuse", "sink")],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "src_fail2")
    assert ctx.status is Status.Failed
    assert "no topic" in node_status(advanced, execution_id, "refuse")["error"]


def test_a_non_critical_source_failure_keeps_what_it_produced(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    def broken(params: dict[str, Any]) -> Iterator[int]:
        def generate() -> Iterator[int]:
            yield from (1, 2, 3)
            raise RuntimeError("feed ended badly")

        return generate()

    sink = Collector("value")
    fn(plugins, "broken", broken)
    fn(plugins, "sink", sink)
    register(
        advanced,
        workflow(
            "src_soft",
            Mode.Streaming,
            [
                node("broken", node_type=NodeType.Source, configuration={"critical": False}),
                node("sink", node_type=NodeType.Sink),
            ],
            [conn("broken", "sink")],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "src_soft")
    assert ctx.status is Status.Completed
    assert node_status(advanced, execution_id, "broken")["status"] == "failed"
    assert sink.items == [1, 2, 3]
    assert counters(advanced, execution_id, "sink")["items_in"] == 3


def test_workflow_completed_signal_carries_the_leaf_counters(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    fn(plugins, "src", counting_source(10))
    fn(plugins, "sink", lambda p: {"ok": True} if p["value"] < 7 else None)
    register(
        advanced,
        workflow(
            "signals",
            Mode.Streaming,
            [node("src", node_type=NodeType.Source), node("sink", node_type=NodeType.Sink)],
            [conn("src", "sink")],
        ),
    )
    completed_nodes: list[tuple[str, dict[str, Any]]] = []
    terminal: list[str] = []
    advanced.node_completed.connect(lambda e, n, r: completed_nodes.append((n, r)))
    advanced.workflow_failed.connect(lambda *a: terminal.append("failed"))
    advanced.workflow_cancelled.connect(lambda *a: terminal.append("cancelled"))
    advanced.workflow_completed.connect(lambda *a: terminal.append("completed"))
    with qtbot.waitSignal(advanced.workflow_completed, timeout=5000) as completed:
        execution_id = start(advanced, "signals")
    assert completed.args == [
        execution_id,
        {"sink": {"items_in": 10, "items_out": 7, "items_dropped": 3, "items_failed": 0}},
    ]
    assert terminal == ["completed"]
    assert dict(completed_nodes) == {
        "src": {"items_in": 10, "items_out": 10, "items_dropped": 0, "items_failed": 0},
        "sink": {"items_in": 10, "items_out": 7, "items_dropped": 3, "items_failed": 0},
    }
    assert [n for n, _ in completed_nodes] == ["src", "sink"]  # a stage ends after its input
    assert status(advanced, execution_id).progress == 1.0


def test_polling_source_and_windowed_aggregator(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    calls = [0]

    def poll(params: dict[str, Any]) -> dict[str, Any] | None:
        calls[0] += 1
        return {"n": calls[0]} if calls[0] <= 7 else None

    windows: list[list[Any]] = []
    sink = Collector("sum")
    fn(plugins, "poll", poll)
    fn(
        plugins,
        "agg",
        lambda p: windows.append(p["batch"]) or {"sum": sum(x["n"] for x in p["batch"])},
    )
    fn(plugins, "sink", sink)
    register(
        advanced,
        workflow(
            "windows",
            Mode.Streaming,
            [
                node("poll", node_type=NodeType.Source),
                node(
                    "agg",
                    node_type=NodeType.Aggregator,
                    input_ports=["batch"],
                    configuration={"window": 3},
                ),
                node("sink", node_type=NodeType.Sink),
            ],
            [conn("poll", "agg"), conn("agg", "sink")],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "windows")
    assert ctx.status is Status.Completed, ctx.error_messages
    assert calls[0] == 8  # called until it returned None
    assert [[x["n"] for x in w] for w in windows] == [[1, 2, 3], [4, 5, 6], [7]]
    assert sink.items == [6, 15, 7]
    assert counters(advanced, execution_id, "agg") == {
        "items_in": 7,
        "items_out": 3,
        "items_dropped": 0,
        "items_failed": 0,
    }


def test_aggregator_without_window_collects_the_whole_stream(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    seen: list[list[Any]] = []
    fn(plugins, "src", counting_source(600))  # more than one batch
    fn(plugins, "agg", lambda p: seen.append(p["items"]) or {"count": len(p["items"])})
    register(
        advanced,
        workflow(
            "all",
            Mode.Streaming,
            [node("src", node_type=NodeType.Source), node("agg", node_type=NodeType.Aggregator)],
            [conn("src", "agg")],
        ),
    )
    _, ctx = run_to_end(advanced, "all")
    assert ctx.status is Status.Completed, ctx.error_messages
    assert seen == [list(range(600))]


def test_fan_out_splitter_and_per_item_control_conditions(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    big = Collector("n")
    small = Collector("n")
    everything = Collector("n")
    fn(plugins, "src", lambda p: iter([[1, 20], [3], [40, 5, 60]]))
    fn(plugins, "split", lambda p: {"each": p["rows"]})
    fn(plugins, "tag", lambda p: {"n": p["n"], "big": p["n"] >= 10})
    fn(plugins, "big", big)
    fn(plugins, "small", small)
    fn(plugins, "all", everything)
    register(
        advanced,
        workflow(
            "route",
            Mode.Streaming,
            [
                node("src", node_type=NodeType.Source, output_ports=["rows"]),
                node(
                    "split",
                    node_type=NodeType.Splitter,
                    input_ports=["rows"],
                    output_ports=["each"],
                ),
                node("tag", node_type=NodeType.Decision, input_ports=["n"]),
                node("big", node_type=NodeType.Sink),
                node("small", node_type=NodeType.Sink),
                node("all", node_type=NodeType.Sink),
            ],
            [
                conn("src", "split", source_port="rows", target_port="rows"),
                conn("split", "tag", source_port="each", target_port="n"),
                control("tag", "big", "big == true"),
                control("tag", "small", "big == false"),
                conn("tag", "all"),
            ],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "route")
    assert ctx.status is Status.Completed, ctx.error_messages
    assert big.items == [20, 40, 60]
    assert small.items == [1, 3, 5]
    assert everything.items == [1, 20, 3, 40, 5, 60]
    assert counters(advanced, execution_id, "split")["items_in"] == 3
    assert counters(advanced, execution_id, "split")["items_out"] == 6


def test_dependency_edge_holds_a_second_source_until_the_first_is_exhausted(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    sink = Collector("value")
    fn(plugins, "first", lambda p: iter(range(0, 300)))
    fn(plugins, "second", lambda p: iter(range(1000, 1300)))
    fn(plugins, "sink", sink)
    register(
        advanced,
        workflow(
            "dep",
            Mode.Streaming,
            [
                node("second", node_type=NodeType.Source),
                node("first", node_type=NodeType.Source),
                node("sink", node_type=NodeType.Sink),
            ],
            [
                conn("first", "second", Kind.Dependency),
                conn("first", "sink"),
                conn("second", "sink"),
            ],
        ),
    )
    _, ctx = run_to_end(advanced, "dep")
    assert ctx.status is Status.Completed, ctx.error_messages
    assert sink.items == [*range(0, 300), *range(1000, 1300)]


def test_initial_data_and_configuration_reach_the_source(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    sink = Collector("value")
    fn(plugins, "src", lambda p: iter(range(p["start"], p["start"] + p["count"])))
    fn(plugins, "sink", sink)
    register(
        advanced,
        workflow(
            "params",
            Mode.Streaming,
            [
                node("src", node_type=NodeType.Source, configuration={"count": 3}),
                node("sink", node_type=NodeType.Sink),
            ],
            [conn("src", "sink")],
        ),
    )
    _, ctx = run_to_end(advanced, "params", {"start": 10})
    assert ctx.status is Status.Completed, ctx.error_messages
    assert sink.items == [10, 11, 12]


def test_portless_connection_from_a_multi_port_processor_delivers_the_whole_dict(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    """Regression (fixed in 0caed7d): only the first port's value used to arrive."""
    received: list[dict[str, Any]] = []
    fn(plugins, "src", lambda p: iter([1, 2]))
    fn(plugins, "proc", lambda p: {"x": p["value"], "y": p["value"] * 10})
    fn(plugins, "sink", lambda p: received.append(dict(p)) or {})
    register(
        advanced,
        workflow(
            "portless",
            Mode.Streaming,
            [
                node("src", node_type=NodeType.Source),
                node("proc", output_ports=["x", "y"]),
                node("sink", node_type=NodeType.Sink),
            ],
            [conn("src", "proc"), conn("proc", "sink")],
        ),
    )
    _, ctx = run_to_end(advanced, "portless")
    assert ctx.status is Status.Completed
    # batch modes deliver {"x": 1, "y": 10}; DESIGN 5: "no ports: the whole dict, merged"
    assert received == [{"x": 1, "y": 10}, {"x": 2, "y": 20}]


def test_status_queries_do_not_block_while_an_aggregator_runs(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    """Regression (fixed in 0caed7d): the final window used to run under the run lock."""
    entered = threading.Event()
    release = threading.Event()

    def slow_aggregate(params: dict[str, Any]) -> dict[str, Any]:
        entered.set()
        release.wait(10)
        return {"count": len(params["items"])}

    fn(plugins, "src", counting_source(5))
    fn(plugins, "agg", slow_aggregate)
    register(
        advanced,
        workflow(
            "agg_lock",
            Mode.Streaming,
            [node("src", node_type=NodeType.Source), node("agg", node_type=NodeType.Aggregator)],
            [conn("src", "agg")],
        ),
    )
    execution_id = start(advanced, "agg_lock")
    try:
        assert entered.wait(5)
        answered = threading.Event()

        def query() -> None:
            advanced.get_node_status(execution_id, "agg")
            answered.set()

        threading.Thread(target=query, daemon=True).start()
        assert answered.wait(1.0), "get_node_status blocked while the aggregator ran"
    finally:
        release.set()
        assert advanced.wait_for_execution(execution_id, 5000)


def test_pipeline_with_a_slow_sink_completes_on_a_two_thread_pool(
    qtbot: Any,
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Regression (fixed in 5baa9cc): stages blocked on a full inbox used to be rescheduled at
    once and, taken lowest index first, kept every pool thread busy spinning (livelock)."""
    # Stages on their own, each behind its own full inbox: fused (once the activations are
    # measured CPU-bound, which an idle machine reaches first) a chain replaces the channels
    # this test waits to see full.
    monkeypatch.setattr(stream_scheduler, "FUSE_CHAINS", False)
    advanced.thread_pool().setMaxThreadCount(2)
    capacity = 8
    n = 200
    blocked = threading.Event()
    release = threading.Event()

    def database_writer(params: dict[str, Any]) -> dict[str, Any]:
        if not blocked.is_set():
            blocked.set()
            release.wait(10)
        return {"written": True}

    fn(plugins, "kafka_consumer", counting_source(n))
    fn(plugins, "data_filter", lambda p: {"filtered_data": p["input"]})
    fn(plugins, "data_transformer", lambda p: {"transformed_data": p["input"] + 1})
    fn(plugins, "database_writer", database_writer)
    register(
        advanced,
        workflow(
            "real_time_processing",
            Mode.Streaming,
            [
                node("data_source", "kafka_consumer", NodeType.Source, output_ports=["raw_data"]),
                node(
                    "filter", "data_filter", input_ports=["input"], output_ports=["filtered_data"]
                ),
                node(
                    "transform",
                    "data_transformer",
                    input_ports=["input"],
                    output_ports=["transformed_data"],
                ),
                node("output", "database_writer", NodeType.Sink, input_ports=["data"]),
            ],
            [
                conn("data_source", "filter", source_port="raw_data", target_port="input"),
                conn("filter", "transform", source_port="filtered_data", target_port="input"),
                conn("transform", "output", source_port="transformed_data", target_port="data"),
            ],
            global_configuration={"stream_channel_capacity": capacity},
        ),
    )
    execution_id = start(advanced, "real_time_processing")
    chain = ["data_source", "filter", "transform", "output"]

    def channels_full() -> bool:
        # The writer has written nothing: every item the source gave out is in one of the
        # three channels (the writer's holds what it has taken too), and each is full.
        c = {name: counters(advanced, execution_id, name) for name in chain}
        queued = [
            c[up]["items_out"] - c[down]["items_in"] for up, down in itertools.pairwise(chain)
        ]
        return c["data_source"]["items_out"] == 3 * capacity and queued[:2] == [capacity] * 2

    try:
        assert blocked.wait(5)
        qtbot.waitUntil(channels_full, timeout=5000)  # the writer is slow: everything backs up
        release.set()
        assert advanced.wait_for_execution(execution_id, 3000), "stalled: " + repr(
            {name: counters(advanced, execution_id, name) for name in chain}
        )
    finally:
        release.set()
        advanced.cancel_execution(execution_id)
    assert counters(advanced, execution_id, "output")["items_in"] == n


def test_control_condition_on_a_source_output_port(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    """Regression (introduced in 5baa9cc, fixed in 05b42b0): the condition saw
    {"value": item} instead of {"reading": item}."""
    big = Collector("reading")
    fn(plugins, "nums", counting_source(10))
    fn(plugins, "big", big)
    register(
        advanced,
        workflow(
            "source_condition",
            Mode.Streaming,
            [
                node("nums", node_type=NodeType.Source, output_ports=["reading"]),
                node("big", node_type=NodeType.Sink, input_ports=["reading"]),
            ],
            [control("nums", "big", "reading > 5")],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "source_condition")
    assert ctx.status is Status.Completed
    assert node_status(advanced, execution_id, "nums")["item_errors"] == []
    assert big.items == [6, 7, 8, 9]
