"""Regression tests for defects found in review (each failed before its fix)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginWorkflow,
    WorkflowConnection,
    WorkflowExecutionMode,
    WorkflowExecutionStatus,
    WorkflowNode,
    WorkflowNodeType,
)

pytestmark = pytest.mark.timeout(30)


def test_modifying_an_unknown_workflow_returns_not_found_instead_of_hanging(
    advanced: AdvancedPluginOrchestrator,
) -> None:
    results: list[Any] = []

    def modify() -> None:
        results.append(advanced.add_node_to_workflow("ghost", WorkflowNode(node_id="n")))
        results.append(advanced.remove_node_from_workflow("ghost", "n"))
        results.append(advanced.add_connection_to_workflow("ghost", WorkflowConnection()))

    worker = threading.Thread(target=modify, daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "dynamic modification of an unknown workflow deadlocked"
    assert [r.error().code for r in results] == [PluginErrorCode.NotFound] * 3


def test_event_driven_workflow_without_source_nodes_runs_the_graph_per_posted_event(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    seen: list[Any] = []
    done = threading.Event()

    def handle(params: dict[str, Any]) -> dict[str, Any]:
        seen.append(params["n"])
        if len(seen) == 2:
            done.set()
        return {"handled": params["n"]}

    plugins.register_plugin(FunctionPlugin("handler", execute=handle))
    workflow = PluginWorkflow(
        workflow_id="no_sources", execution_mode=WorkflowExecutionMode.EventDriven
    )
    workflow.nodes.append(WorkflowNode(node_id="h", plugin_id="handler"))
    assert advanced.register_workflow(workflow)
    execution_id = advanced.execute_workflow("no_sources").value()
    assert advanced.post_event(execution_id, {"n": 1})
    assert advanced.post_event(execution_id, {"n": 2})
    assert done.wait(5)
    assert sorted(seen) == [1, 2]
    assert advanced.cancel_execution(execution_id)
    assert advanced.wait_for_execution(execution_id, 5000)


def test_plain_event_source_failure_marks_the_source_node_failed(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    def broken(params: dict[str, Any]) -> Any:
        raise RuntimeError("feed unavailable")

    plugins.register_plugin(FunctionPlugin("feed", execute=broken))
    plugins.register_plugin(FunctionPlugin("sink", execute=lambda p: {}))
    workflow = PluginWorkflow(
        workflow_id="bad_feed", execution_mode=WorkflowExecutionMode.EventDriven
    )
    workflow.nodes = [
        WorkflowNode(node_id="feed", plugin_id="feed", node_type=WorkflowNodeType.Source),
        WorkflowNode(node_id="sink", plugin_id="sink", node_type=WorkflowNodeType.Sink),
    ]
    workflow.connections = [WorkflowConnection(source_node="feed", target_node="sink")]
    assert advanced.register_workflow(workflow)
    with qtbot.waitSignal(advanced.node_failed, timeout=5000) as failed:
        execution_id = advanced.execute_workflow("bad_feed").value()
    assert failed.args[1] == "feed" and "feed unavailable" in failed.args[2]
    assert advanced.wait_for_execution(execution_id, 5000)
    status = advanced.get_node_status(execution_id, "feed").value()
    assert status["status"] == "failed" and "feed unavailable" in status["error"]
    context = advanced.get_execution_status(execution_id).value()
    assert context.status is WorkflowExecutionStatus.Completed
    assert any("feed unavailable" in m for m in context.error_messages)


def test_callable_condition_cannot_change_the_steps_input(
    qapp: Any, plugins: PluginManager
) -> None:
    from qtforge_orch import PluginOrchestrator, Workflow, WorkflowStep

    seen: list[dict[str, Any]] = []
    plugins.register_plugin(FunctionPlugin("p", run=lambda params: seen.append(params) or {}))
    orch = PluginOrchestrator(plugin_manager=plugins)

    def meddling(data: dict[str, Any]) -> bool:
        data["injected"] = True
        return True

    step = WorkflowStep("s", "p", "run")
    step.condition = meddling
    assert orch.register_workflow(Workflow("w").add_step(step))
    assert orch.execute_workflow("w", {"x": 1})
    assert seen == [{"x": 1}]
    assert orch.shutdown()


def test_v2_failure_messages_name_nodes(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    def boom(params: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("bad row")

    plugins.register_plugin(FunctionPlugin("boom", execute=boom))
    workflow = PluginWorkflow(workflow_id="fail")
    workflow.nodes.append(WorkflowNode(node_id="n", plugin_id="boom"))
    assert advanced.register_workflow(workflow)
    execution_id = advanced.execute_workflow("fail").value()
    assert advanced.wait_for_execution(execution_id, 5000)
    messages = advanced.get_execution_status(execution_id).value().error_messages
    assert messages[0].startswith("node 'n' failed")


def test_aggregator_window_must_be_a_non_negative_integer(
    advanced: AdvancedPluginOrchestrator,
) -> None:
    workflow = PluginWorkflow(workflow_id="bad_window")
    workflow.nodes.append(
        WorkflowNode(
            node_id="agg",
            plugin_id="p",
            node_type=WorkflowNodeType.Aggregator,
            configuration={"window": "ten"},
        )
    )
    result = advanced.register_workflow(workflow)
    assert not result and result.error().code == PluginErrorCode.InvalidWorkflowStructure
    assert "window" in result.error().message


def test_function_plugin_subclass_overriding_execute_command_is_called_through_it(
    qapp: Any, plugins: PluginManager
) -> None:
    from qtforge_orch import PluginOrchestrator, Workflow, WorkflowStep

    class Audited(FunctionPlugin):
        calls: list[str] = []

        def execute_command(self, command: str, params: dict[str, Any], context: Any = None) -> Any:
            self.calls.append(command)
            return super().execute_command(command, params, context)

    plugins.register_plugin(Audited("audited", run=lambda p: {"ok": True}))
    orch = PluginOrchestrator(plugin_manager=plugins)
    assert orch.register_workflow(Workflow("w").add_step(WorkflowStep("s", "audited", "run")))
    assert orch.execute_workflow("w")
    assert Audited.calls == ["run"]
    assert orch.shutdown()


def test_workflow_completed_reaches_a_slot_connected_after_an_async_start(
    qtbot: Any, qapp: Any, plugins: PluginManager
) -> None:
    from qtforge_orch import PluginOrchestrator, Workflow, WorkflowStep

    plugins.register_plugin(FunctionPlugin("p", run=lambda p: {"done": 1}))
    orch = PluginOrchestrator(plugin_manager=plugins)
    assert orch.register_workflow(Workflow("w").add_step(WorkflowStep("s", "p", "run")))
    execution_id = orch.execute_workflow("w", async_=True).value()
    assert orch.get_execution_status(execution_id)  # the run may well be over already
    with qtbot.waitSignal(orch.workflow_completed, timeout=5000) as blocker:
        pass  # connected only now; the queued terminal event is still delivered
    assert blocker.args[0] == execution_id
    assert orch.shutdown()


def test_streaming_outputs_missing_the_connected_port_are_counted_not_forwarded(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    received: list[Any] = []
    plugins.register_plugin(FunctionPlugin("src", execute=lambda p: iter(range(6))))
    plugins.register_plugin(
        FunctionPlugin(
            "proc", execute=lambda p: {"even": p["in"]} if p["in"] % 2 == 0 else {"odd": 1}
        )
    )
    plugins.register_plugin(FunctionPlugin("sink", execute=lambda p: received.append(p["v"]) or {}))
    workflow = PluginWorkflow(workflow_id="ports", execution_mode=WorkflowExecutionMode.Streaming)
    workflow.nodes = [
        WorkflowNode(node_id="s", plugin_id="src", node_type=WorkflowNodeType.Source),
        WorkflowNode(
            node_id="p", plugin_id="proc", input_ports=["in"], output_ports=["even", "odd"]
        ),
        WorkflowNode(
            node_id="k", plugin_id="sink", node_type=WorkflowNodeType.Sink, input_ports=["v"]
        ),
    ]
    workflow.connections = [
        WorkflowConnection(source_node="s", target_node="p", target_port="in"),
        WorkflowConnection(source_node="p", source_port="even", target_node="k", target_port="v"),
    ]
    assert advanced.register_workflow(workflow)
    execution_id = advanced.execute_workflow("ports").value()
    assert advanced.wait_for_execution(execution_id, 5000)
    assert received == [0, 2, 4]
    assert advanced.get_node_status(execution_id, "p").value()["items_out"] == 6
    assert advanced.get_node_status(execution_id, "k").value()["items_in"] == 3
