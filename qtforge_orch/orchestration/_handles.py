"""``start_workflow`` (both orchestrators) and v2's ``execute_workflow_async``.

Mixed into the facade classes so the facades stay about the reference's API. Handles are
built on the orchestrators' public API (signals, ``get_execution_status``, cancel, pause,
``wait_for_execution``), not on the engine, so the engine can change underneath.

Why a router: the engine builds step/node events only for signals that already have a
connection when a worker posts them. So one router per orchestrator connects to every signal
*before* the first execution starts, and hands each event to the handle of its execution id.
Handles are registered right after ``execute_workflow`` returns, in the orchestrator's thread,
before that thread's event loop can deliver anything, so a handle sees every event.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QObject, QThread

from .._engine import Run, RunStatus
from .._errors import PluginError, PluginErrorCode, derived_error
from .._expected import Expected, from_error, make_error, make_success
from ..contract.plan import ScheduleKind

if TYPE_CHECKING:
    from .._engine import ExecutionFuture

    # The handle classes load with the first start_workflow (cold start: a script that only
    # calls execute_workflow never imports them).
    from ..qt._execution import WorkflowExecution


class _Router(QObject):
    """Routes the orchestrator's signals to handles by execution id (owner thread)."""

    def __init__(self, orchestrator: QObject) -> None:
        from ..qt._status import is_graph_orchestrator

        super().__init__(orchestrator)  # a child: it goes when the orchestrator goes
        self.handles: dict[str, WorkflowExecution] = {}  # strong refs while running
        o = cast(Any, orchestrator)
        # However the orchestrator goes (parent deleted, deleteLater, application shutdown,
        # garbage), its handles finish: no terminal signal will ever reach them. A function of
        # the dict, not a slot of this router, which is destroyed with the orchestrator.
        o.destroyed.connect(partial(_finish_orphans, self.handles))
        o.workflow_started.connect(self._started)
        o.workflow_completed.connect(self._completed)
        o.workflow_failed.connect(self._failed)
        o.workflow_cancelled.connect(self._cancelled)
        o.execution_progress_updated.connect(self._progress)
        if is_graph_orchestrator(orchestrator):
            o.node_started.connect(self._step_started)
            o.node_completed.connect(self._step_completed)
            o.node_failed.connect(self._step_failed)
            o.workflow_paused.connect(self._paused)
            o.workflow_resumed.connect(self._resumed)
        else:
            o.step_started.connect(self._step_started)
            o.step_completed.connect(self._step_completed)
            o.step_failed.connect(self._step_failed)
            o.step_retrying.connect(self._step_retrying)

    def _started(self, execution_id: str, _workflow_id: str) -> None:
        if handle := self.handles.get(execution_id):
            handle._on_started()

    def _step_started(self, execution_id: str, step: str) -> None:
        if handle := self.handles.get(execution_id):
            handle._on_step_started(step)

    def _step_completed(self, execution_id: str, step: str, output: Any) -> None:
        if handle := self.handles.get(execution_id):
            handle._on_step_completed(step, output)

    def _step_failed(self, execution_id: str, step: str, error: str) -> None:
        if handle := self.handles.get(execution_id):
            handle._on_step_failed(step, error)

    def _step_retrying(self, execution_id: str, step: str, retry: int) -> None:
        if handle := self.handles.get(execution_id):
            handle._on_step_retrying(step, retry)

    def _progress(self, execution_id: str, value: float) -> None:
        if handle := self.handles.get(execution_id):
            handle._on_progress(value)

    def _paused(self, execution_id: str) -> None:
        if handle := self.handles.get(execution_id):
            handle._on_paused()

    def _resumed(self, execution_id: str) -> None:
        if handle := self.handles.get(execution_id):
            handle._on_resumed()

    def _completed(self, execution_id: str, result: Any) -> None:
        self._terminal(execution_id, "completed", result)

    def _failed(self, execution_id: str, message: str) -> None:
        self._terminal(execution_id, "failed", message)

    def _cancelled(self, execution_id: str) -> None:
        self._terminal(execution_id, "cancelled", None)

    def _terminal(self, execution_id: str, status: str, detail: Any) -> None:
        handle = self.handles.pop(execution_id, None)
        if handle is not None:
            handle._on_terminal(status, detail)


