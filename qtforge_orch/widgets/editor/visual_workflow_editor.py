"""``VisualWorkflowEditor``: QtForge's QGraphicsView that edits a workflow.

The header's methods and signals one to one, plus undo, validation and files.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QPointF, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QGuiApplication,
    QUndoStack,
)
from PySide6.QtWidgets import QWidget

from ..._errors import PluginError, PluginErrorCode
from ..._expected import Expected, from_error, make_error, make_success
from ...orchestration.advanced.workflow import PluginWorkflow
from ...orchestration.workflow import Workflow
from .._layout import layered_layout
from ._actions import make_actions
from ._canvas import Canvas, added, field_delta, first_problem
from ._canvas_view import CanvasView
from ._clipboard import copy_text, parse_paste
from ._commands import AddCommand, FieldCommand, MoveCommand, RemoveCommand
from ._doc_v1 import V1Document
from ._doc_v2 import V2Document
from ._document import GraphDocument, canonical
from ._files import read_workflow, write_workflow
from ._issues import expression_problem
from ._items import EdgeItem, NodeItem
from ._run_view import ExecutionOverlay
from .validation_issue import ValidationIssue


class VisualWorkflowEditor(CanvasView):
    """A canvas that edits a v2 ``PluginWorkflow`` (or a v1 ``Workflow``) as a graph.

    QtForge's header, one to one: ``load_workflow``, ``get_workflow``, ``clear``,
    ``add_plugin_node``, ``remove_node``, ``connect_nodes``, ``remove_connection`` and the
    signals ``workflow_modified()``, ``node_selected(str)``, ``connection_selected(str)``.

    Every edit is a command on ``undo_stack()``; ``validation_issues()`` is the library's own
    validation of the current graph, drawn as badges. Edits that would add a problem
    (a cycle, an unknown port, a bad CEL expression, an unknown plugin) are refused:
    nothing changes, ``last_refusal()`` says why and ``edit_refused(error)`` is emitted.
    Public methods never raise for bad input.

    Mouse and keys: drag from port to port to connect; drag nodes to move; drag on the
    background for a rubber band; middle button or space+drag pans; the wheel zooms around
    the cursor; shortcuts are ``action(name)`` (Ctrl+Z, Ctrl+Shift+Z, Ctrl+X/C/V/D, Ctrl+A,
    Delete, Ctrl+L, F). Plugins dragged from the designer's palette become nodes.

    Args:
        parent: the parent widget.
        plugin_manager: when given, nodes must name its plugins and commands.
    """

    workflow_modified = Signal()
    node_selected = Signal(str)
    connection_selected = Signal(str)
    #: An edit was refused; the argument is the ``PluginError`` saying why.
    edit_refused = Signal(object)
    #: ``validation_issues()`` changed.
    issues_changed = Signal()
    #: Editing became possible or impossible (read-only, or an execution is shown running).
    editable_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None, *, plugin_manager: Any = None) -> None:
        super().__init__(parent)
        self._plugin_manager = plugin_manager
        self._undo = QUndoStack(self)
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(0)
        self._refresh.timeout.connect(self._refresh_issues)
        self._issues_dirty = True
        self._canvas = Canvas(self._scene, plugin_manager, self._document_changed)
        self._overlay = ExecutionOverlay(self._scene, self)
        self._read_only = False
        self._path = ""
        self._refusal: PluginError | None = None
        self._editable = True
        self._actions = make_actions(self, self)
        self._undo.indexChanged.connect(self._stack_moved)
        self._undo.canUndoChanged.connect(self._update_actions)
        self._undo.canRedoChanged.connect(self._update_actions)
        self._overlay.running_changed.connect(self._update_editable)
        self._scene.selectionChanged.connect(self._selection_changed)
        self.load_workflow(PluginWorkflow(workflow_id="workflow"))
        self._update_actions()

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

    # --- fields ---------------------------------------------------------------------------
    def set_node_property(self, node_id: str, name: str, value: Any) -> Expected[None]:
        """Set a field of a node, or of a connection (pass its id), as one undoable edit.

        Node fields (v2): ``name``, ``description``, ``plugin_id``, ``command`` (the
        ``method`` the node calls), ``node_type``, ``enabled``, ``configuration``,
        ``input_ports``, ``output_ports`` (a list or comma-separated text). Connection
        fields: ``connection_type``, ``condition`` (CEL), ``data_transformation`` (CEL),
        ``enabled``. v1 steps: ``name``, ``description``, ``plugin_id``, ``command``,
        ``configuration`` (the parameters), ``condition``, ``critical``, ``timeout``,
        ``max_retries``, ``retry_delay``.

        Returns:
            Success, or why not: an unknown target or field, a malformed value, or a
            problem the value would add (bad CEL, an unknown plugin, a port in use).
        """
        if not isinstance(node_id, str) or not node_id:
            return self._refuse(
                PluginError(PluginErrorCode.InvalidArgument, "name the node or connection to set")
            )
        return self._set_field(node_id, name, value)

    def set_workflow_property(self, name: str, value: Any) -> Expected[None]:
        """Set a field of the workflow itself, as one undoable edit.

        ``workflow_id``, ``name``, ``description``, ``execution_mode``, and v2's
        ``global_configuration`` and ``metadata`` or v1's ``timeout``.
        """
        return self._set_field("", name, value)

    def _set_field(self, target_id: str, name: str, value: Any) -> Expected[None]:
        blocked = self._blocked()
        if blocked is not None:
            return self._refuse(blocked)
        doc = self._doc()
        if target_id and not doc.has_node(target_id) and not doc.has_edge(target_id):
            return self._refuse(doc.unknown_target(target_id).error())
        if not isinstance(name, str):
            return self._refuse(PluginError(PluginErrorCode.InvalidArgument, "bad field name"))
        if canonical(name) in doc.fields(target_id) and doc.get_field(target_id, name) == value:
            return make_success()
        if canonical(name) in ("condition", "data_transformation") and isinstance(value, str):
            problem = expression_problem(value)
            if problem:
                code = (
                    PluginErrorCode.InvalidConfiguration
                    if doc.kind == "v1"
                    else PluginErrorCode.InvalidWorkflowStructure
                )
                return self._refuse(PluginError(code, f"{name}: {problem}"))
        outcome: list[Any] = []

        def change() -> Any:
            done = doc.set_field(target_id, name, value)
            outcome.append(done)
            return done

        def undo(done: Any) -> None:
            if done:
                doc.restore_field(target_id, *done.value())

        problems = self._canvas.new_problems(change, undo, field_delta(doc, target_id))
        if not outcome[0]:
            return self._refuse(outcome[0].error())
        if canonical(name) == "plugin_id":
            # Another plugin may lack the node's command: allowed (shown as an issue), or a
            # node could never move to a plugin whose commands are named differently.
            problems = [p for p in problems if p.code != PluginErrorCode.CommandNotFound]
        if problems:
            return self._refuse(first_problem(problems))
        self._push(FieldCommand(self._canvas, target_id, name, value))
        self._canvas.adopt_probe()
        return make_success()

    def node_property(self, target_id: str, name: str) -> Expected[Any]:
        """A field's current value (``""`` as target: the workflow)."""
        doc = self._doc()
        if target_id and not doc.has_node(target_id) and not doc.has_edge(target_id):
            return doc.unknown_target(target_id)
        if not isinstance(name, str) or canonical(name) not in doc.fields(target_id):
            return make_error(PluginErrorCode.InvalidArgument, f"no field {name!r}")
        return make_success(doc.get_field(target_id, name))

    def editable_fields(self, target_id: str) -> tuple[str, ...]:
        """The fields ``set_node_property`` accepts for a node, connection or ("") workflow."""
        return self._doc().fields(target_id)

    @staticmethod
    def check_expression(text: str) -> str:
        """Why ``text`` is not a valid CEL expression (the library's check), or ``""``."""
        return expression_problem(text) if isinstance(text, str) else "not text"

    # --- undo, validation, refusals -------------------------------------------------------
    def undo_stack(self) -> QUndoStack:
        """The undo stack: one command per edit (a paste or a layout is one command)."""
        return self._undo

    def undo(self) -> Expected[None]:
        """Undo the last edit (refused while the editor is read-only)."""
        blocked = self._blocked()
        if blocked is not None:
            return self._refuse(blocked)
        self._undo.undo()
        return make_success()

    def redo(self) -> Expected[None]:
        """Redo the edit undone last (refused while the editor is read-only)."""
        blocked = self._blocked()
        if blocked is not None:
            return self._refuse(blocked)
        self._undo.redo()
        return make_success()

    def validation_issues(self) -> list[ValidationIssue]:
        """Every issue of the current workflow (``target_id``, ``code``, ``message``)."""
        if self._issues_dirty:
            self._refresh_issues()
        return list(self._canvas.issues())

    def last_refusal(self) -> PluginError | None:
        """Why the last refused edit (a connection, a field, a paste...) was refused."""
        return self._refusal

    def _refuse(self, error: PluginError) -> Expected[None]:
        self._refusal = error
        self.edit_refused.emit(error)
        return from_error(error)

    def _blocked(self) -> PluginError | None:
        if self._read_only:
            return PluginError(PluginErrorCode.InvalidState, "the editor is read-only")
        if self._overlay.is_running():
            return PluginError(
                PluginErrorCode.InvalidState,
                "the workflow is running: wait for it to finish (or stop it) to edit",
            )
        return None

    def _push(self, command: Any) -> None:
        self._overlay.detach()  # the drawing no longer shows what ran
        self._undo.push(command)

    def _document_changed(self) -> None:
        self._issues_dirty = True
        self._refresh.start()
        self._reveal.start(0)

    def _refresh_issues(self) -> None:
        self._refresh.stop()
        self._issues_dirty = False
        by_target: dict[str, list[str]] = {}
        for issue in self._canvas.issues():
            by_target.setdefault(issue.target_id, []).append(issue.message)
        self._scene.set_issues(by_target)
        self._update_scene_rect()
        self.issues_changed.emit()

    def _stack_moved(self, _index: int) -> None:
        self.workflow_modified.emit()

    # --- items and selection --------------------------------------------------------------
    def node_ids(self) -> list[str]:
        """Node ids in declaration order."""
        return self._doc().node_ids()

    def connection_ids(self) -> list[str]:
        """Connection ids in declaration order."""
        return self._doc().edge_ids()

    def selected_node_ids(self) -> list[str]:
        """The selected nodes, in declaration order."""
        chosen = {i.node_id for i in self._scene.selectedItems() if isinstance(i, NodeItem)}
        return [n for n in self._doc().node_ids() if n in chosen]

    def selected_connection_ids(self) -> list[str]:
        """The selected connections, in declaration order."""
        chosen = {i.edge_id for i in self._scene.selectedItems() if isinstance(i, EdgeItem)}
        return [e for e in self._doc().edge_ids() if e in chosen]

    def select(self, ids: list[str]) -> None:
        """Select exactly these nodes and connections (unknown ids are ignored)."""
        with self._scene.batch():
            self._scene.clearSelection()
            for target in ids:
                item = self._scene.nodes.get(target) or self._scene.edges.get(target)
                if item is not None:
                    item.setSelected(True)

    def select_all(self) -> None:
        """Select every node and connection."""
        self.select([*self._scene.nodes, *self._scene.edges])

    def _selection_changed(self) -> None:
        items = self._scene.selectedItems()
        if len(items) == 1 and isinstance(items[0], NodeItem):
            self.node_selected.emit(items[0].node_id)
        elif len(items) == 1 and isinstance(items[0], EdgeItem):
            self.connection_selected.emit(items[0].edge_id)
        elif not items:
            self.node_selected.emit("")

    # --- selection edits ------------------------------------------------------------------
    def delete_selection(self) -> Expected[None]:
        """Delete the selected nodes and connections (one undoable step)."""
        blocked = self._blocked()
        if blocked is not None:
            return self._refuse(blocked)
        nodes, edges = self.selected_node_ids(), self.selected_connection_ids()
        if nodes or edges:
            self._push(RemoveCommand(self._canvas, "Delete", nodes, edges))
        return make_success()

    def copy_selection(self) -> str:
        """Put the selected nodes (and the connections among them) on the clipboard."""
        nodes = self.selected_node_ids()
        if not nodes:
            return ""
        text = copy_text(self._doc(), nodes)
        # Plain text (JSON), which other editors can paste too. Not setMimeData: PySide6
        # frees a QMimeData handed to the clipboard twice when the application exits.
        QGuiApplication.clipboard().setText(text)
        return text

    def cut_selection(self) -> Expected[None]:
        """Copy the selection, then delete it."""
        blocked = self._blocked()
        if blocked is not None:
            return self._refuse(blocked)
        self.copy_selection()
        return self.delete_selection()

    def paste(self, text: str | None = None, at: QPointF | None = None) -> Expected[list[str]]:
        """Paste nodes from the clipboard (or ``text``), selected afterwards.

        Returns:
            The new node ids, or why the clipboard cannot be pasted (foreign text, another
            workflow kind, a malformed node, a problem the nodes would add).
        """
        blocked = self._blocked()
        if blocked is not None:
            return from_error(self._refuse(blocked).error())
        if text is None:
            text = QGuiApplication.clipboard().text()
        where = _point(at) if at is not None else None
        return self._add_pasted(text, where, "Paste")

    def duplicate_selection(self) -> Expected[list[str]]:
        """Copies of the selected nodes and the connections among them, next to them."""
        blocked = self._blocked()
        if blocked is not None:
            return from_error(self._refuse(blocked).error())
        nodes = self.selected_node_ids()
        if not nodes:
            return make_success([])
        return self._add_pasted(copy_text(self._doc(), nodes), None, "Duplicate")

    def _add_pasted(
        self, text: str, at: tuple[float, float] | None, label: str
    ) -> Expected[list[str]]:
        doc = self._doc()
        parsed = parse_paste(doc, text, at)
        if not parsed:
            return from_error(self._refuse(parsed.error()).error())
        pasted = parsed.value()
        ids = [doc.node_id_of(m) for m in pasted.models]
        edge_ids = [doc.edge_id_of(e) for e in pasted.edges]

        def change() -> None:
            doc.add_nodes(pasted.models)
            doc.add_edges(pasted.edges)

        problems = self._canvas.new_problems(
            change, lambda _: doc.drop_last(ids, edge_ids), added(ids, edge_ids)
        )
        if problems:
            return from_error(self._refuse(first_problem(problems)).error())
        self._push(AddCommand(self._canvas, label, pasted.models, pasted.edges, pasted.where))
        self._canvas.adopt_probe()
        self.select(ids)
        return make_success(ids)

    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> Expected[None]:
        """Place nodes (top-left corners), as one undoable move."""
        blocked = self._blocked()
        if blocked is not None:
            self._scene.place({n: p for n in positions if (p := self._doc().position(n))})
            return self._refuse(blocked)
        known = {n: xy for n, xy in positions.items() if self._doc().has_node(n)}
        if known:
            self._push(MoveCommand(self._canvas, "Move", known))
        return make_success()

    # --- files ----------------------------------------------------------------------------
    def open(self, path: str | os.PathLike[str]) -> Expected[None]:
        """Load a workflow file (QtForge's JSON, v1 or v2, any format version).

        Returns:
            Success, or why not (``FileNotFound``, ``InvalidFormat``, the reader's error);
            the editor keeps what it showed.
        """
        read = read_workflow(path)
        if not read:
            return self._refuse(read.error())
        loaded = self._load(read.value(), owned=True)
        if loaded:
            self._path = str(path)
        return loaded

    def save(self, path: str | os.PathLike[str] | None = None) -> Expected[None]:
        """Write the workflow with the library's writer (``to_json``).

        To ``path``, by default the file opened or saved last; the undo history is then
        marked clean.
        """
        target = str(path) if path is not None else self._path
        if not target:
            return self._refuse(
                PluginError(PluginErrorCode.InvalidArgument, "no file to save to: give a path")
            )
        written = write_workflow(target, self.get_workflow())
        if not written:
            return self._refuse(written.error())
        self._path = target
        self._undo.setClean()
        return make_success()

    def set_file_path(self, path: str | os.PathLike[str]) -> None:
        """Where ``save()`` writes by default (a file that need not exist yet)."""
        self._path = str(path)

    def file_path(self) -> str:
        """The file opened or saved last (``""``: none)."""
        return self._path

    def is_modified(self) -> bool:
        """Whether the workflow changed since it was loaded, opened or saved."""
        return not self._undo.isClean()

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

    # --- read-only and executions ---------------------------------------------------------
    def set_read_only(self, read_only: bool) -> None:
        """Forbid (True) or allow edits; a read-only editor still selects, pans and zooms."""
        self._read_only = bool(read_only)
        self._update_editable()

    def is_read_only(self) -> bool:
        """Whether ``set_read_only(True)`` is in force."""
        return self._read_only

    def is_editable(self) -> bool:
        """Whether edits are accepted now (not read-only, no execution shown running)."""
        return self._blocked() is None

    def _update_editable(self, *_: Any) -> None:
        editable = self.is_editable()
        if editable != self._editable:
            self._editable = editable
            for node in self._scene.nodes.values():
                node.setFlag(NodeItem.GraphicsItemFlag.ItemIsMovable, editable)
            self.setAcceptDrops(editable)
            self.editable_changed.emit(editable)
        self._update_actions()

    def _update_actions(self, *_: Any) -> None:
        editable = self._editable
        for name, action in self._actions.items():
            if name in ("undo", "redo", "cut", "paste", "duplicate", "delete", "auto_layout"):
                action.setEnabled(editable)
        self._actions["undo"].setEnabled(editable and self._undo.canUndo())
        self._actions["redo"].setEnabled(editable and self._undo.canRedo())

    def attach_execution(self, handle: Any) -> Expected[None]:
        """Show a running or finished ``WorkflowExecution`` on the drawing (None: stop).

        Nodes take the monitor's status colours and show attempts, times or Streaming item
        counts; edits are refused while it runs. The next edit after it ended returns the
        drawing to the editing look.
        """
        from ...qt.execution import WorkflowExecution

        if handle is not None and not isinstance(handle, WorkflowExecution):
            return self._refuse(
                PluginError(
                    PluginErrorCode.InvalidArgument,
                    f"attach_execution expects a WorkflowExecution, got {type(handle).__name__}",
                )
            )
        self._overlay.attach(handle)
        self._update_editable()
        return make_success()

    def execution(self) -> Any:
        """The execution shown, or None."""
        return self._overlay.handle()

    def flush(self) -> None:
        """Apply pending display updates now (badges, execution states, texts in view)."""
        if self._issues_dirty:
            self._refresh_issues()
        self._overlay.flush()
        self._reveal.stop()
        self._scene.reveal(self.mapToScene(self.viewport().rect()).boundingRect())

    def action(self, name: str) -> QAction | None:
        """The editor's action ``name``, to put in toolbars and menus.

        ``undo``, ``redo``, ``cut``, ``copy``, ``paste``, ``duplicate``, ``select_all``,
        ``delete``, ``auto_layout``, ``fit``, ``zoom_in``, ``zoom_out``.
        """
        return self._actions.get(name)

    def _doc(self) -> GraphDocument:
        return self._canvas.doc()


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
