"""The editor's own rules for a new connection, on top of the library's validation.

The library's validation decides whether the graph is valid (unknown ports, self-loops,
cycles, type rules); the editor refuses what validation lets through but a drawn graph should
not have: the same connection twice, and a second connection into an input port that one
already feeds (its value would be overwritten; an Aggregator collects every input instead).
"""

from __future__ import annotations

from ...errors import PluginError, PluginErrorCode
from ._document import GraphDocument

#: Connection types that deliver data to the target's input port.
_DELIVERING = frozenset({"DataFlow", "Event"})


def connection_refusal(
    document: GraphDocument,
    source: object,
    source_port: object,
    target: object,
    target_port: object,
    kind: object,
) -> PluginError | None:
    """Why the connection cannot be made before validation is asked, or None."""
    values = (source, source_port, target, target_port, kind)
    if not all(isinstance(value, str) for value in values):
        return PluginError(
            PluginErrorCode.InvalidArgument, "connect_nodes takes node ids, port names and a type"
        )
    assert isinstance(source, str) and isinstance(target, str)
    assert isinstance(source_port, str) and isinstance(target_port, str)
    for role, node in (("from", source), ("to", target)):
        if not document.has_node(node):
            return PluginError(
                PluginErrorCode.NodeNotFound,
                f"cannot connect {role} '{node}': the workflow has no such node",
                context={"node_id": node},
            )
    target_kind = document.node_info(target).kind
    for edge_id in document.edges_of([target]):
        edge = document.edge_info(edge_id)
        if edge.target != target:
            continue
        if (edge.source, edge.source_port, edge.target_port, edge.kind) == (
            source,
            source_port,
            target_port,
            kind,
        ):
            return PluginError(
                PluginErrorCode.AlreadyExists,
                f"'{source}' is already connected to '{target}' this way ({edge_id})",
                context={"connection_id": edge_id},
            )
        if (
            target_port
            and edge.target_port == target_port
            and kind in _DELIVERING
            and edge.kind in _DELIVERING
            and edge.enabled
            and target_kind != "Aggregator"
        ):
            return PluginError(
                PluginErrorCode.InvalidConnection,
                f"input port '{target_port}' of '{target}' is already fed by {edge_id}; "
                "remove that connection first (or feed an Aggregator, which collects inputs)",
                context={"connection_id": edge_id},
            )
    return None
