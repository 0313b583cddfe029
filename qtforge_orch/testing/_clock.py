"""``FakeClock``: drive retry delays, backoff and timeouts without sleeping.

An orchestrator built with ``timers=clock`` reads time from the clock and arms every retry
delay, step timeout, workflow timeout and stall check on it. Nothing fires until the test
advances the clock; due callbacks then run in the test's thread, in deadline order, before
``advance`` returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .._engine import ManualTimerService, TimerHandle

# Timers are armed from worker threads (a retry is armed when the failed attempt returns on a
# pool thread), so a test has to wait for them. Polling every millisecond costs nothing next
# to a plugin call and keeps the helper free of engine internals.
_POLL_S = 0.001


class FakeClock:
    """A manual clock and timer service for one orchestrator (or several).

    Pass it as ``timers=`` to ``PluginOrchestrator`` or ``AdvancedPluginOrchestrator``; the
    ``fake_clock`` fixture does this for the ``orchestrator`` and ``advanced_orchestrator``
    fixtures of the same test. Times are in seconds unless a name says ``ms``.

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

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> TimerHandle:
        """Arm a one-shot timer ``delay_s`` seconds from now (what the engine calls)."""
        return self.service.call_later(delay_s, callback)

    # --- the test's side -------------------------------------------------------------------
    def pending(self) -> list[float]:
        """Delays from now, in seconds, of the timers still armed, soonest first."""
        return self.service.pending()

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
        timeout_ms: int = 5000,
    ) -> list[float]:
        """Block (in real time, up to ``timeout_ms``) until a matching timer is armed.

        Retries and step timeouts are armed from worker threads, so right after a call
        returns the timer a test wants to advance past may not exist yet. With ``delay_s``
        it waits for a timer due in (about) that many seconds, with ``at_least_s`` for one due
        no sooner than that, with neither for any timer. It polls ``pending()`` every
        millisecond. Returns the pending delays; raises ``TimeoutError`` if none matched.
        """

        def matches(delay: float) -> bool:
            if delay_s is not None and abs(delay - delay_s) > 1e-6:
                return False
            return at_least_s is None or delay >= at_least_s - 1e-6

        deadline = time.monotonic() + timeout_ms / 1000.0
        idle = threading.Event()  # never set: its wait() is an interruptible short sleep
        while True:
            pending = self.pending()
            if any(matches(delay) for delay in pending):
                return pending
            if time.monotonic() >= deadline:
                wanted = (
                    f"due in {delay_s} s"
                    if delay_s is not None
                    else f"due in at least {at_least_s} s"
                    if at_least_s is not None
                    else "of any delay"
                )
                raise TimeoutError(
                    f"no timer {wanted} was armed within {timeout_ms} ms (pending: {pending})"
                )
            idle.wait(_POLL_S)

    def __repr__(self) -> str:
        return f"FakeClock(now={self.now()!r}, pending={self.pending()!r})"
