"""Our two orchestrators' workflows for a ``_references.Dag``, and how one run of each is timed
(sync v1 ``execute_workflow``; v2 ``execute_workflow`` + ``wait_for_execution`` in the GUI
thread, as B4 does)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._common import checked, noop, plugins_with
from ._references import Dag, name


def v1_workflow(workflow_id: str, dag: Dag, parallel: bool) -> Any:
    from qtforge_orch import ExecutionMode, Workflow, WorkflowStep

    workflow = Workflow(workflow_id, workflow_id)
    workflow.set_execution_mode(ExecutionMode.Parallel if parallel else ExecutionMode.Sequential)
    for index, predecessors in enumerate(dag):
        step = WorkflowStep(name(index), "noop", "execute")
        if predecessors:
            step.dependencies = [name(p) for p in predecessors]
        workflow.add_step(step)
    return workflow


def v2_workflow(workflow_id: str, dag: Dag, parallel: bool) -> Any:
    from qtforge_orch import (
        PluginWorkflow,
        WorkflowConnection,
        WorkflowExecutionMode,
        WorkflowNode,
    )

    return PluginWorkflow(
        workflow_id=workflow_id,
        execution_mode=(
            WorkflowExecutionMode.Parallel if parallel else WorkflowExecutionMode.Sequential
        ),
        nodes=[WorkflowNode(node_id=name(index), plugin_id="noop") for index in range(len(dag))],
        connections=[
            WorkflowConnection(source_node=name(p), target_node=name(index))
            for index, predecessors in enumerate(dag)
            for p in predecessors
        ],
    )


class Ours:
    """One v1 and one v2 orchestrator with the ``noop`` plugin; ``shutdown()`` when done."""

    def __init__(self) -> None:
        from qtforge_orch import AdvancedPluginOrchestrator, PluginOrchestrator

        self.v1 = PluginOrchestrator(plugin_manager=plugins_with(noop=noop))
        self.v2 = AdvancedPluginOrchestrator(plugin_manager=plugins_with(noop=noop))

    def workers(self) -> int:
        return int(self.v1.thread_pool().maxThreadCount())

    def register(self, workflow_id: str, dag: Dag, parallel: bool) -> None:
        checked(self.v1.register_workflow(v1_workflow(workflow_id, dag, parallel)), "register v1")
        checked(self.v2.register_workflow(v2_workflow(workflow_id, dag, parallel)), "register v2")

    def runners(self, workflow_id: str) -> dict[str, Callable[[], object]]:
        """Timed callables. The v2 one does not read the status: on a large graph that costs
        more than the run (issue #14); ``verify`` checks the outcome once, untimed."""
        v1, v2 = self.v1, self.v2

        def run_v1() -> bool:
            return bool(v1.execute_workflow(workflow_id))

        def run_v2() -> bool:
            execution_id = checked(v2.execute_workflow(workflow_id), "execute v2")
            return v2.wait_for_execution(execution_id, 120_000)

        return {"v1": run_v1, "v2": run_v2}

    def verify(self, workflow_id: str) -> None:
        from qtforge_orch import WorkflowExecutionStatus

        checked(self.v1.execute_workflow(workflow_id), "execute v1")
        execution_id = checked(self.v2.execute_workflow(workflow_id), "execute v2")
        if not self.v2.wait_for_execution(execution_id, 120_000):
            raise RuntimeError(f"v2 execution of '{workflow_id}' did not end")
        status = checked(self.v2.get_execution_status(execution_id), "status v2").status
        if status != WorkflowExecutionStatus.Completed:
            raise RuntimeError(f"v2 execution of '{workflow_id}' ended {status.name}")

    def shutdown(self) -> None:
        self.v1.shutdown()
        self.v2.shutdown()
