"""The thread pool an engine's drainers run on: the orchestrator's ``QThreadPool``, wrapped.

Work is not handed to the pool one callable at a time. The engine keeps its own queue, and at
most the pool's thread count of pool tasks ("loops") take callables from it back to back. Many
small executions started at once then cost a queue append each, not a ``QThreadPool.start``
each: every pool task enters and leaves the interpreter (the GIL taken and given back), and
every ``start`` from the owner thread releases the GIL there and waits to get it back while
the drainers hold it. The pool's own bound stands: no more loops than its threads, and a
loop blocked in a plugin holds one thread, as a queued task would have.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, QThreadPool

from .control_lane import shared_lane

_log = logging.getLogger(__name__)


class WorkerPool:
    """Runs engine callables on a QThreadPool (the orchestrator's own unless one is given)."""

    def __init__(self, pool: QThreadPool | None, parent: QObject | None = None) -> None:
        self._own = pool is None
        if pool is None:
            # A child of the engine's pump, not owned by Python: destroying the orchestrator
            # (its parent deleted, app.shutdown(), its last reference) destroys the pump,
            # whose destroyed() cancels every run before its children, this pool among them,
            # wait for their threads. A Python-owned pool could be destroyed first (PySide's
            # app.shutdown() destroys Python-owned objects in no set order) and wait for
            # plugins that are only told to stop after it.
            pool = QThreadPool(parent)
            pool.setMaxThreadCount(max(4, QThread.idealThreadCount()))
        self.pool = pool
        self._queue: deque[Callable[[], None]] = deque()
        self._loops = 0  # pool tasks taking from the queue (guarded by _lock)
        self._lock = threading.Lock()
        # The pool's thread count as last read: asking the pool costs a call into Qt, so it
        # is read when a loop starts and when work arrives at an empty queue (the size an
        # application sets between bursts is then followed).
        self._cap = self.max_threads()

    def submit(self, function: Callable[[], None]) -> None:
        """Run ``function`` on a pool thread, in submission order with the rest."""
        queue = self._queue
        queue.append(function)
        if len(queue) == 1:
            self._cap = self.max_threads()
        if self._loops < self._cap:
            self._start_loop()
        # Otherwise every loop is busy; one takes ``function`` when it is done with its own.
        # A loop about to leave looks at the queue again after it stops counting (``_loop``),
        # so work appended while this thread read the count is not left behind.

    def _start_loop(self) -> None:
        with self._lock:
            self._cap = cap = self.max_threads()
            if self._loops >= cap or not self._queue:
                return
            self._loops += 1
        try:
            self.pool.start(self._loop)
        except RuntimeError:
            # The pool's C++ object is gone (app.shutdown() destroys every QObject Python
            # owns): the work still runs, on the control lane, rather than never.
            shared_lane().submit(self._loop)

    def _loop(self) -> None:
        """A pool task: take queued callables until none is left."""
        queue = self._queue
        while True:
            try:
                function = queue.popleft()
            except IndexError:
                with self._lock:
                    self._loops -= 1
                # ``submit`` appends, then reads the count without the lock: work it saw
                # a full count for may have been appended just before this loop stopped
                # counting, and must not wait for the next submit.
                if not queue:
                    return
                with self._lock:
                    if self._loops >= self._cap or not queue:
                        return
                    self._loops += 1
                continue
            try:
                function()
            except Exception:  # a drainer never raises; if one does, the others still run
                _log.exception("engine work raised on a pool thread")

    def max_threads(self) -> int:
        try:
            return max(1, self.pool.maxThreadCount())
        except RuntimeError:
            return 1

    def wait_for_done(self, timeout_ms: int) -> bool:
        try:
            return bool(self.pool.waitForDone(timeout_ms))
        except RuntimeError:
            return True  # destroyed, which waited for its threads

    def release(self) -> None:
        """The orchestrator is being destroyed: do not join its pool now.

        ``~QThreadPool`` (the pool is the pump's child) waits for every running task. With a
        plugin that ignores cancellation that would block the thread destroying the
        orchestrator, the GUI thread that delivers every orchestrator's signals, for as long
        as the plugin runs. A busy pool is handed to Qt instead (parented to its thread
        object, as ``abandon`` does) and deleted once its tasks are done: a control-lane
        thread waits for them, then ``deleteLater`` (the deletion itself no longer waits).
        """
        if not self._own:
            return  # the application's pool: its owner decides
        pool = self.pool
        try:
            if pool.activeThreadCount() == 0:
                return  # destroyed with the pump, nothing to wait for
            pool.setParent(pool.thread())
        except RuntimeError:
            return

        def reap() -> None:
            with contextlib.suppress(RuntimeError):
                pool.waitForDone(-1)
                pool.deleteLater()

        shared_lane().submit(reap)

    def abandon(self) -> None:
        """At interpreter exit, with plugins that ignore cancellation still running: let go
        of the pool without destroying it. ``~QThreadPool`` waits for every running task, so
        destroying it during finalisation would hold the exit for as long as the slowest
        plugin runs; the process ends right after instead, and its threads with it."""
        # PySide's exit cleanup destroys every QObject that Python owns; parented to the
        # thread object it lives in (which Qt owns and never deletes before the process
        # ends), the pool is Qt's, and nothing waits for it.
        with contextlib.suppress(RuntimeError):
            self.pool.setParent(self.pool.thread())
