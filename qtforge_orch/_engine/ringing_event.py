"""A ``threading.Event`` that can wake a thread sleeping on something else as well."""

from __future__ import annotations

import threading
from collections.abc import Callable


class RingingEvent(threading.Event):
    """Set like any Event; ``ring``, when a waiter puts one there, is called after each
    ``set``. The owner thread's synchronous wait (``EventPump.wait_until``) sleeps on its own
    bell, which both this event and a newly posted engine event ring: it wakes for either
    and for nothing else."""

    def __init__(self) -> None:
        super().__init__()
        self.ring: Callable[[], None] | None = None

    def set(self) -> None:
        super().set()
        ring = self.ring
        if ring is not None:
            ring()
