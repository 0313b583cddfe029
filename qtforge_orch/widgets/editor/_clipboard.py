"""Copy and paste: nodes and the connections between them as JSON text.

The clipboard holds ``{"format": "qtforge-orch-nodes", "kind": "v2", "nodes": [...],
"connections": [...]}``, each node and connection in the library's own JSON form, so a paste
goes through the same readers as a file. Anything else on the clipboard (foreign text, a
v1 selection in a v2 editor, a malformed node) is refused with a message, and nothing changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QByteArray, QMimeData

from ...errors import PluginErrorCode
from ...results import Expected, from_error, make_error, make_success
from ._document import GraphDocument

FORMAT = "qtforge-orch-nodes"
#: Where a paste lands relative to the copied nodes when no point is given.
PASTE_OFFSET = 40.0
#: More text than this is not read (a paste is a selection, not a database dump).
MAX_TEXT = 64 * 1024 * 1024


@dataclass
class Pasted:
    """What a paste adds: node models under fresh ids, connections, positions."""

    models: list[Any] = field(default_factory=list)
    edges: list[Any] = field(default_factory=list)
    where: dict[str, tuple[float, float]] = field(default_factory=dict)


def copy_text(document: GraphDocument, node_ids: Iterable[str]) -> str:
    """The clipboard text for nodes and the connections among them."""
    chosen = [n for n in node_ids if document.has_node(n)]
    inside = set(chosen)
    edges = [
        document.edge_json(edge_id)
        for edge_id in document.edges_of(chosen)
        if {document.edge_info(edge_id).source, document.edge_info(edge_id).target} <= inside
    ]
    payload = {
        "format": FORMAT,
        "version": 1,
        "kind": document.kind,
        "nodes": [document.node_json(n) for n in chosen],
        "connections": edges,
    }
    return json.dumps(payload)


def _refused(message: str) -> Expected[Pasted]:
    return make_error(PluginErrorCode.InvalidFormat, message)


def parse_paste(
    document: GraphDocument, text: str, at: tuple[float, float] | None = None
) -> Expected[Pasted]:
    """The nodes and connections clipboard ``text`` holds, ready to add to ``document``.

    Ids that are taken get a fresh one (``id_1``...); positions keep their arrangement,
    moved to ``at`` (the top-left of the pasted group) or offset from the originals.
    """
    if len(text) > MAX_TEXT:
        return _refused("the clipboard text is too large to be copied workflow nodes")
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        return _refused(
            "the clipboard holds no workflow nodes; copy nodes in a workflow editor first"
        )
    kind = payload.get("kind")
    if kind != document.kind:
        return _refused(
            f"the clipboard holds nodes of a {kind} workflow; this editor edits a "
            f"{document.kind} workflow"
        )
    nodes, connections = payload.get("nodes"), payload.get("connections", [])
    if not isinstance(nodes, list) or not isinstance(connections, list) or not nodes:
        return _refused("the clipboard's workflow nodes are malformed (no node list)")
    pasted = Pasted()
    rename: dict[str, str] = {}
    originals: list[tuple[str, tuple[float, float] | None]] = []
    for raw in nodes:
        read = document.node_from_json(raw)
        if not read:
            return from_error(read.error())
        model = read.value()
        old_id = document.node_id_of(model)
        if not isinstance(old_id, str) or not old_id or old_id in rename:
            return _refused("the clipboard's nodes need distinct, non-empty ids")
        new_id = old_id
        if document.has_node(new_id) or new_id in rename.values():
            new_id = document.unique_node_id(old_id, rename.values())
        rename[old_id] = new_id
        pasted.models.append(document.renamed(model, new_id))
        originals.append((new_id, document.model_position(model)))
    batch = document.edge_batch()
    for raw in connections:
        made = document.edge_from_json(raw, rename, batch)
        if not made:
            return from_error(made.error())
        pasted.edges.append(made.value())
    pasted.where = _placed(originals, at)
    return make_success(pasted)


def _placed(
    originals: list[tuple[str, tuple[float, float] | None]], at: tuple[float, float] | None
) -> dict[str, tuple[float, float]]:
    known = [xy for _, xy in originals if xy is not None]
    left = min((x for x, _ in known), default=0.0)
    top = min((y for _, y in known), default=0.0)
    dx, dy = (at[0] - left, at[1] - top) if at is not None else (PASTE_OFFSET, PASTE_OFFSET)
    where: dict[str, tuple[float, float]] = {}
    for row, (node_id, xy) in enumerate(originals):
        x, y = xy if xy is not None else (left, top + row * 90.0)
        where[node_id] = (x + dx, y + dy)
    return where


# --- palette drags ---------------------------------------------------------------------------

#: What the palette drags onto the canvas: ``{"plugin_id": .., "command": ..}``.
PLUGIN_MIME_TYPE = "application/x-qtforge-orch-plugin"


def plugin_drag_data(plugin_id: str, command: str) -> QMimeData:
    """The drag payload of one palette entry (a plugin, or one of its commands)."""
    data = QMimeData()
    data.setData(
        PLUGIN_MIME_TYPE,
        QByteArray(json.dumps({"plugin_id": plugin_id, "command": command}).encode()),
    )
    data.setText(f"{plugin_id}.{command}" if command else plugin_id)
    return data


def has_plugin_drag(data: QMimeData | None) -> bool:
    """Whether a drag carries a palette entry."""
    return data is not None and data.hasFormat(PLUGIN_MIME_TYPE)


def decode_plugin_drag(data: QMimeData | None) -> tuple[str, str] | None:
    """(plugin id, command) of a palette drag, or None for anything else."""
    if not has_plugin_drag(data):
        return None
    assert data is not None
    try:
        payload = json.loads(bytes(data.data(PLUGIN_MIME_TYPE).data()).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict):
        return None
    plugin_id, command = payload.get("plugin_id"), payload.get("command", "")
    if not isinstance(plugin_id, str) or not isinstance(command, str):
        return None
    return plugin_id, command
