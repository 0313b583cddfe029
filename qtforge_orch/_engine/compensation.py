"""Rollback steps: recorded as steps complete, claimed exactly once, run newest first.

Claiming happens under one ledger lock, so a cancel storm, a failure and a transaction
rollback racing over the same completed step still run its compensation at most once. The
rollback step of an abandoned attempt's late success (``late_outcomes``) is recorded already
claimed by the run that owes it, and runs next in that run's chain when one is still going.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ..contract.context import StepContext
from ..contract.outcome import Outcome
from ..contract.plan import TaskSpec
from ..contract.timer_kind import TimerKind
from ..errors import PluginError, PluginErrorCode
from .control_lane import ControlLane
from .journal_link import JournalSink
from .timers import Timers

_NEVER_PAUSED = threading.Event()
_NEVER_PAUSED.set()

Invoke = Callable[[TaskSpec, dict[str, Any], StepContext], Outcome]


@dataclass(slots=True, eq=False)
class Compensation:
    """A completed task's rollback step, owed until claimed (and then run) or dropped.

    ``action`` replaces the rollback step for a task whose undoing is not a plugin call: a
    nested workflow's step, whose child execution's own compensations it runs (it returns
    their errors).
    """

    execution_id: str
    index: int  # the completed task's
    key: str
    rollback: TaskSpec | None
    output: dict[str, Any] | None  # the completed task's, which the rollback step receives
    journal: JournalSink | None
    sequence: int
    claimed: bool = False
    status: str = "pending"  # pending, completed, failed
    error: str = ""
    late: bool = False  # undoes an abandoned attempt's late success
    # Called once it has run (no lock held), with its journal record's sequence number (0:
    # no journal): a late success's report goes out then.
    ran: Callable[[Compensation, int], None] | None = None
    action: Callable[[], list[str]] | None = None


class Compensated(Protocol):
    """A run as the ledger sees it: the rollback steps it owes."""

    @property
    def compensations(self) -> list[Compensation]: ...


class CompensationLedger:
    def __init__(self, lane: ControlLane, timers: Timers, invoke: Invoke) -> None:
        self._lane = lane
        self._timers = timers
        self._invoke = invoke
        self._lock = threading.Lock()
        self._sequence = itertools.count()

    def record(
        self,
        owed: list[Compensation],
        execution_id: str,
        task: TaskSpec,
        output: dict[str, Any] | None,
        journal: JournalSink | None,
        *,
        late: bool = False,
    ) -> Compensation:
        """(run lock held) ``task`` completed with ``output``: its rollback step is owed.

        With ``late``, an abandoned attempt of ``task`` returned ``output`` although the task
        did not complete: the item is claimed at once, by the caller, which runs it.
        """
        assert task.rollback is not None
        with self._lock:
            item = Compensation(
                execution_id,
                task.index,
                task.key,
                task.rollback,
                output,
                journal,
                next(self._sequence),
                claimed=late,
                late=late,
            )
            owed.append(item)
        return item

    def record_action(
        self,
        owed: list[Compensation],
        execution_id: str,
        index: int,
        key: str,
        action: Callable[[], list[str]],
        journal: JournalSink | None,
    ) -> None:
        """(run lock held) Task ``index`` owes ``action`` instead of a rollback step."""
        with self._lock:
            owed.append(
                Compensation(
                    execution_id,
                    index,
                    key,
                    None,
                    None,
                    journal,
                    next(self._sequence),
                    action=action,
                )
            )

    def claim(self, runs: Iterable[Compensated]) -> list[Compensation]:
        """Every unclaimed compensation of ``runs``, newest first, claimed for the caller."""
        items = [item for run in runs for item in run.compensations]
        with self._lock:
            claimed = [item for item in items if not item.claimed]
            for item in claimed:
                item.claimed = True
        claimed.sort(key=lambda item: item.sequence, reverse=True)
        return claimed

    def drop(self, runs: Iterable[Compensated]) -> None:
        """Forget what ``runs`` owe (they completed outside a transaction, or it committed)."""
        ended = [run for run in runs if run.compensations]  # ended runs: the lists are final
        if not ended:
            return  # most runs record none: no need to queue on the engine-wide lock
        with self._lock:
            for run in ended:
                for item in run.compensations:
                    item.claimed = True

    def run_chain(
        self, items: list[Compensation], on_done: Callable[[list[str]], None]
    ) -> CompensationChain:
        """Run ``items`` in order on the control lane, then ``on_done(errors)``."""
        chain = CompensationChain(self._lane, self._timers, self._invoke, items, on_done)
        chain.start()
        return chain


def _ended(errors: list[str]) -> None:
    """A chain's callback once it has been called."""


