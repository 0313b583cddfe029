"""``orchestrator.execution(id)``: the handle of a running, ended or journaled execution, on
both orchestrators; the monitor, the models, the graph view and the editor taking an id."""

from __future__ import annotations

import asyncio
import gc
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from qasync import QEventLoop

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    Workflow,
    WorkflowExecution,
    WorkflowStep,
)
from qtforge_orch.testing.plugins import HangingPlugin
from qtforge_orch.widgets import (
    StepsModel,
    VisualWorkflowEditor,
    WorkflowGraphView,
    WorkflowMonitor,
)

from .v2_helpers import Mode, conn, fn, node, register, workflow

pytestmark = pytest.mark.timeout(30)


def chain(orch: PluginOrchestrator, plugins: PluginManager, gate: Any = None) -> None:
    commands: dict[str, Any] = {"run": lambda p: {"n": p.get("n", 0) + 1}, "boom": lambda p: 1 / 0}
    if gate is not None:
        commands["wait"] = gate
    plugins.register_plugin(FunctionPlugin("p", **commands))
    wf = Workflow("wf")
    wf.add_step(WorkflowStep("a", "p", "wait" if gate is not None else "run"))
    second = WorkflowStep("b", "p", "run")
    second.dependencies = ["a"]
    wf.add_step(second)
    assert orch.register_workflow(wf)


def failing(orch: PluginOrchestrator, plugins: PluginManager) -> None:
    plugins.register_plugin(FunctionPlugin("f", boom=lambda p: 1 / 0))
    wf = Workflow("bad")
    wf.add_step(WorkflowStep("x", "f", "boom"))
    assert orch.register_workflow(wf)


def graph(advanced: AdvancedPluginOrchestrator, plugins: PluginManager, gate: Any = None) -> None:
    fn(plugins, "first", gate if gate is not None else (lambda p: {"v": 1}))
    fn(plugins, "second", lambda p: {"v": 2})
    register(
        advanced,
        workflow("g", Mode.Sequential, [node("first"), node("second")], [conn("first", "second")]),
    )


# --- running executions ---------------------------------------------------------------------


