"""A run's lock, and the one place a run calls out: after the lock is released.

Anything that can reach user code (future resolution, finish callbacks, event-source hooks,
starting or cancelling other runs) is queued with ``later`` while the lock is held and runs on
release, so a callback that calls back into the orchestrator never finds an engine lock held.
Callouts queued on the timer thread go to the control lane: the timer thread never runs user
code, so one slow callback cannot hold up every retry and timeout in the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from .lane import ControlLane, call_all
from .timers import in_timer_callback


class RunLock:
    __slots__ = ("_cond", "_lane", "_lock", "notify_all", "outbox", "wait")

    def __init__(self, lane: ControlLane) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._lane = lane
        self.outbox: list[Callable[[], object]] = []
        self.wait = self._cond.wait
        self.notify_all = self._cond.notify_all

    def __enter__(self) -> RunLock:
        self._lock.acquire()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        outbox = self.outbox
        if not outbox:
            self._lock.release()
            return
        self.outbox = []
        self._lock.release()
        if in_timer_callback():
            self._lane.submit(partial(call_all, outbox))
        else:
            call_all(outbox)

    def later(self, call: Callable[[], object]) -> None:
        """Queue a callout (lock held); it runs when the lock is released."""
        self.outbox.append(call)
