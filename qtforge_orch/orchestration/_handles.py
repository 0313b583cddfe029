"""``start_workflow`` and ``execution`` of both orchestrators: ``WorkflowExecution`` handles.

A handle subscribes to its execution's events before the run starts (the engine builds step
events only for kinds somebody subscribed to), so it sees every event it follows; step events
only once somebody follows its steps (``qt/_step_following.py``). The subscription holds it
until the terminal event. That event carries the finished run, from which the orchestrator's
kind reads the final state the handle reports (skipped, cancelled and
rolled-back steps, final attempts and item counters): no status call after the end.

``execution(id)`` makes a handle for an execution that is already running, has ended, or is
only in the journal (an earlier process's). A running one's handle subscribes first and then
reads the state, so nothing falls between; an ended one's handle is finished from the start.
The core keeps every handle it made by id, weakly: while a handle exists, asking again for
its id gives that same object.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, QThread

from ..contract.plan import ScheduleKind
from ..errors import PluginError, PluginErrorCode
from ..results import Expected, from_error, make_error, make_success
from ._registry import id_type_error

if TYPE_CHECKING:
    # The handle classes load with the first start_workflow (cold start: a script that only
    # calls execute_workflow never imports them).
    from ..qt.execution import WorkflowExecution
    from ._facade_core import FacadeCore


def start_handle(
    core: FacadeCore, orchestrator: QObject, workflow_id: str, input_data: dict[str, Any] | None
) -> Expected[WorkflowExecution]:
    """Start an execution of ``orchestrator`` and return its handle (``start_workflow``)."""
    from ..qt._status import ExecutionState
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
    # Every step is pending: the compiled plan names them without a status report per step.
    state = ExecutionState(run.execution_id, run.workflow_id, "running", 0.0, "", [], {}, "", 0)
    handle = WorkflowExecution(
        orchestrator,
        state,
        run.kind is ScheduleKind.STREAM,
        core.kind.final_state,
        event_driven=run.kind is ScheduleKind.EVENT,
        run=run,
        step_keys=[task.key for task in run.plan.tasks],
    )
    # Subscribed before the run starts: the handle sees every event it follows.
    followed = handle._follow(orchestrator)
    if not followed:
        raise followed.error()
    core.handles[run.execution_id] = handle
    core.launch(run)
    return make_success(handle)


def execution_handle(
    core: FacadeCore, orchestrator: QObject, execution_id: str
) -> Expected[WorkflowExecution]:
    """The handle of a running, ended or journaled execution (``execution``)."""
    from ..qt._status import ExecutionState, StepState
    from ..qt.execution import WorkflowExecution

    if not isinstance(execution_id, str):
        return from_error(id_type_error(execution_id, "execution"))
    if QThread.currentThread() != orchestrator.thread():
        return make_error(
            PluginErrorCode.ThreadingError,
            "execution() must be called in the orchestrator's thread (handles live there); "
            "use get_execution_status from other threads",
        )
    known = core.handles.get(execution_id)
    if known is not None and shiboken6.isValid(known):
        return make_success(known)
    found = core.find_run(execution_id)
    if isinstance(found, PluginError):
        return from_error(found)
    kind = getattr(found, "kind", ScheduleKind.BATCH)
    steps = [StepState(task.key, "pending", 0, {}, "") for task in found.plan.tasks]
    pending = ExecutionState(execution_id, found.workflow_id, "pending", 0.0, "", steps, {}, "", 0)
    handle = WorkflowExecution(
        orchestrator,
        pending,
        kind is ScheduleKind.STREAM,
        core.kind.final_state,
        event_driven=kind is ScheduleKind.EVENT,
    )
    # Subscribed before the state is read: whatever happens after the read is an event the
    # handle gets. Events already queued when it subscribed are delivered to it too; they
    # report no later state than the one read, and their order brings each step to it.
    # An ended execution refuses the subscription: its state is final.
    handle._follow(orchestrator)
    handle._load(core.kind.final_state(found))
    core.handles[execution_id] = handle
    return make_success(handle)
