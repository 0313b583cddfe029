"""v2 registration and validation through the orchestrator, and dynamic modification."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    Expected,
    PluginManager,
    PluginWorkflow,
    WorkflowExecutionStatus,
)
from qtforge_orch.testing import HangingPlugin

from .v2_helpers import (
    Code,
    Kind,
    Mode,
    NodeType,
    conn,
    control,
    error_code,
    fn,
    node,
    register,
    run_to_end,
    start,
    status,
    workflow,
)

pytestmark = pytest.mark.timeout(30)

Status = WorkflowExecutionStatus
Orch = AdvancedPluginOrchestrator


def base_workflow(workflow_id: str = "base") -> PluginWorkflow:
    """a -> b, plus c on its own; b declares ports."""
    return workflow(
        workflow_id,
        Mode.Parallel,
        [
            node("a", "step", output_ports=["out"]),
            node("b", "step", input_ports=["in"], output_ports=["out"]),
            node("c", "step"),
        ],
        [conn("a", "b", source_port="out", target_port="in")],
    )


@pytest.fixture
def step_plugin(plugins: PluginManager) -> None:
    """``step``: returns ``{"out": <inputs seen>, "node": <its name>}``."""

    def step(params: dict[str, Any]) -> dict[str, Any]:
        return {"out": params.get("in", "root"), "node": params.get("name", "?")}

    fn(plugins, "step", step)


# --------------------------------------------------------------------------------------------
# registration


def test_register_get_and_list(advanced: Orch) -> None:
    original = base_workflow()
    assert advanced.register_workflow(original)
    assert advanced.get_registered_workflows() == ["base"]
    fetched = advanced.get_workflow("base")
    assert fetched
    # registration assigns ids to anonymous connections; everything else is as given
    got = fetched.value().to_json()
    assert got["connections"][0]["connection_id"]
    got["connections"][0]["connection_id"] = ""
    assert got == original.to_json()


def test_registered_workflow_is_a_private_copy(advanced: Orch) -> None:
    original = base_workflow()
    register(advanced, original)
    before = advanced.get_workflow("base").value().to_json()
    original.nodes.append(node("sneaky", "step"))  # the caller's object, after registration
    fetched = advanced.get_workflow("base").value()
    fetched.nodes.clear()  # a copy handed out must not write through either
    assert advanced.get_workflow("base").value().to_json() == before


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: workflow("", Mode.Sequential, [node("a")]), Code.InvalidWorkflowStructure),
        (lambda: workflow("empty", Mode.Sequential, []), Code.InvalidWorkflowStructure),
        (
            lambda: workflow("dup", Mode.Sequential, [node("a"), node("a")]),
            Code.InvalidWorkflowStructure,
        ),
        (
            lambda: workflow("noplugin", Mode.Sequential, [node("a", " ")]),
            Code.InvalidWorkflowStructure,
        ),
        (
            lambda: workflow(
                "badcond",
                Mode.Conditional,
                [node("a"), node("b")],
                [control("a", "b", "file_valid ==")],
            ),
            Code.InvalidWorkflowStructure,
        ),
        (
            lambda: workflow(
                "badconf", Mode.Sequential, [node("a", configuration={"max_retries": -1})]
            ),
            Code.InvalidWorkflowStructure,
        ),
        (
            lambda: workflow(
                "badcap",
                Mode.Streaming,
                [node("a")],
                global_configuration={"stream_channel_capacity": 0},
            ),
            Code.InvalidWorkflowStructure,
        ),
        (
            lambda: workflow("ghost", Mode.Sequential, [node("a")], [conn("a", "ghost")]),
            Code.NodeNotFound,
        ),
        (
            lambda: workflow(
                "port",
                Mode.Sequential,
                [node("a", output_ports=["out"]), node("b")],
                [conn("a", "b", source_port="other")],
            ),
            Code.InvalidConnection,
        ),
        (
            lambda: workflow(
                "into_source",
                Mode.Sequential,
                [node("a"), node("s", node_type=NodeType.Source)],
                [conn("a", "s")],
            ),
            Code.InvalidConnection,
        ),
        (
            lambda: workflow(
                "cycle",
                Mode.Parallel,
                [node("a"), node("b"), node("c")],
                [conn("a", "b"), conn("b", "c"), conn("c", "a", Kind.Dependency)],
            ),
            Code.CircularDependency,
        ),
        (
            lambda: workflow("self", Mode.Parallel, [node("a")], [conn("a", "a")]),
            Code.CircularDependency,
        ),
    ],
    ids=[
        "empty-id",
        "no-nodes",
        "duplicate-node",
        "blank-plugin",
        "bad-condition",
        "bad-configuration",
        "bad-capacity",
        "missing-node",
        "undeclared-port",
        "dataflow-into-source",
        "cycle",
        "self-loop",
    ],
)
def test_registration_errors(
    advanced: Orch, make: Callable[[], PluginWorkflow], code: Code
) -> None:
    candidate = make()
    result = advanced.register_workflow(candidate)
    assert error_code(result) is code
    assert result.error().message  # says what is wrong
    assert advanced.get_registered_workflows() == []


def test_register_rejects_non_workflows_and_duplicates(advanced: Orch) -> None:
    not_a_workflow: Any = {"workflow_id": "x"}
    assert error_code(advanced.register_workflow(not_a_workflow)) is STRUCTURE
    register(advanced, base_workflow())
    assert error_code(advanced.register_workflow(base_workflow())) is Code.AlreadyExists


def test_unknown_workflow_ids(advanced: Orch) -> None:
    assert error_code(advanced.get_workflow("nope")) is Code.NotFound
    assert error_code(advanced.unregister_workflow("nope")) is Code.NotFound
    assert error_code(advanced.add_node_to_workflow("nope", node("x"))) is Code.NotFound
    assert error_code(advanced.remove_node_from_workflow("nope", "x")) is Code.NotFound
    assert error_code(advanced.add_connection_to_workflow("nope", conn("a", "b"))) is Code.NotFound


def test_unregister(advanced: Orch) -> None:
    register(advanced, base_workflow())
    assert advanced.unregister_workflow("base")
    assert advanced.get_registered_workflows() == []
    assert error_code(advanced.execute_workflow("base")) is Code.NotFound
    register(advanced, base_workflow())  # the id is free again


# --------------------------------------------------------------------------------------------
# dynamic modification


Change = Callable[[Orch], Expected[None]]


def _reuse_connection_id(o: Orch) -> Expected[None]:
    taken = o.get_workflow("base").value().connections[0].connection_id
    return o.add_connection_to_workflow("base", conn("a", "c", connection_id=taken))


STRUCTURE = Code.InvalidWorkflowStructure
REFUSED: list[tuple[str, Change, Code]] = [
    ("duplicate-node", lambda o: o.add_node_to_workflow("base", node("a")), STRUCTURE),
    ("bad-node", lambda o: o.add_node_to_workflow("base", node("x", " ")), STRUCTURE),
    ("not-a-node", lambda o: o.add_node_to_workflow("base", conn("a", "b")), STRUCTURE),
    ("remove-missing", lambda o: o.remove_node_from_workflow("base", "zz"), Code.NodeNotFound),
    (
        "connect-missing",
        lambda o: o.add_connection_to_workflow("base", conn("a", "zz")),
        Code.NodeNotFound,
    ),
    (
        "bad-port",
        lambda o: o.add_connection_to_workflow("base", conn("a", "c", target_port="nope")),
        Code.InvalidConnection,
    ),
    (
        "cycle",
        lambda o: o.add_connection_to_workflow("base", conn("b", "a")),
        Code.CircularDependency,
    ),
    (
        "dependency-cycle",
        lambda o: o.add_connection_to_workflow("base", conn("b", "a", Kind.Dependency)),
        Code.CircularDependency,
    ),
    (
        "bad-condition",
        lambda o: o.add_connection_to_workflow("base", control("a", "c", "out >")),
        STRUCTURE,
    ),
    ("duplicate-connection-id", _reuse_connection_id, STRUCTURE),
]


@pytest.mark.parametrize(("change", "code"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_refused_change_leaves_the_workflow_exactly_as_it_was(
    advanced: Orch, change: Change, code: Code
) -> None:
    register(advanced, base_workflow())
    before = advanced.get_workflow("base").value().to_json()
    assert error_code(change(advanced)) is code
    assert advanced.get_workflow("base").value().to_json() == before


def test_add_node_and_connection_affect_the_next_execution(
    advanced: Orch, step_plugin: None
) -> None:
    register(advanced, base_workflow())
    _, ctx = run_to_end(advanced, "base")
    assert set(ctx.execution_data["result"]) == {"b", "c"}

    assert advanced.add_node_to_workflow(
        "base", node("d", "step", input_ports=["in"], configuration={"name": "d"})
    )
    assert advanced.add_connection_to_workflow(
        "base", conn("b", "d", source_port="out", target_port="in")
    )
    wf = advanced.get_workflow("base").value()
    assert [n.node_id for n in wf.nodes] == ["a", "b", "c", "d"]
    assert [(c.source_node, c.target_node) for c in wf.connections] == [("a", "b"), ("b", "d")]
    assert all(c.connection_id for c in wf.connections)

    _, ctx = run_to_end(advanced, "base")
    assert ctx.status is Status.Completed
    assert set(ctx.execution_data["result"]) == {"c", "d"}  # b is no longer a leaf
    assert ctx.execution_data["result"]["d"] == {"out": "root", "node": "d"}
    assert set(ctx.node_states) == {"a", "b", "c", "d"}


def test_remove_node_removes_its_connections(advanced: Orch, step_plugin: None) -> None:
    register(advanced, base_workflow())
    assert advanced.add_connection_to_workflow("base", conn("b", "c", Kind.Dependency))
    assert advanced.remove_node_from_workflow("base", "b")
    wf = advanced.get_workflow("base").value()
    assert [n.node_id for n in wf.nodes] == ["a", "c"]
    assert wf.connections == []
    _, ctx = run_to_end(advanced, "base")
    assert ctx.status is Status.Completed
    assert set(ctx.execution_data["result"]) == {"a", "c"}
    assert set(ctx.node_states) == {"a", "c"}


def test_changes_do_not_disturb_a_running_execution(
    advanced: Orch, plugins: PluginManager, step_plugin: None
) -> None:
    gate = HangingPlugin(output={"out": "gated"})
    fn(plugins, "gate", gate)
    register(
        advanced,
        workflow(
            "live",
            Mode.Parallel,
            [
                node("first", "gate", output_ports=["out"]),
                node("second", "step", input_ports=["in"]),
            ],
            [conn("first", "second", source_port="out", target_port="in")],
        ),
    )
    execution_id = start(advanced, "live")
    assert gate.entered.wait(5)
    assert advanced.add_node_to_workflow("live", node("extra", "step", input_ports=["in"]))
    assert advanced.add_connection_to_workflow(
        "live", conn("first", "extra", source_port="out", target_port="in")
    )
    assert advanced.remove_node_from_workflow("live", "second")
    gate.release()
    assert advanced.wait_for_execution(execution_id, 5000)
    ctx = status(advanced, execution_id)
    assert ctx.status is Status.Completed
    assert set(ctx.node_states) == {"first", "second"}  # the graph it started with
    assert ctx.execution_data["result"] == {"second": {"out": "gated", "node": "?"}}

    _, ctx = run_to_end(advanced, "live")  # the next one uses the changed graph
    assert ctx.execution_data["result"] == {"extra": {"out": "gated", "node": "?"}}
    assert gate.call_count == 2


def test_unregister_while_running_finishes_cleanly(
    qtbot: Any, advanced: Orch, plugins: PluginManager, step_plugin: None
) -> None:
    gate = HangingPlugin(output={"out": "x"})
    fn(plugins, "gate", gate)
    register(
        advanced,
        workflow(
            "doomed",
            Mode.Sequential,
            [
                node("first", "gate", output_ports=["out"]),
                node("second", "step", input_ports=["in"]),
            ],
            [conn("first", "second", source_port="out", target_port="in")],
        ),
    )
    execution_id = start(advanced, "doomed")
    assert gate.entered.wait(5)
    assert advanced.unregister_workflow("doomed")
    assert error_code(advanced.get_workflow("doomed")) is Code.NotFound
    assert error_code(advanced.execute_workflow("doomed")) is Code.NotFound
    with qtbot.waitSignal(advanced.workflow_completed, timeout=5000) as completed:
        gate.release()
    assert completed.args == [execution_id, {"second": {"out": "x", "node": "?"}}]
    ctx = status(advanced, execution_id)
    assert ctx.status is Status.Completed and ctx.workflow_id == "doomed"


def test_concurrent_modifications_are_not_lost(advanced: Orch, step_plugin: None) -> None:
    register(advanced, base_workflow())
    errors: list[str] = []
    start_together = threading.Barrier(4, timeout=5)

    def add_many(worker: int) -> None:
        start_together.wait()
        for i in range(25):
            node_id = f"w{worker}_{i}"
            added = advanced.add_node_to_workflow("base", node(node_id, "step"))
            connected = advanced.add_connection_to_workflow("base", conn("c", node_id))
            if not (added and connected):
                errors.append(node_id)

    threads = [threading.Thread(target=add_many, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    wf = advanced.get_workflow("base").value()
    assert len(wf.nodes) == 3 + 100
    assert len(wf.connections) == 1 + 100
    _, ctx = run_to_end(advanced, "base")
    assert ctx.status is Status.Completed
    assert len(ctx.execution_data["result"]) == 1 + 100  # b and the 100 new leaves
