"""The editor's state and its rules: undo, validation, refusals, read-only, executions.

The base of ``VisualWorkflowEditor``: its signals, the canvas (document and drawing), the
undo stack, why an edit is refused (read-only, an execution shown running), the validation
badges, and an execution drawn on the nodes. The editing operations build on it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QAction, QUndoStack
from PySide6.QtWidgets import QWidget

from ...errors import PluginError, PluginErrorCode
from ...results import Expected, from_error, make_success
from ._canvas import Canvas
from ._canvas_view import CanvasView
from ._document import GraphDocument
from ._items import NodeItem
from ._run_view import ExecutionOverlay
from .validation_issue import ValidationIssue


class EditorState(CanvasView):
    """The editor's signals, canvas, undo stack, refusals and execution overlay.

    See ``VisualWorkflowEditor`` for the signals' meaning.
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
        self._refusal: PluginError | None = None
        self._editable = True
        # Made by the editor once every command exists (they are its methods).
        self._actions: dict[str, QAction] = {}
        self._undo.indexChanged.connect(self._stack_moved)
        self._undo.canUndoChanged.connect(self._update_actions)
        self._undo.canRedoChanged.connect(self._update_actions)
        self._overlay.running_changed.connect(self._update_editable)

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

    def attach_execution(self, handle: Any, orchestrator: Any = None) -> Expected[None]:
        """Show a running or finished ``WorkflowExecution`` on the drawing (None: stop).

        ``handle`` may also be an execution id, looked up with
        ``orchestrator.execution(id)``. Nodes take the monitor's status colours and show
        attempts, times or Streaming item counts; edits are refused while it runs. The next
        edit after it ended returns the drawing to the editing look.
        """
        from .._following import resolve

        found = resolve(handle, orchestrator, "attach_execution")
        if not found:
            return self._refuse(found.error())
        self._overlay.attach(found.value())
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
