"""The one object each orchestrator owns: engine, registry, journal, transactions, events.

Both facades are thin: they check the reference's arguments, shape the reference's results,
and hand everything else to their ``FacadeCore``. What differs between them (signal names,
how a recorded definition compiles, how a finished run reads as a handle's final state) is a
``WorkflowKind`` they pass in, never a method the core expects them to override.

The core holds no reference to its orchestrator: the engine refers to it weakly, so the
orchestrator is freed by its last reference, in the thread that drops it (see ``Engine``).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThreadPool

from .._engine import (
    Engine,
    PluginLookup,
    Run,
    RunStatus,
    Timers,
    TransactionRegistry,
    UnknownExecutor,
    check_executor,
)
from ..errors import PluginError, PluginErrorCode, derived_error
from ..events import EventKind, Subscriber, Subscription
from ..plugins import PluginManager, default_plugin_manager
from ..results import Expected, from_error, make_error, make_success
from ._durable import JournalLink
from ._execution_log import ExecutionLog
from ._item_counts import ItemCountSampler
from ._recorded import RecordedRun
from ._registry import Registered, WorkflowRegistry, id_type_error
from ._signals import SignalRelay
from ._workflow_kind import WorkflowKind

if TYPE_CHECKING:
    import os

    from ..contract.execution_future import ExecutionFuture
    from ..journal import ExecutionJournal
    from ..qt.execution import WorkflowExecution


# The bits of the item-count kinds in ``ListenedKinds.kinds``.
_COUNT_KINDS = (1 << EventKind.ITEM_COUNTS) | (1 << EventKind.EVENT_COUNTS)


class FacadeCore:
    """An orchestrator's engine and everything it keeps around it."""

    def __init__(
        self,
        owner: QObject,
        kind: WorkflowKind,
        *,
        plugin_manager: PluginManager | None,
        thread_pool: QThreadPool | None,
        history_limit: int,
        timers: Timers | None,
        default_executor: str,
        dask_address: str | None,
        process_workers: int | None,
        journal: str | os.PathLike[str] | ExecutionJournal | None,
        lookup: Callable[[PluginManager], PluginLookup] | None = None,
    ) -> None:
        self.kind = kind
        self.plugin_manager = (
            plugin_manager if plugin_manager is not None else default_plugin_manager()
        )
        plugins = self.plugin_manager if lookup is None else lookup(self.plugin_manager)
        self.engine = Engine(owner, kind.names, plugins, thread_pool, history_limit, timers)
        self.signals = SignalRelay(owner, kind.names, self.engine)
        self.log = ExecutionLog(self.engine)
        self.item_counts = ItemCountSampler(self.engine, owner)
        self.default_executor = self._configure_executors(
            default_executor, dask_address, process_workers
        )
        self.workflows: WorkflowRegistry[Registered] = WorkflowRegistry()
        self.journal = JournalLink(self.engine, self.workflows, kind, self.default_executor)
        self.journal.open(journal)
        self.transactions = TransactionRegistry(self.engine) if kind.compensates else None
        # What a resumed run takes over from its earlier execution before it starts (the
        # compensations its nested steps' children owe); set by the orchestrator.
        self.on_resume: Callable[[Run], None] | None = None
        # The handles made so far, by execution id, held weakly: ``execution(id)`` gives the
        # same object while it exists (owner thread only).
        self.handles: weakref.WeakValueDictionary[str, WorkflowExecution] = (
            weakref.WeakValueDictionary()
        )

    def _configure_executors(
        self, default_executor: str, dask_address: str | None, process_workers: int | None
    ) -> str:
        """Apply the executor keywords both constructors take (docs/scaling-out.md).

        A bad value raises ``PluginError(InvalidConfiguration)``: a constructor has no
        Expected to return.
        """
        try:
            checked = check_executor(default_executor, "default_executor")
        except UnknownExecutor as exc:
            raise PluginError(PluginErrorCode.InvalidConfiguration, str(exc)) from None
        if dask_address is not None and (not isinstance(dask_address, str) or not dask_address):
            raise PluginError(
                PluginErrorCode.InvalidConfiguration,
                f"dask_address must be a scheduler address such as 'tcp://host:8786', "
                f"got {dask_address!r}",
            )
        if process_workers is not None and (
            not isinstance(process_workers, int)
            or isinstance(process_workers, bool)
            or process_workers < 1
        ):
            raise PluginError(
                PluginErrorCode.InvalidConfiguration,
                f"process_workers must be an int >= 1 (or None: one per CPU), "
                f"got {process_workers!r}",
            )
        options = self.engine.executors.options
        options.dask_address = dask_address
        options.process_workers = process_workers
        return checked

    # --- starting runs -----------------------------------------------------------------------
    def start(
        self,
        workflow_id: str,
        input_data: dict[str, Any] | None,
        transaction_id: str | None = None,
        *,
        execution_id: str | None = None,
        nested: bool = False,
    ) -> Run | PluginError:
        """A new run of a registered workflow, not started yet (``launch`` starts it).

        A ``nested`` run is a nested workflow's child, with the id its parent derived: its
        compensations stay owed when it completes (its parent step owes them).
        """
        if input_data is not None and not isinstance(input_data, dict):
            return PluginError(
                PluginErrorCode.InvalidParameters,
                f"input_data must be a dict, got {type(input_data).__name__}",
            )
        found = self.workflows.get(workflow_id)
        if not found:
            return found.error()
        entry = found.value()
        run = self.engine.new_run(
            entry.plan,
            dict(input_data or {}),
            transaction_id=transaction_id,
            journal_entry=self.journal.entry(entry.workflow),
            execution_id=execution_id,
        )
        if transaction_id is not None:
            assert self.transactions is not None
            error = self.transactions.attach(transaction_id, run)
            if error is not None:
                self.engine.discard(run)
                return error
        elif self.kind.compensates and not nested:
            run.on_finish(partial(_drop_compensations_if_completed, self.engine.compensations))
        return run

    def resume_from_journal(self, execution_id: str, force: bool) -> Expected[str]:
        """Resume an interrupted or failed execution recorded in the journal."""
        run = self.journal.resumed_run(execution_id, force)
        if isinstance(run, PluginError):
            return from_error(run)
        if self.kind.compensates:
            run.on_finish(partial(_drop_compensations_if_completed, self.engine.compensations))
        if self.on_resume is not None:
            self.on_resume(run)
        self.log.resuming(run, execution_id)
        self.launch(run)
        return make_success(run.execution_id)

    def start_async(self, started: Run | PluginError) -> ExecutionFuture[Expected[dict[str, Any]]]:
        """Start ``started`` and return a future of its outcome (resolved at once on error)."""
        future: ExecutionFuture[Expected[dict[str, Any]]] = _new_future()
        if isinstance(started, PluginError):
            future.resolve(from_error(started))
            return future
        future.bind(started.execution_id, started.cancel)
        started.on_finish(lambda run: future.resolve(run_outcome(run)))
        self.launch(started)
        return future

    # --- following runs ----------------------------------------------------------------------
    def subscribe(
        self,
        callback: Subscriber,
        execution_id: str | None,
        kinds: Iterable[EventKind] | None,
        weak: bool,
    ) -> Expected[Subscription]:
        """``subscribe`` of both orchestrators (documented there)."""
        if not callable(callback):
            return make_error(
                PluginErrorCode.InvalidArgument,
                f"subscribe needs a callable, got {type(callback).__name__}",
            )
        chosen = _event_kinds(kinds)
        if isinstance(chosen, PluginError):
            return from_error(chosen)
        run: Run | RecordedRun | None = None
        if execution_id is not None:
            found = self.find_run(execution_id)
            if isinstance(found, PluginError):
                return from_error(found)
            run = found
        subscription = self.engine.pump.subscribe(
            callback,
            chosen,
            execution_id,
            weak=bool(weak),
            still_open=None if run is None else partial(self._may_follow, run),
        )
        if not subscription.is_active():
            status = run.status if run is not None else "ended"
            return make_error(
                PluginErrorCode.InvalidState,
                f"execution '{execution_id}' has ended ({status}); nothing more will be "
                "reported: read get_execution_status instead",
                context={"execution_id": execution_id, "status": status},
            )
        if EventKind.ITEM_COUNTS in chosen or EventKind.EVENT_COUNTS in chosen:
            if run is None:
                self.item_counts.follow_all()
            elif isinstance(run, Run):
                self.item_counts.follow(run)
        return make_success(subscription)

    def _may_follow(self, run: Run | RecordedRun) -> bool:
        """Whether a subscription to ``run`` would still get something.

        It does while the run runs, or while its terminal event is on its way (a run posts it
        with its lock held, as it ends). A past execution read from the journal never does.
        """
        if not isinstance(run, Run):
            return False
        with run.lock:
            return bool(
                run.status not in RunStatus.FINAL
                or self.engine.pump.terminal_queued(run.execution_id)
            )

    def launch(self, run: Run, takers: int = 0) -> None:
        """Start ``run``, and sample its item counts if a subscriber wants them.

        ``takers``: threads that will wait for it helping (a nested workflow's parent step),
        so fewer pool drainers are woken.
        """
        self.log.follow(run)
        run.start(takers)
        if not self.engine.listened.kinds & _COUNT_KINDS:
            return  # nobody takes item counts (the common case: one test of a mask)
        pump = self.engine.pump
        if pump.wants(EventKind.ITEM_COUNTS, run.execution_id) or pump.wants(
            EventKind.EVENT_COUNTS, run.execution_id
        ):
            self.item_counts.follow(run)

    # --- lookups and lifetime ----------------------------------------------------------------
    def find_run(self, execution_id: str) -> Run | RecordedRun | PluginError:
        """The run behind an execution id, or the ``PluginError`` a public method returns.

        A live ``Run``, or a past execution read back from the journal.
        """
        if not isinstance(execution_id, str):
            return id_type_error(execution_id, "execution")
        run = self.engine.get_run(execution_id)
        if run is not None:
            return run
        past = self.journal.recorded_run(execution_id)
        if past is not None:
            return past
        if self.engine.forgotten(execution_id):
            return PluginError(
                PluginErrorCode.NotFound,
                f"execution '{execution_id}' has ended and was dropped from the bounded "
                f"history (history_limit={self.engine.history_limit()}); raise it with "
                "set_history_limit to keep more",
                context={"execution_id": execution_id, "ended": True},
            )
        return PluginError(
            PluginErrorCode.NotFound,
            f"no execution '{execution_id}' was started by this orchestrator",
            context={"execution_id": execution_id},
        )

    def wait_for_execution(
        self, execution_id: str, timeout_ms: int | None, late_outcomes: bool = False
    ) -> bool:
        """``wait_for_execution`` of both orchestrators (documented there)."""
        if not isinstance(execution_id, str):
            return False
        if timeout_ms is not None and (
            not isinstance(timeout_ms, int | float) or isinstance(timeout_ms, bool)
        ):
            return False
        started = time.monotonic()
        if self.engine.wait_for(
            execution_id, None if timeout_ms is None else int(max(0, timeout_ms))
        ):
            run = self.engine.get_run(execution_id) if late_outcomes else None
            if run is None:
                return True
            left = None if timeout_ms is None else timeout_ms / 1000 - (time.monotonic() - started)
            return run.wait_late(None if left is None else max(0.0, left))
        if self.engine.get_run(execution_id) is not None:
            return False
        past = self.journal.recorded_run(execution_id)
        return past is not None and past.recorded_status != "running"

    def shutdown(self, timeout_ms: int) -> bool:
        """``shutdown`` of both orchestrators (documented there)."""
        if not isinstance(timeout_ms, int | float) or isinstance(timeout_ms, bool):
            timeout_ms = 5000
        joined = self.engine.shutdown(int(max(0, timeout_ms)))
        if self.engine.in_owner_thread():
            self.engine.pump.drain(None)
        return joined

    def set_history_limit(self, limit: int) -> Expected[None]:
        """``set_history_limit`` of both orchestrators (documented there)."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            return make_error(
                PluginErrorCode.InvalidArgument,
                f"the history limit must be an int >= 0, got {limit!r}",
            )
        self.engine.set_history_limit(limit)
        return make_success()


# Finish callbacks refer to what they need, never to the core or the orchestrator: a run
# outlives its orchestrator in worker, timer and control threads.
_future_class: list[type[ExecutionFuture[Any]]] = []


def _new_future() -> ExecutionFuture[Any]:
    """A new ExecutionFuture (its module and concurrent.futures load on first use)."""
    # Not an import statement per call: each goes through PySide's import hook (~2 us).
    if not _future_class:
        from ..contract.execution_future import ExecutionFuture

        _future_class.append(ExecutionFuture)
    return _future_class[0]()


def _drop_compensations_if_completed(ledger: Any, run: Run) -> None:
    """Outside a transaction a completed run's compensations can never be asked for."""
    if run.status == RunStatus.COMPLETED:
        ledger.drop([run])


