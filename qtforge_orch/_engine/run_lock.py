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

from .control_lane import ControlLane, call_all
from .timers import in_timer_callback


class RunLock:
    __slots__ = ("_cond", "_lane", "_lock", "outbox")

    def __init__(self, lane: ControlLane) -> None:
        self._lock = threading.Lock()
        # Built when a helper first waits: most runs never have one, and a Condition is a
        # tenth of what starting a small execution costs.
        self._cond: threading.Condition | None = None
        self._lane = lane
        self.outbox: list[Callable[[], object]] = []

    def wait(self, timeout: float) -> bool:
        """(lock held) Wait for ``notify_all`` or ``timeout`` seconds, the lock released."""
        cond = self._cond
        if cond is None:
            cond = self._cond = threading.Condition(self._lock)
        return cond.wait(timeout)

    def notify_all(self) -> None:
        """(lock held) Wake every thread in ``wait``."""
        if self._cond is not None:
            self._cond.notify_all()

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
