"""How a run's end is told: finish callbacks, then the ``done`` event, in that order."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from .ringing_event import RingingEvent

RunT = TypeVar("RunT")

# Makes two threads asking for a run's ``done`` Event at once build one (held for a few
# instructions, never with a run lock wanted inside; the run's end does not take it).
_DONE_LOCK = threading.Lock()


class RunEnd(Generic[RunT]):
    """A run's finish callbacks and its ``done`` event. ``add``/``remove``/``close`` are called
    with the run's lock held; ``mark_done`` and ``done`` without."""

    __slots__ = ("_done", "_ended", "callbacks", "finished")

    def __init__(self) -> None:
        self.callbacks: list[Callable[[RunT], None]] = []
        self.finished = False  # final state recorded; callbacks may still be running
        self._done: RingingEvent | None = None  # built on first use: see ``done``
        self._ended = False

    def add(self, callback: Callable[[RunT], None]) -> bool:
        """Queue ``callback``; False when the run has already finished (call it now)."""
        if self.finished:
            return False
        self.callbacks.append(callback)
        return True

    def remove(self, callback: Callable[[RunT], None]) -> None:
        if callback in self.callbacks:
            self.callbacks.remove(callback)

    def close(self) -> list[Callable[[RunT], None]]:
        """The run finished: the callbacks to run once its lock is released."""
        self.finished = True
        callbacks, self.callbacks = self.callbacks, []
        return callbacks

    @property
    def done(self) -> RingingEvent:
        """Set once the run has ended and its callbacks have run. Built when first asked
        for: most executions are never waited on this way (a future or a signal tells), and an
        Event costs as much as a tenth of starting a small execution."""
        event = self._done
        if event is None:
            with _DONE_LOCK:  # two first readers must build one Event
                event = self._done
                if event is None:
                    event = self._done = RingingEvent()
            # Published before reading ``_ended``, which ``mark_done`` writes before reading
            # ``_done``: one of the two sees the other, so the Event never misses the end.
            if self._ended:
                event.set()
        return event

    def is_done(self) -> bool:
        """``done.is_set()`` without building the Event."""
        return self._ended

    def mark_done(self) -> None:
        # No lock: every finishing run passes here, from whichever pool thread, and a lock
        # shared by all runs made those threads queue on each other. See ``done``.
        self._ended = True
        event = self._done
        if event is not None:
            event.set()
