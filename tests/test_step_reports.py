"""What handles, models and the monitor report per step: rolled-back steps once (plus a
separate rolled-back report, their time their own run's), EventDriven runs and events."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtTest import QAbstractItemModelTester

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    EventKind,
    FunctionPlugin,
    PluginManager,
    PluginOrchestrator,
    Workflow,
    WorkflowStep,
)
from qtforge_orch.widgets import (
    StepsModel,
    VisualWorkflowEditor,
    WorkflowMonitor,
    status_color,
)

from .v2_helpers import Mode, NodeType, conn, fn, node, register, workflow

pytestmark = pytest.mark.timeout(30)
ROLLBACK_S = 0.3


def undone_chain(orch: PluginOrchestrator, plugins: PluginManager) -> None:
    """Three steps with rollback steps that take ROLLBACK_S each, then a failing fourth."""
    slow_undo = threading.Event()  # never set: each rollback waits out ROLLBACK_S

    def undo(params: dict[str, Any]) -> dict[str, Any]:
        slow_undo.wait(ROLLBACK_S)
        return {}

    plugins.register_plugin(
        FunctionPlugin("p", run=lambda p: {"ok": True}, boom=lambda p: 1 / 0, undo=undo)
    )
    wf = Workflow("undone")
    previous = ""
    for step_id in ("s1", "s2", "s3"):
        step = WorkflowStep(step_id, "p", "run")
        if previous:
            step.dependencies = [previous]
        wf.add_step(step)
        wf.add_rollback_step(step_id, WorkflowStep(f"undo_{step_id}", "p", "undo"))
        previous = step_id
    last = WorkflowStep("s4", "p", "boom")
    last.dependencies = ["s3"]
    wf.add_step(last)
    assert orch.register_workflow(wf)


@pytest.mark.slow
def test_rolled_back_steps_finish_once_and_keep_their_own_time(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    undone_chain(orchestrator, plugins)
    handle = orchestrator.start_workflow("undone").value()
    finished: list[tuple[str, str]] = []
    rolled_back: list[str] = []
    handle.step_finished.connect(lambda step, status, _: finished.append((step, status)))
    handle.step_rolled_back.connect(lambda step, detail: rolled_back.append(step))
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    # 4 steps, 4 finished reports; the rollbacks are reported apart, newest first.
    assert finished == [
        ("s1", "completed"),
        ("s2", "completed"),
        ("s3", "completed"),
        ("s4", "failed"),
    ]
    assert sorted(rolled_back) == ["s1", "s2", "s3"]
    for step_id in ("s1", "s2", "s3"):
        record = handle.step(step_id)
        assert record is not None
        assert (record.status, record.rollback) == ("rolled_back", "completed")
        assert record.duration_ms is not None
        assert record.duration_ms < ROLLBACK_S * 1000 / 2  # its own run, not its rollback
    assert sum("rolled back" in m for m in handle.messages()) == 3


@pytest.mark.slow
def test_rolled_back_steps_in_the_model_and_the_monitor(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    undone_chain(orchestrator, plugins)
    monitor = WorkflowMonitor(orchestrator, "undone")
    qtbot.addWidget(monitor)
    with qtbot.waitSignal(monitor.execution_finished, timeout=10_000):
        assert monitor.run()
    monitor.flush()
    model = monitor.steps_model()
    QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    rows = {
        model.step_id(r): (
            model.data(model.index(r, StepsModel.STATUS)),
            model.data(model.index(r, StepsModel.ROLLBACK)),
        )
        for r in range(model.rowCount())
    }
    assert rows == {
        "s1": ("rolled back", "completed"),
        "s2": ("rolled back", "completed"),
        "s3": ("rolled back", "completed"),
        "s4": ("failed", ""),
    }
    table = monitor.steps_view()
    assert not table.isColumnHidden(StepsModel.ROLLBACK)  # shown once a step rolled back
    assert table.isColumnHidden(StepsModel.RUNS)  # not EventDriven
    log = monitor.log_view().toPlainText()
    assert log.count("rolled back") == 3  # one line per rollback
    assert "s1 rolled back (completed)" in log


@pytest.mark.slow
def test_a_journaled_execution_handle_has_no_duplicate_reports(
    qtbot: Any, tmp_path: Path, plugins: PluginManager
) -> None:
    orch = PluginOrchestrator(plugin_manager=plugins, journal=str(tmp_path / "j.sqlite"))
    try:
        undone_chain(orch, plugins)
        failed = orch.execute_workflow("undone").error().context["execution_id"]
        handle = orch.execution(failed).value()
        seen: list[tuple[str, str]] = []
        handle.step_finished.connect(lambda step, status, _: seen.append((step, status)))
        qtbot.waitUntil(lambda: len(seen) == 4, timeout=5000)
        assert [status for _, status in seen] == ["completed"] * 3 + ["failed"]
        assert handle.step("s1").rollback == "completed"  # type: ignore[union-attr]
    finally:
        assert orch.shutdown(5000)


@pytest.mark.slow
def test_rollbacks_of_an_earlier_orchestrators_execution(
    qtbot: Any, tmp_path: Path, plugins: PluginManager
) -> None:
    path = str(tmp_path / "j.sqlite")
    first = PluginOrchestrator(plugin_manager=plugins, journal=path)
    undone_chain(first, plugins)
    failed = first.execute_workflow("undone").error().context["execution_id"]
    assert first.shutdown(5000)
    first.journal().close()  # type: ignore[union-attr]
    del first
    gc.collect()
    later = PluginOrchestrator(plugin_manager=plugins, journal=path)
    try:
        status = later.get_execution_status(failed).value()
        assert sorted(r["step_id"] for r in status["rollbacks"]) == ["s1", "s2", "s3"]
        assert {r["status"] for r in status["rollbacks"]} == {"completed"}
        handle = later.execution(failed).value()
        rolled = [handle.step(s) for s in ("s1", "s2", "s3")]
        assert [(r.status, r.rollback) for r in rolled if r is not None] == [
            ("rolled_back", "completed")
        ] * 3
        seen: list[str] = []
        handle.step_finished.connect(lambda step, status, _: seen.append(status))
        qtbot.waitUntil(lambda: len(seen) == 4, timeout=5000)
        assert seen == ["completed"] * 3 + ["failed"]  # once each, rollbacks apart
    finally:
        assert later.shutdown(5000)


# --- EventDriven ------------------------------------------------------------------------------


def event_workflow(advanced: AdvancedPluginOrchestrator, plugins: PluginManager) -> None:
    def handle(params: dict[str, Any]) -> dict[str, Any]:
        if params.get("n") == 3:
            raise ValueError("bad event")
        threading.Event().wait(0.01)  # a run that takes measurable time
        return {"n": params.get("n", 0)}

    fn(plugins, "handle", handle)
    fn(plugins, "store", lambda p: {"stored": True})
    register(
        advanced,
        workflow(
            "events",
            Mode.EventDriven,
            [node("handle"), node("store", node_type=NodeType.Sink)],
            [conn("handle", "store")],
        ),
    )


def post_five(qtbot: Any, advanced: AdvancedPluginOrchestrator, execution_id: str) -> None:
    for n in range(5):
        assert advanced.post_event(execution_id, {"n": n})


def test_event_driven_runs_per_node_in_the_handle_and_model(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    event_workflow(advanced, plugins)
    handle = advanced.start_workflow("events").value()
    assert handle.is_event_driven()
    model = StepsModel(handle)
    QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    counts: list[dict[str, int]] = []
    handle.event_counts.connect(counts.append)
    post_five(qtbot, advanced, handle.execution_id())
    done = {"events_received": 5, "events_completed": 4, "events_failed": 1}
    qtbot.waitUntil(lambda: handle.current_event_counts() == done, timeout=5000)
    qtbot.waitUntil(lambda: counts and counts[-1] == done, timeout=5000)
    record = handle.step("handle")
    assert record is not None
    assert (record.runs, record.failed_runs) == (5, 1)
    assert record.duration_ms is not None and record.duration_ms > 0
    mean = record.mean_ms()
    assert mean is not None and mean >= 5  # the engine's times, not the delivery's
    store = handle.step("store")
    assert store is not None and (store.runs, store.failed_runs) == (4, 0)
    model.flush()
    row = model.row_of("handle")
    runs = model.data(model.index(row, StepsModel.RUNS))
    assert runs.startswith("5 · 1 failed · avg ")
    assert model.data(model.index(row, StepsModel.TIME)).endswith("ms")
    with qtbot.waitSignal(handle.finished, timeout=5000):
        assert handle.cancel()
    # The final state agrees with what was followed.
    final = handle.step("handle")
    assert final is not None and (final.runs, final.failed_runs) == (5, 1)


def test_event_driven_execution_in_the_monitor(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager, tmp_path: Path
) -> None:
    event_workflow(advanced, plugins)
    monitor = WorkflowMonitor(advanced, "events")
    qtbot.addWidget(monitor)
    monitor.resize(1100, 500)
    monitor.show()
    qtbot.waitExposed(monitor)
    handle = monitor.run().value()
    post_five(qtbot, advanced, handle.execution_id())
    bar = monitor.progress_bar()
    qtbot.waitUntil(
        lambda: bar.format() == "5 events · 4 completed · 1 failed" and bar.value() == 1000,
        timeout=5000,
    )
    table = monitor.steps_view()
    assert not table.isColumnHidden(StepsModel.RUNS)
    assert table.isColumnHidden(StepsModel.ATTEMPTS)  # a node's runs say more than attempts
    assert table.isColumnHidden(StepsModel.ROLLBACK)  # graph workflows have no rollbacks
    graph = monitor.graph_view()
    monitor.flush()
    overlay = graph._overlay_label  # the text drawn over the graph
    qtbot.waitUntil(lambda: "5 events, 4 completed, 1 failed" in overlay.text(), timeout=5000)
    monitor.grab().save(str(tmp_path / "monitor_event_driven.png"))
    # The handle node is drawn completed, with its runs as its detail line.
    assert graph._nodes["handle"].detail.text() == "5 runs · 1 failed"
    image = graph.grab().toImage()
    rect = graph.node_scene_rect("handle")
    inside = QPointF(rect.right() - 0.08 * rect.width(), rect.center().y())
    point = graph.mapFromScene(inside) + graph.viewport().pos()
    assert image.pixelColor(point) == status_color("completed")
    with qtbot.waitSignal(handle.finished, timeout=5000):
        assert handle.cancel()


def test_event_counts_reach_application_subscribers(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    event_workflow(advanced, plugins)
    execution_id = advanced.execute_workflow("events").value()
    seen: list[Any] = []
    assert advanced.subscribe(seen.append, execution_id, [EventKind.EVENT_COUNTS])
    post_five(qtbot, advanced, execution_id)
    qtbot.waitUntil(
        lambda: bool(seen) and seen[-1].event_counts.get("events_completed") == 4, timeout=5000
    )
    assert seen[-1].node_runs["store"]["runs"] == 4
    assert advanced.cancel_execution(execution_id)


def test_event_driven_runs_on_the_editors_drawing(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    event_workflow(advanced, plugins)
    editor = VisualWorkflowEditor()
    qtbot.addWidget(editor)
    assert editor.load_workflow(advanced.get_workflow("events").value())
    execution_id = advanced.execute_workflow("events").value()
    assert editor.attach_execution(execution_id, advanced)
    post_five(qtbot, advanced, execution_id)

    def detail() -> str:
        editor.flush()
        item = editor.node_item("handle")
        return item._detail_text if item is not None else ""

    qtbot.waitUntil(lambda: detail() == "5 runs · 1 failed", timeout=5000)
    assert advanced.cancel_execution(execution_id)
