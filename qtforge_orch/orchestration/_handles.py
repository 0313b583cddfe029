"""``start_workflow`` (both orchestrators) and v2's ``execute_workflow_async``.

A handle subscribes to its execution's events before the run starts (the engine builds step
events only for kinds somebody subscribed to), so it sees every event; the subscription holds
it until the terminal event. That event carries the finished run, from which the facade
reads the final state the handle reports (skipped, cancelled and rolled-back steps, final
attempts and item counters): no status call after the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QThread

from .._engine.plan import ScheduleKind
from .._engine.run import Run
from .._engine.status import RunStatus
from .._errors import PluginError, PluginErrorCode
from .._expected import Expected, from_error, make_error, make_success

if TYPE_CHECKING:
    from .._engine.futures import ExecutionFuture

    # The handle classes load with the first start_workflow (cold start: a script that only
    # calls execute_workflow never imports them).
    from ..qt._execution import WorkflowExecution
    from ..qt._status import ExecutionState


class ExecutionHandles:
    """``start_workflow``: an execution as a ``WorkflowExecution`` QObject."""

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
        from ..qt._status import ExecutionState, StepState

        owner = cast(Any, self)
        if QThread.currentThread() != owner.thread():
            return make_error(
                PluginErrorCode.ThreadingError,
                "start_workflow must be called in the orchestrator's thread (handles live "
                "there); use execute_workflow or execute_workflow_async from other threads",
            )
        run = owner._start_deferred(workflow_id, input_data)
        if isinstance(run, PluginError):
            return from_error(run)
        # Every step is pending: the compiled plan says so without a status report per step.
        steps = [StepState(task.key, "pending", 0, {}, "") for task in run.plan.tasks]
        state = ExecutionState(
            run.execution_id, run.workflow_id, "running", 0.0, "", steps, {}, "", 0
        )
        handle = WorkflowExecution(
            owner, state, run.kind is ScheduleKind.STREAM, owner._final_state
        )
        run.start()
        return make_success(handle)

    if TYPE_CHECKING:

        def _start_deferred(
            self, workflow_id: str, input_data: dict[str, Any] | None
        ) -> Run | PluginError:
            """A new run of the workflow, not started yet."""

        def _final_state(self, run: Any) -> ExecutionState:
            """A finished run's state, as the handle reports it."""


class GraphExecutionHandles(ExecutionHandles):
    """v2 also gets ``execute_workflow_async``, resolved exactly as v1's is."""

    def execute_workflow_async(
        self, workflow_id: str, input_data: dict[str, Any] | None = None
    ) -> ExecutionFuture[Expected[dict[str, Any]]]:
        """Start an execution and return a future of its final data.

        The data are the leaf nodes' outputs, keyed by node id. ``await`` the future under
        qasync or call ``.result(timeout)`` from plain code; a start error resolves it at once.
        """
        from .._engine.futures import ExecutionFuture  # concurrent.futures: on first use

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
    context = {**error.context, "execution_id": run.execution_id, "status": run.status}
    return from_error(
        PluginError(error.code, error.message, error.details, error.plugin_id, context)
    )
