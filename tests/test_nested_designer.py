"""The designer shows a nested workflow's node as one node, with a badge naming the workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor

from qtforge_orch import (
    FunctionPlugin,
    PluginManager,
    PluginOrchestrator,
    PluginWorkflow,
    Workflow,
    WorkflowNode,
    WorkflowStep,
)

from .editor_helpers import pixel, shown_editor


def test_a_nested_workflows_node_is_one_node_with_a_badge_naming_the_workflow(
    qtbot: Any, tmp_path: Path
) -> None:
    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("math", inc=lambda p: {"x": p["x"] + 1}))
    orchestrator = PluginOrchestrator(plugin_manager=plugins)
    try:
        inner = Workflow("inner")
        for step_id in ("a", "b", "c"):
            inner.add_step(WorkflowStep(step_id, "math", "inc"))
        orchestrator.register_workflow(inner)
        plugins.register_plugin(orchestrator.as_plugin("inner").value())
        outer = PluginWorkflow(
            workflow_id="outer",
            nodes=[
                WorkflowNode(
                    node_id="nested", plugin_id="workflow:inner", ui_properties={"x": 40, "y": 60}
                ),
                WorkflowNode(
                    node_id="plain",
                    plugin_id="math",
                    configuration={"method": "inc"},
                    ui_properties={"x": 320, "y": 60},
                ),
            ],
        )
        editor = shown_editor(qtbot, plugins)
        assert editor.load_workflow(outer)
        assert sorted(editor.scene().nodes) == ["nested", "plain"]  # one node, not its steps
        nested, plain = editor.node_item("nested"), editor.node_item("plain")
        assert nested.nested_workflow() == "inner" and plain.nested_workflow() is None
        assert nested.nested_badge_text() == "workflow inner"
        assert "runs the workflow 'inner' as a child execution" in nested.tooltip()
        editor.fit()
        image = editor.viewport().grab().toImage()
        image.save(str(tmp_path / "nested.png"))
        # The badge sits above the nested node's header, on its left; nothing above the other.
        above = QPointF(14, -6)
        badge = pixel(editor, image, nested.pos() + above)
        empty = pixel(editor, image, plain.pos() + above)
        assert _close(badge, QColor("#5e35b1")), badge.name()
        assert not _close(empty, QColor("#5e35b1")), empty.name()
        # Pointing the node at an ordinary plugin removes the badge.
        assert editor.set_node_property("nested", "plugin_id", "math")
        assert editor.node_item("nested").nested_workflow() is None
        assert editor.node_item("nested").nested_badge_text() == ""
    finally:
        orchestrator.shutdown()


def _close(a: QColor, b: QColor) -> bool:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue()) < 40
