"""``WorkflowDesigner``: the editor in a window, with palette, properties, issues and Run.

A QMainWindow (toolbar, docks, status bar) that also embeds as a widget.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QLayout,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QToolBar,
    QWidget,
)

from ...errors import PluginError, PluginErrorCode
from ...results import Expected, from_error, make_success
from ..status_style import status_icon
from ._actions import shortcut_action
from ._apply import apply_workflow, kind_mismatch
from .plugin_palette import PluginPalette
from .property_panel import PropertyPanel
from .visual_workflow_editor import VisualWorkflowEditor

#: Toolbar order (``None``: a separator); the editor's own actions are shared.
_TOOLBAR = (
    "new",
    "open",
    "save",
    None,
    "undo",
    "redo",
    None,
    "cut",
    "copy",
    "paste",
    "duplicate",
    "delete",
    None,
    "auto_layout",
    "fit",
    None,
    "run",
    "stop",
)
_FILTER = "Workflow files (*.json);;All files (*)"


class WorkflowDesigner(QMainWindow):
    """Design, check, save and run workflows: a ready-made window around the editor.

    ```py
    designer = WorkflowDesigner(plugin_manager=plugins)
    designer.open_file("etl.json")
    designer.show()
    ```

    The palette lists ``plugin_manager``'s plugins and commands (drag one onto the canvas);
    the property panel edits the selection; the issues list shows the library's validation
    (click one to select what it is about). Run registers the workflow with
    ``orchestrator`` (or one made for the workflow's kind) or applies the changes to the
    registered one, starts it and shows the execution on the canvas; Stop cancels it.
    Shortcuts: Ctrl+O, Ctrl+S, Ctrl+Shift+S, F5 (run), Shift+F5 (stop) and the editor's.
    Given a parent, it embeds as a plain widget. Signals: ``execution_started(handle)``,
    ``message(text)`` (what the status bar shows).
    """

    execution_started = Signal(object)
    message = Signal(str)

    def __init__(
        self,
        plugin_manager: Any = None,
        orchestrator: Any = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        if parent is not None:
            self.setWindowFlags(Qt.WindowType.Widget)
        if plugin_manager is None and orchestrator is not None:
            plugin_manager = getattr(orchestrator, "plugin_manager", lambda: None)()
        self._plugin_manager = plugin_manager
        self._orchestrator = orchestrator
        self._made: dict[str, Any] = {}
        self._handle: Any = None
        self._input: dict[str, Any] = {}
        self._editor = VisualWorkflowEditor(plugin_manager=plugin_manager)
        self.setCentralWidget(self._editor)
        self._palette = PluginPalette(plugin_manager)
        self._palette.activated.connect(self._add_at_centre)
        self._properties = PropertyPanel(self._editor)
        self._issues = QListWidget()
        self._issues.itemClicked.connect(self._issue_clicked)
        self._issues.itemActivated.connect(self._issue_clicked)
        self._palette_dock = self._dock(
            "Plugins", self._palette, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self._properties_dock = self._dock(
            "Properties", self._properties, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self._issues_dock = self._dock(
            "Issues", self._issues, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self._summary = QLabel()
        self.statusBar().addPermanentWidget(self._summary)
        self._actions = self._make_actions()
        toolbar = QToolBar("Workflow")
        toolbar.setObjectName("workflow_toolbar")
        for name in _TOOLBAR:
            if name is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(self.action(name))
        self.addToolBar(toolbar)
        self._editor.edit_refused.connect(self._refused)
        self._editor.issues_changed.connect(self._show_issues)
        self._editor.workflow_modified.connect(self._update_title)
        self._editor.editable_changed.connect(self._update_run_actions)
        self._show_issues()
        self._update_title()
        self._update_run_actions()
        # The window's minimum size is not recomputed at every status message or dock
        # change: each recomputation is a window-system round trip (and a warning on
        # platforms that cannot pass size hints on, such as offscreen).
        layout = self.layout()
        if layout is not None:
            layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.resize(1400, 860)
        self.resizeDocks([self._issues_dock], [120], Qt.Orientation.Vertical)
        self.resizeDocks(
            [self._palette_dock, self._properties_dock], [230, 300], Qt.Orientation.Horizontal
        )

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title.lower()}_dock")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    def _make_actions(self) -> dict[str, QAction]:
        own: dict[str, tuple[str, tuple[str, ...], str, Callable[[], object]]] = {
            "new": ("New", (), "An empty workflow", self.new_workflow),
            "open": ("Open…", ("Ctrl+O",), "Open a workflow file", self.open_file),
            "save": ("Save", ("Ctrl+S",), "Save the workflow", self.save_file),
            "save_as": ("Save as…", ("Ctrl+Shift+S",), "Save to another file", self.save_file_as),
            "run": ("Run", ("F5",), "Register or update the workflow and run it", self.run),
            "stop": ("Stop", ("Shift+F5",), "Cancel the execution", self.stop),
        }
        return {
            name: shortcut_action(self, name, text, keys, tip, handler)
            for name, (text, keys, tip, handler) in own.items()
        }

    # --- parts ----------------------------------------------------------------------------
    def editor(self) -> VisualWorkflowEditor:
        """The canvas."""
        return self._editor

    def plugin_palette(self) -> PluginPalette:
        """The plugin palette."""
        return self._palette

    def property_panel(self) -> PropertyPanel:
        """The property panel."""
        return self._properties

    def issues_view(self) -> QListWidget:
        """The list of validation issues (each item's data is its target id)."""
        return self._issues

    def action(self, name: str) -> QAction:
        """An action by name.

        ``new``, ``open``, ``save``, ``save_as``, ``run``, ``stop`` and the editor's
        (``undo``, ``redo``, ``cut``, ``copy``, ``paste``...).
        """
        found = self._actions.get(name) or self._editor.action(name)
        if found is None:
            raise KeyError(f"no action {name!r}")
        return found

    def execution(self) -> Any:
        """The execution started last, or None."""
        return self._handle

    # --- files ----------------------------------------------------------------------------
    def new_workflow(self) -> None:
        """An empty workflow of the same kind (the undo history starts over)."""
        self._editor.clear()

    def open_file(self, path: str | os.PathLike[str] | None = None) -> Expected[None]:
        """Open a workflow file (None: ask with a file dialog); failures are shown."""
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(self, "Open workflow", "", _FILTER)
            if not chosen:
                return make_success()
            path = chosen
        opened = self._editor.open(path)
        if opened:
            self._say(f"opened {path}")
        self._update_title()
        return opened

    def save_file(self, path: str | os.PathLike[str] | None = None) -> Expected[None]:
        """Save to ``path`` or the current file (asking for one when there is none)."""
        if path is None and not self._editor.file_path():
            return self.save_file_as()
        saved = self._editor.save(path)
        if saved:
            self._say(f"saved {self._editor.file_path()}")
        self._update_title()
        return saved

    def save_file_as(self) -> Expected[None]:
        """Ask for a file name and save there."""
        chosen, _ = QFileDialog.getSaveFileName(self, "Save workflow", "", _FILTER)
        if not chosen:
            return make_success()
        return self.save_file(chosen)

    # --- running --------------------------------------------------------------------------
    def set_input(self, input_data: dict[str, Any]) -> None:
        """The input data Run starts the workflow with."""
        self._input = dict(input_data)

    def orchestrator(self) -> Any:
        """The orchestrator Run uses for the current workflow's kind (made on first use)."""
        workflow = self._editor.get_workflow()
        if self._orchestrator is not None:
            return self._orchestrator
        from ...orchestration.workflow import Workflow

        kind = "v1" if isinstance(workflow, Workflow) else "v2"
        made = self._made.get(kind)
        if made is None:
            if kind == "v1":
                from ...orchestration.plugin_orchestrator import PluginOrchestrator

                made = PluginOrchestrator(self, plugin_manager=self._plugin_manager)
            else:
                from ...orchestration.advanced.plugin_orchestrator_v2 import (
                    AdvancedPluginOrchestrator,
                )

                made = AdvancedPluginOrchestrator(self, plugin_manager=self._plugin_manager)
            self._made[kind] = made
        return made

    def run(self) -> Expected[Any]:
        """Register (or update) the workflow, start it and show it running.

        Returns:
            The ``WorkflowExecution``, or why not (a refusal of the orchestrator, an
            execution still running); the reason is also shown in the status bar.
        """
        if self._handle is not None and not self._handle.is_finished():
            return self._fail(
                PluginError(PluginErrorCode.InvalidState, "the workflow is already running")
            )
        workflow = self._editor.get_workflow()
        orchestrator = self.orchestrator()
        mismatch = kind_mismatch(orchestrator, workflow)
        if mismatch is not None:
            return self._fail(mismatch)
        applied = apply_workflow(orchestrator, workflow)
        if not applied:
            return self._fail(applied.error())
        workflow_id = self._workflow_id(workflow)
        started = orchestrator.start_workflow(workflow_id, dict(self._input))
        if not started:
            return self._fail(started.error())
        handle = started.value()
        self._handle = handle
        handle.finished.connect(self._finished)
        self._editor.attach_execution(handle)
        self._say(f"{applied.value()} '{workflow_id}'; running {handle.execution_id()}")
        self.execution_started.emit(handle)
        self._update_run_actions()
        return make_success(handle)

    def stop(self) -> Expected[None]:
        """Cancel the running execution."""
        handle = self._handle
        if handle is None or handle.is_finished():
            return self._fail(PluginError(PluginErrorCode.InvalidState, "nothing is running"))
        cancelled: Expected[None] = handle.cancel()
        if not cancelled:
            self._fail(cancelled.error())
        return cancelled

    @staticmethod
    def _workflow_id(workflow: Any) -> str:
        return str(getattr(workflow, "workflow_id", None) or workflow.id())

    def _finished(self, status: str, _result: Any) -> None:
        self._say(f"execution {status}")
        self._update_run_actions()

    def _fail(self, error: PluginError) -> Expected[Any]:
        self._say(error.message)
        return from_error(error)

    def _update_run_actions(self, *_: Any) -> None:
        running = self._handle is not None and not self._handle.is_finished()
        self._actions["run"].setEnabled(not running)
        self._actions["stop"].setEnabled(running)

    # --- feedback -------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        self.statusBar().showMessage(text, 10_000)
        self.message.emit(text)

    def _refused(self, error: PluginError) -> None:
        self._say(error.message)

    def _show_issues(self) -> None:
        issues = self._editor.validation_issues()
        self._issues.clear()
        icon = status_icon("failed")
        for issue in issues:
            item = QListWidgetItem(icon, issue.message)
            item.setData(Qt.ItemDataRole.UserRole, issue.target_id)
            where = issue.target_id or "the workflow"
            item.setToolTip(f"{issue.code.name} ({int(issue.code)}) on {where}\n{issue.message}")
            self._issues.addItem(item)
        self._summary.setText(f"{len(issues)} issue(s)" if issues else "valid")

    def _issue_clicked(self, item: QListWidgetItem) -> None:
        target = item.data(Qt.ItemDataRole.UserRole)
        if not target:
            self._editor.select([])
            return
        self._editor.select([target])
        found = self._editor.node_item(target) or self._editor.connection_item(target)
        if found is not None:
            self._editor.centerOn(found)

    def _add_at_centre(self, plugin_id: str, command: str) -> None:
        centre = self._editor.mapToScene(self._editor.viewport().rect().center())
        self._editor.add_plugin_node(plugin_id, centre - QPointF(95, 13), command)

    def _update_title(self) -> None:
        path = self._editor.file_path()
        name = os.path.basename(path) if path else "untitled"
        marker = " *" if self._editor.is_modified() else ""
        self.setWindowTitle(f"{name}{marker} — workflow designer")
