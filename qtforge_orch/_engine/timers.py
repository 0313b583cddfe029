"""Timer services: every retry delay, backoff, timeout and stall check goes through one.

Retry delays must not park a worker thread, and the scheduler must make progress when nobody
pumps a Qt event loop (plain scripts), so QTimer is out. ``TimerService`` is one heap-driven
daemon thread; its callbacks are short (take a lock, flip state, maybe start a drainer) and
never run user code: run locks hand callouts made on this thread to the control lane.

An engine owns its timer service and reads time through it (``now()``), so a test can inject
``ManualTimerService`` and drive retries, timeouts and backoff by advancing a fake clock.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import NamedTuple, Protocol

from ..contract.timer_kind import TimerKind

_local = threading.local()


def in_timer_callback() -> bool:
    """True on a thread that is running a timer callback (callouts must go elsewhere)."""
    return getattr(_local, "active", False)


class Timers(Protocol):
    """What the engine needs of time: a clock and one-shot callbacks."""

    def now(self) -> float: ...

    def call_later(
        self,
        delay_s: float,
        callback: Callable[[], None],
        *,
        kind: str = TimerKind.OTHER,
        execution_id: str = "",
        step_id: str = "",
    ) -> TimerHandle: ...


class _Cancellable(Protocol):
    def note_cancelled(self) -> None: ...


class TimerHandle:
    __slots__ = ("callback", "deadline", "service")

    def __init__(
        self, deadline: float, callback: Callable[[], None], service: _Cancellable
    ) -> None:
        self.deadline = deadline
        self.callback: Callable[[], None] | None = callback
        self.service = service

    @property
    def cancelled(self) -> bool:
        return self.callback is None

    def cancel(self) -> None:
        # Lazy deletion keeps cancel O(1): the heap entry stays until it surfaces or a purge,
        # but it lets go of the callback (and the step state it closes over) at once.
        if self.callback is not None:
            self.callback = None
            self.service.note_cancelled()


class TimerService:
    """Real time: ``time.monotonic`` and one daemon thread per service."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._cancelled = 0

    def note_cancelled(self) -> None:
        # No lock: every finishing run cancels its timers, from whichever thread finished it,
        # and taking the service's lock for a counter made those threads queue on each other.
        # A lost increment under a race only delays a purge.
        self._cancelled += 1

    # The builtin itself, not a method wrapping it: runs read the clock on their hot path.
    now: Callable[[], float] = staticmethod(time.monotonic)

    def call_later(
        self,
        delay_s: float,
        callback: Callable[[], None],
        *,
        kind: str = TimerKind.OTHER,
        execution_id: str = "",
        step_id: str = "",
    ) -> TimerHandle:
        # What the timer is for only matters to a fake clock; real time needs no label.
        handle = TimerHandle(time.monotonic() + max(0.0, delay_s), callback, self)
        with self._cond:
            if self._cancelled > 1024 and self._cancelled * 2 > len(self._heap):
                # Most step timeouts are cancelled long before they are due; rebuild the heap
                # when they dominate so it stays proportional to the live timers.
                self._heap = [entry for entry in self._heap if not entry[2].cancelled]
                heapq.heapify(self._heap)
                self._cancelled = 0
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (handle.deadline, next(self._counter), handle))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="qtforge-orch-timers", daemon=True
                )
                self._thread.start()
            elif earliest is None or handle.deadline < earliest:
                # Only an earlier deadline changes how long the timer thread must sleep.
                self._cond.notify()
        return handle

    def _loop(self) -> None:
        _local.active = True
        while True:
            with self._cond:
                while True:
                    while self._heap and self._heap[0][2].cancelled:
                        heapq.heappop(self._heap)
                        self._cancelled = max(0, self._cancelled - 1)
                    if not self._heap:
                        self._cond.wait()
                        continue
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        handle = heapq.heappop(self._heap)[2]
                        break
                    self._cond.wait(wait)
            callback = handle.callback
            handle.callback = None
            del handle
            if callback is not None:
                try:
                    callback()
                except BaseException as exc:  # the one timer thread must never die
                    _report_callback_error(exc)
                # Let go now, not when the next timer fires: whatever the callback held (a
                # run, through it an orchestrator's objects) must not be freed on this shared
                # thread in the middle of another orchestrator's timeout.
                del callback


def _report_callback_error(exc: BaseException) -> None:
    from .._log import logger

    logger("engine").error("a timer callback raised", exc_info=exc)


class TimerLabel(NamedTuple):
    """What a fake-clock timer is for: its kind and, when it has them, execution and step."""

    kind: str
    execution_id: str
    step_id: str


class ManualTimerService:
    """A fake clock for tests: time only moves when ``advance`` is called, and due callbacks
    run in the calling thread, in deadline order, before it returns."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._heap: list[tuple[float, int, TimerHandle, TimerLabel]] = []
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def note_cancelled(self) -> None:
        """Cancelled handles are skipped when they surface."""

    def now(self) -> float:
        with self._lock:
            return self._now

    def call_later(
        self,
        delay_s: float,
        callback: Callable[[], None],
        *,
        kind: str = TimerKind.OTHER,
        execution_id: str = "",
        step_id: str = "",
    ) -> TimerHandle:
        label = TimerLabel(str(kind), execution_id, step_id)
        with self._lock:
            handle = TimerHandle(self._now + max(0.0, delay_s), callback, self)
            heapq.heappush(self._heap, (handle.deadline, next(self._counter), handle, label))
        return handle

    def pending(self) -> list[float]:
        """Delays from now of the timers still armed, soonest first."""
        return [delay for delay, _ in self.pending_labelled()]

    def pending_labelled(self) -> list[tuple[float, TimerLabel]]:
        """(delay from now, label) of the timers still armed, soonest first."""
        with self._lock:
            armed = sorted((d, n, label) for d, n, h, label in self._heap if not h.cancelled)
            return [(d - self._now, label) for d, _, label in armed]

    def advance(self, seconds: float) -> int:
        """Move the clock forward, firing every timer that falls due; returns how many ran."""
        with self._lock:
            target = self._now + max(0.0, seconds)
        fired = 0
        while True:
            with self._lock:
                if not self._heap or self._heap[0][0] > target:
                    self._now = target
                    return fired
                deadline, _, handle, _ = heapq.heappop(self._heap)
                self._now = max(self._now, deadline)
                callback, handle.callback = handle.callback, None
            if callback is None:
                continue
            fired += 1
            _local.active = True
            try:
                callback()
            finally:
                _local.active = False


_shared: TimerService | None = None
_shared_lock = threading.Lock()


def shared_timers() -> TimerService:
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = TimerService()
        return _shared
