"""Where a run's pause points wait: open unless the run is paused.

Most executions are never paused, and a ``threading.Event`` (with its ``Condition``, lock and
waiter queue) was a tenth of what starting a small one cost, kept alive for its whole life.
The gate builds its Event on the first pause; until then a pause point does not wait.
"""

from __future__ import annotations

import threading


class PauseGate:
    """Open (``wait`` returns at once) unless closed by a pause; ``close``/``open`` are called
    with the run's lock held, ``wait`` from the thread running a step."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: threading.Event | None = None

    def close(self) -> None:
        """The run is paused: pause points wait until ``open``."""
        event = self._event
        if event is None:
            self._event = threading.Event()  # built cleared: closed
        else:
            event.clear()

    def open(self) -> None:
        """The run resumed (or is stopping): waiting pause points go on."""
        event = self._event
        if event is not None:
            event.set()

    def is_open(self) -> bool:
        event = self._event
        return event is None or event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait while closed, at most ``timeout`` seconds; whether the gate is open."""
        event = self._event
        return True if event is None else event.wait(timeout)