def run_outcome(run: Run) -> Expected[dict[str, Any]]:
    """What an execution's future resolves to: its final data, or ``run_error``."""
    if run.status == RunStatus.COMPLETED:
        return make_success(dict(run.result or {}))
    return from_error(run_error(run))


def run_error(run: Run) -> PluginError:
    """A failed or cancelled run's error, naming the execution (and rollback errors)."""
    error = run.error or PluginError(PluginErrorCode.ExecutionFailed, "execution failed")
    context: dict[str, Any] = {"execution_id": run.execution_id, "status": run.status}
    if run.rollback_errors:
        context["rollback_errors"] = list(run.rollback_errors)
    return derived_error(error, **context)


def _event_kinds(kinds: Iterable[EventKind] | None) -> frozenset[EventKind] | PluginError:
    if kinds is None:
        return frozenset(EventKind)
    if isinstance(kinds, EventKind):
        return frozenset((kinds,))
    try:
        chosen = frozenset(kinds)
    except TypeError:
        return PluginError(
            PluginErrorCode.InvalidArgument,
            f"kinds must be EventKind members (or None for all), got {type(kinds).__name__}",
        )
    strays = [kind for kind in chosen if not isinstance(kind, EventKind)]
    if strays:
        return PluginError(
            PluginErrorCode.InvalidArgument,
            f"kinds must be EventKind members, got {strays[0]!r}",
        )
    return chosen
