"""What the editor and the graph view draw: real pixels of grabs, and the shared layout.

Every grab is also saved as a PNG under the test's tmp_path (look at them when a test fails).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage

from qtforge_orch import PluginWorkflow, Workflow, WorkflowConnection, WorkflowNode, WorkflowStep
from qtforge_orch.widgets import WorkflowGraphView
from qtforge_orch.widgets._layout import GAP_Y, layered_layout
from qtforge_orch.widgets.editor._items import NODE_WIDTH
from qtforge_orch.widgets.editor._kinds import (
    DISABLED_BODY,
    DISABLED_HEADER,
    ISSUE,
    KIND_COLORS,
)

from .editor_helpers import KINDS, every_kind, pixel, shown_editor

pytestmark = pytest.mark.timeout(60)


def grab(widget: Any, path: Path) -> QImage:
    image = widget.viewport().grab().toImage() if hasattr(widget, "viewport") else None
    assert image is not None and not image.isNull()
    assert image.save(str(path))
    return image


def close(a: QColor, b: QColor | str, tolerance: int = 6) -> bool:
    b = QColor(b)
    return all(abs(x - y) <= tolerance for x, y in zip(a.getRgb()[:3], b.getRgb()[:3], strict=True))


def chain(steps: int) -> PluginWorkflow:
    nodes = [
        WorkflowNode(node_id=f"step_{i}", name=f"Step {i}", plugin_id="p") for i in range(steps)
    ]
    wires = [
        WorkflowConnection(source_node=f"step_{i}", target_node=f"step_{i + 1}")
        for i in range(steps - 1)
    ]
    return PluginWorkflow(workflow_id="chain", nodes=nodes, connections=wires)


def test_node_kinds_are_drawn_distinctly_and_disabled_nodes_grey(
    qtbot: Any, tmp_path: Path
) -> None:
    editor = shown_editor(qtbot, size=(1900, 420))
    editor.load_workflow(every_kind())
    editor.set_zoom(1.0)
    editor.centerOn(QPointF(900, 120))
    editor.flush()
    image = grab(editor, tmp_path / "kinds.png")
    background = image.pixelColor(2, 2)
    masks: dict[str, set[tuple[int, int]]] = {}
    for kind in KINDS:
        item = editor.node_item(kind.lower())
        assert item is not None
        width, height = item.size()
        header = pixel(editor, image, item.pos() + QPointF(width / 2, 6))
        assert close(header, KIND_COLORS[kind]), (kind, header.name())
        body = pixel(editor, image, item.pos() + QPointF(width / 2, height - 12))
        assert close(body, "#ffffff"), (kind, body.name())
        # The outline, sampled every 4 pixels: filled or background.
        masks[kind] = {
            (x, y)
            for x in range(0, int(width), 4)
            for y in range(0, int(height), 4)
            if not close(pixel(editor, image, item.pos() + QPointF(x, y)), background, 12)
        }
    for a, b in itertools.combinations(KINDS, 2):
        assert len(masks[a] ^ masks[b]) >= 6, f"{a} and {b} have the same outline"
    off = editor.node_item("off")
    assert off is not None
    assert close(pixel(editor, image, off.pos() + QPointF(NODE_WIDTH / 2, 6)), DISABLED_HEADER)
    assert close(pixel(editor, image, off.pos() + QPointF(NODE_WIDTH * 0.8, 40)), DISABLED_BODY)


def test_issue_badges_on_nodes_and_connections(qtbot: Any, tmp_path: Path) -> None:
    editor = shown_editor(qtbot, size=(900, 500))
    workflow = PluginWorkflow(
        workflow_id="badges",
        nodes=[
            WorkflowNode(node_id="a", plugin_id="p", output_ports=["out"],
                         ui_properties={"x": 0, "y": 0}),
            WorkflowNode(node_id="b", plugin_id="", ui_properties={"x": 400, "y": 0}),
            WorkflowNode(node_id="c", plugin_id="p", ui_properties={"x": 400, "y": 200}),
        ],
        connections=[
            WorkflowConnection(connection_id="bad", source_node="a", source_port="out",
                               target_node="c", target_port="missing"),
        ],
    )  # fmt: skip
    editor.load_workflow(workflow)
    editor.set_zoom(1.0)
    editor.centerOn(QPointF(300, 120))
    editor.flush()
    image = grab(editor, tmp_path / "badges.png")
    node_b, node_a = editor.node_item("b"), editor.node_item("a")
    edge = editor.connection_item("bad")
    assert node_b is not None and node_a is not None and edge is not None
    badge = QPointF(node_b.size()[0] - 11, 0)  # the red disc, left of its white "!"
    assert close(pixel(editor, image, node_b.pos() + badge), ISSUE)  # empty plugin id
    assert not close(pixel(editor, image, node_a.pos() + badge), ISSUE)  # a is fine
    assert close(pixel(editor, image, edge.middle()), ISSUE)  # unknown port
    assert node_b.issues() and "plugin_id" in node_b.tooltip()
    # Fixed: the badges go.
    editor.set_node_property("b", "plugin_id", "p")
    editor.remove_connection("bad")
    editor.flush()
    image = grab(editor, tmp_path / "fixed.png")
    assert not close(pixel(editor, image, node_b.pos() + badge), ISSUE)
    assert editor.validation_issues() == []


def _assert_readable_layout(rects: dict[str, tuple[float, float, float, float]]) -> None:
    for (a, ra), (b, rb) in itertools.combinations(rects.items(), 2):
        ax, ay, aw, ah = ra
        bx, by, bw, bh = rb
        overlap = ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah
        assert not overlap, f"{a} overlaps {b}"


def test_a_seven_step_chain_is_readable_in_the_graph_view(qtbot: Any, tmp_path: Path) -> None:
    workflow = Workflow("chain")
    previous = ""
    for index in range(7):
        step = WorkflowStep(f"step_{index}", "p", "run")
        if previous:
            step.dependencies = [previous]
        workflow.add_step(step)
        previous = step.id
    view = WorkflowGraphView()
    qtbot.addWidget(view)
    view.resize(600, 350)
    view.show()
    qtbot.waitExposed(view)
    view.set_workflow(workflow)
    view.fit()
    image = grab(view, tmp_path / "graph_chain.png")
    assert not view.horizontalScrollBar().isVisible()
    assert not view.verticalScrollBar().isVisible()
    rects = {n: view.node_scene_rect(n) for n in view.node_ids()}
    _assert_readable_layout({n: (r.x(), r.y(), r.width(), r.height()) for n, r in rects.items()})
    rows = {round(r.y()) for r in rects.values()}
    assert len(rows) >= 2  # wrapped, not one long line
    on_screen = view.mapFromScene(rects["step_0"]).boundingRect()
    assert on_screen.width() >= 120 and on_screen.height() >= 38
    label = view._nodes["step_0"].label
    assert label.font().pointSizeF() * view.zoom() >= 9
    # Within a row, each step is right of the one before.
    for a, b in zip(view.node_ids(), view.node_ids()[1:], strict=False):
        if round(rects[a].y()) == round(rects[b].y()):
            assert rects[b].x() > rects[a].right()
    # The label is drawn: dark text pixels on the node's grey.
    box = view.mapFromScene(rects["step_3"]).boundingRect()
    dark = sum(
        1
        for x in range(box.left() + 6, box.left() + box.width() // 2)
        for y in range(box.top() + 4, box.top() + box.height() // 2)
        if image.pixelColor(x, y).lightness() < 90
    )
    assert dark > 20


def test_a_seven_step_chain_is_readable_in_the_editor(qtbot: Any, tmp_path: Path) -> None:
    editor = shown_editor(qtbot, size=(600, 350))
    editor.load_workflow(chain(7))
    editor.fit()
    editor.flush()
    grab(editor, tmp_path / "editor_chain.png")
    items = {n: editor.node_item(n) for n in editor.node_ids()}
    rects = {n: (i.pos().x(), i.pos().y(), *i.size()) for n, i in items.items() if i is not None}
    _assert_readable_layout(rects)
    assert len({round(r[1]) for r in rects.values()}) >= 2
    title = next(
        text
        for text in items["step_0"].childItems()[0].childItems()  # type: ignore[union-attr]
        if hasattr(text, "font") and text.font().bold()
    )
    assert title.font().pointSizeF() * editor.zoom() >= 9
    drawing = editor.scene().drawing_rect()
    shown = editor.mapToScene(editor.viewport().rect()).boundingRect()
    assert shown.contains(drawing)  # fit shows it all


def test_layered_layout_reads_left_to_right_without_overlaps() -> None:
    # A diamond, a long chain and a wide fan-out, with cycles broken and sizes respected.
    nodes = [f"n{i}" for i in range(60)]
    edges = [("n0", "n1"), ("n0", "n2"), ("n1", "n3"), ("n2", "n3")]
    edges += [(f"n{i}", f"n{i + 1}") for i in range(3, 30)]
    edges += [("n30", f"n{i}") for i in range(31, 60)]
    edges += [("n5", "n4")]  # a cycle n4 -> n5 -> n4
    sizes = {node: (190.0, 50.0 + (i % 3) * 18) for i, node in enumerate(nodes)}
    where = layered_layout(nodes, edges, sizes, aspect=1.6)
    assert set(where) == set(nodes)
    _assert_readable_layout({n: (*where[n], *sizes[n]) for n in nodes})
    # Rows: bands of nodes separated by empty space (nodes of a column are GAP_Y apart).
    spans = sorted((where[n][1], where[n][1] + sizes[n][1] + GAP_Y) for n in nodes)
    bands: list[list[float]] = []
    for top, bottom in spans:
        if bands and top <= bands[-1][1]:
            bands[-1][1] = max(bands[-1][1], bottom)
        else:
            bands.append([top, bottom])
    assert len(bands) > 1  # the long chain wrapped into rows

    def row(node: str) -> int:
        return next(i for i, (top, bottom) in enumerate(bands) if top <= where[node][1] < bottom)

    def middle(node: str) -> float:
        return where[node][1] + sizes[node][1] / 2

    forward = [(s, t) for s, t in edges if (s, t) != ("n5", "n4")]
    same_row = [(s, t) for s, t in forward if row(s) == row(t)]
    assert len(same_row) > len(forward) / 2
    assert all(where[s][0] < where[t][0] for s, t in same_row)  # left to right
    assert middle("n10") == pytest.approx(middle("n11"))  # a chain stays on one line
    assert layered_layout([], []) == {}
    assert layered_layout(["only"], [("only", "only")]) == {"only": (0.0, 0.0)}


def test_auto_layout_is_one_undo_step_and_keeps_nodes_apart(qtbot: Any) -> None:
    editor = shown_editor(qtbot, size=(800, 500))
    workflow = chain(12)
    for node in workflow.nodes:
        node.ui_properties = {"x": 0, "y": 0}  # all on top of each other
    editor.load_workflow(workflow)
    loaded = editor.get_workflow()
    assert editor.auto_layout()
    assert editor.undo_stack().count() == 1
    items = [editor.node_item(n) for n in editor.node_ids()]
    rects = {i.node_id: (i.pos().x(), i.pos().y(), *i.size()) for i in items if i is not None}
    _assert_readable_layout(rects)
    editor.undo()
    assert editor.get_workflow() == loaded
