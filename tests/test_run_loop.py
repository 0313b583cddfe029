"""The batch run loop's hot-path contracts (issue #14): what it saves must not change what a
user sees, and the savings themselves are counted, not timed."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from qtforge_orch import ExecutionMode, FunctionPlugin, PluginManager, PluginOrchestrator, Workflow
from qtforge_orch._engine import run_lock, workers
from qtforge_orch.testing import HangingPlugin

from .helpers import status_of, step

pytestmark = pytest.mark.timeout(30)


def _chain(
    steps: int, mode: ExecutionMode = ExecutionMode.Sequential, workflow_id: str = "chain"
) -> Workflow:
    workflow = Workflow(workflow_id).set_execution_mode(mode)
    for index in range(steps):
        deps = [f"s{index - 1}"] if index else []
        workflow.add_step(step(f"s{index}", "p", "noop", *deps))
    return workflow


class CountingLock(run_lock.RunLock):
    """A RunLock that counts how often it is taken (every run built while installed)."""

    taken = 0

    def __enter__(self) -> run_lock.RunLock:
        CountingLock.taken += 1
        return super().__enter__()


def test_a_drainer_takes_its_next_task_in_the_lock_hold_that_records_the_last(
    orchestrator: PluginOrchestrator, plugins: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins.register_plugin(FunctionPlugin("p", noop=lambda params: {}))
    assert orchestrator.register_workflow(_chain(200))
    from qtforge_orch._engine import run as run_module

    monkeypatch.setattr(run_module, "RunLock", CountingLock)
    CountingLock.taken = 0
    assert orchestrator.execute_workflow("chain")
    # One hold per step (record + take the next), plus a handful per execution (start, the
    # drainer's first take, finish, the status the facade reads): two per step before.
    assert CountingLock.taken <= 200 + 20, CountingLock.taken


def test_drainers_hand_over_the_gil_only_while_the_owner_thread_can_use_it(
    orchestrator: PluginOrchestrator, plugins: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each step moves the drainers' clock by 2 ms: with the owner thread blocked in a
    synchronous wait no step hands the GIL over; with it free (an asynchronous start), steps
    do, so its timers and slots stay on time."""
    plugins.register_plugin(FunctionPlugin("p", noop=lambda params: {}))
    assert orchestrator.register_workflow(_chain(40))
    clock = [0.0]
    sleeps: list[float] = []

    class FakeTime:
        monotonic = staticmethod(__import__("time").monotonic)

        @staticmethod
        def perf_counter() -> float:
            clock[0] += 0.002
            return clock[0]

        @staticmethod
        def sleep(seconds: float) -> None:
            sleeps.append(seconds)

    monkeypatch.setattr(workers, "time", FakeTime)
    assert orchestrator.execute_workflow("chain")
    assert sleeps == []
    last_ran = threading.Event()

    def last(params: dict[str, Any]) -> dict[str, Any]:
        last_ran.set()
        return {}

    plugins.register_plugin(FunctionPlugin("q", last=last))
    free = _chain(40, workflow_id="free")
    free.add_step(step("last", "q", "last", "s39"))
    assert orchestrator.register_workflow(free)
    execution_id = orchestrator.execute_workflow("free", async_=True).value()
    # The owner thread waits outside the pump: its event loop could run, so drainers yield.
    assert last_ran.wait(5)
    assert orchestrator.wait_for_execution(execution_id, 5000)
    assert len(sleeps) >= 30, len(sleeps)


