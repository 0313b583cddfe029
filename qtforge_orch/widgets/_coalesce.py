"""Per-frame batching: many changes in one frame become one update."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, QTimer

#: One frame at 60 Hz: updates wait at most this long, and the GUI repaints at most this often.
FRAME_MS = 16
#: How long one flush may work before it leaves the rest to the next frame.
BUDGET_S = 0.003


class FrameBatcher(QObject):
    """Collects dirty keys and hands them to ``flush`` at most once per frame.

    A single-shot timer armed by the first change of a frame, so an idle model costs nothing
    and a burst of ten thousand step signals costs one flush per 16 ms.
    """

    def __init__(
        self,
        flush: Callable[[set[object]], set[object] | None],
        parent: QObject,
        interval_ms: int = FRAME_MS,
    ) -> None:
        super().__init__(parent)  # a child of its widget/model: never fires into a dead one
        # Weak when ``flush`` is the parent's method: a strong one would make parent and child
        # a reference cycle, which Python may free in a worker thread (fatal for QObjects).
        self._flush_ref: weakref.WeakMethod[Any] | None = None
        self._flush: Callable[[set[object]], set[object] | None] | None = None
        if inspect.ismethod(flush):
            self._flush_ref = weakref.WeakMethod(flush)
        else:
            self._flush = flush
        self._dirty: set[object] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush_now)

    def mark(self, key: object) -> None:
        self._dirty.add(key)
        if not self._timer.isActive():
            self._timer.start()

    def mark_many(self, keys: Iterable[object]) -> None:
        self._dirty.update(keys)
        if not self._timer.isActive():
            self._timer.start()

    def flush_now(self) -> None:
        """Apply pending changes at once (tests, and before a screenshot)."""
        self._timer.stop()
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
