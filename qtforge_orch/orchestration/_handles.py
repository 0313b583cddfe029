"""``start_workflow`` of both orchestrators: an execution as a ``WorkflowExecution`` handle.

A handle subscribes to its execution's events before the run starts (the engine builds step
events only for kinds somebody subscribed to), so it sees every event; the subscription holds
it until the terminal event. That event carries the finished run, from which the
orchestrator's kind reads the final state the handle reports (skipped, cancelled and
rolled-back steps, final attempts and item counters): no status call after the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThread

from .._errors import PluginError, PluginErrorCode
from .._expected import Expected, from_error, make_error, make_success
from ..contract.plan import ScheduleKind

if TYPE_CHECKING:
    # The handle classes load with the first start_workflow (cold start: a script that only
    # calls execute_workflow never imports them).
    from ..qt.execution import WorkflowExecution
    from ._facade_core import FacadeCore


def start_handle(
    core: FacadeCore, orchestrator: QObject, workflow_id: str, input_data: dict[str, Any] | None
) -> Expected[WorkflowExecution]:
    """Start an execution of ``orchestrator`` and return its handle (``start_workflow``)."""
    from ..qt._status import ExecutionState, StepState
    from ..qt.execution import WorkflowExecution

    if QThread.currentThread() != orchestrator.thread():
        return make_error(
            PluginErrorCode.ThreadingError,
            "start_workflow must be called in the orchestrator's thread (handles live "
            "there); use execute_workflow or execute_workflow_async from other threads",
        )
    run = core.start(workflow_id, input_data)
    if isinstance(run, PluginError):
        return from_error(run)
    # Every step is pending: the compiled plan says so without a status report per step.
    steps = [StepState(task.key, "pending", 0, {}, "") for task in run.plan.tasks]
    state = ExecutionState(run.execution_id, run.workflow_id, "running", 0.0, "", steps, {}, "", 0)
    streaming = run.kind is ScheduleKind.STREAM
    handle = WorkflowExecution(orchestrator, state, streaming, core.kind.final_state)
    core.launch(run)
    return make_success(handle)
