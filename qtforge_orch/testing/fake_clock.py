"""``FakeClock``: drive retry delays, backoff and timeouts without sleeping.

An orchestrator built with ``timers=clock`` reads time from the clock and arms every retry
delay, step timeout, workflow timeout and stall check on it. Nothing fires until the test
advances the clock; due callbacks then run in the test's thread, in deadline order, before
``advance`` returns. Each timer knows what it is for (``TimerKind``), and for which execution
and step, so a test can wait for and advance to one particular timer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .._engine import ManualTimerService, TimerHandle
from ..contract.timer_kind import TimerKind

# Timers are armed from worker threads (a retry is armed when the failed attempt returns on a
# pool thread), so a test has to wait for them. Polling every millisecond costs nothing next
# to a plugin call and keeps the helper free of engine internals.
_POLL_S = 0.001
# Delays are compared with this tolerance: a deadline minus "now" is a float difference.
_SAME_DELAY_S = 1e-6


@dataclass(frozen=True)
class PendingTimer:
    """A timer armed on a ``FakeClock``: when it is due and what it is for."""

    delay_s: float
    """Seconds from the clock's current time until it fires."""
    kind: str
    """A ``TimerKind`` value: ``"retry"``, ``"step_timeout"``, ``"workflow_timeout"``,
    ``"rollback_timeout"``, ``"stall_guard"`` or ``"other"``."""
    execution_id: str
    """The execution it belongs to ("" when none)."""
    step_id: str
    """The step or node it is for: the step to retry, the step whose attempt times out (the
    soonest one, for a step timeout), the step being rolled back; "" for workflow-wide timers."""


