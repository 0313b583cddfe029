"""The designer as a real window on an X server (Xvfb), where drag and drop is real.

These tests need an X display and the xcb platform: ``.ci/run`` runs them under
``xvfb-run`` after the main suite (``QT_QPA_PLATFORM=xcb xvfb-run -a python -m pytest -m
xvfb tests/test_designer_window.py``); elsewhere they are skipped. The offscreen suite has
its own run of the example (``tests/test_editor_cli.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from qtforge_orch.widgets import WorkflowDesigner

from .editor_helpers import editor_plugins, pipeline

ROOT = Path(__file__).resolve().parent.parent
on_x11 = pytest.mark.skipif(
    QApplication.platformName() != "xcb"
    if QApplication.instance()
    else os.environ.get("QT_QPA_PLATFORM") != "xcb",
    reason="needs a real X display (run under xvfb-run with QT_QPA_PLATFORM=xcb)",
)
LEFT, NONE = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
pytestmark = [pytest.mark.xvfb, pytest.mark.timeout(60)]


@on_x11
def test_the_example_designer_runs_as_an_x11_window(tmp_path: Path) -> None:
    shot = tmp_path / "designer.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "workflow_designer.py"), "--screenshot",
         str(shot)],
        env=env, capture_output=True, text=True, timeout=50, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    image = QImage(str(shot))
    assert not image.isNull() and image.width() >= 1000


@on_x11
def test_drag_a_palette_entry_onto_the_canvas_in_a_real_window(qtbot: Any) -> None:
    designer = WorkflowDesigner(plugin_manager=editor_plugins())
    qtbot.addWidget(designer)
    designer.editor().load_workflow(pipeline())
    designer.show()
    qtbot.waitExposed(designer)
    palette, editor = designer.plugin_palette(), designer.editor()
    tree = palette.tree()
    item = palette.entry("writer", "write")
    assert item is not None
    start = tree.visualItemRect(item).center()
    target = editor.viewport().rect().center()
    window = designer.windowHandle()
    at = editor.viewport().mapTo(designer, target)

    def over_canvas() -> None:  # runs inside QDrag's own event loop
        QTest.mouseMove(window, at)
        QTest.mouseMove(window, at + QPoint(3, 3))
        QTest.mouseRelease(window, LEFT, NONE, at + QPoint(3, 3))

    QTimer.singleShot(0, over_canvas)
    QTest.mousePress(tree.viewport(), LEFT, NONE, start)
    QTest.mouseMove(tree.viewport(), start + QPoint(30, 5))
    QTest.mouseMove(tree.viewport(), start + QPoint(60, 10))
    qtbot.waitUntil(lambda: "writer_1" in editor.node_ids(), timeout=5000)
    node = editor.get_workflow().nodes[-1]
    assert (node.plugin_id, node.configuration) == ("writer", {"method": "write"})
    # The rest of the window works as offscreen: a shortcut, undo, a run.
    designer.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is designer, timeout=5000)
    editor.setFocus()
    QTest.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "writer_1" not in editor.node_ids()
    handle = designer.run().value()
    qtbot.waitUntil(handle.is_finished, timeout=10_000)
    assert handle.status() == "completed"
