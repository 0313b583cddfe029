"""How a Streaming run measures whether its activations are CPU-bound (``StreamLimit``): one
activation at a time and fused chains while they are, the run's limit once they wait. Time the
kernel gives other processes (preemption) is not waiting: an activation whose thread never
blocked counts as CPU-bound whatever its share of the wall clock."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from qtforge_orch._engine import stream_limit
from qtforge_orch._engine.stream_limit import StreamLimit

RUN_LIMIT = 4


class FakeThread:
    """The clocks an activation is measured with: wall, thread CPU and times blocked."""

    def __init__(self, *, counts_blocks: bool = True) -> None:
        self.wall = 100.0
        self.cpu = 1.0
        self.blocks = 7 if counts_blocks else -1

    def usage(self) -> tuple[float, int]:
        return self.cpu, self.blocks

    def activation(self, limit: StreamLimit, wall: float, cpu: float, blocked: int) -> None:
        started = limit.activation_started()
        self.wall += wall
        self.cpu += cpu
        if self.blocks >= 0:
            self.blocks += blocked
        limit.activation_ended(started)


@pytest.fixture
def thread(monkeypatch: pytest.MonkeyPatch) -> FakeThread:
    fake = FakeThread()
    monkeypatch.setattr(stream_limit, "thread_usage", fake.usage)
    monkeypatch.setattr(stream_limit, "perf_counter", lambda: fake.wall)
    return fake


def new_limit() -> StreamLimit:
    run: Any = SimpleNamespace(
        limit=RUN_LIMIT, engine=SimpleNamespace(timers=SimpleNamespace(now=time.monotonic))
    )
    return StreamLimit(run, SimpleNamespace(running=0, ready=[]))  # type: ignore[arg-type]


def test_unmeasured_activations_are_not_yet_cpu_bound(thread: FakeThread) -> None:
    limit = new_limit()
    assert limit.capacity() == 1  # unknown counts as CPU-bound for the cap...
    assert not limit.measured_cpu_bound()  # ...but fusion waits for a measurement
    thread.activation(limit, wall=0.01, cpu=0.01, blocked=0)
    assert limit.measured_cpu_bound()


def test_a_preempted_activation_that_never_blocked_stays_cpu_bound(thread: FakeThread) -> None:
    limit = new_limit()
    for _ in range(20):
        # On a busy machine the thread ran a fifth of the time, and never waited itself.
        thread.activation(limit, wall=0.01, cpu=0.002, blocked=0)
    assert limit.measured_cpu_bound()
    assert limit.capacity() == 1


def test_an_activation_that_blocks_is_measured_by_its_cpu_share(thread: FakeThread) -> None:
    limit = new_limit()
    thread.activation(limit, wall=0.01, cpu=0.01, blocked=0)
    assert limit.measured_cpu_bound()
    for _ in range(5):
        thread.activation(limit, wall=0.01, cpu=0.002, blocked=3)  # waiting on I/O
    assert not limit.measured_cpu_bound()
    assert limit.capacity() == RUN_LIMIT
    for _ in range(5):
        # Blocked once (the GIL, a lock) but on the CPU nearly all the time: CPU-bound.
        thread.activation(limit, wall=0.01, cpu=0.0095, blocked=1)
    assert limit.measured_cpu_bound()
    assert limit.capacity() == 1


def test_without_a_count_of_blocks_the_cpu_share_alone_decides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeThread(counts_blocks=False)
    monkeypatch.setattr(stream_limit, "thread_usage", fake.usage)
    monkeypatch.setattr(stream_limit, "perf_counter", lambda: fake.wall)
    limit = new_limit()
    for _ in range(5):
        fake.activation(limit, wall=0.01, cpu=0.002, blocked=0)
    assert not limit.measured_cpu_bound()
    assert limit.capacity() == RUN_LIMIT


def test_activations_too_short_to_tell_leave_the_share_alone(thread: FakeThread) -> None:
    limit = new_limit()
    for _ in range(50):
        thread.activation(limit, wall=0.0001, cpu=0.0, blocked=2)
    assert limit.measured_cpu_bound()  # 5 ms seen, none of it long enough to measure


def test_thread_usage_counts_a_sleep_as_blocking_and_not_as_cpu() -> None:
    seen: list[tuple[float, int]] = []

    def sleeper() -> None:
        seen.append(stream_limit.thread_usage())
        time.sleep(0.02)  # the work of an I/O-bound stage, not synchronisation
        seen.append(stream_limit.thread_usage())

    worker = threading.Thread(target=sleeper)
    worker.start()
    worker.join(10)
    (cpu_before, blocks_before), (cpu_after, blocks_after) = seen
    assert cpu_after - cpu_before < 0.015
    if blocks_before >= 0:  # where the platform counts blocking at all
        assert blocks_after > blocks_before
