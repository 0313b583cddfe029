"""Bookkeeping around task attempts: step timeouts and adaptive concurrency.

Both arm timers on the engine's (replaceable) timer service and read its clock, so a test's
fake clock drives them without sleeping.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..contract.context import StepContext
from ..contract.plan import TaskState
from ..contract.timer_kind import TimerKind
from .scheduler_protocol import SchedulerControl
from .shell_protocol import RunShell
from .timers import Timers

# Adaptive concurrency: when steps are this short, more drainers only fight
# over the GIL and the run lock (measured: 1 drainer 43k steps/s, 4 drainers 22k), so the run
# keeps one. A stall guard lifts the cap as soon as a running step holds the others back.
SHORT_STEP_S = 0.0002
STALL_S = 0.002


class Deadlines:
    """Step timeouts: one watchdog timer per run, armed for the earliest deadline of a
    running attempt, instead of a timer per attempt (a tiny step would pay more for arming
    and cancelling its own timer than for the rest of its scheduling)."""

    __slots__ = ("_expired", "_run", "_timers", "_watchdog", "armed_for", "pending")

    def __init__(
        self,
        run: RunShell,
        timers: Timers,
        on_expired: Callable[[list[int]], None],
    ) -> None:
        self._run = run
        self._timers = timers
        self._expired = on_expired
        # index -> deadline (timer clock) of its running attempt, the attempt itself being the
        # scheduler's. The scheduler writes it (lock held): an attempt with a timeout is added
        # when it starts, then ``arm``ed for when it is due before ``armed_for``; one that ends
        # in time is popped (the dict is never replaced: callers bind its methods).
        self.pending: dict[int, float] = {}
        self._watchdog: Any = None
        self.armed_for = math.inf  # the deadline the watchdog is armed for (inf: none)

    def clear(self) -> None:
        """(lock held) Forget every deadline and stop the watchdog."""
        self.pending.clear()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self.armed_for = math.inf

    def arm(self, deadline: float, index: int) -> None:
        """(lock held) Fire the watchdog at ``deadline``, task ``index``'s (earlier than it is
        armed for)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        self.armed_for = deadline
        run = self._run
        self._watchdog = self._timers.call_later(
            deadline - self._timers.now(),
            self._fire,
            kind=TimerKind.STEP_TIMEOUT,
            execution_id=run.execution_id,
            step_id=run.plan.tasks[index].key,
        )

    def _fire(self) -> None:
        """Timer thread: hand every expired attempt over, re-arm for the next deadline."""
        with self._run.lock:
            self._watchdog = None
            self.armed_for = math.inf
            now = self._timers.now()
            pending = self.pending
            expired = [index for index, deadline in list(pending.items()) if deadline <= now]
            for index in expired:
                del pending[index]
            if expired:
                self._expired(expired)
            if self.pending and not self._run.stopping:
                soonest = min(pending, key=pending.__getitem__)
                self.arm(pending[soonest], soonest)


class AdaptiveLimit:
    """How many attempts of one run may run at once: the run's limit for steps that take a
    while, one for tiny steps, lifted by a stall guard when a step turns out to block.

    ``cap`` is read on every take: an attribute kept current, not computed per read. The stall
    guard counts attempt starts and ends instead of reading a clock per attempt: a check that
    finds the count unchanged STALL_S after it was armed has seen no progress."""

    __slots__ = (
        "_armed_at",
        "_on_stall",
        "_run",
        "_scheduler",
        "cap",
        "events",
        "stall_timer",
        "step_time",
    )

    def __init__(
        self, run: RunShell, scheduler: SchedulerControl, on_stall: Callable[[], None]
    ) -> None:
        self._run = run
        self._scheduler = scheduler
        self._on_stall = on_stall
        # Moving average of attempt wall time. Unknown counts as short: the stall guard lifts
        # the cap within STALL_S when the first steps turn out to block.
        self.step_time = 0.0
        self.cap = 1
        self.events = 0  # attempt starts and ends so far
        self._armed_at = 0
        self.stall_timer: Any = None

    def capacity(self) -> int:
        return self.cap

    def attempt_ended(self, seconds: float) -> None:
        step_time = self.step_time = self.step_time + (seconds - self.step_time) * 0.2
        self.cap = self._run.limit if step_time >= SHORT_STEP_S else 1
        self.events += 1

    def watch(self) -> None:
        """(lock held) Work waits behind a running attempt while capped: check back soon."""
        run = self._run
        scheduler = self._scheduler
        if (
            self.stall_timer is None
            and scheduler.ready
            and scheduler.running
            and self.step_time < SHORT_STEP_S
            and run.limit > 1
        ):
            self._armed_at = self.events
            self.stall_timer = run.engine.timers.call_later(
                STALL_S, self._check, kind=TimerKind.STALL_GUARD, execution_id=run.execution_id
            )

    def stop(self) -> None:
        if self.stall_timer is not None:
            self.stall_timer.cancel()
            self.stall_timer = None

    def _check(self) -> None:
        """Timer thread: tasks wait behind a step running longer than a 'short' one should,
        so the steps are not short after all; lift the cap."""
        run = self._run
        scheduler = self._scheduler
        with run.lock:
            self.stall_timer = None
            if run.stopping or not scheduler.ready or not scheduler.running:
                return
            if self.events == self._armed_at:
                self.step_time = max(self.step_time, SHORT_STEP_S)
                self.cap = run.limit
            self._on_stall()


def attempt_problems(
    states: list[int],
    contexts: list[StepContext | None],
    running: int,
    checking: int,
    *,
    seeded: bool,
) -> list[str]:
    """(lock held) What is inconsistent in a batch run's attempts: every attempt on a Running
    task, every Running task with an attempt (but a seeded trigger), the running count."""
    found: list[str] = []
    attempts = 0
    for index, context in enumerate(contexts):
        is_running = states[index] == TaskState.Running
        if context is not None:
            attempts += 1
            if not is_running:
                found.append(f"task {index} has an attempt but is {TaskState(states[index]).name}")
        elif is_running and not (index == 0 and seeded):
            found.append(f"task {index} is Running without an attempt")
    if running != attempts + checking:
        found.append(
            f"{running} attempts counted running, {attempts} attempts and "
            f"{checking} condition checks in flight"
        )
    if checking < 0:
        found.append("a negative count of condition checks")
    return found
