"""``StepContext``: what a long-running plugin command may opt into.

A plugin receives it when its ``execute_command`` (or wrapped callable) declares a ``context``
parameter. It is the only channel between the engine and running user code, so every method is
safe to call from the worker thread that runs the command.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from ..errors import PluginError, PluginErrorCode

_wakeup_lock = threading.Lock()


class Resumed(Protocol):
    """What a pause point waits on.

    A ``threading.Event`` set while the execution runs, or the engine's lighter equivalent.
    """

    def wait(self, timeout: float | None = None) -> bool:
        """Block while the execution is paused, at most ``timeout`` s; True once it runs."""
        ...


class StepContext:
    """Cooperative cancellation, progress reporting and pause points for one attempt."""

    __slots__ = (
        "_cancel_hooks",
        "_cancelled",
        "_on_progress",
        "_progress_key",
        "_resumed",
        "_wakeup",
        "attempt",
        "execution_id",
        "step_id",
    )

    def __init__(
        self,
        execution_id: str,
        step_id: str,
        attempt: int,
        resumed: Resumed,
        on_progress: Callable[[int, float, str], None] | None = None,
        progress_key: int = 0,
    ) -> None:
        self.execution_id = execution_id
        self.step_id = step_id
        self.attempt = attempt
        # A plain flag: one context is built per attempt on the hot path, and an Event is
        # only worth its cost for the few commands that wait on it (see ``wait``).
        self._cancelled = False
        self._cancel_hooks: list[Callable[[], None]] | None = None
        self._wakeup: threading.Event | None = None
        self._resumed = resumed
        # ``on_progress(progress_key, fraction, message)``: a bound method and the task's
        # index rather than a partial built for every attempt.
        self._on_progress = on_progress
        self._progress_key = progress_key

    def is_cancelled(self) -> bool:
        """True once the attempt was cancelled or timed out: its result will be discarded."""
        return self._cancelled

    @property
    def cancelled(self) -> bool:
        """The same as ``is_cancelled()``, as a property."""
        return self._cancelled

    def cancel(self) -> None:
        """Mark the attempt cancelled and wake a pending ``wait`` (the engine calls this)."""
        with _wakeup_lock:
            if self._cancelled:
                return
            self._cancelled = True
            if self._wakeup is not None:
                self._wakeup.set()
            hooks, self._cancel_hooks = self._cancel_hooks, None
        for hook in hooks or ():
            hook()

    def add_cancel_hook(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` once when the attempt is cancelled or times out (at once if it was).

        For the library's own nested workflows: ``hook`` runs in the thread that cancels,
        possibly with an engine lock held, so it must only hand work to another thread (it
        never blocks, never calls user code).
        """
        with _wakeup_lock:
            if not self._cancelled:
                if self._cancel_hooks is None:
                    self._cancel_hooks = []
                self._cancel_hooks.append(hook)
                return
        hook()

    def check_cancelled(self) -> None:
        """Raise ``PluginError(OperationCancelled)`` if the attempt should stop."""
        if self._cancelled:
            raise PluginError(
                PluginErrorCode.OperationCancelled, f"step '{self.step_id}' cancelled"
            )

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; returns True early (and at once) when cancelled."""
        with _wakeup_lock:
            if self._cancelled:
                return True
            if self._wakeup is None:
                self._wakeup = threading.Event()
            wakeup = self._wakeup
        return wakeup.wait(seconds)

    def checkpoint(self, timeout: float | None = None) -> None:
        """A pause point: blocks while the execution is paused, raises if cancelled."""
        self.check_cancelled()
        # Short slices so a cancellation during a pause is noticed promptly.
        while not self._resumed.wait(0.05 if timeout is None else min(timeout, 0.05)):
            self.check_cancelled()
            if timeout is not None:
                timeout -= 0.05
                if timeout <= 0:
                    return
        self.check_cancelled()

    def report_progress(self, fraction: float, message: str = "") -> None:
        """Report progress within this step (0.0 to 1.0); shown in the execution's status."""
        if self._on_progress is not None:
            self._on_progress(self._progress_key, min(1.0, max(0.0, float(fraction))), message)

    def __repr__(self) -> str:
        return f"StepContext({self.execution_id!r}, {self.step_id!r}, attempt={self.attempt})"