class FakeClock:
    """A manual clock and timer service for one orchestrator (or several).

    Pass it as ``timers=`` to ``PluginOrchestrator`` or ``AdvancedPluginOrchestrator``; the
    ``qtforge_fake_clock`` fixture does this for the ``qtforge_orchestrator`` and
    ``qtforge_advanced_orchestrator`` fixtures of the same test. Times are in seconds unless
    a name says ``ms``.

    The waiting and advancing methods take optional filters, all keyword-only: ``kind`` (a
    ``TimerKind`` or its value), ``execution_id`` and ``step_id``. A step's default timeout,
    the workflow timeout and a retry delay can all be armed at once, sometimes with the same
    delay; the filters pick the one the test means.

    It only replaces the engine's timers: a plugin that sleeps, or waits through
    ``StepContext.wait``, still waits in real time.
    """

    def __init__(self, start: float = 1000.0) -> None:
        """Start the clock at ``start`` seconds (an arbitrary origin, like ``monotonic``)."""
        self.service = ManualTimerService(start)
        """The ``ManualTimerService`` underneath (what the engine talks to)."""

    # --- the engine's side (the ``Timers`` protocol) ---------------------------------------
    def now(self) -> float:
        """The current fake time in seconds."""
        return self.service.now()

    def call_later(
        self,
        delay_s: float,
        callback: Callable[[], None],
        *,
        kind: str = TimerKind.OTHER,
        execution_id: str = "",
        step_id: str = "",
    ) -> TimerHandle:
        """Arm a one-shot timer ``delay_s`` seconds from now (what the engine calls)."""
        return self.service.call_later(
            delay_s, callback, kind=kind, execution_id=execution_id, step_id=step_id
        )

    # --- the test's side -------------------------------------------------------------------
    def timers(
        self,
        kind: str | None = None,
        *,
        execution_id: str | None = None,
        step_id: str | None = None,
    ) -> list[PendingTimer]:
        """The armed timers (those matching the filters), soonest first."""
        found = [
            PendingTimer(delay, label.kind, label.execution_id, label.step_id)
            for delay, label in self.service.pending_labelled()
        ]
        return [t for t in found if _matches(t, kind, execution_id, step_id, None, None)]

    def pending(
        self,
        kind: str | None = None,
        *,
        execution_id: str | None = None,
        step_id: str | None = None,
    ) -> list[float]:
        """Delays from now, in seconds, of the armed timers that match, soonest first."""
        if kind is None and execution_id is None and step_id is None:
            return self.service.pending()
        return [t.delay_s for t in self.timers(kind, execution_id=execution_id, step_id=step_id)]

    def advance(self, seconds: float) -> int:
        """Move the clock forward by ``seconds``; returns how many timers fired.

        Every timer that falls due fires in deadline order, in this thread.
        """
        return self.service.advance(seconds)

    def advance_ms(self, milliseconds: float) -> int:
        """``advance`` in milliseconds, the unit of ``retry_delay`` and ``timeout`` ints."""
        return self.service.advance(milliseconds / 1000.0)

    def advance_to_next(self) -> float:
        """Jump to the soonest armed timer and fire it (and any due at the same instant).

        Returns how far the clock moved, in seconds. Raises ``LookupError`` when no timer is
        armed: a test that expected one has a bug worth seeing, not a silent no-op.
        """
        pending = self.pending()
        if not pending:
            raise LookupError("no timer is armed on the fake clock")
        step = max(0.0, pending[0])
        self.advance(step)
        return step

    def wait_for_timer(
        self,
        delay_s: float | None = None,
        *,
        at_least_s: float | None = None,
        kind: str | None = None,
        execution_id: str | None = None,
        step_id: str | None = None,
        timeout_ms: int = 5000,
    ) -> list[float]:
        """Block (in real time, up to ``timeout_ms``) until a matching timer is armed.

        Retries and step timeouts are armed from worker threads, so right after a call
        returns the timer a test wants to advance past may not exist yet. With ``delay_s``
        it waits for a timer due in (about) that many seconds, with ``at_least_s`` for one due
        no sooner than that; ``kind``, ``execution_id`` and ``step_id`` narrow it to what the
        timer is for; with none of them any timer matches. It polls every millisecond.
        Returns the delays of every pending timer; raises ``TimeoutError`` if none matched.
        """
        self._wait_for(delay_s, at_least_s, kind, execution_id, step_id, timeout_ms)
        return self.pending()

    def advance_to_timer(
        self,
        kind: str | None = None,
        *,
        execution_id: str | None = None,
        step_id: str | None = None,
        delay_s: float | None = None,
        timeout_ms: int = 5000,
    ) -> PendingTimer:
        """Wait for a matching timer (as ``wait_for_timer``), then advance exactly to it.

        Time moves to the timer's deadline, so it fires, together with every timer due
        before it or at the same instant (time does not skip them). The one-call form of
        ``wait_for_timer(30); advance(30)`` that cannot pick the wrong timer:
        ``clock.advance_to_timer(TimerKind.RETRY, step_id="fetch")``. Returns the timer
        it advanced to; raises ``TimeoutError`` if none was armed within ``timeout_ms``.
        """
        timer = self._wait_for(delay_s, None, kind, execution_id, step_id, timeout_ms)
        self.advance(max(0.0, timer.delay_s))
        return timer

    def _wait_for(
        self,
        delay_s: float | None,
        at_least_s: float | None,
        kind: str | None,
        execution_id: str | None,
        step_id: str | None,
        timeout_ms: int,
    ) -> PendingTimer:
        deadline = time.monotonic() + timeout_ms / 1000.0
        idle = threading.Event()  # never set: its wait() is an interruptible short sleep
        while True:
            armed = self.timers()
            for timer in armed:
                if _matches(timer, kind, execution_id, step_id, delay_s, at_least_s):
                    return timer
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"no timer {_describe(kind, execution_id, step_id, delay_s, at_least_s)} "
                    f"was armed within {timeout_ms} ms (pending: {armed})"
                )
            idle.wait(_POLL_S)

    def __repr__(self) -> str:
        return f"FakeClock(now={self.now()!r}, pending={self.timers()!r})"


def _matches(
    timer: PendingTimer,
    kind: str | None,
    execution_id: str | None,
    step_id: str | None,
    delay_s: float | None,
    at_least_s: float | None,
) -> bool:
    if kind is not None and timer.kind != str(kind):
        return False
    if execution_id is not None and timer.execution_id != execution_id:
        return False
    if step_id is not None and timer.step_id != step_id:
        return False
    if delay_s is not None and abs(timer.delay_s - delay_s) > _SAME_DELAY_S:
        return False
    return at_least_s is None or timer.delay_s >= at_least_s - _SAME_DELAY_S


def _describe(
    kind: str | None,
    execution_id: str | None,
    step_id: str | None,
    delay_s: float | None,
    at_least_s: float | None,
) -> str:
    parts = []
    if kind is not None:
        parts.append(f"of kind {str(kind)!r}")
    if execution_id is not None:
        parts.append(f"for execution {execution_id!r}")
    if step_id is not None:
        parts.append(f"for step {step_id!r}")
    if delay_s is not None:
        parts.append(f"due in {delay_s} s")
    if at_least_s is not None:
        parts.append(f"due in at least {at_least_s} s")
    return " ".join(parts) or "of any kind"
