"""Rollback steps: recorded as steps complete, claimed exactly once, run newest first.

Claiming happens under one ledger lock, so a cancel storm, a failure and a transaction
rollback racing over the same completed step still run its compensation at most once.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import PluginError, PluginErrorCode
from ..contract.context import StepContext
from .timers import TimerKind

if TYPE_CHECKING:
    from .core import Engine
    from .run import Run


_NEVER_PAUSED = threading.Event()
_NEVER_PAUSED.set()


@dataclass(slots=True, eq=False)
class Compensation:
    run: Run
    index: int
    sequence: int
    claimed: bool = False
    status: str = "pending"  # pending, completed, failed
    error: str = ""


class CompensationLedger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._sequence = itertools.count()

    def record(self, run: Run, index: int) -> None:
        with self._lock:
            run.compensations.append(Compensation(run, index, next(self._sequence)))

    def claim_for_run(self, run: Run) -> list[Compensation]:
        return self._claim(run.compensations)

    def claim(self, runs: list[Run]) -> list[Compensation]:
        return self._claim([item for run in runs for item in run.compensations])

    def drop(self, runs: list[Run]) -> None:
        runs = [run for run in runs if run.compensations]  # ended runs: the lists are final
        if not runs:
            return  # most runs record none: no need to queue on the engine-wide lock
        with self._lock:
            for run in runs:
                for item in run.compensations:
                    item.claimed = True

    def _claim(self, items: list[Compensation]) -> list[Compensation]:
        with self._lock:
            claimed = [item for item in items if not item.claimed]
            for item in claimed:
                item.claimed = True
        claimed.sort(key=lambda item: item.sequence, reverse=True)
        return claimed

    def run_chain(self, items: list[Compensation], on_done: Callable[[list[str]], None]) -> None:
        _Chain(self._engine, items, on_done).start()


class _Chain:
    """Runs compensations one after another on the control lane (never behind plugin work on
    the pool); a hung one is abandoned at its timeout and the chain continues on a fresh lane
    thread."""

    def __init__(
        self, engine: Engine, items: list[Compensation], on_done: Callable[[list[str]], None]
    ) -> None:
        self._engine = engine
        self._items = items
        self._on_done = on_done
        self._position = 0
        self._token: object | None = None
        self._errors: list[str] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        self._engine.lane.submit(self._continue)

    def _continue(self) -> None:
        while True:
            with self._lock:
                if self._position >= len(self._items):
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
                self._record(item, outcome_error)
        self._on_done(errors)

    def _run_one(self, item: Compensation, token: object) -> PluginError | None:
        task = item.run.plan.tasks[item.index]
        rollback = task.rollback
        assert rollback is not None
        params: dict[str, Any] = dict(item.run.outputs[item.index] or {})
        params.update(rollback.parameters)
        context = StepContext(item.run.execution_id, rollback.key, 1, _NEVER_PAUSED)
        timer = None
        if rollback.timeout_ms:
            timer = self._engine.timers.call_later(
                rollback.timeout_ms / 1000.0,
                lambda: self._timed_out(item, token, context),
                kind=TimerKind.ROLLBACK_TIMEOUT,
                execution_id=item.run.execution_id,
                step_id=task.key,
            )
        outcome = self._engine.invoke(rollback, params, context)
        if timer is not None:
            timer.cancel()
        return outcome.error

    def _timed_out(self, item: Compensation, token: object, context: StepContext) -> None:
        with self._lock:
            if self._token is not token:
                return
            self._token = None
            context.cancel()
            rollback = item.run.plan.tasks[item.index].rollback
            assert rollback is not None
            self._record(
                item,
                PluginError(
                    PluginErrorCode.Timeout,
                    f"rollback step '{rollback.key}' timed out after {rollback.timeout_ms} ms",
                ),
            )
        self._engine.lane.submit(self._continue)

    def _record(self, item: Compensation, error: PluginError | None) -> None:
        self._position += 1
        run = item.run
        if run.journal is not None:
            run.journal.rollback_recorded(
                run.execution_id,
                run.plan.tasks[item.index].key,
                error is None,
                None if error is None else error.message,
                time.time(),
            )
        if error is None:
            item.status = "completed"
        else:
            item.status = "failed"
            item.error = error.message
            step = item.run.plan.tasks[item.index].key
            self._errors.append(f"rollback of '{step}' failed: {error.message}")
