"""Nested workflows: ``orchestrator.as_plugin`` runs a registered workflow as a child execution.

Both orchestrators, each as parent and as child; results, links between parent and child,
failure, cancel, timeout, pause, progress, cycles and depth, small pools, concurrent use.
Rollback and resume are in ``test_nested_durable.py``.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from PySide6.QtCore import QThreadPool

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    PluginWorkflow,
    Workflow,
    WorkflowNode,
    WorkflowStep,
)
from qtforge_orch.orchestration import MAX_NESTING_DEPTH, WorkflowExecutionMode
from qtforge_orch.testing.plugins import HangingPlugin

WAIT_MS = 10_000


def _math(plugins: PluginManager) -> None:
    plugins.register_plugin(
        FunctionPlugin(
            "math",
            double=lambda p: {"x": p["x"] * 2},
            inc=lambda p: {"x": p["x"] + 1},
            boom=lambda p: (_ for _ in ()).throw(ValueError("no luck")),
        )
    )


def _chain(workflow_id: str, *steps: tuple[str, str, str]) -> Workflow:
    workflow = Workflow(workflow_id)
    previous: list[str] = []
    for step_id, plugin_id, command in steps:
        workflow.add_step(WorkflowStep(step_id, plugin_id, command, dependencies=previous))
        previous = [step_id]
    return workflow


def _graph(workflow_id: str, *nodes: tuple[str, str], parallel: bool = False) -> PluginWorkflow:
    mode = WorkflowExecutionMode.Parallel if parallel else WorkflowExecutionMode.Sequential
    workflow = PluginWorkflow(workflow_id=workflow_id, execution_mode=mode)
    for node_id, plugin_id in nodes:
        workflow.nodes.append(WorkflowNode(node_id=node_id, plugin_id=plugin_id))
    return workflow


def _nested(orchestrator: Any, workflow_id: str, plugins: PluginManager) -> str:
    plugin = orchestrator.as_plugin(workflow_id).value()
    assert plugins.register_plugin(plugin).has_value()
    return str(plugin.id())


def test_a_v1_workflow_runs_as_a_node_of_a_v2_workflow_and_the_two_name_each_other(
    plugins: PluginManager,
    orchestrator: PluginOrchestrator,
    advanced_orchestrator: AdvancedPluginOrchestrator,
) -> None:
    _math(plugins)
    orchestrator.register_workflow(_chain("inner", ("d", "math", "double"), ("i", "math", "inc")))
    plugin_id = _nested(orchestrator, "inner", plugins)
    assert plugin_id == "workflow:inner"
    assert advanced_orchestrator.register_workflow(_graph("outer", ("n", plugin_id)))
    execution = advanced_orchestrator.execute_workflow("outer", {"x": 5}).value()
    assert advanced_orchestrator.wait_for_execution(execution, WAIT_MS)
    status = advanced_orchestrator.get_execution_status(execution).value()
    assert status.execution_data["result"] == {"n": {"x": 11}}
    child = status.node_states["n"]["child_execution_id"]
    assert child == f"{execution}/n"
    assert status.execution_data["child_executions"] == {"n": child}
    assert advanced_orchestrator.get_child_executions(execution).value() == {"n": child}
    child_status = orchestrator.get_execution_status(child).value()
    assert child_status["parent_execution_id"] == execution
    assert child_status["status"] == "completed"
    assert child_status["result"] == {"x": 11}


def test_a_v2_workflow_runs_as_a_step_of_a_v1_workflow(
    plugins: PluginManager,
    orchestrator: PluginOrchestrator,
    advanced_orchestrator: AdvancedPluginOrchestrator,
) -> None:
    _math(plugins)
    inner = _graph("inner", ("d", "math"))
    inner.nodes[0].configuration = {"method": "double"}
    advanced_orchestrator.register_workflow(inner)
    plugin_id = _nested(advanced_orchestrator, "inner", plugins)
    step = WorkflowStep("s", plugin_id, "execute", parameters={"x": 4})
    orchestrator.register_workflow(Workflow("outer").add_step(step))
    execution = orchestrator.execute_workflow("outer").value()
    status = orchestrator.get_execution_status(execution).value()
    assert status["result"] == {"d": {"x": 8}}
    child = status["child_executions"]["s"]
    child_status = advanced_orchestrator.get_execution_status(child).value()
    assert child_status.execution_data["parent_execution_id"] == execution
    assert orchestrator.get_execution_status(child).error().code == PluginErrorCode.NotFound


def test_a_child_failure_fails_the_parent_step_with_the_childs_error_and_id(
    plugins: PluginManager, orchestrator: PluginOrchestrator
) -> None:
    _math(plugins)
    orchestrator.register_workflow(_chain("inner", ("d", "math", "double"), ("b", "math", "boom")))
    plugin_id = _nested(orchestrator, "inner", plugins)
    orchestrator.register_workflow(Workflow("outer").add_step(WorkflowStep("s", plugin_id)))
    failed = orchestrator.execute_workflow("outer", {"x": 1})
    assert not failed
    status = orchestrator.get_execution_status(failed.error().context["execution_id"]).value()
    (step,) = status["step_results"]
    child = status["child_executions"]["s"]
    assert step["status"] == "Failed"
    assert child in step["error_message"] and "no luck" in step["error_message"]
    assert orchestrator.get_execution_status(child).value()["status"] == "failed"


def test_bad_input_to_as_plugin_and_to_the_plugin_is_a_clear_error(
    plugins: PluginManager,
    orchestrator: PluginOrchestrator,
    advanced_orchestrator: AdvancedPluginOrchestrator,
) -> None:
    _math(plugins)
    orchestrator.register_workflow(_chain("inner", ("d", "math", "double")))
    assert orchestrator.as_plugin("nope").error().code == PluginErrorCode.NotFound
    assert orchestrator.as_plugin(3).error().code == PluginErrorCode.InvalidArgument  # type: ignore[arg-type]
    assert orchestrator.as_plugin("inner", "").error().code == PluginErrorCode.InvalidArgument
    plugin = orchestrator.as_plugin("inner", "mine").value()
    assert plugin.id() == "mine" and plugin.available_commands() == ["execute"]
    assert plugin.execute_command("run", {}).error().code == PluginErrorCode.CommandNotFound
    assert plugin.execute_command("execute", [1]).error().code == PluginErrorCode.InvalidParameters  # type: ignore[arg-type]
    assert plugin.execute_command("execute", {"x": 2}).value() == {"x": 4}  # no parent
    events = PluginWorkflow(workflow_id="ev", execution_mode=WorkflowExecutionMode.EventDriven)
    events.nodes.append(WorkflowNode(node_id="n", plugin_id="math"))
    advanced_orchestrator.register_workflow(events)
    refused = advanced_orchestrator.as_plugin("ev")
    assert refused.error().code == PluginErrorCode.NotSupported


def _hanging_child(
    plugins: PluginManager, orchestrator: PluginOrchestrator, timeout_ms: int = 60_000
) -> HangingPlugin:
    hanging = HangingPlugin()
    plugins.register_plugin(hanging)
    orchestrator.register_workflow(_chain("inner", ("h", "hanging", "execute")))
    plugin_id = _nested(orchestrator, "inner", plugins)
    step = WorkflowStep("s", plugin_id, "execute", timeout=timeout_ms)
    orchestrator.register_workflow(Workflow("outer").add_step(step))
    return hanging


def test_cancelling_the_parent_cancels_the_child(
    plugins: PluginManager, orchestrator: PluginOrchestrator
) -> None:
    hanging = _hanging_child(plugins, orchestrator)
    future = orchestrator.execute_workflow_async("outer", {})
    assert hanging.entered.wait(WAIT_MS / 1000)
    parent = future.execution_id
    child = orchestrator.get_execution_status(parent).value()["child_executions"]["s"]
    assert orchestrator.cancel_workflow(parent)
    assert orchestrator.wait_for_execution(child, WAIT_MS)
    assert hanging.cancelled.wait(WAIT_MS / 1000)
    assert orchestrator.get_execution_status(child).value()["status"] == "cancelled"
    assert orchestrator.wait_for_execution(parent, WAIT_MS)


def test_a_hanging_child_honours_the_parent_steps_timeout(
    plugins: PluginManager, orchestrator: PluginOrchestrator
) -> None:
    hanging = _hanging_child(plugins, orchestrator, timeout_ms=200)
    failed = orchestrator.execute_workflow("outer", {})
    assert failed.error().code == PluginErrorCode.Timeout
    parent = failed.error().context["execution_id"]
    child = orchestrator.get_execution_status(parent).value()["child_executions"]["s"]
    assert orchestrator.wait_for_execution(child, WAIT_MS)
    assert hanging.cancelled.wait(WAIT_MS / 1000)
    status = orchestrator.get_execution_status(child).value()
    assert status["status"] == "cancelled" and "timed out" in status["error"]


def test_pausing_a_v2_parent_pauses_its_child_and_resuming_resumes_it(
    plugins: PluginManager,
    orchestrator: PluginOrchestrator,
    advanced_orchestrator: AdvancedPluginOrchestrator,
) -> None:
    entered, gate = threading.Event(), threading.Event()

    def hold(params: dict[str, Any]) -> dict[str, Any]:
        entered.set()
        return {"x": params["x"], "held": gate.wait(10)}

    plugins.register_plugin(FunctionPlugin("wait", hold=hold))
    _math(plugins)
    orchestrator.register_workflow(_chain("inner", ("w", "wait", "hold"), ("i", "math", "inc")))
    plugin_id = _nested(orchestrator, "inner", plugins)
    advanced_orchestrator.register_workflow(_graph("outer", ("n", plugin_id)))
    future = advanced_orchestrator.execute_workflow_async("outer", {"x": 1})
    parent = future.execution_id
    child = f"{parent}/n"
    assert entered.wait(10)
    assert advanced_orchestrator.pause_execution(parent)
    assert orchestrator.get_execution_status(child).value()["status"] == "paused"
    gate.set()
    assert advanced_orchestrator.resume_execution(parent)
    assert orchestrator.wait_for_execution(child, WAIT_MS)
    assert advanced_orchestrator.wait_for_execution(parent, WAIT_MS)
    status = advanced_orchestrator.get_execution_status(parent).value()
    assert status.execution_data["result"] == {"n": {"x": 2, "held": True}}
    assert orchestrator.get_execution_status(child).value()["status"] == "completed"


def test_the_childs_progress_reaches_the_parents_handle_and_status(
    plugins: PluginManager, orchestrator: PluginOrchestrator, qtbot: Any
) -> None:
    gate = threading.Event()

    def last(params: dict[str, Any]) -> dict[str, Any]:
        # Holds the child until the parent's handle has reported a progress between 0 and 1.
        return {"done": gate.wait(10)}

    plugins.register_plugin(FunctionPlugin("steps", quick=lambda p: {}, last=last))
    inner = _chain("inner", ("a", "steps", "quick"), ("b", "steps", "quick"))
    inner.add_step(WorkflowStep("c", "steps", "last", dependencies=["b"]))
    orchestrator.register_workflow(inner)
    plugin_id = _nested(orchestrator, "inner", plugins)
    orchestrator.register_workflow(Workflow("outer").add_step(WorkflowStep("s", plugin_id)))
    handle = orchestrator.start_workflow("outer", {}).value()
    fractions: list[float] = []

    def on_progress(fraction: float) -> None:
        fractions.append(fraction)
        if 0.0 < fraction < 1.0:
            gate.set()

    handle.progress.connect(on_progress)
    with qtbot.waitSignal(handle.finished, timeout=WAIT_MS):
        pass
    assert any(0.0 < value < 1.0 for value in fractions), fractions
    assert gate.is_set()


def test_a_nesting_cycle_across_both_orchestrators_is_refused_with_the_cycle_named(
    plugins: PluginManager,
    orchestrator: PluginOrchestrator,
    advanced_orchestrator: AdvancedPluginOrchestrator,
) -> None:
    _math(plugins)
    # B (v2) runs "workflow:A", which does not exist yet; A (v1) runs B.
    advanced_orchestrator.register_workflow(_graph("B", ("n", "workflow:A")))
    _nested(advanced_orchestrator, "B", plugins)
    orchestrator.register_workflow(_chain("A", ("s", "workflow:B", "execute")))
    refused = orchestrator.as_plugin("A")
    assert refused.error().code == PluginErrorCode.CircularDependency
    assert "v1 workflow 'A' -> v2 workflow 'B' -> v1 workflow 'A'" in refused.error().message
    # Re-registering A once its plugin exists is refused the same way.
    orchestrator.unregister_workflow("A")
    orchestrator.register_workflow(_chain("A", ("s", "math", "inc")))
    _nested(orchestrator, "A", plugins)
    orchestrator.unregister_workflow("A")
    again = orchestrator.register_workflow(_chain("A", ("s", "workflow:B", "execute")))
    assert again.error().code == PluginErrorCode.CircularDependency
    assert "A" not in orchestrator.list_workflows()  # nothing registered by the refusal


def test_a_cycle_that_appears_after_registration_fails_at_run_time(
    plugins: PluginManager, orchestrator: PluginOrchestrator
) -> None:
    _math(plugins)
    orchestrator.register_workflow(_chain("A", ("s", "math", "inc")))
    _nested(orchestrator, "A", plugins)  # "workflow:A" runs whatever "A" is when called
    orchestrator.unregister_workflow("A")
    plugins.unregister_plugin("workflow:A")
    orchestrator.register_workflow(_chain("A", ("s", "workflow:A", "execute")))
    plugins.register_plugin(_plugin_without_check(orchestrator, "A"))
    failed = orchestrator.execute_workflow("A", {"x": 1})
    assert failed.error().code == PluginErrorCode.CircularDependency
    assert "v1 workflow 'A' -> v1 workflow 'A'" in failed.error().message


def _plugin_without_check(orchestrator: PluginOrchestrator, workflow_id: str) -> Any:
    from qtforge_orch.orchestration.workflow_plugin import WorkflowPlugin

    return WorkflowPlugin(orchestrator._core, workflow_id, f"workflow:{workflow_id}")


def test_nesting_deeper_than_the_limit_is_refused(
    plugins: PluginManager, orchestrator: PluginOrchestrator
) -> None:
    _math(plugins)
    orchestrator.register_workflow(_chain("w0", ("s", "math", "inc")))
    for level in range(1, MAX_NESTING_DEPTH + 1):
        below = _nested(orchestrator, f"w{level - 1}", plugins)
        assert orchestrator.register_workflow(_chain(f"w{level}", ("s", below, "execute")))
    assert orchestrator.execute_workflow(f"w{MAX_NESTING_DEPTH}", {"x": 0})
    below = _nested(orchestrator, f"w{MAX_NESTING_DEPTH}", plugins)
    refused = orchestrator.register_workflow(_chain("too_deep", ("s", below, "execute")))
    assert refused.error().code == PluginErrorCode.ResourceExhausted
    assert f"MAX_NESTING_DEPTH = {MAX_NESTING_DEPTH}" in refused.error().message


@pytest.mark.parametrize("threads", [1, 2])
def test_nested_steps_do_not_deadlock_a_small_pool(
    threads: int, plugins: PluginManager, qapp: Any
) -> None:
    """Parallel nested nodes, two levels deep, all on one pool of 1 or 2 threads."""
    _math(plugins)
    pool = QThreadPool()
    pool.setMaxThreadCount(threads)
    v1 = PluginOrchestrator(plugin_manager=plugins, thread_pool=pool)
    v2 = AdvancedPluginOrchestrator(plugin_manager=plugins, thread_pool=pool)
    try:
        v1.register_workflow(_chain("leaf", ("d", "math", "double"), ("i", "math", "inc")))
        leaf = _nested(v1, "leaf", plugins)
        v2.register_workflow(_graph("middle", ("a", leaf), ("b", leaf), parallel=True))
        middle = _nested(v2, "middle", plugins)
        top = Workflow("top").set_execution_mode("Parallel")
        for step_id in ("s1", "s2", "s3"):
            top.add_step(WorkflowStep(step_id, middle, "execute", parameters={"x": 1}))
        v1.register_workflow(top)
        done = v1.execute_workflow_async("top", {})
        outcome = done.result(timeout=30)
        assert outcome, outcome
        # Shared data: each step's input holds the earlier steps' outputs, which pass through.
        assert outcome.value()["a"]["x"] == outcome.value()["b"]["x"] == 3
        children = v1.get_child_executions(done.execution_id).value()
        assert sorted(children) == ["s1", "s2", "s3"]
    finally:
        assert v1.shutdown(5000) and v2.shutdown(5000)


def test_one_nested_plugin_serves_several_executions_at_once(
    plugins: PluginManager, orchestrator: PluginOrchestrator
) -> None:
    arrived = threading.Barrier(4, timeout=10)

    def meet(params: dict[str, Any]) -> dict[str, Any]:
        arrived.wait()  # all four children are running at the same time
        return {"x": params["x"] * 10}

    plugins.register_plugin(FunctionPlugin("meet", execute=meet))
    orchestrator.thread_pool().setMaxThreadCount(8)
    orchestrator.register_workflow(_chain("inner", ("m", "meet", "execute")))
    plugin_id = _nested(orchestrator, "inner", plugins)
    orchestrator.register_workflow(Workflow("outer").add_step(WorkflowStep("s", plugin_id)))
    futures = [orchestrator.execute_workflow_async("outer", {"x": n}) for n in range(4)]
    results = [future.result(timeout=30).value() for future in futures]
    assert sorted(result["x"] for result in results) == [0, 10, 20, 30]
    children = {
        orchestrator.get_execution_status(f.execution_id).value()["child_executions"]["s"]
        for f in futures
    }
    assert len(children) == 4


def test_a_nested_step_on_the_process_executor_is_refused_at_registration(
    plugins: PluginManager, orchestrator: PluginOrchestrator
) -> None:
    _math(plugins)
    orchestrator.register_workflow(_chain("inner", ("d", "math", "double")))
    plugin_id = _nested(orchestrator, "inner", plugins)
    step = WorkflowStep("s", plugin_id, "execute", parameters={"executor": "process"})
    refused = orchestrator.register_workflow(Workflow("outer").add_step(step))
    assert refused.error().code == PluginErrorCode.InvalidConfiguration
    assert "use the thread executor" in refused.error().message
