"""Graph export of both workflow kinds: Mermaid, Graphviz DOT and networkx.

Both kinds are first reduced to one neutral shape (``Graph``: nodes and edges with labels), so
each output format is written once. Statuses of an execution, when given, label and colour
the nodes; they may be given as what the orchestrators return (a v1 status dict, a list of
``StepResult``, a ``WorkflowExecutionContext``, an ``Expected`` of any of these) or as a
plain mapping of step/node id to status.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

__all__ = ["Graph", "normalise_statuses", "to_dot", "to_graph", "to_mermaid", "to_networkx"]

# Colours by status (fill), shared by Mermaid and DOT so both pictures read the same.
STATUS_COLOURS = {
    "pending": "#e0e0e0",
    "running": "#90caf9",
    "retrying": "#ffe082",
    "paused": "#ffe082",
    "completed": "#a5d6a7",
    "failed": "#ef9a9a",
    "skipped": "#eeeeee",
    "cancelled": "#bcaaa4",
    "disabled": "#f5f5f5",
}


@dataclass
class GraphNode:
    """One step or node: its id, a label and the fields a tool may want."""

    key: str
    label: str
    status: str = ""
    shape: str = "box"
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class GraphEdge:
    """One dependency or connection."""

    source: str
    target: str
    label: str = ""
    dashed: bool = False
    key: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    """The neutral shape every format is written from."""

    name: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]


_SHAPES = {"Source": "source", "Sink": "sink", "Decision": "decision", "Aggregator": "aggregator"}


def _status_name(value: Any) -> str:
    if isinstance(value, IntEnum):
        return value.name.lower()
    if isinstance(value, Mapping):
        return _status_name(value.get("status", ""))
    return str(value).lower() if value is not None else ""


def normalise_statuses(statuses: Any) -> dict[str, str]:
    """Any supported description of an execution's statuses -> {id: lower-case status}."""
    if statuses is None:
        return {}
    if hasattr(statuses, "has_value") and hasattr(statuses, "value"):  # an Expected
        return normalise_statuses(statuses.value()) if statuses.has_value() else {}
    node_states = getattr(statuses, "node_states", None)
    if isinstance(node_states, Mapping):  # WorkflowExecutionContext
        return {key: _status_name(state) for key, state in node_states.items()}
    if isinstance(statuses, Mapping):
        if isinstance(statuses.get("step_results"), list):  # v1 get_execution_status()
            return normalise_statuses(statuses["step_results"])
        if isinstance(statuses.get("node_states"), Mapping):  # a context as JSON
            return normalise_statuses(statuses["node_states"])
        return {str(key): _status_name(value) for key, value in statuses.items()}
    if isinstance(statuses, Iterable) and not isinstance(statuses, str | bytes):
        result: dict[str, str] = {}
        for item in statuses:
            if isinstance(item, Mapping):
                result[str(item.get("step_id", ""))] = _status_name(item.get("status"))
            else:
                status = getattr(item, "status", None)
                result[str(getattr(item, "step_id", ""))] = _status_name(status)
        return result
    raise TypeError(f"cannot read statuses from a {type(statuses).__name__}")


def to_graph(workflow: Any, statuses: Any = None) -> Graph:
    """A ``Workflow`` or ``PluginWorkflow`` as a neutral ``Graph``."""
    states = normalise_statuses(statuses)
    if hasattr(workflow, "nodes") and hasattr(workflow, "connections"):
        return _v2_graph(workflow, states)
    return _v1_graph(workflow, states)


def _v1_graph(workflow: Any, states: dict[str, str]) -> Graph:
    nodes: list[GraphNode] = []
    edges: list[GraphEdge] = []
    rollbacks = workflow.rollback_steps()
    for step in workflow.steps():
        label = step.name or step.id
        detail = f"{step.plugin_id}.{step.method_name}" if step.method_name else step.plugin_id
        attributes = step.to_json()
        if step.id in rollbacks:
            attributes["rollback"] = rollbacks[step.id].to_json()
        shape = "decision" if step.condition is not None else "box"
        nodes.append(
            GraphNode(step.id, f"{label}\n{detail}", states.get(step.id, ""), shape, attributes)
        )
        for dep in dict.fromkeys(step.dependencies):
            edges.append(GraphEdge(dep, step.id))
    return Graph(workflow.id(), nodes, edges)


