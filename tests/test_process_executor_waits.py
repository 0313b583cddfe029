"""How a drainer waits in the process executor: asleep until its step's result, a free slot or
its cancellation, each of which wakes it at once (no polling), and a cancelled step that only
waited for a slot kills no one's worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from qtforge_orch import PluginErrorCode, PluginManager
from qtforge_orch._engine.executors.process import ProcessExecutor
from qtforge_orch.contract.context import StepContext
from qtforge_orch.contract.outcome import Outcome

from .executor_fixtures import call_in_thread, pid_alive, wait_gone, wait_pid_file
from .executor_plugins import register_all

pytestmark = pytest.mark.slow  # worker processes

_RUNNING = threading.Event()
_RUNNING.set()


class CountingContext(StepContext):
    """A step context that counts how often the executor asks whether it was cancelled."""

    def __init__(self, step_id: str) -> None:
        super().__init__("exec", step_id, 1, _RUNNING)
        self.looks = 0

    def is_cancelled(self) -> bool:
        self.looks += 1
        return super().is_cancelled()


@pytest.fixture
def one_worker() -> Iterator[ProcessExecutor]:
    executor = ProcessExecutor(register_all(PluginManager()), workers=1)
    yield executor
    executor.shutdown(5.0)


def _start_hanging(
    executor: ProcessExecutor, tmp_path: Path
) -> tuple[CountingContext, Future[Outcome], int]:
    """A step that hangs in the worker: its context, its outcome and the worker's pid."""
    context = CountingContext("hang")
    outcome = call_in_thread(executor, "hang", {"pid_file": str(tmp_path / "pid")}, context)
    return context, outcome, wait_pid_file(tmp_path / "pid")


def _cancelled(outcome: Outcome) -> bool:
    return outcome.error is not None and outcome.error.code == PluginErrorCode.OperationCancelled


def test_a_running_step_is_not_polled_and_its_cancel_is_seen_at_once(
    one_worker: ProcessExecutor, tmp_path: Path
) -> None:
    context, outcome, pid = _start_hanging(one_worker, tmp_path)
    looks = context.looks
    # A window in which a waiter polling for cancellation would look several times (every
    # 50 ms it used to): this one sleeps until something happens, so it does not look at all.
    threading.Event().wait(0.3)
    assert context.looks == looks
    assert not outcome.done()
    context.cancel()
    assert _cancelled(outcome.result(timeout=10))
    wait_gone(pid)


def test_a_step_waiting_for_a_slot_is_cancelled_without_killing_the_running_one(
    one_worker: ProcessExecutor, tmp_path: Path
) -> None:
    running, first, pid = _start_hanging(one_worker, tmp_path)
    queued = CountingContext("queued")
    second = call_in_thread(one_worker, "add_one", {"x": 1}, queued)
    queued.cancel()
    assert _cancelled(second.result(timeout=10))
    assert pid_alive(pid) and not first.done()
    running.cancel()
    assert _cancelled(first.result(timeout=10))
    wait_gone(pid)


def test_a_freed_slot_goes_to_the_step_waiting_for_it(
    one_worker: ProcessExecutor, tmp_path: Path
) -> None:
    running, first, pid = _start_hanging(one_worker, tmp_path)
    waiting = [CountingContext(f"w{i}") for i in range(2)]
    later = [call_in_thread(one_worker, "add_one", {"x": i}, c) for i, c in enumerate(waiting)]
    assert not any(f.done() for f in later)
    running.cancel()  # kills the worker: the slot is free again, with a fresh worker
    assert _cancelled(first.result(timeout=10))
    wait_gone(pid)
    assert [f.result(timeout=30).output["x"] for f in later] == [1, 2]
    assert len(one_worker.worker_pids()) == 1
