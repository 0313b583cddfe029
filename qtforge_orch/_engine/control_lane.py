"""The control lane: threads for engine control work that must never wait for plugin work.

Cancels, timeouts, rollbacks, finish callbacks fired from the timer thread and shutdown all run
here instead of on the ``QThreadPool``: a pool full of hung or waiting plugin calls (a parent
that waits synchronously for a nested workflow, a plugin that ignores its context) would
otherwise hold them back, in the worst case forever. The lane grows a thread whenever no idle
one is free, so one hung rollback never delays another; idle threads exit after a few seconds.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable

from .._log import logger

IDLE_EXIT_S = 5.0


def report(exc: BaseException, what: str) -> None:
    """Where contained user-code errors go when no execution can record them: the log."""
    logger("engine").error("%s raised; contained", what, exc_info=exc)


def call_all(calls: Iterable[Callable[[], object]]) -> None:
    """Run callouts one by one; one that raises is reported and does not stop the rest."""
    for call in calls:
        try:
            call()
        except BaseException as exc:
            report(exc, f"callback {getattr(call, '__qualname__', call)!r}")


class ControlLane:
    """An elastic set of daemon threads: ``submit`` never queues behind a busy thread."""

    def __init__(self, name: str = "qtforge-orch-control") -> None:
        self._name = name
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[Callable[[], None]] = deque()
        self._idle = 0
        self._threads = 0

    def submit(self, function: Callable[[], None]) -> None:
        with self._cond:
            self._queue.append(function)
            if self._idle > len(self._queue) - 1:
                self._cond.notify()
                return
            self._threads += 1
        thread = threading.Thread(target=self._work, name=self._name, daemon=True)
        thread.start()

    def thread_count(self) -> int:
        with self._cond:
            return self._threads

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._idle += 1
                    woke = self._cond.wait(IDLE_EXIT_S)
                    self._idle -= 1
                    if not woke and not self._queue:
                        self._threads -= 1
                        return
                function = self._queue.popleft()
            call_all((function,))
            del function  # not held while this thread waits for the next one


_shared: ControlLane | None = None
_shared_lock = threading.Lock()


def shared_lane() -> ControlLane:
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ControlLane()
        return _shared
