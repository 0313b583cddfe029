"""What the QtForge headers add beyond the references, with real semantics (issue 13)."""

from __future__ import annotations

from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    PluginManager,
    PluginOrchestrator,
    StepStatus,
    Workflow,
    WorkflowContext,
    WorkflowStep,
)
from qtforge_orch.contract.plan import TaskState

from .v2_helpers import (
    Code,
    Mode,
    NodeType,
    conn,
    error_code,
    fn,
    node,
    register,
    run_to_end,
    states,
    workflow,
)

# --------------------------------------------------------------------------------------------
# v1 header


def test_task_state_and_step_status_are_equal_member_by_member() -> None:
    assert [(m.name, m.value) for m in TaskState] == [(m.name, m.value) for m in StepStatus]


def test_add_step_replaces_a_step_with_the_same_id_in_place() -> None:
    workflow = Workflow("wf").add_step(WorkflowStep("a", "p", "one"))
    workflow.add_step(WorkflowStep("b", "p")).add_step(WorkflowStep("a", "p", "two"))
    assert [(s.id, s.method_name) for s in workflow.steps()] == [("a", "two"), ("b", "")]
    assert workflow.has_step("a") and not workflow.has_step("z")
    step = workflow.get_step("b")
    assert step is workflow.steps()[1]
    assert workflow.get_step("z") is None
    step.id = "c"  # type: ignore[union-attr]  # an id edited through the returned object
    assert workflow.has_step("c") and not workflow.has_step("b")


def test_get_execution_order() -> None:
    workflow = Workflow("wf")
    for step_id, deps in (("c", ["a"]), ("a", []), ("b", []), ("d", ["c", "b", "ghost"])):
        workflow.add_step(WorkflowStep(step_id, "p", dependencies=deps))
    assert workflow.get_execution_order() == ["a", "c", "b", "d"]
    workflow.get_step("a").dependencies = ["d"]  # type: ignore[union-attr]
    assert workflow.get_execution_order() == []  # a cycle, as in C++


def test_workflow_context_struct() -> None:
    context = WorkflowContext("wf", "exec-1")
    assert (context.workflow_id, context.execution_id) == ("wf", "exec-1")
    assert context.start_time.tzinfo is not None and context.cancelled is False
    with pytest.raises(TypeError):
        WorkflowContext("wf", workflow_id="x")


