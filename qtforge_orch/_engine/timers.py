"""One timer thread for every retry delay and timeout in the process.

Retry delays must not park a worker thread, and the scheduler must make progress when nobody
pumps a Qt event loop (plain scripts), so QTimer is out. A single heap-driven thread serves all
deadlines; callbacks are short (take a lock, flip state, maybe start a drainer).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable


class TimerHandle:
    __slots__ = ("callback", "deadline", "service")

    def __init__(
        self, deadline: float, callback: Callable[[], None], service: TimerService
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
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._cancelled = 0

    def note_cancelled(self) -> None:
        with self._cond:
            self._cancelled += 1
            # Most step timeouts are cancelled long before they are due; rebuild the heap
            # when they dominate so it stays proportional to the live timers.
            if self._cancelled > 1024 and self._cancelled * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].cancelled]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> TimerHandle:
        handle = TimerHandle(time.monotonic() + max(0.0, delay_s), callback, self)
        with self._cond:
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
            if callback is not None:
                try:
                    callback()
                except BaseException as exc:  # the one timer thread must never die
                    _report_callback_error(exc)


def _report_callback_error(exc: BaseException) -> None:
    import sys
    import traceback

    traceback.print_exception(exc, file=sys.stderr)


_shared: TimerService | None = None
_shared_lock = threading.Lock()


def shared_timers() -> TimerService:
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = TimerService()
        return _shared
