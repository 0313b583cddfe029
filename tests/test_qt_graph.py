"""WorkflowGraphView and WorkflowMonitor: real pixels, layout, selection, export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF
from PySide6.QtGui import QColor, QImage

from qtforge_orch import (
    FunctionPlugin,
    PluginErrorCode,
    PluginWorkflow,
    Workflow,
    WorkflowNode,
    WorkflowStep,
)
from qtforge_orch.widgets import WorkflowGraphView, WorkflowMonitor, status_color

pytestmark = pytest.mark.timeout(30)


def with_failure(orch: Any, plugins: Any) -> None:
    plugins.register_plugin(FunctionPlugin("p", run=lambda p: {"ok": 1}, boom=lambda p: 1 / 0))
    wf = Workflow("wf").set_execution_mode("Parallel")
    wf.add_step(WorkflowStep("good", "p", "run"))
    wf.add_step(WorkflowStep("bad", "p", "boom", critical=False))
    after = WorkflowStep("after", "p", "run")
    after.dependencies = ["bad"]
    wf.add_step(after)
    assert orch.register_workflow(wf)


def pixel_in_node(view: WorkflowGraphView, image: QImage, node_id: str) -> QColor:
    """The colour painted inside a node, right of its text, in a grab of ``view``."""
    rect = view.node_scene_rect(node_id)
    inside = QPointF(rect.right() - 0.08 * rect.width(), rect.center().y())
    point: QPoint = view.mapFromScene(inside) + view.viewport().pos()
    return image.pixelColor(point)


def test_monitor_paints_completed_failed_and_skipped_nodes(
    qtbot: Any, orchestrator: Any, plugins: Any, tmp_path: Path
) -> None:
    with_failure(orchestrator, plugins)
    monitor = WorkflowMonitor(orchestrator, "wf")
    qtbot.addWidget(monitor)
    monitor.resize(1000, 600)
    monitor.show()
    qtbot.waitExposed(monitor)
    handle = monitor.run().value()
    with qtbot.waitSignal(monitor.execution_finished, timeout=10_000):
        pass
    monitor.flush()
    view = monitor.graph_view()
    image = view.grab().toImage()
    assert pixel_in_node(view, image, "good") == status_color("completed")
    assert pixel_in_node(view, image, "bad") == status_color("failed")
    assert pixel_in_node(view, image, "after") == status_color("skipped")
    assert handle.status() == "completed"
    assert monitor.progress_bar().value() == 1000
    assert "bad failed" in monitor.log_view().toPlainText()
    whole = monitor.grab().toImage()
    assert whole.width() == monitor.width()
    assert whole.save(str(tmp_path / "monitor.png"))


def test_graph_uses_ui_positions_and_reports_selection(qtbot: Any) -> None:
    wf = PluginWorkflow(
        workflow_id="g",
        nodes=[
            WorkflowNode(node_id="left", plugin_id="x", ui_properties={"x": 0, "y": 0}),
            WorkflowNode(node_id="right", plugin_id="x", ui_properties={"position": [400, 200]}),
        ],
    )
    view = WorkflowGraphView(wf)
    qtbot.addWidget(view)
    assert view.node_scene_rect("left").topLeft() == QPointF(0, 0)
    assert view.node_scene_rect("right").topLeft() == QPointF(400, 200)
    with qtbot.waitSignal(view.node_selected, timeout=2000) as blocker:
        view.select_node("right")
    assert blocker.args == ["right"]
    assert view.set_workflow(42).error().code == PluginErrorCode.InvalidArgument


def test_layered_layout_puts_dependencies_left_of_dependents(qtbot: Any) -> None:
    wf = Workflow("w")
    for name, deps in (("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"])):
        made = WorkflowStep(name, "p", "run")
        made.dependencies = deps
        wf.add_step(made)
    view = WorkflowGraphView(wf)
    qtbot.addWidget(view)
    x = {n: view.node_scene_rect(n).left() for n in "abcd"}
    assert x["a"] < x["b"] == x["c"] < x["d"]
    start = view.zoom()
    view.zoom_in()
    assert view.zoom() > start
    view.fit()


def test_export_png_and_svg(qtbot: Any, tmp_path: Path) -> None:
    wf = Workflow("w")
    wf.add_step(WorkflowStep("only", "p", "run"))
    view = WorkflowGraphView(wf)
    qtbot.addWidget(view)
    assert view.export_png(str(tmp_path / "g.png"))
    image = QImage(str(tmp_path / "g.png"))
    assert not image.isNull()
    centre = image.pixelColor(int(image.width() * 0.85), image.height() // 2)
    assert centre == status_color("pending")
    assert view.export_svg(str(tmp_path / "g.svg"))
    svg = (tmp_path / "g.svg").read_text()
    assert "<svg" in svg and "only" in svg
    assert not view.export_png(str(tmp_path / "missing-dir" / "g.png"))


def test_monitor_for_unknown_workflow_is_disabled(qtbot: Any, orchestrator: Any) -> None:
    monitor = WorkflowMonitor(orchestrator, "nope")
    qtbot.addWidget(monitor)
    monitor.flush()
    assert "cannot show workflow" in monitor.log_view().toPlainText()
    assert monitor.run().error().code == PluginErrorCode.NotFound
