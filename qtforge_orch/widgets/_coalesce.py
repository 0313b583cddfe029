"""Per-frame batching: many changes in one frame become one update.

Every batcher of a thread is driven by that thread's one pacer timer. Under a burst of engine
signals the worker threads hold the GIL most of the time, and each entry from Qt into Python
(a timer's slot) may wait up to the interpreter's switch interval (5 ms) for it: three batchers
with a timer each paid that three times per frame. The pacer enters Python once and runs every
flush that is due, within a shared budget; what is left runs in the next event-loop turn, after
the paint and the other timers due then.
"""

from __future__ import annotations

import inspect
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThread, QTimer

#: One frame at 60 Hz: updates wait at most this long, and the GUI repaints at most this often.
FRAME_MS = 16
#: How long one flush may work before it leaves the rest to the next frame.
BUDGET_S = 0.003
#: A pacer turn starts another due flush only while it has used less than this.
TURN_S = 0.0015


class _Pacer(QObject):
    """Runs the due flushes of one thread's batchers from a single timer (see the module)."""

    def __init__(self) -> None:
        super().__init__(None)
        self._due: dict[FrameBatcher, float] = {}  # batcher -> perf_counter() it is due at
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._run)

    def schedule(self, batcher: FrameBatcher, delay_s: float) -> None:
        if batcher in self._due:
            return
        self._due[batcher] = time.perf_counter() + delay_s
        self._arm()

    def cancel(self, batcher: FrameBatcher) -> None:
        self._due.pop(batcher, None)

    def _arm(self) -> None:
        if not self._due:
            self._timer.stop()
            return
        wait_ms = max(0, round((min(self._due.values()) - time.perf_counter()) * 1000))
        if self._timer.isActive() and self._timer.remainingTime() <= wait_ms:
            return
        self._timer.start(wait_ms)

    def _run(self) -> None:
        began = time.perf_counter()
        # Due within half a millisecond: the timer's own granularity.
        due = sorted(
            (at, id(batcher), batcher) for batcher, at in self._due.items() if at <= began + 0.0005
        )
        try:
            for ran, (_, _, batcher) in enumerate(due):
                if ran and (batcher.alone or time.perf_counter() - began > TURN_S):
                    break  # the rest stay due: the next turn, after the paint this one caused
                self._due.pop(batcher, None)
                if shiboken6.isValid(batcher):  # its widget may have been deleted since
                    batcher.flush_now()
                if batcher.alone:
                    break
        finally:
            self._arm()  # even after a flush raised: the other batchers must still run


_pacers: dict[int, _Pacer] = {}


def _pacer() -> _Pacer:
    key = threading.get_ident()
    pacer = _pacers.get(key)
    # A thread id can be reused after its thread ended: that pacer's timer would never fire.
    if pacer is None or not shiboken6.isValid(pacer) or pacer.thread() != QThread.currentThread():
        pacer = _pacers[key] = _Pacer()
    return pacer


class FrameBatcher(QObject):
    """Collects dirty keys and hands them to ``flush`` at most once per frame.

    The first change of a frame schedules the flush ``interval_ms`` later on the thread's
    pacer, so an idle model costs nothing and a burst of ten thousand step signals costs one
    flush per 16 ms. ``alone``: the flush gets a pacer turn of its own.
    """

    def __init__(
        self,
        flush: Callable[[set[object]], set[object] | None],
        parent: QObject,
        interval_ms: int = FRAME_MS,
        alone: bool = False,
    ) -> None:
        super().__init__(parent)  # a child of its widget/model: never fires into a dead one
        #: Flushed in a pacer turn of its own (a heavy step whose repaint should not share a
        #: paint pass with the others', such as binding a new execution).
        self.alone = alone
        # Weak when ``flush`` is the parent's method: a strong one would make parent and child
        # a reference cycle, which Python may free in a worker thread (fatal for QObjects).
        self._flush_ref: weakref.WeakMethod[Any] | None = None
        self._flush: Callable[[set[object]], set[object] | None] | None = None
        if inspect.ismethod(flush):
            self._flush_ref = weakref.WeakMethod(flush)
        else:
            self._flush = flush
        self._dirty: set[object] = set()
        self._interval_s = interval_ms / 1000
        self._pacer = _pacer()

    def mark(self, key: object) -> None:
        self._dirty.add(key)
        self._pacer.schedule(self, self._interval_s)

    def mark_many(self, keys: Iterable[object]) -> None:
        self._dirty.update(keys)
        self._pacer.schedule(self, self._interval_s)

    def flush_now(self) -> None:
        """Apply pending changes at once (tests, and before a screenshot)."""
        self._pacer.cancel(self)
        dirty, self._dirty = self._dirty, set()
        if dirty:
            # A flush may hand back what it had no time for (its frame budget ran out):
            # that goes to the next frame, so one huge change never stalls the GUI thread.
            flush = self._flush if self._flush_ref is None else self._flush_ref()
            if flush is None:
                return
            left = flush(dirty)
            if left:
                self.mark_many(left)

    def flush_all(self) -> None:
        """Flush until nothing is pending, ignoring frame budgets (tests, screenshots)."""
        for _ in range(10_000):
            if not self._dirty:
                return
            self.flush_now()
