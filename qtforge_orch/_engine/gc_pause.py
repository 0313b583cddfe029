"""Pause the cyclic garbage collector around allocation-heavy registration of big workflows.

Registering a 10,000-step workflow allocates well over 100,000 small containers (snapshots,
task specs, wires); left on, the collector runs hundreds of generation passes over a growing
heap in the middle of it and more than doubles the time. None of those objects form garbage
cycles, so nothing is lost by collecting after instead of during. Small workflows skip this.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

PAUSE_FROM_SIZE = 1000


@contextmanager
def gc_paused_for(size: int) -> Iterator[None]:
    if size < PAUSE_FROM_SIZE or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
