"""One execution: the run shell every mode shares, around the scheduler its plan picks.

The shell owns the lifecycle (start, pause, resume, cancel, finish, compensation), the lock and
typed parts: the task table, the progress, the journal link, the finish callbacks, the late
outcomes of abandoned attempts. What runs when is the scheduler's (``batch``,
``stream_scheduler`` or ``event_scheduler``, by ``plan.schedule``); it sees the shell as a
``shell_protocol.RunShell`` and changes task states only through ``transition``, which
carries out the table's effects (journal record, rollback step, task event) once for all.

Nothing calls out under the lock: callbacks, future resolution, event-source hooks and starting
or cancelling other runs go through ``lock.later`` and run on release; plugin calls happen in
``Scheduler.work``, with the lock released; events go to the pump (the owner thread).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from ..contract.context import StepContext
from ..contract.plan import Plan, ScheduleKind
from ..contract.timer_kind import TimerKind
from ..errors import PluginError
from . import transitions
from .batch import BatchScheduler
from .compensation import Compensation, CompensationChain
from .events import EventKind
from .journal_link import JournalEntry, JournalLink, ResumeSeed
from .late_outcomes import LateOutcomes
from .pause_gate import PauseGate
from .progress import Progress
from .run_end import RunEnd
from .run_events import RunEvents
from .run_lock import RunLock
from .run_status import RunStatus, cancelled_error, state_error, timeout_error
from .scheduler_choice import SchedulerFactory, scheduler_for
from .services import RunServices
from .status_snapshot import RunSnapshot, snapshot_of
from .task_table import CANCELLED, PENDING, RETRYING, RUNNING, TaskTable
from .transitions import LATE, OWED, RECORD_OF, RECORDED, RESTORED, STEPS, WIDTH


def _now() -> datetime:
    return datetime.now(UTC)


class Run:
    """One execution's shell. Every field is guarded by ``lock``."""

    # Fixed fields: no per-run __dict__, and quicker reads on the hot path.
    __slots__ = (  # noqa: SIM905 (one string: the field list stays short to read)
        "__weakref__ _retire _workflow_timer compensating compensations end end_time engine "
        "error error_messages events execution_id initial_data is_child journal late limit "
        "listened lock "
        "long_contexts parent pause_gate plan progress report_cache result resume_seed "
        "rollback_errors scheduler start_time status stopping table transaction_id wanted "
        "workers workflow_id"
    ).split()

    def __init__(
        self,
        engine: RunServices,
        plan: Plan,
        execution_id: str,
        initial_data: dict[str, Any],
        *,
        retire: Callable[[Run], None] | None = None,
        transaction_id: str | None = None,
        scheduler: SchedulerFactory | None = None,
        journal_entry: JournalEntry | None = None,
        resume: ResumeSeed | None = None,
        parent: Run | None = None,
    ) -> None:
        self.engine = engine
        self.plan = plan
        self.execution_id = execution_id
        self.workflow_id = plan.workflow_id
        self.initial_data = initial_data
        self.transaction_id = transaction_id
        self.lock = RunLock(engine.lane)
        self.table = TaskTable(len(plan.tasks))
        self.progress = Progress(len(plan.tasks))
        self.limit = plan.max_concurrency or engine.executor.max_threads()
        self.status = RunStatus.PENDING
        self.stopping = False
        self.error: PluginError | None = None
        self.result: dict[str, Any] | None = None
        self.rollback_errors: list[str] = []
        self.error_messages: list[str] = []  # execution-level notes beyond per-task errors
        self.compensations: list[Compensation] = []  # rollback steps owed, oldest first
        self.compensating: CompensationChain | None = None  # the chain running them, if any
        # Attempts abandoned while they ran, and what they returned (built on first use).
        self.late: LateOutcomes | None = None
        self.start_time: datetime | None = None
        self.end_time: datetime | None = None
        self.end: RunEnd[Run] = RunEnd()
        self.pause_gate = PauseGate()  # closed while paused: steps' pause points wait there
        self._retire = retire  # moves the run to the engine's history (None: a pass)
        self._workflow_timer: Any = None
        # Contexts handed to user code outside per-task attempts (stream stages, event
        # sources): cancelled with the run.
        self.long_contexts: list[StepContext] = []
        # Per-task reports a facade built for status calls, reused while unchanged
        # (status_snapshot.cached_reports); written outside the lock, read-only once built.
        self.report_cache: Any = None
        # An EventDriven execution's passes share its id but not its lifecycle signals or
        # progress; a pass started while its execution is paused starts paused.
        self.parent = parent
        self.is_child = parent is not None
        # Durable executions: what this run records in the journal (None: not journaled),
        # and the outputs a resumed run starts from.
        self.journal: JournalLink | None = None
        if journal_entry is not None and engine.journal is not None:
            keys = [task.key for task in plan.tasks]
            self.journal = JournalLink(
                engine.journal, journal_entry, execution_id, initial_data, keys, self.table.retries
            )
        self.events = RunEvents(
            engine.pump, engine.listened, execution_id, self.journal, silent=self.is_child
        )
        self.resume_seed = resume
        # The effects this run carries out whoever listens: journal records, rollback steps,
        # late outcomes.
        self.wanted = (
            (RECORDED if self.journal is not None else 0)
            | (OWED if plan.has_rollbacks else 0)
            | LATE
        )
        self.listened = engine.listened
        if transitions.owners_wanted:
            self.table.owner = weakref.ref(self)
        if scheduler is None:
            scheduler = scheduler_for(plan.schedule)
        self.scheduler = scheduler(self)
        self.workers = self.scheduler.workers

    def new_child(self, plan: Plan, data: dict[str, Any], seed: dict[str, Any] | None) -> Run:
        """A pass of an EventDriven execution: a batch run of ``plan`` sharing this run's id;
        ``seed`` is the output its first task (the trigger) starts with."""
        batch = partial(BatchScheduler, seed=seed)
        return Run(self.engine, plan, self.execution_id, data, scheduler=batch, parent=self)

    @property
    def kind(self) -> ScheduleKind:
        return self.plan.schedule

    # --- task states (lock held) ---------------------------------------------------------------
    def transition(self, index: int, new: int, value: Any = None, at: float = 0.0) -> None:
        """Change task ``index``'s state to ``new`` (a ``TaskState`` value) through the
        transition table (``value``: see ``transitions``; ``at``: ``time.time()``), then carry
        out the transition's effect. (The batch hot path inlines these three lines.)"""
        table = self.table
        effect = STEPS[table.states[index] * WIDTH + new](table, index, value, at)
        if effect & (self.wanted | self.listened.effects):
            self.carry_out(index, effect, value)

    def carry_out(self, index: int, effect: int, value: Any) -> None:
        """What a transition of task ``index`` asks: its journal record, the rollback step it
        makes owed, its task event (if anyone listens)."""
        if effect & RECORDED and self.journal is not None:
            self.journal.task(index, RECORD_OF[effect], value)
        if effect & OWED:
            task = self.plan.tasks[index]
            # A restored task whose rollback step already ran (the journal says) owes none.
            seed = self.resume_seed
            if task.rollback is not None and not (
                effect & RESTORED and seed is not None and index in seed.rollbacks_done
            ):
                journal = self.journal.sink if self.journal is not None else None
                self.engine.compensations.record(
                    self.compensations, self.execution_id, task, value, journal
                )
        late = self.late  # a late outcome (no event: the run may have ended), a settling
        if late is not None and late.carry_out(self, index, effect, value):
            return
        if effect & self.listened.effects:
            key = self.plan.tasks[index].key
            self.events.task_changed(effect, key, value, self.table.retries[index])

    def wait_late(self, timeout: float | None = None) -> bool:
        """Wait until no abandoned attempt is out and no late rollback step is to run (False
        on timeout: a step that never returns keeps it False; ``late_outcomes``)."""
        late = self.late
        return True if late is None else late.quiet.wait(timeout)

    def cancel_unsettled(self) -> None:
        """(aborting) Every task not yet terminal ends Cancelled."""
        states = self.table.states
        for index, state in enumerate(states):
            if state in (PENDING, RUNNING, RETRYING):
                self.transition(index, CANCELLED)

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self, takers: int = 0) -> None:
        """``takers``: threads that will take this run's work themselves (a waiting parent)."""
        with self.lock:
            self.status = RunStatus.RUNNING
            parent = self.parent
            if parent is not None and parent.status == RunStatus.PAUSED:
                self.status = RunStatus.PAUSED
                self.pause_gate.close()
            self.start_time = _now()
            if self.journal is not None:
                self.journal.started(self.workflow_id)
            self.events.lifecycle(EventKind.WORKFLOW_STARTED, self.workflow_id)
            if self.plan.timeout_ms:
                self._workflow_timer = self.engine.timers.call_later(
                    self.plan.timeout_ms / 1000.0,
                    self._on_workflow_timeout,
                    kind=TimerKind.WORKFLOW_TIMEOUT,
                    execution_id=self.execution_id,
                )
            self.scheduler.begin()
            self.workers.spawn(takers)
            self.maybe_complete()

    def on_finish(self, callback: Callable[[Run], None]) -> None:
        """``callback(run)`` once the run has ended, never under its lock (at once, in this
        thread, if it already has)."""
        with self.lock:
            if self.end.add(callback):
                return
        callback(self)

    def remove_finish_callback(self, callback: Callable[[Run], None]) -> None:
        with self.lock:
            self.end.remove(callback)

    def post_event(self, trigger: int, payload: dict[str, Any]) -> PluginError | None:
        """Feed one event into an EventDriven execution: ``trigger`` is the index of the
        Source node it enters through (``WHOLE_GRAPH``: a workflow without Source nodes)."""
        return self.scheduler.post_event(trigger, payload)

    def new_context(self, step_id: str) -> StepContext:
        """A context for user code that is not one task attempt (lock held)."""
        context = StepContext(self.execution_id, step_id, 1, self.pause_gate)
        if self.stopping:
            context.cancel()
        self.long_contexts.append(context)
        return context

    def cancel(self, error: PluginError | None = None) -> bool:
        with self.lock:
            if self.stopping or self.status in RunStatus.FINAL:
                return False
            self.abort(RunStatus.CANCELLED, error or cancelled_error(self))
            return True

    def pause(self) -> PluginError | None:
        with self.lock:
            if self.status != RunStatus.RUNNING or self.stopping:
                return state_error(self, "pause", RunStatus.RUNNING)
            self.status = RunStatus.PAUSED
            self.pause_gate.close()
            if self.engine.names.paused:
                self.events.lifecycle(EventKind.PAUSED)
            self.scheduler.paused()
            return None

    def resume(self) -> PluginError | None:
        with self.lock:
            if self.status != RunStatus.PAUSED or self.stopping:
                return state_error(self, "resume", RunStatus.PAUSED)
            self.status = RunStatus.RUNNING
            self.pause_gate.open()
            if self.engine.names.resumed:
                self.events.lifecycle(EventKind.RESUMED)
            self.scheduler.resumed()
            self.workers.spawn(0)
            return None

    # --- progress and completion (lock held) -----------------------------------------------
    def update_progress(self) -> None:
        if self.is_child:
            self.progress.never_due()
            return
        posting = self.progress.advance(self.table)
        if posting is not None:
            self.events.progress(posting)

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
            self.progress.value = self.progress.current(self.table)
        self.stopping = True
        self._cancel_workflow_timer()
        self.pause_gate.open()  # paused checkpoints must wake up to see the cancellation
        self.table.step_progress.clear()
        for context in self.long_contexts:
            context.cancel()
        self.error = error
        self.workers.wake_helpers()
        if self.scheduler.abort(final_status, error):
            return
        pending = self.engine.compensations.claim([self])
        if pending:
            self.compensating = self.engine.compensations.run_chain(
                pending, lambda errors: self._finish_after_rollback(final_status, error, errors)
            )
        else:
            self.finish(final_status, error)

    def _finish_after_rollback(
        self, final_status: str, error: PluginError, rollback_errors: list[str]
    ) -> None:
        with self.lock:
            self.rollback_errors.extend(rollback_errors)
            if self.late is not None:  # late rollback steps may have joined the chain
                self.late.refresh(self)
            self.finish(final_status, error)

    def finish(self, final_status: str, error: PluginError | None) -> None:
        """(lock held) Record the final state; callbacks and ``done`` follow on release."""
        self.scheduler.finished()
        self.status = final_status
        self.end_time = _now()
        callbacks = self.end.close()
        if self.journal is not None:
            self.journal.finished(final_status, self.result, error, self.error_messages)
        if self._retire is not None:  # passes share their execution's id, not its history
            self._retire(self)
        completed = final_status == RunStatus.COMPLETED
        self.events.ended(
            final_status,
            error,
            self.result,
            final_progress=completed and self.progress.finish(),
            source=self,
        )
        # Callbacks may be user code (future done-callbacks): they run once the lock is
        # released, and ``done`` is set after them, so whoever waits on the run finds its
        # future resolved and its callbacks run.
        for callback in callbacks:
            self.lock.later(partial(callback, self))
        self.lock.later(self._mark_done)

    @property
    def done(self) -> threading.Event:
        """Set once the run has ended and its callbacks have run (built when first asked)."""
        return self.end.done

    def is_done(self) -> bool:
        """``done.is_set()`` without building the Event."""
        return self.end.is_done()

    def _mark_done(self) -> None:
        self.end.mark_done()
        with self.lock:
            self.workers.wake_helpers()

    def _on_workflow_timeout(self) -> None:
        with self.lock:
            if self.stopping or self.status in RunStatus.FINAL:
                return
            self.abort(RunStatus.CANCELLED, timeout_error(self, self.plan.timeout_ms))

    def _cancel_workflow_timer(self) -> None:
        if self._workflow_timer is not None:
            self._workflow_timer.cancel()
            self._workflow_timer = None

    # --- what status calls read, and the invariants checked in tests ------------------------------
    def snapshot(self) -> RunSnapshot:
        """The run's state copied in one short critical section (``status_snapshot``)."""
        with self.lock:
            return snapshot_of(self)

    def problems(self) -> list[str]:
        """(lock held) What is inconsistent: task counts, scheduler queue, status (or [])."""
        found = self.table.problems() + self.scheduler.problems()
        ended = self.status in RunStatus.FINAL and not self.table.mirror
        if ended and self.table.settled != len(self.plan.tasks):
            found.append(f"the run is {self.status} with unsettled tasks")
        if self.status == RunStatus.COMPLETED and self.error is not None:
            found.append("the run completed with an error")
        return found

    def validate(self) -> None:
        """Raise ``AssertionError`` naming every inconsistency in the run's state."""
        with self.lock:
            found = self.problems()
        assert not found, f"run {self.execution_id}: " + "; ".join(found)
