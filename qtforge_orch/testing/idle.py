"""Waiting until an orchestrator has nothing more to start.

The deterministic way to check that something did not happen (a paused execution started no
node), instead of waiting a fixed time and hoping it would have happened by then.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QThreadPool


def wait_until_idle(orchestrator: Any, busy: int = 0, timeout_ms: int = 5000) -> bool:
    """Block until ``orchestrator``'s thread pool runs at most ``busy`` tasks.

    ``busy`` is the number of plugin calls the test itself holds blocked. Once the pool is
    down to them, every drainer the engine submitted has run whatever it could start and
    returned, so anything that was going to start has started: a check made now that
    something did *not* start is not a race. Returns False if the pool stayed busier than
    ``busy`` for ``timeout_ms``.

    Example:
        ```python
        assert orchestrator.pause_execution(execution_id)
        gate.release()                      # the running step ends while paused
        assert wait_until_idle(orchestrator)
        assert not second_started.is_set()  # nothing started while paused
        ```
    """
    pool: QThreadPool = orchestrator.thread_pool()
    deadline = time.monotonic() + max(0, timeout_ms) / 1000.0
    while pool.activeThreadCount() > busy:
        if time.monotonic() >= deadline:
            return False
        # Polls a condition the pool reports; never a fixed wait standing in for one.
        time.sleep(0.001)
    return True
