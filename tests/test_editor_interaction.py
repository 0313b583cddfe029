"""The editor and the designer driven like a person does: QTest mouse, wheel and key events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit

from qtforge_orch.widgets import WorkflowDesigner

from .editor_helpers import editor_plugins, pipeline, shown_editor, view_point

pytestmark = pytest.mark.timeout(60)
LEFT, MIDDLE = Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
NONE = Qt.KeyboardModifier.NoModifier


def drag(widget: Any, start: QPoint, end: QPoint, button: Qt.MouseButton = LEFT) -> None:
    """Press at ``start``, move there in steps, release at ``end``."""
    QTest.mousePress(widget, button, NONE, start)
    for step in range(1, 6):
        QTest.mouseMove(widget, start + (end - start) * step / 5)
    QTest.mouseRelease(widget, button, NONE, end)


def designer_on(qtbot: Any, workflow: Any = None) -> Any:
    designer = WorkflowDesigner(plugin_manager=editor_plugins())
    qtbot.addWidget(designer)
    if workflow is not None:
        designer.editor().load_workflow(workflow)
    designer.show()
    qtbot.waitExposed(designer)
    designer.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is designer, timeout=5000)
    designer.editor().setFocus()
    qtbot.waitUntil(designer.editor().hasFocus, timeout=5000)
    return designer


def test_drag_from_port_to_port_connects(qtbot: Any) -> None:
    editor = shown_editor(qtbot, editor_plugins())
    editor.load_workflow(pipeline())
    new = editor.add_plugin_node("writer", QPointF(600, 200), "write")
    editor.fit()
    work = editor.node_item("work")
    target = editor.node_item(new)
    start = view_point(editor, work.port_scene_pos("n", True))
    end = view_point(editor, target.port_scene_pos("", False))
    drag(editor.viewport(), start, end)
    assert editor.connection_ids()[-1] == f"work:n->{new}"
    # Dropping on a node body (not a port) connects to its whole input; onto the same
    # node or empty canvas connects nothing.
    source = view_point(editor, editor.node_item("source").port_scene_pos("", True))
    body = view_point(editor, target.pos() + QPointF(90, 40))
    drag(editor.viewport(), source, body)
    assert editor.connection_ids()[-1] == f"source->{new}"
    count = len(editor.connection_ids())
    drag(editor.viewport(), source, source + QPoint(0, 300))
    assert len(editor.connection_ids()) == count
    # A drag that would close a cycle is refused, with the reason.
    back = view_point(editor, target.port_scene_pos("", True))
    into = view_point(editor, editor.node_item("source").pos() + QPointF(90, 40))
    with qtbot.waitSignal(editor.edit_refused, timeout=1000):
        drag(editor.viewport(), back, into)
    assert len(editor.connection_ids()) == count


def test_drag_nodes_moves_them_in_one_undoable_step(qtbot: Any) -> None:
    editor = shown_editor(qtbot, editor_plugins())
    editor.load_workflow(pipeline())
    editor.fit()
    before = editor.get_workflow()
    grab = view_point(editor, editor.node_item("work").pos() + QPointF(90, 40))
    drag(editor.viewport(), grab, grab + QPoint(0, 120))
    moved = editor.get_workflow().nodes[1].position
    assert moved["x"] == 300 and moved["y"] > 60
    assert editor.undo_stack().count() == 1
    edge = editor.connection_item("c1")
    assert edge is not None and edge.path().elementAt(edge.path().elementCount() - 1).y > 30
    editor.undo()
    assert editor.get_workflow() == before


def test_rubber_band_selects_the_nodes_inside(qtbot: Any) -> None:
    editor = shown_editor(qtbot, editor_plugins())
    editor.load_workflow(pipeline())
    editor.fit()
    corner = view_point(editor, QPointF(-40, -40))
    past_work = view_point(editor, QPointF(530, 120))
    drag(editor.viewport(), corner, past_work)
    assert editor.selected_node_ids() == ["source", "work"]


def test_every_shortcut(qtbot: Any, tmp_path: Path, monkeypatch: Any) -> None:
    designer = designer_on(qtbot, pipeline())
    editor = designer.editor()
    view = editor

    def key(k: Qt.Key, modifiers: Qt.KeyboardModifier = NONE) -> None:
        QTest.keyClick(view, k, modifiers)

    key(Qt.Key.Key_A, CTRL)
    assert len(editor.selected_node_ids()) == 3
    editor.select(["work"])
    key(Qt.Key.Key_D, CTRL)  # duplicate
    assert editor.node_ids()[-1] == "work_1"
    key(Qt.Key.Key_Z, CTRL)
    assert "work_1" not in editor.node_ids()
    key(Qt.Key.Key_Z, CTRL | SHIFT)
    assert "work_1" in editor.node_ids()
    key(Qt.Key.Key_Z, CTRL)
    key(Qt.Key.Key_Y, CTRL)
    assert "work_1" in editor.node_ids()
    editor.select(["work_1"])
    key(Qt.Key.Key_Delete)
    assert "work_1" not in editor.node_ids()
    editor.select(["sink"])
    key(Qt.Key.Key_C, CTRL)
    key(Qt.Key.Key_V, CTRL)
    assert editor.node_ids()[-1] == "sink_1"
    key(Qt.Key.Key_Backspace)  # the pasted node is selected
    assert "sink_1" not in editor.node_ids()
    editor.select(["source"])
    key(Qt.Key.Key_X, CTRL)
    assert "source" not in editor.node_ids()
    key(Qt.Key.Key_V, CTRL)
    assert "source" in editor.node_ids()
    key(Qt.Key.Key_L, CTRL)  # auto layout
    assert editor.undo_stack().undoText() == "Auto layout"
    editor.set_zoom(2.0)
    key(Qt.Key.Key_F)
    assert editor.zoom() < 2.0
    zoom = editor.zoom()
    key(Qt.Key.Key_Equal, CTRL)
    assert editor.zoom() > zoom
    key(Qt.Key.Key_Minus, CTRL)
    assert editor.zoom() == pytest.approx(zoom)
    editor.select(["work"])
    key(Qt.Key.Key_Escape)
    assert editor.selected_node_ids() == []
    # The designer's own: save (Ctrl+S, then Ctrl+Shift+S), open (Ctrl+O), run and stop.
    saved = tmp_path / "saved.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(saved), ""))
    key(Qt.Key.Key_S, CTRL)
    assert json.loads(saved.read_text())["workflow_id"] == "pipe" and not editor.is_modified()
    other = tmp_path / "other.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(other), ""))
    key(Qt.Key.Key_S, CTRL | SHIFT)
    assert other.exists() and editor.file_path() == str(other)
    editor.remove_node("work")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(saved), ""))
    key(Qt.Key.Key_O, CTRL)
    assert "work" in editor.node_ids() and editor.file_path() == str(saved)
    with qtbot.waitSignal(designer.execution_started, timeout=5000):
        key(Qt.Key.Key_F5)
    handle = designer.execution()
    if not handle.is_finished():
        key(Qt.Key.Key_F5, SHIFT)
    qtbot.waitUntil(handle.is_finished, timeout=10_000)
    assert handle.status() in ("completed", "cancelled")


def test_wheel_zooms_around_the_cursor_and_panning_moves_the_view(qtbot: Any) -> None:
    editor = shown_editor(qtbot, editor_plugins())
    editor.load_workflow(pipeline())
    editor.fit()
    cursor = view_point(editor, editor.node_item("work").pos() + QPointF(20, 20))
    under = editor.mapToScene(cursor)
    zoom = editor.zoom()
    wheel = QWheelEvent(
        QPointF(cursor),
        QPointF(editor.viewport().mapToGlobal(cursor)),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        NONE,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(editor.viewport(), wheel)
    assert editor.zoom() == pytest.approx(zoom * 1.15**2)
    after = editor.mapToScene(cursor)
    assert abs(after.x() - under.x()) < 3 and abs(after.y() - under.y()) < 3
    # Middle-button drag pans: the scene point under the cursor follows it.
    start = QPoint(400, 300)
    origin = editor.mapToScene(start)
    drag(editor.viewport(), start, start + QPoint(-80, -40), MIDDLE)
    moved = editor.mapToScene(start + QPoint(-80, -40))
    assert abs(moved.x() - origin.x()) < 2 and abs(moved.y() - origin.y()) < 2
    # Space + left drag pans too, and selects nothing.
    QTest.keyPress(editor, Qt.Key.Key_Space)
    origin = editor.mapToScene(start)
    drag(editor.viewport(), start, start + QPoint(60, 50))
    QTest.keyRelease(editor, Qt.Key.Key_Space)
    moved = editor.mapToScene(start + QPoint(60, 50))
    assert abs(moved.x() - origin.x()) < 2 and abs(moved.y() - origin.y()) < 2
    assert editor.selected_node_ids() == [] and editor.undo_stack().count() == 0


def test_palette_entry_dropped_on_the_canvas_becomes_a_node(qtbot: Any) -> None:
    # The offscreen platform has no drag and drop: the palette's own drag payload is
    # delivered to the canvas as the window system would (the whole gesture runs under
    # Xvfb in test_designer_window.py).
    designer = designer_on(qtbot)
    palette, editor = designer.plugin_palette(), designer.editor()
    palette.filter_box().setText("writ")
    assert palette.visible_entries() == [("writer", ""), ("writer", "write")]
    payload = palette.tree().mimeData([palette.entry("writer", "write")])
    target = QPointF(editor.viewport().rect().center())
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(target.toPoint(), actions, payload, LEFT, NONE)
    QApplication.sendEvent(editor.viewport(), enter)
    assert enter.isAccepted()
    QApplication.sendEvent(
        editor.viewport(), QDragMoveEvent(target.toPoint(), actions, payload, LEFT, NONE)
    )
    drop = QDropEvent(target, actions, payload, LEFT, NONE)
    QApplication.sendEvent(editor.viewport(), drop)
    assert editor.node_ids() == ["writer_1"]
    node = editor.get_workflow().nodes[0]
    assert (node.plugin_id, node.configuration) == ("writer", {"method": "write"})
    centre = editor.node_item("writer_1").sceneBoundingRect().center()
    assert abs(editor.mapFromScene(centre).x() - target.x()) < 20
    # A drop of something else is ignored; while read-only drops are refused.
    editor.set_read_only(True)
    refused = QDragEnterEvent(target.toPoint(), actions, payload, LEFT, NONE)
    QApplication.sendEvent(editor.viewport(), refused)
    assert not refused.isAccepted()


def test_property_panel_edits_and_checks_cel_as_typed(qtbot: Any) -> None:
    designer = designer_on(qtbot, pipeline())
    editor, panel = designer.editor(), designer.property_panel()
    editor.select(["work"])
    name = panel.field("name")
    assert isinstance(name, QLineEdit)
    name.setFocus()
    name.selectAll()
    QTest.keyClicks(name, "Counter")
    QTest.keyClick(name, Qt.Key.Key_Return)
    assert editor.get_workflow().nodes[1].name == "Counter"
    editor.select(["c2"])
    condition = panel.field("condition")
    assert isinstance(condition, QLineEdit) and condition.text() == "n > 0"
    condition.setFocus()
    condition.selectAll()
    QTest.keyClicks(condition, "n >")
    assert "CEL" in panel.message() or "end" in panel.message()
    QTest.keyClick(condition, Qt.Key.Key_Return)
    assert editor.get_workflow().connections[1].properties == {"condition": "n > 0"}
    assert condition.text() == "n > 0" and panel.message()
    QTest.keyClicks(condition, " + 1")
    assert panel.message() == ""
    QTest.keyClick(condition, Qt.Key.Key_Return)
    assert editor.get_workflow().connections[1].properties == {"condition": "n > 0 + 1"}
    editor.select([])
    assert panel.target() == "" and panel.field("execution_mode") is not None


def test_clicking_an_issue_selects_what_it_is_about(qtbot: Any) -> None:
    broken = pipeline()
    broken.nodes[1].plugin_id = "elsewhere"
    designer = designer_on(qtbot, broken)
    issues = designer.issues_view()
    assert issues.count() == 1 and "elsewhere" in issues.item(0).text()
    rect = issues.visualItemRect(issues.item(0))
    QTest.mouseClick(issues.viewport(), LEFT, NONE, rect.center())
    assert designer.editor().selected_node_ids() == ["work"]
