"""The graph of a ``Workflow`` (v1) or ``PluginWorkflow`` (v2), and where its nodes go."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._errors import PluginErrorCode
from .._expected import Expected, make_error, make_success

#: Scene size of a node and the spacing of the layered layout.
NODE_W, NODE_H = 150.0, 54.0
GAP_X, GAP_Y = 70.0, 26.0
#: A generation taller than this wraps into several columns (a 1,000-step fan-out stays
#: roughly square instead of one column 60,000 pixels tall).
MAX_PER_COLUMN = 25


@dataclass
class GraphSpec:
    """Nodes in declaration order, edges (source, target, kind), labels, given positions."""

    workflow_id: str
    nodes: list[str]
    labels: dict[str, str]
    edges: list[tuple[str, str, str]]
    positions: dict[str, tuple[float, float]]


def _position(props: Any) -> tuple[float, float] | None:
    """``{"x": .., "y": ..}``, ``{"position": {"x": .., "y": ..}}`` or ``{"position": [x, y]}``."""
    if not isinstance(props, dict):
        return None
    where = props.get("position", props)
    try:
        if isinstance(where, dict) and "x" in where and "y" in where:
            return float(where["x"]), float(where["y"])
        if isinstance(where, list | tuple) and len(where) == 2:
            return float(where[0]), float(where[1])
    except (TypeError, ValueError):
        return None
    return None


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
                    if (p := _position(n.ui_properties)) is not None
                },
            )
        )
    if isinstance(workflow, Workflow):
        steps = workflow.steps()
        positions = {}
        for step in steps:
            where = _position(step.metadata.get("ui_properties")) or _position(step.metadata)
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


def layout(spec: GraphSpec) -> dict[str, tuple[float, float]]:
    """Given positions when every node has one; otherwise a layered layout, left to right,
    one column per topological generation (declaration order inside a generation)."""
    if spec.nodes and all(node in spec.positions for node in spec.nodes):
        return dict(spec.positions)
    import networkx as nx  # deferred: only drawing needs it

    graph = nx.DiGraph()
    graph.add_nodes_from(spec.nodes)
    graph.add_edges_from((s, t) for s, t, _ in spec.edges if s in graph and t in graph)
    order = {node: i for i, node in enumerate(spec.nodes)}
    try:
        generations = [sorted(g, key=order.__getitem__) for g in nx.topological_generations(graph)]
    except nx.NetworkXUnfeasible:  # a cycle (unregistered workflow): one column per node
        generations = [[node] for node in spec.nodes]
    positions: dict[str, tuple[float, float]] = {}
    column = 0
    tallest = max((min(len(g), MAX_PER_COLUMN) for g in generations), default=1)
    for generation in generations:
        for start in range(0, len(generation), MAX_PER_COLUMN):
            chunk = generation[start : start + MAX_PER_COLUMN]
            offset = (tallest - len(chunk)) * (NODE_H + GAP_Y) / 2  # centre short columns
            for row, node in enumerate(chunk):
                positions[node] = (column * (NODE_W + GAP_X), offset + row * (NODE_H + GAP_Y))
            column += 1
    return positions
