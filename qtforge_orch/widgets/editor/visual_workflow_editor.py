"""``VisualWorkflowEditor``: QtForge's QGraphicsView that edits a workflow.

The header's methods and signals one to one, plus undo, validation and files. The class is
assembled from single-purpose parts: ``_editor_state`` (signals, undo, refusals, read-only,
executions), ``_editor_structure`` (loading, nodes, connections, layout), ``_editor_fields``
(fields) and ``_editor_selection`` (selection, clipboard, moves); files are here.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtWidgets import QWidget

from ...errors import PluginError, PluginErrorCode
from ...orchestration.advanced.workflow import PluginWorkflow
from ...results import Expected, make_success
from ._actions import make_actions
from ._editor_selection import SelectionEditing
from ._files import read_workflow, write_workflow


class VisualWorkflowEditor(SelectionEditing):
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

    Signals (declared on its base): ``workflow_modified()``, ``node_selected(str)``,
    ``connection_selected(str)``, ``edit_refused(error)`` (an edit was refused),
    ``issues_changed()`` (``validation_issues()`` changed) and ``editable_changed(bool)``
    (editing became possible or impossible: read-only, or an execution shown running).
    """

    def __init__(self, parent: QWidget | None = None, *, plugin_manager: Any = None) -> None:
        super().__init__(parent, plugin_manager=plugin_manager)
        self._path = ""
        self._actions = make_actions(self, self)
        self._scene.selectionChanged.connect(self._selection_changed)
        self.load_workflow(PluginWorkflow(workflow_id="workflow"))
        self._update_actions()

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
