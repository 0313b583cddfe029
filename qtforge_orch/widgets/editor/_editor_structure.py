"""The editor's structural edits: loading, nodes, connections, layout.

QtForge's header methods (``load_workflow``, ``get_workflow``, ``clear``,
``add_plugin_node``, ``remove_node``, ``connect_nodes``, ``remove_connection``) and the
layered layout, each edit checked against the library's validation before it is pushed as
one undoable command.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF

from ...errors import PluginError, PluginErrorCode
from ...orchestration.advanced.workflow import PluginWorkflow
from ...orchestration.workflow import Workflow
from ...results import Expected, make_success
from .._layout import layered_layout
from ._canvas import added, first_problem
from ._commands import AddCommand, MoveCommand, RemoveCommand
from ._doc_v1 import V1Document
from ._doc_v2 import V2Document
from ._document import GraphDocument
from ._editor_state import EditorState


class StructureEditing(EditorState):
    """Loading a workflow, adding and removing nodes and connections, laying it out."""

    # --- the header's methods -------------------------------------------------------------
    def load_workflow(self, workflow: PluginWorkflow | Workflow) -> Expected[None]:
        """Show a workflow for editing (a copy; the undo history starts over).

        Nodes without a position are laid out. Connections without an id get the one
        registration would give them.

        Returns:
            Success, or ``InvalidArgument`` for anything but a ``PluginWorkflow`` or
            ``Workflow`` (the editor keeps what it showed).
        """
        return self._load(workflow, owned=False)

    def _load(self, workflow: Any, owned: bool) -> Expected[None]:
        document: GraphDocument
        if isinstance(workflow, PluginWorkflow):
            document = V2Document(workflow, owned)
        elif isinstance(workflow, Workflow):
            document = V1Document(workflow)
        else:
            return self._refuse(
                PluginError(
                    PluginErrorCode.InvalidArgument,
                    f"load_workflow expects a PluginWorkflow or Workflow, got "
                    f"{type(workflow).__name__}",
                )
            )
        self._overlay.detach()
        self._canvas.load(document, self._missing_positions(document))
        self._undo.clear()
        self._undo.setClean()
        self._update_scene_rect()
        self.fit()
        self._refresh_issues()
        self.workflow_modified.emit()
        return make_success()

    def get_workflow(self) -> PluginWorkflow | Workflow:
        """The workflow as edited: a new ``PluginWorkflow`` (a ``Workflow`` for a v1 one).

        Every node's position is in its ``position`` (``ui_properties``).
        """
        workflow: PluginWorkflow | Workflow = self._doc().workflow()
        return workflow

    def clear(self) -> None:
        """Empty the editor: a workflow of the same kind and id, without nodes."""
        current = self.get_workflow()
        if isinstance(current, Workflow):
            self.load_workflow(Workflow(current.id()))
        else:
            self.load_workflow(PluginWorkflow(workflow_id=current.workflow_id))

    def add_plugin_node(
        self, plugin_id: str, position: QPointF | tuple[float, float], command: str = ""
    ) -> str:
        """Add a node that calls ``plugin_id`` (``command``), its top-left at ``position``.

        Returns:
            The new node's id (``plugin_1``, ``plugin_2``...), or ``""`` when refused (an
            empty or unknown plugin id, an unknown command, a read-only editor).
        """
        blocked = self._blocked()
        if blocked is not None:
            self._refuse(blocked)
            return ""
        if not isinstance(plugin_id, str) or not plugin_id.strip():
            self._refuse(PluginError(PluginErrorCode.InvalidArgument, "a node needs a plugin id"))
            return ""
        if not isinstance(command, str):
            self._refuse(PluginError(PluginErrorCode.InvalidArgument, "command must be text"))
            return ""
        where = _point(position)
        if where is None:
            self._refuse(
                PluginError(PluginErrorCode.InvalidArgument, "position must be a QPointF or (x, y)")
            )
            return ""
        doc = self._doc()
        node_id = doc.unique_node_id(plugin_id)
        model = doc.new_node(node_id, plugin_id, command or self._default_command(plugin_id))
        problems = self._canvas.new_problems(
            lambda: doc.add_nodes([model]),
            lambda _: doc.drop_last([node_id], []),
            added([node_id], []),
        )
        if problems:
            self._refuse(first_problem(problems))
            return ""
        self._push(AddCommand(self._canvas, f"Add {node_id}", [model], [], {node_id: where}))
        self._canvas.adopt_probe()
        return node_id

    def _default_command(self, plugin_id: str) -> str:
        """The command a node gets when none is given.

        ``""`` (the engine calls ``execute``), or the plugin's first command when it has no
        ``execute``: a plugin dropped without a command gets one it can run.
        """
        manager = self._plugin_manager
        found = manager.get_plugin(plugin_id) if manager is not None else None
        if not found:
            return ""
        try:
            commands = [str(name) for name in found.value().available_commands()]
        except Exception:  # a plugin's bug must not break the editor
            return ""
        return commands[0] if commands and "execute" not in commands else ""

    def remove_node(self, node_id: str) -> Expected[None]:
        """Remove a node and its connections (one undoable step).

        Returns:
            Success, ``NodeNotFound`` or ``InvalidState`` (read-only).
        """
        blocked = self._blocked()
        if blocked is not None:
            return self._refuse(blocked)
        if not isinstance(node_id, str) or not self._doc().has_node(node_id):
            return self._refuse(
                PluginError(PluginErrorCode.NodeNotFound, f"no node {node_id!r} to remove")
            )
        self._push(RemoveCommand(self._canvas, f"Remove {node_id}", [node_id], []))
        return make_success()

    def connect_nodes(
        self,
        source_node: str,
        source_port: str,
        target_node: str,
        target_port: str,
        connection_type: str = "DataFlow",
    ) -> str:
        """Connect an output port to an input port (``""``: the node's whole data).

        Returns:
            The new connection's id, or ``""`` when refused: an unknown node or port, a
            self-loop, a cycle, an input port already fed, a duplicate, or any other problem
            the library's validation would add. ``last_refusal()`` says which.
        """
        blocked = self._blocked()
        if blocked is not None:
            self._refuse(blocked)
            return ""
        from ._connect import connection_refusal

        refused = connection_refusal(
            self._doc(), source_node, source_port, target_node, target_port, connection_type
        )
        if refused is not None:
            self._refuse(refused)
            return ""
        doc = self._doc()
        made = doc.new_edge(source_node, source_port, target_node, target_port, connection_type)
        if not made:
            self._refuse(made.error())
            return ""
        edge = made.value()
        edge_id = doc.edge_id_of(edge)
        problems = self._canvas.new_problems(
            lambda: doc.add_edges([edge]),
            lambda _: doc.drop_last([], [edge_id]),
            added([], [edge_id]),
        )
        if problems:
            self._refuse(first_problem(problems))
            return ""
        self._push(AddCommand(self._canvas, f"Connect {edge_id}", [], [edge], {}))
        self._canvas.adopt_probe()
        return edge_id

    def remove_connection(self, connection_id: str) -> Expected[None]:
        """Remove a connection (one undoable step).

        Returns:
            Success, ``NotFound`` or ``InvalidState`` (read-only).
        """
        blocked = self._blocked()
        if blocked is not None:
            return self._refuse(blocked)
        if not isinstance(connection_id, str) or not self._doc().has_edge(connection_id):
            return self._refuse(
                PluginError(PluginErrorCode.NotFound, f"no connection {connection_id!r}")
            )
        self._push(RemoveCommand(self._canvas, "Remove connection", [], [connection_id]))
        return make_success()

    # --- layout and view ------------------------------------------------------------------
    def auto_layout(self) -> Expected[None]:
        """Arrange the nodes in layers, left to right, long chains wrapped (one undo step)."""
        blocked = self._blocked()
        if blocked is not None:
            return self._refuse(blocked)
        doc = self._doc()
        where = self._layout(doc, doc.node_ids())
        changed = {n: xy for n, xy in where.items() if doc.position(n) != xy}
        if changed:
            self._push(MoveCommand(self._canvas, "Auto layout", changed))
        self.fit()
        return make_success()

    def _layout(self, doc: GraphDocument, nodes: list[str]) -> dict[str, tuple[float, float]]:
        edges = doc.edge_ends()
        sizes = _sizes(doc)
        size = self.viewport().size()
        aspect = size.width() / size.height() if min(size.width(), size.height()) >= 50 else 1.6
        return layered_layout(nodes, edges, sizes, aspect=aspect)

    def _missing_positions(self, doc: GraphDocument) -> dict[str, tuple[float, float]]:
        given = doc.positions()
        nodes = doc.node_ids()
        if len(given) == len(nodes):
            return {}
        where = self._layout(doc, nodes)
        if not given:
            return where
        below = max(y for _, y in given.values()) + 160.0  # under what was placed by hand
        return {n: (x, y + below) for n, (x, y) in where.items() if n not in given}


def _point(value: Any) -> tuple[float, float] | None:
    if isinstance(value, QPointF):
        return value.x(), value.y()
    if isinstance(value, tuple | list) and len(value) == 2:
        try:
            x, y = float(value[0]), float(value[1])
        except (TypeError, ValueError):
            return None
        if x == x and y == y and abs(x) < 1e9 and abs(y) < 1e9:  # finite, not NaN
            return x, y
    return None


def _sizes(doc: GraphDocument) -> dict[str, tuple[float, float]]:
    from ._items import node_size

    return {n: node_size(doc.node_info(n)) for n in doc.node_ids()}
