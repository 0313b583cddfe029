"""What the executor test modules share: a module-scoped Dask LocalCluster on the loopback
(started only when a test asks for it) and helpers that watch worker processes by pid."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch.contract.context import StepContext
from qtforge_orch.contract.outcome import Outcome
from qtforge_orch.contract.plan import TaskSpec


@pytest.fixture(scope="module", name="dask_cluster")
def dask_cluster_fixture() -> Iterator[object]:
    """Two worker processes (a test can kill one by pid); a lost worker fails its task at once
    (allowed-failures 0), as the executor's own local cluster does. Closed at teardown."""
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    # The Dask executor freezes the heap once it connects (docs/scaling-out.md); in the test
    # process that would keep other tests' cyclic garbage alive.
    os.environ["QTFORGE_ORCH_GC_FREEZE"] = "0"
    # Nor should it shorten the switch interval for the rest of the test run.
    os.environ["QTFORGE_ORCH_SWITCH_INTERVAL"] = "keep"
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            host="127.0.0.1",
            n_workers=2,
            threads_per_worker=2,
            processes=True,
            dashboard_address=None,
        )
    yield cluster
    cluster.close()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_pid_file(path: Path, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return int(path.read_text())
        time.sleep(0.02)
    raise AssertionError(f"{path} was never written")


def wait_gone(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        assert time.monotonic() < deadline, f"worker {pid} is still alive"
        time.sleep(0.02)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Look at ``condition`` until it holds (a state another process or thread reaches)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never true: {what}"
        time.sleep(0.01)


def call_in_thread(
    executor: Any, plugin: str, params: dict[str, Any], context: StepContext
) -> Future[Outcome]:
    """``executor.call`` of ``plugin`` from a thread of its own, as a drainer makes it."""
    done: Future[Outcome] = Future()
    task = TaskSpec(context.step_id, 0, plugin, "execute", {})

    def call() -> None:
        try:
            done.set_result(executor.call(task, params, context))
        except BaseException as exc:  # handed to the test
            done.set_exception(exc)

    threading.Thread(target=call, daemon=True).start()
    return done
