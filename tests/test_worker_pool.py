"""The engine's pool: queued work runs in order on at most the pool's thread count of pool
tasks; a run's pause points wait only while it is paused; a resolved future lets go of its run."""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any

import pytest
from PySide6.QtCore import QObject, QThreadPool

from qtforge_orch import FunctionPlugin, PluginManager, PluginOrchestrator, Workflow, WorkflowStep
from qtforge_orch._engine.pause_gate import PauseGate
from qtforge_orch._engine.worker_pool import WorkerPool

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def pool(qapp: Any) -> Any:
    owned = QThreadPool()
    owned.setMaxThreadCount(2)
    yield owned
    owned.waitForDone(10_000)


def test_queued_work_runs_in_order_on_at_most_the_pools_threads(pool: QThreadPool) -> None:
    workers = WorkerPool(pool)
    lock = threading.Lock()
    ran: list[int] = []
    threads: set[int] = set()
    busy = [0]
    most_busy = [0]
    done = threading.Event()
    count = 200

    def work(number: int) -> None:
        with lock:
            busy[0] += 1
            most_busy[0] = max(most_busy[0], busy[0])
            ran.append(number)
            threads.add(threading.get_ident())
        with lock:
            busy[0] -= 1
            if len(ran) == count:
                done.set()

    for number in range(count):
        workers.submit(lambda number=number: work(number))
    assert done.wait(10)
    assert pool.waitForDone(10_000)
    assert sorted(ran) == list(range(count))
    assert most_busy[0] <= 2
    assert len(threads) <= 2  # two pool tasks took all 200, not one task each


def test_one_thread_takes_queued_work_in_submission_order(pool: QThreadPool) -> None:
    pool.setMaxThreadCount(1)
    workers = WorkerPool(pool)
    ran: list[int] = []
    for number in range(50):
        workers.submit(lambda number=number: ran.append(number))
    assert pool.waitForDone(10_000)
    assert ran == list(range(50))


def test_work_queued_behind_busy_loops_runs_when_one_frees(pool: QThreadPool) -> None:
    workers = WorkerPool(pool)
    release = threading.Event()
    entered = threading.Semaphore(0)
    later = threading.Event()

    def blocked() -> None:
        entered.release()
        release.wait(10)

    workers.submit(blocked)
    workers.submit(blocked)
    assert entered.acquire(timeout=5) and entered.acquire(timeout=5)
    workers.submit(later.set)  # both loops are busy: it waits in the queue
    assert not later.is_set()
    release.set()
    assert later.wait(5)


def test_a_callable_that_raises_is_logged_and_the_loop_goes_on(
    pool: QThreadPool, caplog: pytest.LogCaptureFixture
) -> None:
    workers = WorkerPool(pool)
    after = threading.Event()

    def broken() -> None:
        raise RuntimeError("broken on purpose")

    pool.setMaxThreadCount(1)
    workers.submit(broken)
    workers.submit(after.set)
    assert after.wait(5)
    assert pool.waitForDone(5000)
    assert "engine work raised" in caplog.text


def test_a_pool_whose_size_changes_between_bursts_is_followed(qapp: Any) -> None:
    owner = QObject()
    workers = WorkerPool(None, owner)
    workers.pool.setMaxThreadCount(1)
    threads: set[int] = set()
    go = threading.Event()
    entered = threading.Semaphore(0)

    def hold() -> None:
        threads.add(threading.get_ident())
        entered.release()
        go.wait(5)

    workers.submit(hold)
    workers.submit(hold)
    assert entered.acquire(timeout=5)
    assert not entered.acquire(timeout=0.2)  # one thread only: the second waits
    go.set()
    assert entered.acquire(timeout=5)
    assert workers.pool.waitForDone(5000)
    assert len(threads) == 1


def test_the_pause_gate_is_open_until_paused_and_opens_on_resume() -> None:
    gate = PauseGate()
    assert gate.is_open() and gate.wait(0)
    gate.close()
    assert not gate.is_open()
    assert gate.wait(0.01) is False  # a pause point waits while paused
    waiter_done = threading.Event()
    threading.Thread(target=lambda: gate.wait(5) and waiter_done.set()).start()
    gate.open()
    assert waiter_done.wait(5)
    gate.close()  # paused again: the same Event, cleared
    assert not gate.is_open()
    gate.open()
    assert gate.is_open()


def test_a_resolved_future_lets_go_of_its_run(qapp: Any) -> None:
    gate = threading.Event()

    def held(params: dict[str, Any]) -> dict[str, Any]:
        gate.wait(10)
        return {"ran": True}

    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("p", run=held))
    orchestrator = PluginOrchestrator(plugin_manager=plugins)
    try:
        workflow = Workflow("wf")
        workflow.add_step(WorkflowStep("a", "p", "run"))
        assert orchestrator.register_workflow(workflow)
        assert orchestrator.set_history_limit(0)  # the run leaves the history as it ends
        engine = orchestrator._core.engine
        future = orchestrator.execute_workflow_async("wf")
        run = weakref.ref(engine.get_run(future.execution_id))
        assert run() is not None
        gate.set()
        assert future.result(10)
        engine.pump.drain(None)  # the terminal event (it carries the run) is delivered
        gc.collect()
        assert run() is None  # the future the application keeps does not keep the run
        assert future.cancel() is False  # done: cancelling does nothing
    finally:
        orchestrator.shutdown()
