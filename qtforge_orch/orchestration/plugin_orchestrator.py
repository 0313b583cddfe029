"""``PluginOrchestrator``: QtForge's step-based orchestrator (``plugin_orchestrator.hpp``).

A thin facade: it validates and compiles ``Workflow`` objects into engine plans, starts runs,
and turns run state into the reference's shapes. Scheduling lives in ``qtforge_orch._engine``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import os

    # concurrent.futures (and with it logging) loads with the first execute_workflow_async.
    from ..contract.execution_future import ExecutionFuture
    from ..journal import ExecutionJournal
    from ..qt._status import ExecutionState

# Pure-Python modules first (the models, pydantic, the compile step, the plugin registry):
# once PySide6 is imported, its feature hook reads the source of every module imported after
# it (shibokensupport's ``feature_imported``, ~0.15 ms a module), so a script that imports
# this package before Qt starts faster this way. See docs/performance.md, "Cold start".
from .._engine import (
    PluginLookup,
    RunSnapshot,
    RunStatus,
    RunView,
    SignalNames,
    Timers,
    cached_reports,
    debug_fields,
    gc_paused_for,
    iso_utc,
    late_reports,
    refusal_at_registration,
    take_snapshot,
)
from ..contract.plan import Plan, TaskState
from ..errors import PluginError, PluginErrorCode
from ..plugins import PluginManager
from ..results import Expected, from_error, make_error, make_success
from . import _nesting
from ._filled_on_read import FilledOnRead
from ._registry import Registered
from ._v1_compile import compile_workflow
from ._v1_frozen import FrozenWorkflow
from .execution_mode import ExecutionMode
from .step_result import StepResult, StepStatus
from .workflow import Workflow
from .workflow_step import WorkflowStep

# isort: split
from PySide6.QtCore import QObject, QThreadPool, Signal

from .._engine import DEFAULT_HISTORY_LIMIT, RollbackHandle, TransactionRegistry
from ._facade_core import FacadeCore, run_error
from ._orchestrator_base import OrchestratorBase

__all__ = [
    "ExecutionMode",
    "PluginOrchestrator",
    "StepResult",
    "StepStatus",
    "Workflow",
    "WorkflowStep",
]

_NAMES = SignalNames(
    workflow_started="workflow_started",
    workflow_completed="workflow_completed",
    workflow_failed="workflow_failed",
    workflow_cancelled="workflow_cancelled",
    task_started="step_started",
    task_completed="step_completed",
    task_failed="step_failed",
    task_retrying="step_retrying",
    progress="execution_progress_updated",
)


def _timestamp(value: float) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


def _step_result(fields: dict[str, Any]) -> StepResult:
    """``StepResult.model_construct(**fields)`` for a dict holding every field, in order."""
    result = object.__new__(StepResult)
    object.__setattr__(result, "__dict__", fields)
    object.__setattr__(result, "__pydantic_fields_set__", set(_RESULT_FIELDS))
    object.__setattr__(result, "__pydantic_extra__", None)
    object.__setattr__(result, "__pydantic_private__", None)
    return result


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


_SETTLED = frozenset(
    {TaskState.Completed, TaskState.Failed, TaskState.Skipped, TaskState.Cancelled}
)


def _rank_of(run: RunView) -> Any:
    ranks = run.plan.merge_rank or ()
    position = {task.key: ranks[task.index] for task in run.plan.tasks} if ranks else {}
    return lambda key: position.get(key, 0)


# Indexed by state value: an enum call and ``.name`` cost ~0.5 us per step of a status call.
_STATE_NAMES = tuple(state.name for state in sorted(TaskState))
_STEP_STATUSES = tuple(sorted(StepStatus))
_RESULT_FIELDS = frozenset(StepResult.model_fields)


def _step_reports(run: RunView, snap: RunSnapshot, indices: list[int]) -> list[dict[str, Any]]:
    """The ``StepResult.to_json()`` shape of each step in ``indices``, built without a model."""
    tasks, names = run.plan.tasks, _STATE_NAMES
    states, outputs, errors, retries = snap.states, snap.outputs, snap.errors, snap.retries
    starts, ends, iso = snap.starts, snap.ends, iso_utc
    debug = bool(snap.failures or snap.late)  # only when there are any: see StepResult.to_json
    reports: list[dict[str, Any]] = []
    append = reports.append
    for index in indices:
        start, end = starts[index], ends[index]
        report = {
            "step_id": tasks[index].key,
            "status": names[states[index]],
            "result_data": outputs[index] or {},
            "error_message": errors[index],
            "retry_count": retries[index],
            "start_time": iso(start),
            "end_time": iso(end),
            "execution_time": int(max(0.0, end - start) * 1000) if start and end else 0,
        }
        if debug:
            report.update(debug_fields(snap, index, "step_id"))
        append(report)
    return reports


_LAZY_KEYS = frozenset({"step_results"})


def status_report(run: RunView) -> dict[str, Any]:
    """``get_execution_status``'s dict for a run (a live one or one read from the journal).

    ``step_results`` is built from the same snapshot the first time the dict is read, not
    here: reading the status or the result of a large execution builds no step report.
    """
    snap = take_snapshot(run)
    tasks = run.plan.tasks
    error = snap.error

    def step_results() -> dict[str, Any]:
        return {"step_results": cached_reports(run, snap, _step_reports, _SETTLED)}

    entries = {
        "execution_id": run.execution_id,
        "workflow_id": run.workflow_id,
        "status": snap.status,
        "progress": snap.progress,
        "current_step": snap.current_task,
        "step_progress": {
            tasks[i].key: {"progress": fraction, "message": note}
            for i, (fraction, note) in snap.step_progress.items()
        },
        "completed_steps": snap.completed,
        "total_steps": len(tasks),
        "start_time": _iso(snap.start_time),
        "end_time": _iso(snap.end_time),
        "error": error.message if error else "",
        "error_code": int(error.code) if error else 0,
        "result": dict(snap.result) if snap.result is not None else {},
        "rollbacks": [
            {"step_id": tasks[index].key, "status": state, "error": message}
            | ({"late": True} if late else {})
            for index, state, message, late in snap.rollbacks
        ],
        "late_outcomes": late_reports(snap, "step_id"),
        "transaction_id": run.transaction_id or "",
        # Nested workflows: the execution whose step runs this one, and this one's children.
        "parent_execution_id": _nesting.parent_execution_id(run) or "",
        "child_executions": _nesting.children(run),
        # Parallel/Conditional steps that wrote the same key; the value kept is the
        # one of the step listed last (the later one in sequential order).
        "overlapping_outputs": {
            key: sorted((tasks[i].key for i in steps), key=_rank_of(run))
            for key, steps in snap.overlaps.items()
        },
    }
    return FilledOnRead(entries, step_results, _LAZY_KEYS, before="rollbacks")


class _StepWorkflows:
    """What the core needs to know about v1's step workflows (``FacadeCore``'s kind)."""

    journal_kind = "v1"
    names = _NAMES
    compensates = True  # rollback steps, transactions

    @staticmethod
    def plan_of_definition(
        definition: Any, default_executor: str, plugins: PluginLookup
    ) -> Plan | PluginError:
        parsed = Workflow.from_json(definition)
        if not parsed:
            return parsed.error()
        try:
            return compile_workflow(FrozenWorkflow(parsed.value()), default_executor)
        except Exception as exc:  # a recorded definition that no longer compiles
            return PluginError(PluginErrorCode.InvalidFormat, str(exc))

    @staticmethod
    def final_state(run: Any) -> ExecutionState:
        from ..qt._status import state_from_v1_status

        return state_from_v1_status(status_report(run))


class PluginOrchestrator(OrchestratorBase):
    """QtForge's step-workflow orchestrator: registers ``Workflow``s and runs them.

    Steps run on a ``QThreadPool``; every signal is emitted in the orchestrator's own thread,
    in causal order per execution. Every method is thread-safe and reports bad input and failed
    work through the ``Expected`` it returns, never by raising.

    Signals:

    - ``workflow_started(execution_id, workflow_id)``: the first signal of an execution.
    - ``workflow_completed(execution_id, result)``: terminal; ``result`` is the final data dict.
    - ``workflow_failed(execution_id, message)``: terminal.
    - ``workflow_cancelled(execution_id)``: terminal, also after a workflow timeout.
    - ``step_started(execution_id, step_id)``: a step's first attempt.
    - ``step_completed(execution_id, step_id, output)``: ``output`` is the step's dict.
    - ``step_failed(execution_id, step_id, message)``.
    - ``step_retrying(execution_id, step_id, retry)``: before retry number ``retry`` (1-based).
    - ``execution_progress_updated(execution_id, progress)``: 0.0-1.0, coalesced.

    Args:
        parent: The ``QObject`` parent.
        plugin_manager: Where steps' ``plugin_id``s are looked up; ``default_plugin_manager()``
            when None.
        thread_pool: The pool steps run on; a new pool of ``max(4, idealThreadCount())``
            threads when None.
        history_limit: How many finished executions stay queryable (oldest forgotten first).
        timers: Replaces the clock and timer service behind retries, backoff and timeouts
            (``qtforge_orch.testing``'s ``qtforge_fake_clock`` passes a manual one).
        default_executor: Where steps run unless a step's ``parameters`` names an ``executor``:
            ``"thread"`` (the pool, default), ``"process"`` or ``"dask"`` (see Scaling out).
        dask_address: The Dask scheduler to use; None starts a local cluster on 127.0.0.1
            on first use.
        process_workers: How many worker processes the process executor may run.
        journal: Record executions durably in this SQLite file (or ``ExecutionJournal``):
            history across restarts and ``resume_execution`` after a crash (see Durable
            executions). A file that cannot be opened raises ``PluginError``.
    """

    workflow_started = Signal(str, str)
    workflow_completed = Signal(str, object)
    workflow_failed = Signal(str, str)
    workflow_cancelled = Signal(str)
    step_started = Signal(str, str)
    step_completed = Signal(str, str, object)
    step_failed = Signal(str, str, str)
    step_retrying = Signal(str, str, int)
    execution_progress_updated = Signal(str, float)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        plugin_manager: PluginManager | None = None,
        thread_pool: QThreadPool | None = None,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
        timers: Timers | None = None,
        default_executor: str = "thread",
        dask_address: str | None = None,
        process_workers: int | None = None,
        journal: str | os.PathLike[str] | ExecutionJournal | None = None,
    ) -> None:
        super().__init__(parent)
        self._attach(
            FacadeCore(
                self,
                _StepWorkflows(),
                plugin_manager=plugin_manager,
                thread_pool=thread_pool,
                history_limit=history_limit,
                timers=timers,
                default_executor=default_executor,
                dask_address=dask_address,
                process_workers=process_workers,
                journal=journal,
            )
        )
        transactions = self._core.transactions
        assert transactions is not None
        self._transactions: TransactionRegistry = transactions

    @staticmethod
    def create(
        *,
        plugin_manager: PluginManager | None = None,
        thread_pool: QThreadPool | None = None,
    ) -> PluginOrchestrator:
        """The reference's factory: a new orchestrator without a parent."""
        return PluginOrchestrator(plugin_manager=plugin_manager, thread_pool=thread_pool)

    # --- workflow management -----------------------------------------------------------
    def register_workflow(self, workflow: Workflow) -> Expected[None]:
        """Validate a workflow and register a private copy of it under its id.

        Later changes to ``workflow`` do not affect the registered copy.

        Returns:
            Success, or ``InvalidConfiguration`` (not a ``Workflow``, or an invalid definition),
            ``DependencyNotSatisfied`` (a dependency names no step), ``CircularDependency`` or
            ``AlreadyExists`` (the id is registered).
        """
        if not isinstance(workflow, Workflow):
            return make_error(
                PluginErrorCode.InvalidConfiguration,
                f"register_workflow expects a Workflow, got {type(workflow).__name__}",
            )
        with gc_paused_for(len(workflow.steps())):
            checked = workflow.validate()
            if not checked:
                return checked
            # The registered copy is frozen (tuples, private containers): later changes to
            # ``workflow`` cannot reach it, and it costs a fraction of a model copy.
            snapshot = FrozenWorkflow(workflow)
            try:
                plan = compile_workflow(snapshot, self._core.default_executor)
            except Exception as exc:  # validate() should have caught it; never raise to callers
                return make_error(PluginErrorCode.InvalidConfiguration, str(exc))
            refused = refusal_at_registration(self._core.engine.plugins, plan.tasks)
            if refused:
                return make_error(PluginErrorCode.InvalidConfiguration, f"step {refused}")
        return self._register(snapshot.id, Registered(snapshot, plan))

    def unregister_workflow(self, workflow_id: str) -> Expected[None]:
        """Forget a registered workflow; ``NotFound`` if no workflow has that id.

        Running executions of the workflow keep their own compiled copy and finish.
        """
        return self._core.workflows.remove(workflow_id)

    def get_workflow(self, workflow_id: str) -> Expected[Workflow]:
        """A copy of the registered workflow, or ``NotFound``."""
        entry = self._core.workflows.get(workflow_id)
        return make_success(entry.value().workflow.thaw()) if entry else from_error(entry.error())

    def list_workflows(self) -> list[str]:
        """The registered workflow ids, in registration order."""
        return self._core.workflows.ids()

    # --- execution -----------------------------------------------------------------------
    def execute_workflow(
        self,
        workflow_id: str,
        initial_data: dict[str, Any] | None = None,
        async_: bool = False,
        *,
        transaction_id: str | None = None,
    ) -> Expected[str]:
        """Run a registered workflow; synchronous by default.

        A synchronous call blocks until the execution ends (in a GUI, use ``start_workflow``).

        Args:
            workflow_id: The registered workflow to run.
            initial_data: The first step's input (a dict; steps see it merged with their
                ``parameters``).
            async_: Return the execution id at once instead of waiting for the end.
            transaction_id: Join a transaction opened with ``begin_transaction``.

        Returns:
            The execution id. Before starting: ``InvalidParameters`` (``initial_data`` not a
            dict), ``NotFound`` (no such workflow, or a transaction never begun) or
            ``InvalidState`` (the transaction already ended). Synchronously, a failed or
            cancelled execution returns the failing step's code (``ExecutionFailed``,
            ``Timeout``, ``PluginNotFound``, ``CommandNotFound``, the plugin's own code...) or
            ``OperationCancelled``; the error's ``context`` has ``execution_id``, ``status``,
            ``step_id`` and, if any, ``rollback_errors``. With a journal that cannot write
            (a full or failing disk), the call returns within the journal flush bound (5 s)
            after the execution ends: a completed execution then returns ``FileSystemError``,
            a failed one its own error with ``context["journal_error"]``.
        """
        started = self._core.start(workflow_id, initial_data, transaction_id)
        if isinstance(started, PluginError):
            return from_error(started)
        self._core.launch(started)
        if async_:
            return make_success(started.execution_id)
        journal_error = self._core.engine.wait(started)
        if started.status == RunStatus.COMPLETED:
            if journal_error is not None:
                return from_error(journal_error)
            return make_success(started.execution_id)
        error = run_error(started)
        if journal_error is not None:
            error.context["journal_error"] = journal_error.message
        return from_error(error)

    def execute_workflow_async(
        self,
        workflow_id: str,
        initial_data: dict[str, Any] | None = None,
        *,
        transaction_id: str | None = None,
    ) -> ExecutionFuture[Expected[dict[str, Any]]]:
        """Start a workflow and return a future of its final data.

        ``await`` the future in a running asyncio loop (qasync's included) or call
        ``.result(timeout)``; it never runs a nested Qt event loop.

        Returns:
            An ``ExecutionFuture`` resolving to ``Expected[dict]``: the final data, or the same
            errors as ``execute_workflow``. A start error resolves it at once.
        """
        return self._core.start_async(self._core.start(workflow_id, initial_data, transaction_id))

    # --- durable executions ----------------------------------------------------------------
    def resume_execution(self, execution_id: str, force: bool = False) -> Expected[str]:
        """Resume an interrupted or failed execution recorded in the journal.

        Steps that completed are not run again: their recorded outputs feed their successors.
        Everything else runs as in a fresh execution, under a new execution id (returned),
        which the journal links to the old one.

        Args:
            execution_id: An execution of this or an earlier process, in the journal.
            force: Resume even if the workflow's registered definition changed since.

        Returns:
            The new execution's id, or ``InvalidState`` (no journal; completed, already
            resumed, or running in another process), ``NotFound`` (not in the journal, or
            its workflow is not registered), ``VersionMismatch`` (the definition changed;
            the message says what) or ``InvalidArgument``.
        """
        return self._core.resume_from_journal(execution_id, force)

    def cancel_workflow(self, execution_id: str) -> Expected[None]:
        """Cancel a running execution; completed steps' rollback steps run.

        Returns:
            Success, ``NotFound`` (unknown or forgotten execution) or ``InvalidState`` (it
            already ended or is stopping).
        """
        run = self._core.find_run(execution_id)
        if isinstance(run, PluginError):
            return from_error(run)
        if not run.cancel():
            return make_error(
                PluginErrorCode.InvalidState,
                f"execution '{execution_id}' is already {run.status}; nothing to cancel",
                context={"execution_id": execution_id},
            )
        return make_success()

    # --- monitoring ----------------------------------------------------------------------
    def get_execution_status(self, execution_id: str) -> Expected[dict[str, Any]]:
        """A snapshot of one execution as a dict, or ``NotFound``.

        The fields (``status``, ``progress``, ``current_step``, ``step_results``, ``result``,
        ``rollbacks``...) are listed in the v1 semantics page. Outputs inside it
        (``result_data``) are the engine's record, shared rather than copied so a call stays
        cheap whatever their size: copy one before changing it.
        """
        run = self._core.find_run(execution_id)
        if isinstance(run, PluginError):
            return from_error(run)
        return make_success(status_report(run))

    def list_active_executions(self) -> list[str]:
        """The ids of the executions that have not ended."""
        return [run.execution_id for run in self._core.engine.active_runs()]

    def get_step_results(self, execution_id: str) -> Expected[list[StepResult]]:
        """One ``StepResult`` per step in declaration order, or ``NotFound``."""
        run = self._core.find_run(execution_id)
        if isinstance(run, PluginError):
            return from_error(run)
        snap = take_snapshot(run)
        # Built as model_construct builds them (no validation: the engine accepted these
        # outputs already, any keys, any values, and validating them again would refuse what
        # it reported as completed), minus its per-field loop: a third of the cost.
        states, outputs, errors = snap.states, snap.outputs, snap.errors
        retries, starts, ends = snap.retries, snap.starts, snap.ends
        results: list[StepResult] = []
        debug = bool(snap.failures or snap.late)
        for task in run.plan.tasks:
            i = task.index
            output = outputs[i]
            fields = {
                "step_id": task.key,
                "status": _STEP_STATUSES[states[i]],
                "result_data": dict(output) if output else {},
                "error_message": errors[i],
                "retry_count": retries[i],
                "start_time": _timestamp(starts[i]),
                "end_time": _timestamp(ends[i]),
                "error_info": None,
                "late_outcome": None,
            }
            if debug:
                fields.update(debug_fields(snap, i, "step_id"))
            results.append(_step_result(fields))
        return make_success(results)

    # --- transactions --------------------------------------------------------------------
    def begin_transaction(self, transaction_id: str) -> Expected[None]:
        """Open a transaction that executions can join (``transaction_id=`` when started).

        Returns:
            Success, ``InvalidArgument`` (empty or not a string) or ``AlreadyExists`` (the id
            is open, or among the most recently ended transactions).
        """
        error = self._transactions.begin(transaction_id)
        return make_success() if error is None else from_error(error)

    def commit_transaction(self, transaction_id: str) -> Expected[None]:
        """End a transaction keeping its work; its rollback steps can no longer run.

        Returns:
            Success, ``NotFound`` (never begun, or ended and forgotten) or ``InvalidState``
            (already ended, or an execution in it is still running).
        """
        error = self._transactions.commit(transaction_id)
        return make_success() if error is None else from_error(error)

    def rollback_transaction(self, transaction_id: str) -> Expected[None]:
        """Undo a transaction: run the rollback steps of its completed steps, newest first.

        Returns once every rollback step has run.

        Returns:
            Success, ``NotFound``, ``InvalidState`` (as for ``commit_transaction``) or
            ``ExecutionFailed`` (a rollback step failed; the message lists each failure).
        """
        handle = self._transactions.rollback(transaction_id)
        if isinstance(handle, PluginError):
            return from_error(handle)
        return self._await_rollback(transaction_id, handle)

    def _await_rollback(self, transaction_id: str, handle: RollbackHandle) -> Expected[None]:
        self._core.engine.wait_event(handle.done)
        if handle.failures:
            return make_error(
                PluginErrorCode.ExecutionFailed,
                f"transaction '{transaction_id}' rolled back with errors: "
                + "; ".join(handle.failures),
            )
        return make_success()
