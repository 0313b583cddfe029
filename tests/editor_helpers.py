"""Shared pieces of the editor tests: plugins, workflows, a shown editor."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, QPointF
from PySide6.QtGui import QColor, QImage

from qtforge_orch import (
    FunctionPlugin,
    PluginManager,
    PluginWorkflow,
    Workflow,
    WorkflowConnection,
    WorkflowNode,
    WorkflowStep,
)
from qtforge_orch.widgets import VisualWorkflowEditor

KINDS = ("Source", "Processor", "Sink", "Decision", "Aggregator", "Splitter", "Custom")


def editor_plugins() -> PluginManager:
    """Plugins the editor tests add as nodes."""
    manager = PluginManager()
    manager.register_plugin(FunctionPlugin("reader", read=lambda p: {"rows": [1, 2]}))
    manager.register_plugin(FunctionPlugin("count", run=lambda p: {"n": len(p.get("rows", []))}))
    manager.register_plugin(FunctionPlugin("writer", write=lambda p: {"ok": True}))
    return manager


def shown_editor(qtbot: Any, plugins: Any = None, size: tuple[int, int] = (900, 600)) -> Any:
    """A shown, focused editor (the widget under test is registered with qtbot)."""
    editor = VisualWorkflowEditor(plugin_manager=plugins)
    qtbot.addWidget(editor)
    editor.resize(*size)
    editor.show()
    qtbot.waitExposed(editor)
    editor.activateWindow()
    editor.setFocus()
    return editor


def pipeline() -> PluginWorkflow:
    """source -> work -> sink, with ports, positions and a Control condition."""
    return PluginWorkflow(
        workflow_id="pipe",
        name="Pipeline",
        nodes=[
            WorkflowNode(
                node_id="source",
                plugin_id="reader",
                node_type="Source",
                configuration={"method": "read"},
                output_ports=["rows"],
                ui_properties={"x": 0, "y": 0},
            ),
            WorkflowNode(
                node_id="work",
                plugin_id="count",
                configuration={"method": "run"},
                input_ports=["rows"],
                output_ports=["n"],
                ui_properties={"x": 300, "y": 0},
            ),
            WorkflowNode(
                node_id="sink",
                plugin_id="writer",
                node_type="Sink",
                configuration={"method": "write"},
                ui_properties={"x": 600, "y": 0},
            ),
        ],
        connections=[
            WorkflowConnection(
                connection_id="c1",
                source_node="source",
                source_port="rows",
                target_node="work",
                target_port="rows",
            ),
            WorkflowConnection(
                connection_id="c2",
                source_node="work",
                target_node="sink",
                connection_type="Control",
                properties={"condition": "n > 0"},
            ),
        ],
    )


def every_kind() -> PluginWorkflow:
    """One node of each of the seven types (and a disabled one) in one row."""
    nodes = [
        WorkflowNode(
            node_id=kind.lower(),
            name=kind,
            plugin_id="reader",
            node_type=kind,
            ui_properties={"x": index * 260, "y": 0},
        )
        for index, kind in enumerate(KINDS)
    ]
    nodes.append(
        WorkflowNode(
            node_id="off", name="Off", plugin_id="reader", enabled=False,
            ui_properties={"x": 0, "y": 160},
        )
    )  # fmt: skip
    return PluginWorkflow(workflow_id="kinds", nodes=nodes)


def v1_chain(steps: int = 3) -> Workflow:
    """A v1 chain s0 -> s1 -> ... with positions."""
    workflow = Workflow("chain", "Chain")
    previous = ""
    for index in range(steps):
        step = WorkflowStep(f"s{index}", "reader", "read")
        step.metadata = {"ui_properties": {"x": index * 260, "y": 0}}
        if previous:
            step.dependencies = [previous]
        workflow.add_step(step)
        previous = step.id
    return workflow


def view_point(editor: Any, scene_point: QPointF) -> QPoint:
    """Viewport coordinates of a scene point."""
    point: QPoint = editor.mapFromScene(scene_point)
    return point


def pixel(editor: Any, image: QImage, scene_point: QPointF) -> QColor:
    """The colour at a scene point in a grab of the editor's viewport."""
    return image.pixelColor(view_point(editor, scene_point))