def test_v1_running_execution_by_id_behaves_like_start_workflow(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    gate = HangingPlugin()
    chain(orchestrator, plugins, gate)
    execution_id = orchestrator.execute_workflow("wf", {"n": 1}, async_=True).value()
    qtbot.waitUntil(gate.entered.is_set, timeout=5000)
    handle = orchestrator.execution(execution_id).value()
    assert isinstance(handle, WorkflowExecution)
    assert handle.status() == "running" and not handle.is_finished()
    assert handle.execution_id() == execution_id and handle.workflow_id() == "wf"
    record = handle.step("a")
    assert record is not None and record.status == "running"
    finished: list[tuple[str, str]] = []
    handle.step_finished.connect(lambda step, status, _: finished.append((step, status)))
    with qtbot.waitSignal(handle.finished, timeout=10_000) as blocker:
        gate.release()
    assert blocker.args[0] == "completed"
    assert finished == [("a", "completed"), ("b", "completed")]  # each once
    assert handle.result().value()["n"] == 2  # the gate passes n on, b adds one
    assert orchestrator.execution(execution_id).value() is handle


def test_v1_cancel_through_a_handle_found_by_id(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    gate = HangingPlugin()
    chain(orchestrator, plugins, gate)
    execution_id = orchestrator.execute_workflow("wf", async_=True).value()
    qtbot.waitUntil(gate.entered.is_set, timeout=5000)
    handle = orchestrator.execution(execution_id).value()
    with qtbot.waitSignal(handle.finished, timeout=10_000) as blocker:
        assert handle.cancel()
    assert blocker.args[0] == "cancelled"
    assert handle.result().error().code == PluginErrorCode.OperationCancelled


def test_v2_running_execution_by_id_can_be_awaited(
    qapp: Any, qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    gate = HangingPlugin()
    graph(advanced, plugins, gate)
    execution_id = advanced.execute_workflow("g").value()
    qtbot.waitUntil(gate.entered.is_set, timeout=5000)
    handle = advanced.execution(execution_id).value()
    assert handle.supports_pause() and handle.status() == "running"
    loop = QEventLoop(qapp, already_running=False)

    async def main() -> Any:
        gate.release()
        return await handle

    try:
        outcome = loop.run_until_complete(asyncio.wait_for(main(), 10))
    finally:
        loop.close()
    assert outcome, outcome.error()
    assert handle.status() == "completed"
    record = handle.step("second")
    assert record is not None and record.status == "completed"


def test_the_handle_of_start_workflow_is_the_one_returned_by_id(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    chain(orchestrator, plugins)
    handle = orchestrator.start_workflow("wf").value()
    assert orchestrator.execution(handle.execution_id()).value() is handle
    assert handle.wait(10_000)
    assert orchestrator.execution(handle.execution_id()).value() is handle


# --- ended executions -----------------------------------------------------------------------


def test_finished_execution_by_id_is_done_with_its_result(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    chain(orchestrator, plugins)
    failing(orchestrator, plugins)
    done = orchestrator.execute_workflow("wf", {"n": 10}).value()
    broken = orchestrator.execute_workflow("bad")
    assert not broken
    broken_id = broken.error().context["execution_id"]
    handle = orchestrator.execution(done).value()
    assert handle.is_finished() and handle.status() == "completed"
    assert handle.result().value()["n"] == 12
    assert handle.current_progress() == 1.0
    assert [handle.step(s).status for s in ("a", "b")] == ["completed", "completed"]  # type: ignore[union-attr]
    # Its steps have the engine's times, as its status reports them.
    a = handle.step("a")
    assert a is not None and a.started_at is not None and a.finished_at is not None
    report = orchestrator.get_execution_status(done).value()["step_results"][0]
    assert datetime.fromtimestamp(a.started_at, UTC).isoformat() == report["start_time"]
    assert datetime.fromtimestamp(a.finished_at, UTC).isoformat() == report["end_time"]
    assert handle.wait(0)
    # A late connection gets the same replay as on a start_workflow handle.
    seen: list[tuple[str, str]] = []
    handle.step_finished.connect(lambda step, status, _: seen.append((step, status)))
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    assert seen == [("a", "completed"), ("b", "completed")]
    failed = orchestrator.execution(broken_id).value()
    assert failed.status() == "failed"
    assert failed.result().error().code == PluginErrorCode.ExecutionFailed
    assert "ZeroDivisionError" in failed.step("x").error  # type: ignore[union-attr]
    assert failed.cancel().error().code == PluginErrorCode.InvalidState
    # Done callbacks and awaiting work at once on an ended execution.
    calls: list[str] = []
    failed.add_done_callback(lambda h: calls.append(h.status()))
    assert calls == ["failed"]


def test_an_ended_handle_dropped_by_everyone_is_made_again(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    chain(orchestrator, plugins)
    execution_id = orchestrator.execute_workflow("wf").value()
    first = orchestrator.execution(execution_id).value()
    assert orchestrator.execution(execution_id).value() is first
    del first
    gc.collect()
    again = orchestrator.execution(execution_id).value()
    assert again.status() == "completed" and again.result().value()["n"] == 2


def test_journaled_executions_of_an_earlier_orchestrator(
    tmp_path: Path, plugins: PluginManager
) -> None:
    journal = tmp_path / "runs.sqlite"
    first = PluginOrchestrator(plugin_manager=plugins, journal=str(journal))
    chain(first, plugins)
    failing(first, plugins)
    done = first.execute_workflow("wf", {"n": 5}).value()
    broken = first.execute_workflow("bad").error().context["execution_id"]
    assert first.shutdown(5000)
    first.journal().close()  # type: ignore[union-attr]
    del first
    gc.collect()
    later = PluginOrchestrator(plugin_manager=plugins, journal=str(journal))
    try:
        handle = later.execution(done).value()
        assert handle.is_finished() and handle.status() == "completed"
        assert handle.result().value()["n"] == 7
        assert handle.step("b").output == {"n": 7}  # type: ignore[union-attr]
        failed = later.execution(broken).value()
        assert failed.status() == "failed"
        assert not failed.result()
        assert later.execution("never-ran").error().code == PluginErrorCode.NotFound
    finally:
        assert later.shutdown(5000)


def test_v2_journaled_execution_by_id(tmp_path: Path, plugins: PluginManager) -> None:
    journal = tmp_path / "runs.sqlite"
    first = AdvancedPluginOrchestrator(plugin_manager=plugins, journal=str(journal))
    graph(first, plugins)
    execution_id = first.execute_workflow("g").value()
    assert first.wait_for_execution(execution_id, 10_000)
    assert first.shutdown(5000)
    first.journal().close()  # type: ignore[union-attr]
    del first
    gc.collect()
    later = AdvancedPluginOrchestrator(plugin_manager=plugins, journal=str(journal))
    try:
        handle = later.execution(execution_id).value()
        assert handle.status() == "completed"
        assert handle.step("second").output == {"v": 2}  # type: ignore[union-attr]
    finally:
        assert later.shutdown(5000)


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["v1", "v2"])
def test_bad_ids_are_refused_with_the_right_code(
    which: str, orchestrator: PluginOrchestrator, advanced: AdvancedPluginOrchestrator
) -> None:
    orch: Any = orchestrator if which == "v1" else advanced
    missing = orch.execution("no-such-execution")
    assert missing.error().code == PluginErrorCode.NotFound
    assert "no-such-execution" in missing.error().message
    assert orch.execution(42).error().code == PluginErrorCode.InvalidArgument
    assert orch.execution(None).error().code == PluginErrorCode.InvalidArgument


def test_execution_from_another_thread_is_refused(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    chain(orchestrator, plugins)
    execution_id = orchestrator.execute_workflow("wf").value()
    found: list[Any] = []
    worker = threading.Thread(target=lambda: found.append(orchestrator.execution(execution_id)))
    worker.start()
    worker.join(5)
    assert found[0].error().code == PluginErrorCode.ThreadingError


# --- widgets taking an id ---------------------------------------------------------------------


def test_monitor_shows_an_execution_by_id(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    chain(orchestrator, plugins)
    monitor = WorkflowMonitor(orchestrator, "wf")
    qtbot.addWidget(monitor)
    execution_id = orchestrator.execute_workflow("wf").value()
    with qtbot.waitSignal(monitor.execution_finished, timeout=5000) as blocker:
        shown = monitor.set_execution(execution_id)
    assert shown and shown.value().execution_id() == execution_id
    assert blocker.args == ["completed"]
    monitor.flush()
    model = monitor.steps_model()
    assert [model.data(model.index(r, StepsModel.STATUS)) for r in range(2)] == [
        "completed",
        "completed",
    ]
    assert monitor.progress_bar().value() == 1000
    table = monitor.steps_view()
    assert table.isColumnHidden(StepsModel.ROLLBACK)  # nothing was rolled back
    assert table.isColumnHidden(StepsModel.RUNS) and not table.isColumnHidden(StepsModel.ATTEMPTS)
    refused = monitor.set_execution("nope")
    assert refused.error().code == PluginErrorCode.NotFound
    assert monitor.execution() is shown.value()  # unchanged
    monitor.flush()
    assert "cannot show execution" in monitor.log_view().toPlainText()
    assert monitor.set_execution(3.5).error().code == PluginErrorCode.InvalidArgument  # type: ignore[arg-type]


def test_models_graph_view_and_editor_take_an_id(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    chain(orchestrator, plugins)
    execution_id = orchestrator.execute_workflow("wf").value()
    model = StepsModel(execution_id, orchestrator=orchestrator)
    assert model.rowCount() == 2 and model.handle() is not None
    assert model.data(model.index(1, StepsModel.STATUS)) == "completed"
    other = StepsModel()
    assert other.set_handle(execution_id).error().code == PluginErrorCode.InvalidArgument
    assert other.set_handle(execution_id, orchestrator)
    assert other.handle() is model.handle()
    assert other.set_handle("nope", orchestrator).error().code == PluginErrorCode.NotFound
    assert other.handle() is model.handle()  # unchanged after a refusal

    view = WorkflowGraphView()
    qtbot.addWidget(view)
    view.set_workflow(orchestrator.get_workflow("wf").value())
    assert view.set_execution(execution_id, orchestrator)
    assert view.execution() is model.handle()
    assert view.set_execution(execution_id).error().code == PluginErrorCode.InvalidArgument

    editor = VisualWorkflowEditor()
    qtbot.addWidget(editor)
    assert editor.load_workflow(orchestrator.get_workflow("wf").value())
    assert editor.attach_execution(execution_id, orchestrator)
    assert editor.execution() is model.handle()
    assert editor.attach_execution("nope", orchestrator).error().code == PluginErrorCode.NotFound


def test_the_handle_of_a_resumed_execution(
    qtbot: Any, tmp_path: Path, plugins: PluginManager
) -> None:
    broken = {"yes": True}

    def flaky(params: dict[str, Any]) -> dict[str, Any]:
        if broken["yes"]:
            raise RuntimeError("not yet")
        return {"done": True}

    plugins.register_plugin(FunctionPlugin("r", first=lambda p: {"n": 1}, second=flaky))
    orch = PluginOrchestrator(plugin_manager=plugins, journal=str(tmp_path / "j.sqlite"))
    try:
        wf = Workflow("resumable")
        wf.add_step(WorkflowStep("one", "r", "first"))
        two = WorkflowStep("two", "r", "second")
        two.dependencies = ["one"]
        wf.add_step(two)
        assert orch.register_workflow(wf)
        failed = orch.execute_workflow("resumable").error().context["execution_id"]
        broken["yes"] = False
        resumed = orch.resume_execution(failed).value()
        handle = orch.execution(resumed).value()
        assert handle.wait(10_000)
        assert handle.status() == "completed" and handle.result().value()["done"] is True
        assert orch.execution(failed).value().status() == "failed"
    finally:
        assert orch.shutdown(5000)
