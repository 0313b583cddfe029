"""One execution: the run shell every mode shares, around the scheduler its plan picks.

The shell owns the lifecycle (start, pause, resume, cancel, finish, compensation), the lock,
the per-task state the status calls read, progress and event posting. What runs when is the
scheduler's business (``batch``, ``streaming`` or ``eventdriven``, chosen by
``plan.schedule``); it sees the shell through the small surface below and changes its state
only with the lock held.

Nothing calls out under the lock, by construction: callbacks, future resolution, event-source
hooks and starting or cancelling other runs go through ``lock.later`` and run on release
(``guard.RunLock``); plugin calls happen in ``Scheduler.work``, which the shell calls with the
lock released; events go to the pump, which delivers them in the owner thread.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from .._errors import PluginError, PluginErrorCode
from ..contract.context import StepContext
from ..contract.plan import Plan, ScheduleKind, TaskState
from .batch import BatchScheduler
from .events import Event, EventKind
from .guard import RunLock
from .journaling import (
    JournalEntry,
    JournalSink,
    ResumeSeed,
    journal_finished,
    journal_started,
    journal_task,
)
from .scheduler_base import Scheduler
from .schedulers import SchedulerFactory, scheduler_for
from .status import RunStatus, SignalNames
from .timers import TimerKind
from .workers import Workers

if TYPE_CHECKING:
    from .compensation import Compensation
    from .core import Engine

_P = TaskState.Pending
_R = TaskState.Running
_X = TaskState.Cancelled
_T = TaskState.Retrying

PROGRESS_STEP = 0.01
# Makes two threads asking for a run's ``done`` Event at once build one (held for a few
# instructions, never with a run lock wanted inside; the run's end does not take it).
_DONE_LOCK = threading.Lock()


def _now() -> datetime:
    return datetime.now(UTC)


class Run:
    """Mutable state of one execution. Every field below is guarded by ``lock``."""

    def __init__(
        self,
        engine: Engine,
        plan: Plan,
        execution_id: str,
        initial_data: dict[str, Any],
        *,
        transaction_id: str | None = None,
        scheduler: SchedulerFactory | None = None,
        journal_entry: JournalEntry | None = None,
        resume: ResumeSeed | None = None,
    ) -> None:
        self.engine = engine
        self.plan = plan
        self.execution_id = execution_id
        self.workflow_id = plan.workflow_id
        self.initial_data = initial_data
        self.transaction_id = transaction_id
        self.lock = RunLock(engine.lane)
        n = len(plan.tasks)
        self.states: list[int] = [_P] * n
        self.outputs: list[dict[str, Any] | None] = [None] * n
        self.errors: list[str] = [""] * n
        self.retries: list[int] = [0] * n
        self.starts: list[float] = [0.0] * n
        self.ends: list[float] = [0.0] * n
        # Progress a running step reported through its StepContext: index -> (fraction, note)
        self.step_progress: dict[int, tuple[float, str]] = {}
        self.ready: list[int] = []  # the scheduler's heap of ready work
        self.running = 0  # units of work taken and not yet given back
        self.limit = plan.max_concurrency or engine.executor.max_threads()
        self.shared: dict[str, Any] = dict(initial_data)
        self.overlaps: dict[str, list[int]] = {}  # key -> tasks that wrote it, merged in rank
        self.status = RunStatus.PENDING
        self.stopping = False
        self.settled = 0
        self.completed = 0
        self.compensations: list[Compensation] = []
        self.current_task = ""
        self.progress = 0.0
        self._posted_progress = 0.0
        # Settled tasks at which progress next moves by a posting step: below it, a settle
        # has nothing to report and skips the computation.
        self.progress_due = 0
        self.error: PluginError | None = None
        self.result: dict[str, Any] | None = None
        self.rollback_errors: list[str] = []
        self.error_messages: list[str] = []  # execution-level notes beyond per-task errors
        self.start_time: datetime | None = None
        self.end_time: datetime | None = None
        self._done: threading.Event | None = None  # built on first use: see ``done``
        self._ended = False
        self.resumed_event = threading.Event()
        self.resumed_event.set()
        self._workflow_timer: Any = None
        self._finish_callbacks: list[Callable[[Run], None]] = []
        self._finished = False  # final state recorded; callbacks may still be running
        # Contexts handed to user code outside per-task attempts (stream stages, event
        # sources): cancelled with the run.
        self.long_contexts: list[StepContext] = []
        # Per-task reports a facade built for status calls, reused while unchanged
        # (snapshot.cached_reports); written outside the lock, read-only once built.
        self.report_cache: list[Any] | None = None
        # An EventDriven execution's per-event passes share its id but not its lifecycle
        # signals or progress; a pass started while its execution is paused starts paused.
        self.is_child = False
        self.parent: Run | None = None
        # Durable executions: the journal (None: not journaled), what this run records in it,
        # the latest record's sequence number, and the outputs a resumed run starts from.
        self.journal: JournalSink | None = engine.journal if journal_entry is not None else None
        self.journal_entry = journal_entry
        self.journal_seq = 0
        self.resume_seed = resume
        if scheduler is None:
            scheduler = scheduler_for(plan.schedule)
        self.scheduler: Scheduler = scheduler(self)
        self.workers = Workers(self)

    def new_child(self, plan: Plan, data: dict[str, Any], seed: dict[str, Any] | None) -> Run:
        """A pass of an EventDriven execution: a batch run of ``plan`` sharing this run's id;
        ``seed`` is the output its first task (the trigger) starts with."""
        child = Run(
            self.engine,
            plan,
            self.execution_id,
            data,
            scheduler=partial(BatchScheduler, seed=seed),
        )
        child.is_child = True
        child.parent = self
        return child

    @property
    def kind(self) -> ScheduleKind:
        return self.plan.schedule

    # --- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        with self.lock:
            self.status = RunStatus.RUNNING
            parent = self.parent
            if parent is not None and parent.status == RunStatus.PAUSED:
                self.status = RunStatus.PAUSED
                self.resumed_event.clear()
            self.start_time = _now()
            if self.journal is not None:
                self.journal_seq = journal_started(self)
            if not self.is_child:
                self.post(EventKind.WORKFLOW_STARTED, (self.execution_id, self.workflow_id))
            if self.plan.timeout_ms:
                self._workflow_timer = self.engine.timers.call_later(
                    self.plan.timeout_ms / 1000.0,
                    self._on_workflow_timeout,
                    kind=TimerKind.WORKFLOW_TIMEOUT,
                    execution_id=self.execution_id,
                )
            self.scheduler.begin()
            self.workers.spawn(0)
            self.maybe_complete()

    def on_finish(self, callback: Callable[[Run], None]) -> None:
        """``callback(run)`` once the run has ended, never under its lock (at once, in this
        thread, if it already has)."""
        with self.lock:
            if not self._finished:
                self._finish_callbacks.append(callback)
                return
        callback(self)

    def remove_finish_callback(self, callback: Callable[[Run], None]) -> None:
        with self.lock:
            if callback in self._finish_callbacks:
                self._finish_callbacks.remove(callback)

    def task_extras(self) -> list[dict[str, Any]] | None:
        """(lock held) Mode-specific per-task figures for status reports."""
        return self.scheduler.task_extras()

    def run_extras(self) -> dict[str, Any]:
        """(lock held) Mode-specific execution-level figures for status reports."""
        return self.scheduler.run_extras()

    def post_event(self, trigger: int, payload: dict[str, Any]) -> PluginError | None:
        """Feed one event into an EventDriven execution: ``trigger`` is the index of the
        Source node it enters through (``WHOLE_GRAPH``: a workflow without Source nodes)."""
        return self.scheduler.post_event(trigger, payload)

    def new_context(self, step_id: str) -> StepContext:
        """A context for user code that is not one task attempt (lock held)."""
        context = StepContext(self.execution_id, step_id, 1, self.resumed_event)
        if self.stopping:
            context.cancel()
        self.long_contexts.append(context)
        return context

    def cancel(self, error: PluginError | None = None) -> bool:
        with self.lock:
            if self.stopping or self.status in RunStatus.FINAL:
                return False
            self.abort(
                RunStatus.CANCELLED,
                error
                or PluginError(
                    PluginErrorCode.OperationCancelled,
                    f"execution '{self.execution_id}' was cancelled",
                ),
            )
            return True

    def pause(self) -> PluginError | None:
        with self.lock:
            if self.status != RunStatus.RUNNING or self.stopping:
                return self._state_error("pause", RunStatus.RUNNING)
            self.status = RunStatus.PAUSED
            self.resumed_event.clear()
            if self.engine.names.paused and not self.is_child:
                self.post(EventKind.PAUSED, (self.execution_id,))
            self.scheduler.paused()
            return None

    def resume(self) -> PluginError | None:
        with self.lock:
            if self.status != RunStatus.PAUSED or self.stopping:
                return self._state_error("resume", RunStatus.PAUSED)
            self.status = RunStatus.RUNNING
            self.resumed_event.set()
            if self.engine.names.resumed and not self.is_child:
                self.post(EventKind.RESUMED, (self.execution_id,))
            self.scheduler.resumed()
            self.workers.spawn(0)
            return None

    def _state_error(self, action: str, needed: str) -> PluginError:
        return PluginError(
            PluginErrorCode.InvalidState,
            f"cannot {action} execution '{self.execution_id}': it is {self.status}, not {needed}",
            context={"execution_id": self.execution_id, "status": self.status},
        )

    # --- progress and completion (lock held) -----------------------------------------------
    def update_progress(self) -> None:
        if self.is_child:
            self.progress_due = len(self.plan.tasks) + 1
            return
        progress = self.current_progress()
        if progress > self.progress:
            self.progress = progress
            # Signals are coalesced anyway; posting every 1% keeps big runs cheap.
            if progress >= self._posted_progress + PROGRESS_STEP:
                self._posted_progress = progress
                self._post_progress(progress)
        total = len(self.plan.tasks)
        self.progress_due = max(
            self.settled + 1, math.ceil((self._posted_progress + PROGRESS_STEP) * total - 1e-9)
        )

    def current_progress(self) -> float:
        """(lock held) Settled tasks plus what running steps reported, as a fraction; never
        below what was already reported."""
        total = len(self.plan.tasks)
        partial_work = (
            sum(fraction for i, (fraction, _) in self.step_progress.items() if self.states[i] == _R)
            if self.step_progress
            else 0.0
        )
        progress = (self.settled + partial_work) / total if total else 1.0
        return max(progress, self.progress)

    def maybe_complete(self) -> bool:
        if self.stopping or not self.scheduler.work_done():
            return False
        self.stopping = True
        self._cancel_workflow_timer()
        self.result = self.scheduler.final_result()
        self.finish(RunStatus.COMPLETED, None)
        return True

    def abort(self, final_status: str, error: PluginError) -> None:
        """Stop scheduling, cancel what runs or waits, then compensate and finish."""
        if not self.is_child:
            # Progress is computed lazily while running; keep where the run stopped.
            self.progress = self.current_progress()
        self.stopping = True
        self._cancel_workflow_timer()
        self.resumed_event.set()  # paused checkpoints must wake up to see the cancellation
        self.ready.clear()
        self.step_progress.clear()
        for context in self.long_contexts:
            context.cancel()
        self.error = error
        self.workers.wake_helpers()
        if self.scheduler.abort(final_status, error):
            return
        pending = self.engine.compensations.claim_for_run(self)
        if pending:
            self.engine.compensations.run_chain(
                pending, lambda errors: self._finish_after_rollback(final_status, error, errors)
            )
        else:
            self.finish(final_status, error)

    def cancel_unsettled(self) -> None:
        """(lock held, aborting) Every task not yet terminal ends Cancelled."""
        states = self.states
        for index, state in enumerate(states):
            if state in (_P, _R, _T):
                states[index] = _X
                self.settled += 1
                if self.journal is not None:
                    self.note(index, "cancelled")

    def _finish_after_rollback(
        self, final_status: str, error: PluginError, rollback_errors: list[str]
    ) -> None:
        with self.lock:
            self.rollback_errors.extend(rollback_errors)
            self.finish(final_status, error)

    def finish(self, final_status: str, error: PluginError | None) -> None:
        """(lock held) Record the final state; callbacks and ``done`` follow on release."""
        self.scheduler.finished()
        self.status = final_status
        self.end_time = _now()
        self.current_task = ""
        self._finished = True
        if self.journal is not None:
            self.journal_seq = journal_finished(self, final_status, error)
        if not self.is_child:  # passes share their execution's id, not its place in history
            self.engine.retire(self)
            self._post_terminal(final_status, error)
        callbacks, self._finish_callbacks = self._finish_callbacks, []
        # Callbacks may be user code (future done-callbacks): they run once the lock is
        # released, and ``done`` is set after them, so whoever waits on the run finds its
        # future resolved and its callbacks run.
        for callback in callbacks:
            self.lock.later(partial(callback, self))
        self.lock.later(self._mark_done)

    @property
    def done(self) -> threading.Event:
        """Set once the run has ended and its callbacks have run. Built when first asked
        for: most executions are never waited on this way (a future or a signal tells), and an
        Event costs as much as a tenth of starting a small execution."""
        event = self._done
        if event is None:
            with _DONE_LOCK:  # two first readers must build one Event
                event = self._done
                if event is None:
                    event = self._done = threading.Event()
            # Published before reading ``_ended``, which ``_mark_done`` writes before reading
            # ``_done``: one of the two sees the other, so the Event never misses the end.
            if self._ended:
                event.set()
        return event

    def is_done(self) -> bool:
        """``done.is_set()`` without building the Event."""
        return self._ended

    def _mark_done(self) -> None:
        # No lock: every finishing run passes here, from whichever pool thread, and a lock
        # shared by all runs made those threads queue on each other. See ``done``.
        self._ended = True
        event = self._done
        if event is not None:
            event.set()
        with self.lock:
            self.workers.wake_helpers()

    def _post_terminal(self, final_status: str, error: PluginError | None) -> None:
        if final_status == RunStatus.COMPLETED:
            self.progress = 1.0
            if self._posted_progress < 1.0:
                self._posted_progress = 1.0
                self._post_progress(1.0)
            result = dict(self.result or {})
            self.post(EventKind.WORKFLOW_COMPLETED, (self.execution_id, result), terminal=True)
        elif final_status == RunStatus.FAILED:
            assert error is not None
            self.post(EventKind.WORKFLOW_FAILED, (self.execution_id, error.message), terminal=True)
        else:
            self.post(EventKind.WORKFLOW_CANCELLED, (self.execution_id,), terminal=True)

    def _on_workflow_timeout(self) -> None:
        with self.lock:
            if self.stopping or self.status in RunStatus.FINAL:
                return
            self.abort(
                RunStatus.CANCELLED,
                PluginError(
                    PluginErrorCode.Timeout,
                    f"workflow '{self.workflow_id}' exceeded its timeout of "
                    f"{self.plan.timeout_ms} ms and was cancelled",
                    context={"execution_id": self.execution_id},
                ),
            )

    def _cancel_workflow_timer(self) -> None:
        if self._workflow_timer is not None:
            self._workflow_timer.cancel()
            self._workflow_timer = None

    # --- events (lock held) ------------------------------------------------------------------
    def _post_progress(self, progress: float) -> None:
        if EventKind.PROGRESS in self.engine.listened:
            self.engine.pump.post_progress(self.execution_id, progress)

    def note(self, index: int, state: str, **record: Any) -> None:
        """(lock held, journaled runs only) Record a task's state change (``output=``,
        ``error=``) in the journal, before the event that reports it is posted."""
        self.journal_seq = journal_task(self, index, state, **record)

    def post(self, kind: EventKind, args: tuple[Any, ...], *, terminal: bool = False) -> None:
        # A terminal event carries the finished run: subscribers read its final state from it.
        source = self if terminal else None
        self.engine.pump.post(
            Event(kind, args, self.execution_id, terminal, self.journal_seq, source)
        )

    def post_task(self, kind: EventKind, args: tuple[Any, ...]) -> None:
        """Step/node events, a few per task: not even built for a signal nobody has connected
        (connect before starting to see them). Workflow-level events are always queued, so a
        slot connected right after an async start still hears how the execution ends."""
        if kind in self.engine.listened:
            self.engine.pump.post(Event(kind, args, self.execution_id, False, self.journal_seq))


__all__ = ["Run", "RunStatus", "Scheduler", "SignalNames"]
