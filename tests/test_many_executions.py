"""Executions started asynchronously wait in the pool's queue unbuilt until a pool thread
starts them: they read as pending, cancel and pause before their first step, end with the
orchestrator, keep few objects while they wait, and signal in the usual order; a run that left
the history is freed by its last reference."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QThreadPool

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    Workflow,
    WorkflowExecutionStatus,
)
from qtforge_orch.testing import HangingPlugin, RecordingPlugin, SignalRecorder
from tests.helpers import status_of, step
from tests.v2_helpers import Mode, conn, node, register, start, status, workflow

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def held(qapp: Any) -> Iterator[tuple[PluginOrchestrator, HangingPlugin, RecordingPlugin]]:
    """An orchestrator on one pool thread, that thread held by a hanging step of ``hold``;
    ``chain`` is a two-step workflow of a recording plugin."""
    hanging = HangingPlugin("hang")
    recording = RecordingPlugin("rec", execute=lambda params: {"ran": True})
    plugins = PluginManager()
    plugins.register_plugin(hanging)
    plugins.register_plugin(recording)
    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    orchestrator = PluginOrchestrator(plugin_manager=plugins, thread_pool=pool)
    hold = Workflow("hold")
    hold.add_step(step("h", "hang", "execute"))
    chain = Workflow("chain")
    chain.add_step(step("a", "rec", "execute"))
    chain.add_step(step("b", "rec", "execute", "a"))
    assert orchestrator.register_workflow(hold)
    assert orchestrator.register_workflow(chain)
    assert orchestrator.execute_workflow("hold", async_=True)
    assert hanging.entered.wait(10)  # the pool's only thread is busy from now on
    try:
        yield orchestrator, hanging, recording
    finally:
        hanging.release()
        orchestrator.shutdown()
        pool.waitForDone(10_000)


def test_a_run_waiting_for_a_pool_thread_reads_pending(held: Any) -> None:
    orchestrator, hanging, recording = held
    recorder = SignalRecorder(orchestrator)
    execution_id = orchestrator.execute_workflow("chain", {"x": 1}, async_=True).value()
    status = status_of(orchestrator, execution_id)
    assert status["status"] == "pending"
    assert status["workflow_id"] == "chain"
    assert status["total_steps"] == 2
    assert status["completed_steps"] == 0
    assert status["progress"] == 0.0
    assert status["current_step"] == ""
    assert [report["status"] for report in status["step_results"]] == ["Pending", "Pending"]
    assert execution_id in orchestrator.list_active_executions()
    assert recording.call_count == 0
    hanging.release()
    assert orchestrator.wait_for_execution(execution_id, 10_000)
    assert status_of(orchestrator, execution_id)["status"] == "completed"
    assert [params.get("x") for params in recording.calls.params()] == [1, 1]
    recorder.settle(execution_id)
    names = recorder.assert_causal_order(execution_id)
    assert names[0].name == "workflow_started" and names[-1].name == "workflow_completed"


def test_cancelling_a_queued_run_ends_it_before_its_first_step(held: Any) -> None:
    orchestrator, hanging, recording = held
    recorder = SignalRecorder(orchestrator)
    future = orchestrator.execute_workflow_async("chain")
    assert orchestrator.cancel_workflow(future.execution_id)
    outcome = future.result(10)
    assert not outcome and outcome.error().code == PluginErrorCode.OperationCancelled
    assert status_of(orchestrator, future.execution_id)["status"] == "cancelled"
    hanging.release()
    assert orchestrator.wait_for_execution(future.execution_id, 10_000)
    recorder.settle(future.execution_id)
    assert recorder.names(future.execution_id) == ["workflow_started", "workflow_cancelled"]
    assert recording.call_count == 0  # the queued start found it cancelled


def test_pausing_a_queued_run_holds_it_before_its_first_step(qapp: Any) -> None:
    hanging = HangingPlugin("hang")
    recording = RecordingPlugin("rec", execute=lambda params: {"ran": True})
    plugins = PluginManager()
    plugins.register_plugin(hanging)
    plugins.register_plugin(recording)
    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    orchestrator = AdvancedPluginOrchestrator(plugin_manager=plugins, thread_pool=pool)
    try:
        register(orchestrator, workflow("hold", Mode.Sequential, [node("h", "hang")]))
        nodes = [node("a", "rec"), node("b", "rec")]
        register(orchestrator, workflow("chain", Mode.Sequential, nodes, [conn("a", "b")]))
        holding = start(orchestrator, "hold")
        assert hanging.entered.wait(10)
        execution_id = start(orchestrator, "chain")
        assert status(orchestrator, execution_id).status == WorkflowExecutionStatus.Pending
        assert orchestrator.pause_execution(execution_id)
        assert status(orchestrator, execution_id).status == WorkflowExecutionStatus.Paused
        hanging.release()
        assert orchestrator.wait_for_execution(holding, 10_000)
        assert status(orchestrator, execution_id).status == WorkflowExecutionStatus.Paused
        assert recording.call_count == 0
        assert orchestrator.resume_execution(execution_id)
        assert orchestrator.wait_for_execution(execution_id, 10_000)
        assert status(orchestrator, execution_id).status == WorkflowExecutionStatus.Completed
        assert recording.call_count == 2
    finally:
        hanging.release()
        orchestrator.shutdown()
        pool.waitForDone(10_000)


def test_shutdown_ends_the_runs_still_queued(held: Any) -> None:
    orchestrator, _hanging, recording = held
    futures = [orchestrator.execute_workflow_async("chain") for _ in range(5)]
    assert orchestrator.shutdown(10_000)  # the hanging step sees its cancel and returns
    for future in futures:
        assert future.result(10).error().code == PluginErrorCode.OperationCancelled
        assert status_of(orchestrator, future.execution_id)["status"] == "cancelled"
    assert recording.call_count == 0


def test_a_queued_run_keeps_a_few_objects_until_it_starts(held: Any) -> None:
    orchestrator, hanging, recording = held
    count = 200
    gc.collect()
    before = len(gc.get_objects())
    ids = [orchestrator.execute_workflow("chain", async_=True).value() for _ in range(count)]
    gc.collect()
    per_run = (len(gc.get_objects()) - before) / count
    # Its lock, its end, its event link, its compensations list, the queue entry and the ids
    # list's share (11, and what the test itself allocates meanwhile): the task table, the
    # scheduler and their lists come when a pool thread starts it (43 when built at once).
    assert per_run <= 14, per_run
    hanging.release()
    assert all(orchestrator.wait_for_execution(i, 10_000) for i in ids)
    assert recording.call_count == 2 * count


def test_a_run_that_left_the_history_is_freed_without_the_collector(qapp: Any) -> None:
    recording = RecordingPlugin("rec", execute=lambda params: {"ran": True})
    plugins = PluginManager()
    plugins.register_plugin(recording)
    orchestrator = PluginOrchestrator(plugin_manager=plugins)
    engine = orchestrator._core.engine
    chain = Workflow("chain")
    chain.add_step(step("a", "rec", "execute"))
    chain.add_step(step("b", "rec", "execute", "a"))
    gc.disable()  # freed by its last reference, or not at all
    try:
        assert orchestrator.register_workflow(chain)
        assert orchestrator.set_history_limit(2)
        future = orchestrator.execute_workflow_async("chain")
        run = engine.get_run(future.execution_id)
        first = weakref.ref(run)
        held = engine.get_run(orchestrator.execute_workflow("chain").value())
        assert future.result(10)
        del run
        for _ in range(3):  # both leave the history
            assert orchestrator.execute_workflow("chain")
        engine.pump.drain(None)
        assert first() is None
        # One still held by the application reads as it ended.
        assert held is not None and engine.get_run(held.execution_id) is None
        assert held.snapshot().status == "completed"
        held.validate()
        assert engine.wait(held) is None
    finally:
        gc.enable()
        orchestrator.shutdown()
