"""The graph of a ``Workflow`` (v1) or ``PluginWorkflow`` (v2), and where its nodes go.

One layered layout serves the read-only ``WorkflowGraphView`` and the editor's
``auto_layout()``: layers left to right (every edge between layers points right), nodes
ordered inside a layer to cut crossings, tall layers split into columns, and a graph much
wider than the pane it is shown in (a long chain) wrapped into rows like text, so it can be
shown at a readable size (rows break between layers, never inside one). Nodes never overlap:
columns are as wide as their widest node and stack their nodes with a gap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import PluginErrorCode
from ..results import Expected, make_error, make_success

#: Scene size of a node of the graph view and the spacing of the layered layout.
NODE_W, NODE_H = 170.0, 54.0
GAP_X, GAP_Y = 70.0, 26.0
#: Vertical space between two wrapped rows (room for the edges that wrap).
ROW_GAP = 60.0
#: A layer taller than this is split into several columns (a 1,000-step fan-out stays
#: roughly square instead of one column 60,000 pixels tall).
MAX_PER_COLUMN = 25
#: Width/height the layout aims for when wrapping (a typical pane); views pass their own.
DEFAULT_ASPECT = 1.6
#: A graph is only wrapped when it is this many times wider than the aspect asks: a graph
#: that is merely wide keeps its edges in one row.
WRAP_WHEN_WIDER = 2.0
#: Fewer layers than this are never wrapped: a short graph reads best on one line.
MIN_LAYERS_TO_WRAP = 5
_BARYCENTRE_SWEEPS = 2


@dataclass
class GraphSpec:
    """Nodes in declaration order, edges (source, target, kind), labels, given positions."""

    workflow_id: str
    nodes: list[str]
    labels: dict[str, str]
    edges: list[tuple[str, str, str]]
    positions: dict[str, tuple[float, float]]


def read_position(props: Any) -> tuple[float, float] | None:
    """``{"x": .., "y": ..}``, ``{"position": {"x": .., "y": ..}}`` or ``{"position": [x, y]}``."""
    if not isinstance(props, dict):
        return None
    where = props.get("position", props)
    try:
        if isinstance(where, dict) and "x" in where and "y" in where:
            x, y = float(where["x"]), float(where["y"])
        elif isinstance(where, list | tuple) and len(where) == 2:
            x, y = float(where[0]), float(where[1])
        else:
            return None
    except (TypeError, ValueError):
        return None
    return (x, y) if math.isfinite(x) and math.isfinite(y) else None


def graph_spec(workflow: Any) -> Expected[GraphSpec]:
    """Read either workflow kind; an ``InvalidArgument`` error for anything else."""
    from ..orchestration.advanced.workflow import PluginWorkflow
    from ..orchestration.workflow import Workflow

    if isinstance(workflow, PluginWorkflow):
        nodes = [n.node_id for n in workflow.nodes]
        return make_success(
            GraphSpec(
                workflow.workflow_id,
                nodes,
                {n.node_id: n.name or n.node_id for n in workflow.nodes},
                [
                    (c.source_node, c.target_node, c.connection_type.name)
                    for c in workflow.connections
                ],
                {
                    n.node_id: p
                    for n in workflow.nodes
                    if (p := read_position(n.ui_properties)) is not None
                },
            )
        )
    if isinstance(workflow, Workflow):
        steps = workflow.steps()
        positions = {}
        for step in steps:
            where = read_position(step.metadata.get("ui_properties")) or read_position(
                step.metadata
            )
            if where is not None:
                positions[step.id] = where
        return make_success(
            GraphSpec(
                workflow.id(),
                [s.id for s in steps],
                {s.id: s.name or s.id for s in steps},
                [(d, s.id, "DataFlow") for s in steps for d in s.dependencies],
                positions,
            )
        )
    return make_error(
        PluginErrorCode.InvalidArgument,
        f"expected a Workflow or PluginWorkflow, got {type(workflow).__name__}",
    )


def layout(spec: GraphSpec, aspect: float = DEFAULT_ASPECT) -> dict[str, tuple[float, float]]:
    """Given positions when every node has one; otherwise ``layered_layout`` of the graph."""
    if spec.nodes and all(node in spec.positions for node in spec.nodes):
        return dict(spec.positions)
    return layered_layout(spec.nodes, [(s, t) for s, t, _ in spec.edges], aspect=aspect)


def layered_layout(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str]],
    sizes: Mapping[str, tuple[float, float]] | None = None,
    *,
    aspect: float = DEFAULT_ASPECT,
) -> dict[str, tuple[float, float]]:
    """Top-left corner of every node: layered left to right, wrapped into rows when long.

    Args:
        nodes: node ids in declaration order (ties keep this order).
        edges: (source, target) pairs; unknown ends and self-loops are ignored, and a cycle
            is broken where it is entered last in declaration order.
        sizes: (width, height) per node; ``NODE_W`` x ``NODE_H`` for the others.
        aspect: the width/height of the pane the graph is shown in; a graph more than
            ``WRAP_WHEN_WIDER`` times wider than that is wrapped into rows.
    """
    if not nodes:
        return {}
    size_of = sizes or {}
    known = set(nodes)
    successors: dict[str, list[str]] = {node: [] for node in nodes}
    predecessors: dict[str, list[str]] = {node: [] for node in nodes}
    for source, target in edges:
        if source in known and target in known and source != target:
            successors[source].append(target)
            predecessors[target].append(source)
    layers = _layers(nodes, successors, predecessors)
    _order_layers(layers, successors, predecessors)
    # Each layer is a block of columns (tall layers split into columns of MAX_PER_COLUMN);
    # rows wrap between layers, never inside one, so a wide fan-out stays on one row.
    blocks = [
        [layer[start : start + MAX_PER_COLUMN] for start in range(0, len(layer), MAX_PER_COLUMN)]
        for layer in layers
    ]

    def width(node: str) -> float:
        return size_of.get(node, (NODE_W, NODE_H))[0]

    def height(node: str) -> float:
        return size_of.get(node, (NODE_W, NODE_H))[1]

    def column_height(column: list[str]) -> float:
        return sum(map(height, column)) + GAP_Y * (len(column) - 1)

    column_widths = [[max(map(width, column)) for column in block] for block in blocks]
    block_widths = [sum(ws) + GAP_X * (len(ws) - 1) for ws in column_widths]
    block_heights = [max(map(column_height, block)) for block in blocks]
    per_row = _columns_per_row(block_widths, block_heights, aspect)
    positions: dict[str, tuple[float, float]] = {}
    top = 0.0
    for first in range(0, len(blocks), per_row):
        row = range(first, min(first + per_row, len(blocks)))
        row_height = max(block_heights[i] for i in row)
        x = 0.0
        for i in row:
            for column, column_width in zip(blocks[i], column_widths[i], strict=True):
                # Short columns are centred on the row: a chain stays on one straight line.
                y = top + (row_height - column_height(column)) / 2
                for node in column:
                    positions[node] = (x + (column_width - width(node)) / 2, y)
                    y += height(node) + GAP_Y
                x += column_width + GAP_X
        top += row_height + ROW_GAP
    return positions


def _layers(
    nodes: Sequence[str],
    successors: Mapping[str, list[str]],
    predecessors: Mapping[str, list[str]],
) -> list[list[str]]:
    """Longest-path layering (Kahn's algorithm), declaration order inside a layer.

    When only cycles are left, the first remaining node in declaration order is placed after
    the predecessors placed so far, which breaks its cycle there.
    """
    waiting = {node: len(predecessors[node]) for node in nodes}
    layer_of: dict[str, int] = {}
    order = {node: i for i, node in enumerate(nodes)}
    ready = [node for node in nodes if waiting[node] == 0]
    remaining = list(nodes)
    cursor = 0
    while len(layer_of) < len(nodes):
        if not ready:
            while remaining[cursor] in layer_of:
                cursor += 1
            ready = [remaining[cursor]]
        ready.sort(key=order.__getitem__)
        next_ready: list[str] = []
        for node in ready:
            if node in layer_of:
                continue
            placed = [layer_of[p] for p in predecessors[node] if p in layer_of]
            layer_of[node] = max(placed) + 1 if placed else 0
            for successor in successors[node]:
                waiting[successor] -= 1
                if waiting[successor] == 0 and successor not in layer_of:
                    next_ready.append(successor)
        ready = next_ready
    layers: list[list[str]] = [[] for _ in range(max(layer_of.values()) + 1)]
    for node in nodes:
        layers[layer_of[node]].append(node)
    return [layer for layer in layers if layer]


def _order_layers(
    layers: list[list[str]],
    successors: Mapping[str, list[str]],
    predecessors: Mapping[str, list[str]],
) -> None:
    """Barycentre sweeps: each node moves towards the mean rank of its neighbours in the
    previous layer (down) or next layer (up), which removes most crossings of layered DAGs."""
    rank = {node: i for layer in layers for i, node in enumerate(layer)}

    def sweep(sequence: Sequence[list[str]], neighbours: Mapping[str, list[str]]) -> None:
        for layer in sequence:
            keyed = []
            for i, node in enumerate(layer):
                near = [rank[n] for n in neighbours[node] if n in rank]
                keyed.append((sum(near) / len(near) if near else float(i), i, node))
            keyed.sort()
            layer[:] = [node for _, _, node in keyed]
            for i, node in enumerate(layer):
                rank[node] = i

    for _ in range(_BARYCENTRE_SWEEPS):
        sweep(layers[1:], predecessors)
        sweep(layers[-2::-1], successors)
    sweep(layers[1:], predecessors)


def _columns_per_row(widths: Sequence[float], heights: Sequence[float], aspect: float) -> int:
    """How many layers a row holds so the whole graph's width/height is closest to ``aspect``.

    ``widths`` and ``heights`` are the layers' (their blocks of columns). All layers in one
    row when there are few or the graph is not much wider than asked for.
    """
    count = len(widths)
    aspect = aspect if math.isfinite(aspect) and aspect > 0 else DEFAULT_ASPECT

    def ratio(per_row: int) -> float:
        width = height = 0.0
        for first in range(0, count, per_row):
            last = min(first + per_row, count)
            width = max(width, sum(widths[first:last]) + GAP_X * (last - first - 1))
            height += max(heights[first:last]) + ROW_GAP
        return width / (height - ROW_GAP)

    if count < MIN_LAYERS_TO_WRAP or ratio(count) <= aspect * WRAP_WHEN_WIDER:
        return count
    # Wider rows make the graph wider and lower, so the ratio grows with the row length:
    # the first row length that reaches the aspect, or the one before it, fits best.
    low, high = 1, count
    while low < high:
        middle = (low + high) // 2
        if ratio(middle) >= aspect:
            high = middle
        else:
            low = middle + 1
    candidates = {max(1, low - 1), low, min(count, low + 1)}
    return min(candidates, key=lambda c: (abs(math.log(ratio(c) / aspect)), -c))