def test_global_condition_skips_steps(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    calls: list[str] = []
    fn(plugins, "p", lambda params: calls.append("ran") or {"done": True})
    workflow = Workflow("gated").add_step(WorkflowStep("a", "p", "execute"))
    workflow.set_global_condition("dry_run == false")
    assert orchestrator.register_workflow(workflow)
    assert orchestrator.execute_workflow("gated", {"dry_run": True})
    assert calls == []
    execution = orchestrator.execute_workflow("gated", {"dry_run": False})
    assert execution and calls == ["ran"]
    results = orchestrator.get_step_results(execution.value()).value()
    assert results[0].status is StepStatus.Completed
    bad = Workflow("bad").add_step(WorkflowStep("a", "p")).set_global_condition("x ==")
    assert bad.validate().error().code == Code.InvalidConfiguration
    with pytest.raises(TypeError):
        Workflow("t").set_global_condition(5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# v2 header fields


def test_disabled_node_is_skipped_and_feeds_nothing(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    for plugin_id in ("src", "off", "after", "other"):
        fn(plugins, plugin_id, lambda params, p=plugin_id: {p: True})
    register(
        advanced,
        workflow(
            "wf",
            Mode.Parallel,
            [node("src"), node("off", enabled=False), node("after"), node("other")],
            [conn("src", "off"), conn("off", "after"), conn("src", "other")],
        ),
    )
    _, context = run_to_end(advanced, "wf")
    assert states(advanced, context.execution_id) == {
        "src": "completed",
        "off": "skipped",
        "after": "skipped",
        "other": "completed",
    }


def test_disabled_connection_is_dropped(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    seen: list[dict[str, Any]] = []
    fn(plugins, "a", lambda params: {"x": 1})
    fn(plugins, "b", lambda params: seen.append(dict(params)) or {"y": 2})
    register(
        advanced,
        workflow("wf", Mode.Sequential, [node("a"), node("b")], [conn("a", "b", enabled=False)]),
    )
    _, context = run_to_end(advanced, "wf", {"start": 0})
    assert states(advanced, context.execution_id) == {"a": "completed", "b": "completed"}
    assert seen == [{"start": 0}]  # b is a root now: it gets the input, not a's output


def test_data_transformation_rewrites_the_data_on_the_connection(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    seen: list[dict[str, Any]] = []
    fn(plugins, "a", lambda params: {"rows": [1, 2, 3], "name": "n"})
    fn(plugins, "b", lambda params: seen.append(dict(params)) or {})
    register(
        advanced,
        workflow(
            "wf",
            Mode.Sequential,
            [
                node("a", output_ports=["out"]),
                node("b", input_ports=["total", "data"]),
            ],
            [
                conn("a", "b", target_port="total", data_transformation="size(value.rows) * 10"),
                conn(
                    "a",
                    "b",
                    target_port="data",
                    data_transformation={"expression": "{'first': rows[0], 'who': name}"},
                ),
            ],
        ),
    )
    _, context = run_to_end(advanced, "wf")
    assert states(advanced, context.execution_id)["b"] == "completed"
    assert seen == [{"total": 30, "data": {"first": 1, "who": "n"}}]


def test_failed_transformation_fails_the_target_node(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    calls: list[str] = []
    fn(plugins, "a", lambda params: {"x": "text"})
    fn(plugins, "b", lambda params: calls.append("b") or {})
    register(
        advanced,
        workflow("wf", Mode.Sequential, [node("a"), node("b")], [
            conn("a", "b", data_transformation="x * 2")
        ]),
    )  # fmt: skip
    _, context = run_to_end(advanced, "wf")
    assert states(advanced, context.execution_id)["b"] == "failed"
    assert calls == []
    assert any("data_transformation" in message for message in context.error_messages)


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda: conn("a", "b", data_transformation="x =="), Code.InvalidWorkflowStructure),
        (lambda: conn("a", "b", data_transformation={"rules": []}), Code.InvalidWorkflowStructure),
    ],
)
def test_bad_transformations_are_refused(
    advanced: AdvancedPluginOrchestrator, build: Any, code: Code
) -> None:
    result = advanced.register_workflow(
        workflow("wf", Mode.Sequential, [node("a"), node("b")], [build()])
    )
    assert error_code(result) is code


def test_streaming_refuses_what_it_cannot_do_yet(advanced: AdvancedPluginOrchestrator) -> None:
    nodes = [node("a", node_type=NodeType.Source), node("b", enabled=False)]
    result = advanced.register_workflow(workflow("s", Mode.Streaming, nodes, [conn("a", "b")]))
    assert error_code(result) is Code.ExecutionModeNotSupported


def test_header_signal_aliases_are_emitted_with_the_reference_signals(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    fn(plugins, "a", lambda params: {"x": 1})
    register(advanced, workflow("wf", Mode.Sequential, [node("a")]))
    got: list[tuple[str, tuple[Any, ...]]] = []
    for name in (
        "workflow_started",
        "workflow_execution_started",
        "node_execution_completed",
        "workflow_completed",
        "workflow_execution_completed",
    ):
        getattr(advanced, name).connect(lambda *args, n=name: got.append((n, args)))
    execution_id, _ = run_to_end(advanced, "wf")
    names = [name for name, _ in got]
    assert names == [
        "workflow_started",
        "workflow_execution_started",
        "node_execution_completed",
        "workflow_completed",
        "workflow_execution_completed",
    ]
    assert got[2][1] == (execution_id, "a", {"x": 1})
    assert got[0][1] == got[1][1] and got[3][1] == got[4][1]
