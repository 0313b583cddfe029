"""How many stage activations of one Streaming run may run at once, measured as they go."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter, thread_time
from typing import Any

from ..contract.timer_kind import TimerKind
from .scheduler_protocol import SchedulerControl
from .shell_protocol import RunShell

# Activations that keep their thread busy for this share of their wall time are CPU-bound
# Python: more threads only take turns at the GIL (one drainer is ~10% faster than four).
CPU_BOUND_SHARE = 0.6
# An activation lasts about BATCH_WINDOW_S; one running this long is waiting on something.
STREAM_STALL_S = 0.006
# Activations must have run this long in all before their CPU share counts as measured.
MEASURED_S = 0.0002


def _cpu_and_blocks() -> tuple[float, int]:
    """This thread's CPU seconds, and how many times it has blocked (its voluntary context
    switches: a wait on I/O, a sleep, a lock, the GIL)."""
    usage = getrusage(RUSAGE_THREAD)
    return usage.ru_utime + usage.ru_stime, usage.ru_nvcsw


def _cpu_only() -> tuple[float, int]:
    return thread_time(), -1  # blocking unknown: the CPU share alone decides


thread_usage: Callable[[], tuple[float, int]]
try:
    from resource import RUSAGE_THREAD, getrusage  # Linux

    thread_usage = _cpu_and_blocks
except ImportError:  # pragma: no cover - no per-thread rusage on this platform
    thread_usage = _cpu_only


class StreamLimit:
    """How many stage activations of one run may run at once: one while activations are
    CPU-bound, the run's limit once they wait (I/O, sleeps, remote calls); a stall guard lifts
    the cap when an activation blocks.

    An activation is CPU-bound when its thread never blocked during it (the wall time it was
    not on a CPU went to other processes: the kernel preempted it, it did not wait), else by
    its share of CPU time over wall time; where blocking cannot be counted, by the share
    alone."""

    __slots__ = (
        "_clock",
        "_cpu_share",
        "_last_progress",
        "_run",
        "_scheduler",
        "_seen_s",
        "_timer",
    )

    def __init__(self, run: RunShell, scheduler: SchedulerControl) -> None:
        self._run = run
        self._scheduler = scheduler
        self._cpu_share = 1.0  # unknown counts as CPU-bound; the stall guard corrects it
        self._seen_s = 0.0  # wall time of the activations ended so far (up to MEASURED_S)
        self._last_progress = 0.0  # engine clock at the latest activation start or end
        self._clock = run.engine.timers.now
        self._timer: Any = None

    def capacity(self) -> int:
        return 1 if self._cpu_share >= CPU_BOUND_SHARE else self._run.limit

    def measured_cpu_bound(self) -> bool:
        """CPU-bound as measured, not as assumed before any activation has ended: what
        running linear chains fused needs (a first item that blocks must not hold its
        upstream)."""
        return self._seen_s >= MEASURED_S and self._cpu_share >= CPU_BOUND_SHARE

    def activation_started(self) -> tuple[float, float, int]:
        self._last_progress = self._clock()
        cpu, blocks = thread_usage()
        return perf_counter(), cpu, blocks

    def activation_ended(self, started: tuple[float, float, int]) -> None:
        self._last_progress = self._clock()
        wall = perf_counter() - started[0]
        if self._seen_s < MEASURED_S:
            self._seen_s += wall
        if wall > 0.0002:  # too short to tell
            cpu, blocks = thread_usage()
            if blocks >= 0 and blocks == started[2]:
                share = 1.0
            else:
                share = min(1.0, (cpu - started[1]) / wall)
            self._cpu_share += (share - self._cpu_share) * 0.3

    def watch(self) -> None:
        """(lock held) Work waits while capped: check back after STREAM_STALL_S."""
        run = self._run
        if self._timer is None and self._scheduler.running and self.capacity() < run.limit:
            self._timer = run.engine.timers.call_later(
                STREAM_STALL_S,
                self._check,
                kind=TimerKind.STALL_GUARD,
                execution_id=run.execution_id,
            )

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        run = self._run
        scheduler = self._scheduler
        with run.lock:
            self._timer = None
            if run.stopping or not scheduler.ready or not scheduler.running:
                return
            if self._clock() - self._last_progress >= STREAM_STALL_S:
                # Ready stages wait behind an activation that has run this long: it blocks.
                self._cpu_share = 0.0
            scheduler.workers.spawn(0)
