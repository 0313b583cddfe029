"""Delivers engine events as Qt signals in the orchestrator's own thread.

Workers append to one queue; the first append after a drain posts a single queued wake-up, so a
burst of N events costs one thread hop instead of N (about 45 us each here). Drains run under a
time budget so a flood of tiny steps cannot stall the GUI thread. Progress is coalesced to the
latest value per execution and flushed before that execution's terminal event, so slots never
see progress after completion. Nothing else is ever dropped or reordered.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

from PySide6.QtCore import QObject, Qt, Signal

DRAIN_BUDGET_S = 0.008


class Event(NamedTuple):
    signal: str
    args: tuple[Any, ...]
    execution_id: str
    terminal: bool = False


Dispatch = Callable[[str, tuple[Any, ...]], None]


class EventPump(QObject):
    _wake = Signal()

    def __init__(self, dispatch: Dispatch, progress_signal: str, parent: QObject) -> None:
        super().__init__(parent)
        self._dispatch = dispatch
        self._progress_signal = progress_signal
        self._events: deque[Event] = deque()
        self._progress: dict[str, float] = {}
        self._cond = threading.Condition(threading.Lock())
        self._wake_pending = False
        self._waiters = 0
        self._wake.connect(self._on_wake, Qt.ConnectionType.QueuedConnection)

    # --- any thread -------------------------------------------------------------------
    def post(self, event: Event) -> None:
        with self._cond:
            self._events.append(event)
            wake = not self._wake_pending
            self._wake_pending = True
            if self._waiters:
                self._cond.notify_all()
        if wake:
            self._wake.emit()

    def post_progress(self, execution_id: str, progress: float) -> None:
        with self._cond:
            self._progress[execution_id] = progress
            wake = not self._wake_pending
            self._wake_pending = True
        if wake:
            self._wake.emit()

    def kick(self) -> None:
        """Wake a thread blocked in ``wait_until`` so it re-checks its condition."""
        with self._cond:
            if self._waiters:
                self._cond.notify_all()

    # --- owner thread only ------------------------------------------------------------
    def _on_wake(self) -> None:
        self.drain(DRAIN_BUDGET_S)

    def drain(self, budget_s: float | None = None) -> None:
        deadline = None if budget_s is None else time.monotonic() + budget_s
        while True:
            with self._cond:
                if not self._events:
                    progress, self._progress = self._progress, {}
                    self._wake_pending = False
                    break
                event = self._events.popleft()
                flush = self._progress.pop(event.execution_id, None) if event.terminal else None
            if flush is not None:
                self._emit(self._progress_signal, (event.execution_id, flush))
            self._emit(event.signal, event.args)
            if deadline is not None and time.monotonic() > deadline:
                # Yield to the event loop; a fresh wake-up continues where we stopped.
                self._wake.emit()
                return
        for execution_id, value in progress.items():
            self._emit(self._progress_signal, (execution_id, value))

    def wait_until(self, done: threading.Event) -> None:
        """Block the owner thread until ``done``, delivering events as they arrive."""
        while True:
            self.drain(None)
            if done.is_set():
                self.drain(None)
                return
            with self._cond:
                if not self._events and not self._progress and not done.is_set():
                    self._waiters += 1
                    try:
                        self._cond.wait(0.25)
                    finally:
                        self._waiters -= 1

    def _emit(self, signal: str, args: tuple[Any, ...]) -> None:
        try:
            self._dispatch(signal, args)
        except Exception as exc:  # a broken slot must not break delivery to the others
            import sys
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
