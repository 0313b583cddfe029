"""Signals (thread, order, count), sync and async execution from every kind of caller."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest
from PySide6.QtCore import QThread, QThreadPool

from qtforge_orch import (
    ExecutionMode,
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    StepContext,
    Workflow,
)
from qtforge_orch.testing import HangingPlugin

from .helpers import status_of, step

pytestmark = pytest.mark.timeout(30)


def two_step(orch: PluginOrchestrator, plugins: PluginManager, wf_id: str = "two") -> None:
    plugins.register_plugin(FunctionPlugin("p", a=lambda p: {"a": 1}, b=lambda p: {"b": 2}))
    wf = Workflow(wf_id).set_execution_mode(ExecutionMode.Sequential)
    wf.add_step(step("a", "p", "a")).add_step(step("b", "p", "b", "a"))
    assert orch.register_workflow(wf)


def test_signals_strict_order_in_the_orchestrators_thread(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    two_step(orchestrator, plugins)
    threads: list[QThread] = []
    orchestrator.step_started.connect(lambda *a: threads.append(QThread.currentThread()))
    orchestrator.step_completed.connect(lambda *a: threads.append(QThread.currentThread()))
    orchestrator.workflow_completed.connect(lambda *a: threads.append(QThread.currentThread()))
    signals = [
        orchestrator.workflow_started,
        orchestrator.step_started,
        orchestrator.step_completed,
        orchestrator.step_started,
        orchestrator.step_completed,
        orchestrator.workflow_completed,
    ]
    with qtbot.waitSignals(signals, order="strict", timeout=5000):
        execution = orchestrator.execute_workflow("two", async_=True)
    assert execution
    assert threads and all(t == orchestrator.thread() for t in threads)


def test_sync_execution_delivers_all_signals_before_returning(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    two_step(orchestrator, plugins)
    seen: list[tuple[str, Any]] = []
    orchestrator.workflow_started.connect(lambda e, w: seen.append(("started", w)))
    orchestrator.step_completed.connect(lambda e, s, r: seen.append(("step", s)))
    orchestrator.execution_progress_updated.connect(lambda e, p: seen.append(("progress", p)))
    orchestrator.workflow_completed.connect(lambda e, r: seen.append(("completed", r)))
    execution = orchestrator.execute_workflow("two")
    assert execution
    names = [s[0] for s in seen]
    assert names[0] == "started" and names[-1] == "completed"
    assert ("step", "a") in seen and ("step", "b") in seen
    progress = [p for n, p in seen if n == "progress"]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert names.index("completed") > max(i for i, n in enumerate(names) if n == "progress")
    assert seen[-1][1] == {"a": 1, "b": 2}


def test_failed_run_emits_exactly_one_terminal_signal(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    def boom(params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("no")

    plugins.register_plugin(FunctionPlugin("p", boom=boom))
    assert orchestrator.register_workflow(Workflow("f").add_step(step("s", "p", "boom")))
    terminal: list[str] = []
    orchestrator.workflow_completed.connect(lambda *a: terminal.append("completed"))
    orchestrator.workflow_failed.connect(lambda *a: terminal.append("failed"))
    orchestrator.workflow_cancelled.connect(lambda *a: terminal.append("cancelled"))
    with qtbot.waitSignals(
        [orchestrator.workflow_started, orchestrator.step_failed, orchestrator.workflow_failed],
        order="strict",
        timeout=5000,
    ):
        orchestrator.execute_workflow("f", async_=True)
    assert terminal == ["failed"]


def test_async_execution_progresses_without_pumping_events(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    two_step(orchestrator, plugins)
    execution = orchestrator.execute_workflow("two", async_=True)
    assert execution
    future = orchestrator.execute_workflow_async("two")
    # .result() blocks this (GUI) thread without running its event loop
    assert future.result(timeout=10).value() == {"a": 1, "b": 2}
    assert orchestrator.wait_for_execution(execution.value(), 10_000)
    assert status_of(orchestrator, execution.value())["status"] == "completed"


def test_sync_execution_from_a_pool_worker_and_nested_workflows_do_not_deadlock(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    """A plugin step that runs another workflow synchronously, on a one-thread pool."""
    orchestrator.thread_pool().setMaxThreadCount(1)
    two_step(orchestrator, plugins, "inner")

    def outer(params: dict[str, Any]) -> dict[str, Any]:
        inner = orchestrator.execute_workflow("inner")
        return {"inner_ok": bool(inner), "inner_thread": threading.get_ident()}

    plugins.register_plugin(FunctionPlugin("runner", outer=outer))
    assert orchestrator.register_workflow(Workflow("outer").add_step(step("s", "runner", "outer")))
    execution = orchestrator.execute_workflow("outer")
    assert execution, execution
    assert status_of(orchestrator, execution.value())["result"]["inner_ok"] is True


def test_sync_execution_from_a_plain_thread(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    two_step(orchestrator, plugins)
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(orchestrator.execute_workflow("two")))
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    assert results[0], results


@pytest.mark.slow
def test_plain_script_without_qapplication() -> None:
    """The reference's Python snippet, in a fresh interpreter with no Qt application."""
    script = textwrap.dedent(
        """
        import qtforge_orch as qtforge
        from PySide6.QtCore import QCoreApplication
        assert QCoreApplication.instance() is None
        manager = qtforge.PluginManager()
        manager.register_plugin(qtforge.FunctionPlugin("data_loader", load=lambda p: {"rows": 2}))
        manager.register_plugin(qtforge.FunctionPlugin("processor",
            transform=lambda p: {"double": p["rows"] * 2}))
        orchestrator = qtforge.orchestration.PluginOrchestrator(plugin_manager=manager)
        seen = []
        orchestrator.step_completed.connect(lambda e, s, r: seen.append(s))
        workflow = qtforge.orchestration.Workflow("data_pipeline", "Data Pipeline")
        workflow.set_execution_mode(qtforge.orchestration.ExecutionMode.Sequential)
        step1 = qtforge.orchestration.WorkflowStep("load", "data_loader", "load")
        step1.parameters = {"source": "input.csv"}
        step2 = qtforge.orchestration.WorkflowStep("process", "processor", "transform")
        step2.dependencies = ["load"]
        workflow.add_step(step1).add_step(step2)
        orchestrator.register_workflow(workflow)
        execution_id = orchestrator.execute_workflow("data_pipeline")
        status = orchestrator.get_execution_status(execution_id.value()).value()
        assert status["status"] == "completed", status
        assert status["result"]["double"] == 4
        assert seen == ["load", "process"], seen
        async_id = orchestrator.execute_workflow("data_pipeline", async_=True).value()
        import time
        deadline = time.monotonic() + 10
        while orchestrator.get_execution_status(async_id).value()["status"] != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.005)
        print("OK")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("OK")


def test_execute_workflow_async_is_awaitable_under_qasync(
    qapp: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    import qasync

    two_step(orchestrator, plugins)
    loop = qasync.QEventLoop(qapp, already_running=False)
    try:

        async def main() -> list[Any]:
            futures = [orchestrator.execute_workflow_async("two") for _ in range(20)]
            missing = orchestrator.execute_workflow_async("nope")
            return [*(await asyncio.gather(*futures)), await missing]

        results = loop.run_until_complete(asyncio.wait_for(main(), 10))
    finally:
        loop.close()
    assert all(r.value() == {"a": 1, "b": 2} for r in results[:-1])
    assert results[-1].error().code == PluginErrorCode.NotFound


def test_custom_thread_pool_is_used(qapp: Any, plugins: PluginManager) -> None:
    pool = QThreadPool()
    pool.setMaxThreadCount(2)
    orch = PluginOrchestrator(plugin_manager=plugins, thread_pool=pool)
    assert orch.thread_pool() is pool
    main = threading.get_ident()
    seen: list[int] = []
    plugins.register_plugin(
        FunctionPlugin("p", where=lambda p: seen.append(threading.get_ident()) or {})
    )
    assert orch.register_workflow(Workflow("w").add_step(step("s", "p", "where")))
    assert orch.execute_workflow("w")
    assert seen and seen[0] != main
    assert orch.shutdown(5000)


def test_many_concurrent_async_executions_all_finish(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    two_step(orchestrator, plugins)
    futures = [orchestrator.execute_workflow_async("two") for _ in range(200)]
    assert all(f.result(timeout=20) for f in futures)
    assert orchestrator.list_active_executions() == []


def test_status_while_running_and_list_active(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    gate = HangingPlugin()
    plugins.register_plugin(FunctionPlugin("p", a=lambda p: {}, hang=gate))
    wf = Workflow("watch").add_step(step("a", "p", "a")).add_step(step("hang", "p", "hang", "a"))
    assert orchestrator.register_workflow(wf)
    execution_id = orchestrator.execute_workflow("watch", async_=True).value()
    assert gate.entered.wait(5)
    running = status_of(orchestrator, execution_id)
    assert running["status"] == "running"
    assert running["current_step"] == "hang"
    assert running["completed_steps"] == 1 and running["total_steps"] == 2
    assert running["progress"] == 0.5
    assert running["workflow_id"] == "watch" and running["execution_id"] == execution_id
    assert running["start_time"] and running["end_time"] is None
    assert orchestrator.list_active_executions() == [execution_id]
    gate.release()
    assert orchestrator.wait_for_execution(execution_id, 5000)
    done = status_of(orchestrator, execution_id)
    assert done["status"] == "completed" and done["end_time"] and done["progress"] == 1.0
    assert orchestrator.list_active_executions() == []


def test_wait_for_execution_times_out(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    gate = HangingPlugin()
    plugins.register_plugin(FunctionPlugin("p", hang=gate))
    assert orchestrator.register_workflow(Workflow("w").add_step(step("s", "p", "hang")))
    execution_id = orchestrator.execute_workflow("w", async_=True).value()
    assert orchestrator.wait_for_execution(execution_id, 30) is False
    gate.release()
    assert orchestrator.wait_for_execution(execution_id, 5000) is True
    assert orchestrator.wait_for_execution("unknown", 10) is False


def test_step_progress_reported_through_the_context_feeds_execution_progress(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    reported = threading.Event()
    release = threading.Event()

    def halfway(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        context.report_progress(0.5, "half the rows")
        reported.set()
        release.wait(10)
        return {}

    plugins.register_plugin(FunctionPlugin("p", halfway=halfway, after=lambda p: {}))
    wf = Workflow("progressive").add_step(step("slow", "p", "halfway"))
    wf.add_step(step("after", "p", "after", "slow"))
    assert orchestrator.register_workflow(wf)
    with qtbot.waitSignal(
        orchestrator.execution_progress_updated,
        timeout=5000,
        check_params_cb=lambda e, progress: progress == 0.25,
    ):
        execution_id = orchestrator.execute_workflow("progressive", async_=True).value()
    try:
        assert reported.wait(5)
        status = status_of(orchestrator, execution_id)
        assert status["progress"] == 0.25
        assert status["step_progress"]["slow"] == {"progress": 0.5, "message": "half the rows"}
    finally:
        release.set()
    assert orchestrator.wait_for_execution(execution_id, 5000)
    assert status_of(orchestrator, execution_id)["progress"] == 1.0


def test_sync_execution_inside_a_running_qt_event_loop(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    from PySide6.QtCore import QTimer

    two_step(orchestrator, plugins)
    results: list[Any] = []
    started: list[str] = []
    orchestrator.workflow_started.connect(lambda e, w: started.append(e))
    QTimer.singleShot(0, lambda: results.append(orchestrator.execute_workflow("two")))
    qtbot.waitUntil(lambda: bool(results), timeout=5000)  # runs the Qt event loop
    assert results[0], results[0]
    assert started == [results[0].value()]


def test_cancelling_a_sync_execution_returns_operation_cancelled(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    gate = HangingPlugin()
    plugins.register_plugin(FunctionPlugin("p", hang=gate))
    assert orchestrator.register_workflow(Workflow("w").add_step(step("s", "p", "hang")))
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(orchestrator.execute_workflow("w")))
    worker.start()
    assert gate.entered.wait(5)
    [execution_id] = orchestrator.list_active_executions()
    assert orchestrator.cancel_workflow(execution_id)
    worker.join(10)
    assert not worker.is_alive()
    error = results[0].error()
    assert error.code == PluginErrorCode.OperationCancelled
    assert error.context["execution_id"] == execution_id


@pytest.mark.slow
def test_exiting_the_interpreter_mid_run_cancels_compensates_and_exits() -> None:
    """No shutdown() call: the exit hook cancels, runs the rollback, joins and lets go."""
    script = textwrap.dedent(
        """
        import sys, threading
        import qtforge_orch as q
        from PySide6.QtCore import QCoreApplication
        app = QCoreApplication([])
        manager = q.PluginManager()
        entered = threading.Event()
        def hang(params, context):
            entered.set()
            while not context.wait(0.01):
                pass
            return {}
        manager.register_plugin(q.FunctionPlugin("p", first=lambda p: {"made": 1}, hang=hang,
            undo=lambda p: print("compensated", p["made"], flush=True) or {}))
        orch = q.PluginOrchestrator(plugin_manager=manager)
        wf = q.Workflow("w")
        wf.add_step(q.WorkflowStep("first", "p", "first"))
        s = q.WorkflowStep("hang", "p", "hang"); s.dependencies = ["first"]
        wf.add_step(s)
        wf.add_rollback_step("first", q.WorkflowStep("undo", "p", "undo"))
        orch.register_workflow(wf)
        orch.execute_workflow("w", async_=True)
        entered.wait(5)
        print("exiting", flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["exiting", "compensated", "1"]


def test_application_quit_shuts_the_orchestrator_down(qapp: Any, plugins: PluginManager) -> None:
    orch = PluginOrchestrator(plugin_manager=plugins)
    gate = HangingPlugin()
    plugins.register_plugin(FunctionPlugin("p", hang=gate))
    assert orch.register_workflow(Workflow("w").add_step(step("s", "p", "hang")))
    execution_id = orch.execute_workflow("w", async_=True).value()
    assert gate.entered.wait(5)
    qapp.aboutToQuit.emit()
    assert gate.cancelled.wait(5)
    assert status_of(orch, execution_id)["status"] == "cancelled"
    assert orch.list_active_executions() == []
