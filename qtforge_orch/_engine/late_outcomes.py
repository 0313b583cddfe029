"""Attempts a run abandoned, and what came of them when they returned anyway.

A run abandons an attempt when it stops while the attempt runs (cancel, workflow timeout, a
critical failure elsewhere, shutdown) or when the attempt times out. Python cannot stop a
thread, so a plugin that ignores its ``StepContext`` still returns later, and what it did
(a row written, a file moved) happened. Each abandoned attempt gets a ``LateOutcome`` in the
run's task table, ``pending`` until the call returns; ``transitions.late`` records what it
returned, and ``LateOutcomes`` (a part of the run shell) carries out what that asks:

- a late success of a task that did not complete (Cancelled, Failed) is undone: its rollback
  step is owed at once, claimed by this run, and runs on the control lane, next in the run's
  compensation chain if one is still going (the run's end then waits for it), else in a chain
  of its own after the run's end;
- a late success of a task another attempt completed is kept (``kept``): the rollback step
  would undo what the completed attempt did too;
- while a retry of the task is due or running the decision waits (``deferred``) for the task
  to settle: undone if it does not complete, kept if it does;
- a late failure is recorded, nothing is undone.

Once what comes of a returned attempt is settled (nothing to undo, kept, or its rollback step
has run) the run posts one ``LATE_OUTCOME`` event with its status entry, after the execution's
terminal event when it comes after the end.

Nothing here calls user code under the run's lock: rollback steps run on the control lane,
log records are written once the lock is released.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from .._log import logger
from ..contract.plan import Plan
from .compensation import Compensation, CompensationChain
from .events import EventKind
from .journal_link import JournalLink
from .late_view import late_report, late_view
from .run_events import RunEvents
from .run_lock import RunLock
from .services import RunServices
from .task_table import LateOutcome, TaskTable
from .transitions import COMPLETED, LATE, LATE_OWED, LATE_PARKED, SETTLES

if TYPE_CHECKING:
    from ..contract.context import StepContext


class RunShell(Protocol):
    """A run as its late outcomes need it (``shell_protocol.RunShell`` has all of this)."""

    engine: RunServices
    plan: Plan
    execution_id: str
    lock: RunLock
    table: TaskTable
    journal: JournalLink | None
    events: RunEvents
    wanted: int
    compensations: list[Compensation]
    compensating: CompensationChain | None
    late: LateOutcomes | None

    def transition(self, index: int, new: int, value: Any = None, at: float = 0.0) -> None: ...


def abandon(run: RunShell, index: int, context: StepContext) -> None:
    """(lock held) ``run`` lets go of task ``index``'s running attempt (``context``), whose
    call may still return."""
    late = run.late
    if late is None:
        late = run.late = LateOutcomes()
    late.abandon(run, index, context)


def returned(run: RunShell, index: int, context: StepContext, value: Any, at: float) -> None:
    """(lock held) An attempt ``run`` abandoned returned ``value`` (output or PluginError)."""
    if run.late is not None:
        run.late.returned(run, index, context, value, at)


class LateOutcomes:
    """(A run's part, built when it first abandons an attempt; lock held unless said.) The
    attempts awaited, the late successes parked on unsettled tasks, and ``quiet``: set while
    nothing is awaited, parked or being undone."""

    __slots__ = ("awaited", "parked", "quiet")

    def __init__(self) -> None:
        self.awaited: dict[StepContext, LateOutcome] = {}
        self.parked: dict[int, list[LateOutcome]] = {}
        self.quiet = threading.Event()

    def abandon(self, run: RunShell, index: int, context: StepContext) -> None:
        """The run let go of ``context``'s attempt of task ``index``, which may still return."""
        record = LateOutcome(index, context.attempt)
        run.table.late.append(record)
        self.awaited[context] = record
        self.quiet.clear()

    def returned(
        self, run: RunShell, index: int, context: StepContext, value: Any, at: float
    ) -> None:
        """An abandoned attempt returned ``value`` (its output or ``PluginError``): recorded
        through the transition table, then carried out (``carry_out``)."""
        record = self.awaited.pop(context, None)
        if record is None:
            return  # not an attempt this run abandoned (nothing to record)
        run.transition(index, run.table.states[index], (record, value), at)
        self.refresh(run)

    def carry_out(self, run: RunShell, index: int, effect: int, value: Any) -> bool:
        """What a transition asks of this part: for a late outcome (True) its journal record,
        its rollback step and a log record; for a task settling, its parked late successes."""
        if not effect & LATE:
            if effect & SETTLES and self.parked:
                self.settled(run, index, effect)
            return False
        record: LateOutcome = value[0]
        if run.journal is not None:
            run.journal.late(index, record.attempt, record.output, record.error)
        task = run.plan.tasks[index]
        if effect & (LATE_OWED | LATE_PARKED) and task.rollback is None:
            record.rollback = "none"
            report(run, record)
        elif effect & LATE_OWED:
            self.undo(run, record)  # reported once its rollback step has run
        elif effect & LATE_PARKED:
            self.parked.setdefault(index, []).append(record)
            run.wanted |= SETTLES  # decided when the task settles: see ``settled``
        else:
            report(run, record)  # a late failure, or kept: nothing more comes of it
        run.lock.later(partial(_log, run.execution_id, task.key, record))
        return True

    def settled(self, run: RunShell, index: int, effect: int) -> None:
        """Task ``index`` settled: the late successes parked on it are kept (it completed)
        or undone (it did not)."""
        records = self.parked.pop(index, None)
        if records is None:
            return
        for record in records:
            if effect & COMPLETED:
                record.rollback = "kept"
                report(run, record)
            else:
                record.rollback = "none"
                self.undo(run, record)
        self.refresh(run)

    def undo(self, run: RunShell, record: LateOutcome) -> None:
        """Run the rollback step of a late success: next in the run's chain if one is still
        going, else in a chain of its own."""
        task = run.plan.tasks[record.index]
        ledger = run.engine.compensations
        journal = run.journal.sink if run.journal is not None else None
        owed = run.compensations
        item = ledger.record(owed, run.execution_id, task, record.output, journal, late=True)
        item.ran = partial(_rolled_back, run, record)
        record.compensation = item
        chain = run.compensating
        if chain is None or not chain.push(item):
            run.compensating = ledger.run_chain([item], partial(self._undone, run))

    def _undone(self, run: RunShell, errors: list[str]) -> None:
        """(control lane, no lock) A chain of late rollback steps ended."""
        with run.lock:
            self.refresh(run)
        if errors:
            logger("engine").warning("execution %s: %s", run.execution_id, "; ".join(errors))

    def refresh(self, run: RunShell) -> None:
        """Set ``quiet`` when nothing is awaited, parked or being undone."""
        if self.awaited or self.parked:
            return
        for record in run.table.late:
            if record.compensation is not None and record.compensation.status == "pending":
                return
        self.quiet.set()


def report(run: RunShell, record: LateOutcome, seq: int | None = None) -> None:
    """Post ``record``'s ``LATE_OUTCOME`` event (if anyone receives the kind): its status
    entry, delivered once the journal has committed record ``seq`` (the run's latest)."""
    events = run.events
    if EventKind.LATE_OUTCOME not in events.listened:
        return
    key = run.plan.tasks[record.index].key
    entry = late_report(late_view(record), f"{run.engine.names.noun}_id", key)
    events.late_outcome(key, entry, record.error, seq)


def _rolled_back(run: RunShell, record: LateOutcome, _item: Compensation, seq: int) -> None:
    """(no lock) A late success's rollback step has run: its report goes out."""
    report(run, record, seq)


def _log(execution_id: str, key: str, record: LateOutcome) -> None:
    """(no lock) A late outcome, for whoever reads the log: an effect kept without a
    rollback step is a warning, the rest information."""
    state = record.rollback_state()
    what = record.outcome
    if what == "completed" and state == "none":
        logger("engine").warning(
            "execution %s: step %r (attempt %d) returned after it was abandoned (cancelled or "
            "timed out) and has no rollback step: what it did is kept",
            execution_id,
            key,
            record.attempt,
        )
        return
    detail = record.error.message if record.error is not None else f"rollback: {state}"
    logger("engine").info(
        "execution %s: step %r (attempt %d) returned after it was abandoned: %s (%s)",
        execution_id,
        key,
        record.attempt,
        what,
        detail,
    )
