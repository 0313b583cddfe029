"""The threads that advance a run: pool drainers and synchronous waiters that help.

Any thread may advance a run: pool drainers do ready work back to back (one dispatch per
burst, not per task), the timer thread fires retries and timeouts, and a thread that waits
synchronously helps do the work itself, so nested synchronous executions cannot starve a
small pool.
"""

from __future__ import annotations

import threading
import time
from typing import Generic

from .run_status import RunStatus
from .scheduler_protocol import Scheduler, UnitT
from .shell_protocol import RunShell

_taker = threading.local()


def _taking() -> object:
    """The run this thread drains or helps (None: none)."""
    try:
        return _taker.run
    except AttributeError:
        # Set once per thread: a missing thread-local attribute formats and raises an
        # AttributeError on every read, even under ``getattr(..., None)``. (A subclass with a
        # class default is no better: its reads go through a slower attribute hook.)
        _taker.run = None
        return None


YIELD_EVERY_S = 0.001


class Workers(Generic[UnitT]):
    """A run's drainers and helpers, taking its scheduler's units of work; counters guarded by
    the run's lock."""

    __slots__ = ("_run", "_scheduler", "_starting", "active", "helpers")

    def __init__(self, run: RunShell, scheduler: Scheduler[UnitT]) -> None:
        self._run = run
        self._scheduler = scheduler
        self._starting = 0  # drainers submitted that have not taken work yet
        self.helpers = 0  # threads blocked in help_until_done, the only waiters on the lock
        self.active = 0  # drainers taking work now (each takes again before it leaves)

    def drain(self) -> None:
        """Pool entry point: do ready work back to back until none can start."""
        previous = _taking()
        _taker.run = self._run
        take, work, lock = self._scheduler.take, self._scheduler.work, self._run.lock
        counted = False  # counted in ``active``; uncounted in the lock hold that finds no work
        try:
            with lock:
                self._starting -= 1
                taken = take()
                if taken is None:
                    return
                self.active += 1
                counted = True
            pump = self._run.engine.pump
            yielded = time.perf_counter()
            while taken is not None:
                # ``work`` may hand back the next unit, taken in the lock hold that recorded
                # this one: one lock round trip per task instead of two.
                taken = work(taken)
                now = time.perf_counter()
                if pump.draining or (now - yielded > YIELD_EVERY_S and not pump.blocked):
                    # A drainer on a run of tiny steps would keep the GIL for whole switch
                    # intervals at a time; handing it over keeps the GUI thread's timers and
                    # signal delivery on time. Not while that thread is
                    # blocked in a synchronous wait: it would only pay for the hand-over.
                    time.sleep(0)
                    yielded = now
                if taken is None:
                    with lock:
                        taken = take()
                        if taken is None:
                            self.active -= 1
                            counted = False
        finally:
            if counted:  # work raised
                with lock:
                    self.active -= 1
            _taker.run = previous

    def help_until_done(self, deadline: float | None = None) -> bool:
        """Used by a non-GUI thread waiting synchronously: run this run's work meanwhile
        (so a pool worker waiting on a nested execution cannot starve it). ``deadline`` is a
        ``time.monotonic()`` value; returns whether the run ended."""
        previous = _taking()
        _taker.run = self._run
        take, work = self._scheduler.take, self._scheduler.work
        try:
            while True:
                with self._run.lock:
                    taken = take()
                    while taken is None:
                        if self._run.is_done():
                            return True
                        wait = 0.25 if deadline is None else min(0.25, deadline - time.monotonic())
                        if wait <= 0:
                            return False
                        self.helpers += 1
                        try:
                            self._run.lock.wait(wait)
                        finally:
                            self.helpers -= 1
                        taken = take()
                while taken is not None:
                    taken = work(taken)
        finally:
            _taker.run = previous

    def is_taker(self) -> bool:
        """Whether this thread is a drainer or helper of this run (it takes the next work
        itself, so one fewer drainer is needed)."""
        return _taking() is self._run

    def wake_helpers(self) -> None:
        if self.helpers:
            self._run.lock.notify_all()

    def land(self) -> None:
        """(lock held) A parked attempt's outcome was queued as work: make sure a thread takes
        it, paused or not (the attempt is counted running, so ``spawn``'s capacity does not
        apply)."""
        if self.helpers:
            self.wake_helpers()
        elif not self.active and not self._starting:
            self._starting += 1
            self._run.engine.executor.submit(self.drain)

    def spawn(self, self_takers: int) -> None:
        """(lock held) Submit drainers for ready work, up to the scheduler's capacity."""
        run = self._run
        if run.status != RunStatus.RUNNING or run.stopping:
            return
        scheduler = self._scheduler
        ready = scheduler.ready
        free = scheduler.capacity() - scheduler.running - self._starting
        wanted = min(len(ready), free) - self_takers
        for _ in range(max(0, wanted)):
            self._starting += 1
            run.engine.executor.submit(self.drain)
        if ready:
            self.wake_helpers()
            scheduler.spawned()