def _finish_orphans(handles: dict[str, WorkflowExecution], *_: object) -> None:
    """The orchestrator is being destroyed: every handle still running finishes, cancelled."""
    orphans = list(handles.values())
    handles.clear()
    for handle in orphans:
        handle._on_orchestrator_gone()


class ExecutionHandles:
    """``start_workflow``: an execution as a ``WorkflowExecution`` QObject."""

    _handle_router: _Router | None = None

    def start_workflow(
        self, workflow_id: str, input_data: dict[str, Any] | None = None
    ) -> Expected[WorkflowExecution]:
        """Start an execution and return its live ``WorkflowExecution`` handle; never blocks.

        Connect to the handle's signals, ``await`` it or cancel it. Call this in the
        orchestrator's thread; the handle lives in that thread and emits its signals there.

        Returns:
            The handle, ``ThreadingError`` when called from another thread, or the errors of
            ``execute_workflow`` before the execution starts (``NotFound``,
            ``InvalidParameters``...).
        """
        from ..qt._execution import WorkflowExecution
        from ..qt._status import ExecutionState, StepState, is_graph_orchestrator, read_state

        owner = cast(Any, self)
        if QThread.currentThread() != owner.thread():
            return make_error(
                PluginErrorCode.ThreadingError,
                "start_workflow must be called in the orchestrator's thread (handles live "
                "there); use execute_workflow or execute_workflow_async from other threads",
            )
        if self._handle_router is None:
            self._handle_router = _Router(owner)
        graph = is_graph_orchestrator(owner)
        if graph:
            started: Expected[str] = owner.execute_workflow(workflow_id, input_data)
        else:
            started = owner.execute_workflow(workflow_id, input_data, async_=True)
        if not started:
            return from_error(started.error())
        execution_id = started.value()
        # Nothing is delivered before this thread returns to its event loop, so reading the
        # status and registering the handle here cannot miss an event.
        run: Run | None = owner._engine.get_run(execution_id)
        if run is not None:
            # A run that has just started: every step is pending, which the compiled plan
            # says without building a status report of every step (17 ms for 1,000).
            steps = [StepState(task.key, "pending", 0, {}, "") for task in run.plan.tasks]
            state = ExecutionState(execution_id, workflow_id, "running", 0.0, "", steps, {}, "", 0)
            streaming = run.kind is ScheduleKind.STREAM
        else:
            state = read_state(owner, execution_id) or ExecutionState(
                execution_id, workflow_id, "running", 0.0, "", [], {}, "", 0
            )
            streaming = graph and any(step.items is not None for step in state.steps)
        handle = WorkflowExecution(owner, state, streaming)
        self._handle_router.handles[execution_id] = handle
        return make_success(handle)


class GraphExecutionHandles(ExecutionHandles):
    """v2 also gets ``execute_workflow_async``, resolved exactly as v1's is."""

    def execute_workflow_async(
        self, workflow_id: str, input_data: dict[str, Any] | None = None
    ) -> ExecutionFuture[Expected[dict[str, Any]]]:
        """Start an execution and return a future of its final data.

        The data are the leaf nodes' outputs, keyed by node id. ``await`` the future under
        qasync or call ``.result(timeout)`` from plain code; a start error resolves it at once.
        """
        from .._engine import ExecutionFuture  # concurrent.futures: on first use

        owner = cast(Any, self)
        future: ExecutionFuture[Expected[dict[str, Any]]] = ExecutionFuture()
        started: Expected[str] = owner.execute_workflow(workflow_id, input_data)
        if not started:
            future.set_result(from_error(started.error()))
            return future
        future.execution_id = started.value()
        run: Run | None = owner._engine.get_run(future.execution_id)
        if run is None:  # already finished and forgotten (a history limit of 0)
            future.set_result(
                make_error(
                    PluginErrorCode.NotFound,
                    f"execution '{future.execution_id}' ended and was forgotten at once "
                    "(history limit 0); its outcome is unknown",
                )
            )
            return future
        run.on_finish(lambda done: future.set_result(_outcome(done)))
        return future


def _outcome(run: Run) -> Expected[dict[str, Any]]:
    # Mirrors PluginOrchestrator._run_outcome / _run_error.
    if run.status == RunStatus.COMPLETED:
        return make_success(dict(run.result or {}))
    error = run.error or PluginError(PluginErrorCode.ExecutionFailed, "execution failed")
    return from_error(derived_error(error, execution_id=run.execution_id, status=run.status))
