"""The thread pool an engine's drainers run on: the orchestrator's ``QThreadPool``, wrapped."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, QThreadPool

from .control_lane import shared_lane


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

    def submit(self, function: Callable[[], None]) -> None:
        try:
            self.pool.start(function)
        except RuntimeError:
            # The pool's C++ object is gone (app.shutdown() destroys every QObject Python
            # owns): the work still runs, on the control lane, rather than never.
            shared_lane().submit(function)

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