def test_a_cancelled_execution_keeps_the_progress_it_had_reached(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    """Progress is computed when read while a run goes on; a cancelled run keeps the value
    it stopped at, not the count of steps its cancellation settled."""
    gate = HangingPlugin()
    plugins.register_plugin(FunctionPlugin("p", noop=lambda params: {}, hang=gate))
    workflow = Workflow("stopped")
    for index in range(3):
        workflow.add_step(step(f"s{index}", "p", "noop", *([f"s{index - 1}"] if index else [])))
    workflow.add_step(step("hang", "p", "hang", "s2"))
    for index in range(3, 8):
        workflow.add_step(step(f"s{index}", "p", "noop", "hang" if index == 3 else f"s{index - 1}"))
    assert orchestrator.register_workflow(workflow)
    execution_id = orchestrator.execute_workflow("stopped", async_=True).value()
    assert gate.entered.wait(5)
    assert status_of(orchestrator, execution_id)["progress"] == pytest.approx(3 / 9)
    assert orchestrator.cancel_workflow(execution_id)
    gate.release()
    assert orchestrator.wait_for_execution(execution_id, 5000)
    status = status_of(orchestrator, execution_id)
    assert status["status"] == "cancelled"
    assert status["progress"] == pytest.approx(3 / 9)


def test_progress_is_posted_while_the_run_goes_on(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    """Progress is only computed at its posting thresholds now: a run held halfway still
    posts what it reached, to within the one percent between posts."""
    gate = HangingPlugin()
    plugins.register_plugin(FunctionPlugin("p", noop=lambda params: {}, hang=gate))
    workflow = _chain(100, workflow_id="held")
    workflow.add_step(step("hang", "p", "hang", "s99"))
    for index in range(100, 199):
        workflow.add_step(
            step(f"s{index}", "p", "noop", f"s{index - 1}" if index > 100 else "hang")
        )
    assert orchestrator.register_workflow(workflow)
    seen: list[float] = []
    orchestrator.execution_progress_updated.connect(lambda _id, value: seen.append(value))
    with qtbot.waitSignal(
        orchestrator.execution_progress_updated,
        timeout=5000,
        check_params_cb=lambda _id, value: 0.49 <= value <= 0.5,
    ):
        execution_id = orchestrator.execute_workflow("held", async_=True).value()
    assert gate.entered.wait(5)
    gate.release()
    assert orchestrator.wait_for_execution(execution_id, 5000)
    assert seen == sorted(seen) and seen[-1] == 1.0


@pytest.mark.slow
def test_a_batch_workflow_without_conditions_loads_only_what_it_uses() -> None:
    """Cold start (issue #14, B16): a plain batch workflow loads neither the condition
    language, nor the Streaming or EventDriven schedulers; they load with the first workflow
    that uses them."""
    code = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from qtforge_orch import FunctionPlugin, PluginManager, PluginOrchestrator, Workflow, WorkflowStep
plugins = PluginManager()
plugins.register_plugin(FunctionPlugin("p", noop=lambda params: {}))
orchestrator = PluginOrchestrator(plugin_manager=plugins)
workflow = Workflow("w").add_step(WorkflowStep("a", "p", "noop"))
assert orchestrator.register_workflow(workflow)
assert orchestrator.execute_workflow("w")
unwanted = [name for name in (
    "qtforge_orch._conditions", "celpy", "qtforge_orch._engine.stream_scheduler",
    "qtforge_orch._engine.event_scheduler",
) if name in sys.modules]
assert not unwanted, unwanted
step = WorkflowStep("b", "p", "noop")
step.condition = "x == 1"
assert orchestrator.register_workflow(Workflow("c").add_step(step))
assert "qtforge_orch._conditions" in sys.modules
orchestrator.shutdown()
"""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_cancelled_timers_are_purged_without_a_lock_per_cancel() -> None:
    """Finishing runs cancel their timers from any thread without taking the timer service's
    lock; the next timer armed purges the heap once cancelled entries dominate it."""
    from qtforge_orch._engine.timers import TimerService

    service = TimerService()
    handles = [service.call_later(3600.0, lambda: None) for _ in range(3000)]
    cancelling = [
        threading.Thread(target=lambda part=part: [h.cancel() for h in part])
        for part in (handles[:1500], handles[1500:])
    ]
    for thread in cancelling:
        thread.start()
    for thread in cancelling:
        thread.join()
    kept = service.call_later(3600.0, lambda: None)
    assert len(service._heap) < 100
    assert not kept.cancelled
    kept.cancel()


def test_a_runs_done_event_is_built_on_demand_and_set_if_the_run_already_ended(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin("p", noop=lambda params: {}))
    assert orchestrator.register_workflow(_chain(3))
    future = orchestrator.execute_workflow_async("chain")
    assert future.result(timeout=5)
    # The run marks itself done after resolving the future, on the drainer that finished it.
    assert orchestrator._core.engine.executor.wait_for_done(5000)
    run = orchestrator._core.engine.get_run(future.execution_id)
    assert run is not None and run.is_done()
    assert run.end._done is None  # nobody waited on it: never built
    assert run.done.is_set() and run.done is run.done