class CompensationChain:
    """Runs compensations one after another on the control lane (never behind plugin work on
    the pool); a hung one is abandoned at its timeout and the chain continues on a fresh lane
    thread. ``push`` adds one to run next while the chain is still going."""

    def __init__(
        self,
        lane: ControlLane,
        timers: Timers,
        invoke: Invoke,
        items: list[Compensation],
        on_done: Callable[[list[str]], None],
    ) -> None:
        self._lane = lane
        self._timers = timers
        self._invoke = invoke
        self._items = items
        self._on_done = on_done
        self._position = 0
        self._token: object | None = None
        self._errors: list[str] = []
        self._ended = False
        self._lock = threading.Lock()

    def start(self) -> None:
        self._lane.submit(self._continue)

    def push(self, item: Compensation) -> bool:
        """Run ``item`` next (after the one running); False once the chain has ended."""
        with self._lock:
            if self._ended:
                return False
            running = 1 if self._token is not None else 0
            self._items.insert(self._position + running, item)
            return True

    def _continue(self) -> None:
        while True:
            with self._lock:
                if self._position >= len(self._items):
                    self._ended = True
                    errors = self._errors
                    break
                item = self._items[self._position]
                token = object()
                self._token = token
            outcome_error = self._run_one(item, token)
            with self._lock:
                if self._token is not token:
                    return  # abandoned at its timeout; another thread carries on
                self._token = None
                seq = self._record(item, outcome_error)
            _report(item, seq)
        # Let go of the callback (it closes over the run, which keeps this chain to push into).
        on_done, self._on_done = self._on_done, _ended
        on_done(errors)

    def _run_one(self, item: Compensation, token: object) -> PluginError | None:
        rollback = item.rollback
        if rollback is None:
            assert item.action is not None
            errors = item.action()
            if not errors:
                return None
            return PluginError(PluginErrorCode.ExecutionFailed, "; ".join(errors))
        params: dict[str, Any] = dict(item.output or {})
        params.update(rollback.parameters)
        context = StepContext(item.execution_id, rollback.key, 1, _NEVER_PAUSED)
        timer = None
        if rollback.timeout_ms:
            timer = self._timers.call_later(
                rollback.timeout_ms / 1000.0,
                lambda: self._timed_out(item, token, context),
                kind=TimerKind.ROLLBACK_TIMEOUT,
                execution_id=item.execution_id,
                step_id=item.key,
            )
        outcome = self._invoke(rollback, params, context)
        if timer is not None:
            timer.cancel()
        return outcome.error

    def _timed_out(self, item: Compensation, token: object, context: StepContext) -> None:
        with self._lock:
            if self._token is not token:
                return
            self._token = None
            context.cancel()
            rollback = item.rollback
            assert rollback is not None
            seq = self._record(
                item,
                PluginError(
                    PluginErrorCode.Timeout,
                    f"rollback step '{rollback.key}' timed out after {rollback.timeout_ms} ms",
                ),
            )
        _report(item, seq)
        self._lane.submit(self._continue)

    def _record(self, item: Compensation, error: PluginError | None) -> int:
        """(chain lock held) ``item`` ran: its outcome, journaled; returns the record's
        sequence number (0: no journal)."""
        self._position += 1
        seq = 0
        if item.journal is not None:
            seq = item.journal.rollback_recorded(
                item.execution_id,
                item.key,
                error is None,
                None if error is None else error.message,
                time.time(),
                late=item.late,
            )
        if error is None:
            item.status = "completed"
        else:
            item.status = "failed"
            item.error = error.message
            self._errors.append(f"rollback of '{item.key}' failed: {error.message}")
        return seq


def _report(item: Compensation, seq: int) -> None:
    """(no lock) Whoever waits for ``item`` to have run learns it has."""
    if item.ran is not None:
        item.ran(item, seq)