def _v2_graph(workflow: Any, states: dict[str, str]) -> Graph:
    nodes: list[GraphNode] = []
    for node in workflow.nodes:
        label = node.name or node.node_id
        status = states.get(node.node_id, "" if node.enabled else "disabled")
        shape = _SHAPES.get(node.node_type.name, "box")
        attributes = node.to_json()
        nodes.append(
            GraphNode(node.node_id, f"{label}\n{node.plugin_id}", status, shape, attributes)
        )
    edges: list[GraphEdge] = []
    for connection in workflow.connections:
        kind = connection.connection_type.name
        parts = [] if kind == "DataFlow" else [kind]
        if connection.source_port or connection.target_port:
            parts.append(f"{connection.source_port or '*'} -> {connection.target_port or '*'}")
        condition = connection.properties.get("condition")
        if isinstance(condition, str):
            parts.append(f"[{condition}]")
        expression = connection.data_transformation.get("expression")
        if isinstance(expression, str):
            parts.append(f"= {expression}")
        if not connection.enabled:
            parts.append("(disabled)")
        edges.append(
            GraphEdge(
                connection.source_node,
                connection.target_node,
                " ".join(parts),
                dashed=kind != "DataFlow" or not connection.enabled,
                key=connection.connection_id,
                attributes=connection.to_json(),
            )
        )
    return Graph(workflow.workflow_id, nodes, edges)


# --------------------------------------------------------------------------------------------
# Mermaid

_MERMAID_SHAPES = {
    "box": ("[", "]"),
    "source": ("([", "])"),
    "sink": ("[(", ")]"),
    "decision": ("{", "}"),
    "aggregator": ("[[", "]]"),
}


def _mermaid_id(key: str, ids: dict[str, str]) -> str:
    if key not in ids:
        ids[key] = f"n{len(ids)}"  # Mermaid ids must be plain words; labels carry the real id
    return ids[key]


def _mermaid_text(text: str) -> str:
    return '"' + text.replace('"', "#quot;").replace("\n", "<br/>") + '"'


def to_mermaid(workflow: Any, statuses: Any = None) -> str:
    """A Mermaid ``flowchart`` (top to bottom) with a class per status."""
    graph = to_graph(workflow, statuses)
    ids: dict[str, str] = {}
    lines = ["flowchart TD"]
    for node in graph.nodes:
        opening, closing = _MERMAID_SHAPES.get(node.shape, ("[", "]"))
        label = node.label + (f"\n({node.status})" if node.status else "")
        lines.append(f"    {_mermaid_id(node.key, ids)}{opening}{_mermaid_text(label)}{closing}")
    for edge in graph.edges:
        arrow = "-.->" if edge.dashed else "-->"
        label = f"|{_mermaid_text(edge.label)}|" if edge.label else ""
        source, target = _mermaid_id(edge.source, ids), _mermaid_id(edge.target, ids)
        lines.append(f"    {source} {arrow}{label} {target}")
    used = sorted({node.status for node in graph.nodes if node.status in STATUS_COLOURS})
    for status in used:
        lines.append(f"    classDef {status} fill:{STATUS_COLOURS[status]},stroke:#555")
        members = ",".join(ids[n.key] for n in graph.nodes if n.status == status)
        lines.append(f"    class {members} {status}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# DOT

_DOT_SHAPES = {
    "box": "box",
    "source": "invhouse",
    "sink": "house",
    "decision": "diamond",
    "aggregator": "box3d",
}
_DOT_ESCAPE = re.compile(r'(["\\])')


def _dot_text(text: str) -> str:
    return '"' + _DOT_ESCAPE.sub(r"\\\1", text).replace("\n", "\\n") + '"'


def to_dot(workflow: Any, statuses: Any = None) -> str:
    """A Graphviz ``digraph``: node shapes by kind, fill colour by status."""
    graph = to_graph(workflow, statuses)
    lines = [
        f"digraph {_dot_text(graph.name or 'workflow')} {{",
        "    rankdir=TB;",
        '    node [style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];',
    ]
    for node in graph.nodes:
        label = node.label + (f"\n({node.status})" if node.status else "")
        attributes = [f"label={_dot_text(label)}", f"shape={_DOT_SHAPES.get(node.shape, 'box')}"]
        if node.status in STATUS_COLOURS:
            attributes.append(f'fillcolor="{STATUS_COLOURS[node.status]}"')
        lines.append(f"    {_dot_text(node.key)} [{', '.join(attributes)}];")
    for edge in graph.edges:
        attributes = []
        if edge.label:
            attributes.append(f"label={_dot_text(edge.label)}")
        if edge.dashed:
            attributes.append("style=dashed")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"    {_dot_text(edge.source)} -> {_dot_text(edge.target)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# networkx


def to_networkx(workflow: Any, statuses: Any = None) -> Any:
    """v1: a ``DiGraph`` (one edge per dependency); v2: a ``MultiDiGraph`` (two nodes may be
    joined by several connections), edges keyed by connection id."""
    import networkx

    graph = to_graph(workflow, statuses)
    is_v2 = hasattr(workflow, "connections")
    result: Any = (
        networkx.MultiDiGraph(name=graph.name) if is_v2 else networkx.DiGraph(name=graph.name)
    )
    for node in graph.nodes:
        data = dict(node.attributes)
        data["label"] = node.label
        if node.status:
            data["status"] = node.status
        result.add_node(node.key, **data)
    for edge in graph.edges:
        if is_v2:
            result.add_edge(edge.source, edge.target, key=edge.key or None, **edge.attributes)
        else:
            result.add_edge(edge.source, edge.target)
    return result
