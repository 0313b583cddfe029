"""The designer's property panel: the fields of the selected node, connection or workflow.

Each field commits through ``set_node_property`` / ``set_workflow_property`` when editing
finishes (Enter, focus out, a choice, a tick), so every change is one undoable edit checked
by the library's validation; a refused value is put back and the reason shown. CEL fields
(condition, data transformation) are checked as they are typed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ...orchestration.advanced.enums import (
    ConnectionType,
    WorkflowExecutionMode,
    WorkflowNodeType,
)
from ...orchestration.execution_mode import ExecutionMode

if TYPE_CHECKING:
    from .visual_workflow_editor import VisualWorkflowEditor

_CHOICES: dict[str, list[str]] = {
    "node_type": [m.name for m in WorkflowNodeType],
    "connection_type": [m.name for m in ConnectionType],
}
_BOOLEANS = frozenset({"enabled", "critical"})
_JSON = frozenset({"configuration", "global_configuration", "metadata"})
_PORTS = frozenset({"input_ports", "output_ports"})
_CEL = frozenset({"condition", "data_transformation"})
_INTEGERS = frozenset({"timeout", "max_retries", "retry_delay"})
_LABELS = {
    "plugin_id": "Plugin",
    "node_type": "Type",
    "connection_type": "Type",
    "workflow_id": "Workflow id",
    "execution_mode": "Mode",
    "input_ports": "Inputs",
    "output_ports": "Outputs",
    "global_configuration": "Settings",
    "data_transformation": "Transform (CEL)",
    "condition": "Condition (CEL)",
}


def _label(name: str) -> str:
    return _LABELS.get(name, name.replace("_", " ").capitalize())


def _shown(name: str, value: Any) -> str:
    if name in _JSON:
        return json.dumps(value, ensure_ascii=False)
    if name in _PORTS:
        return ", ".join(value)
    if value is None:
        return ""
    return str(getattr(value, "name", value))


class PropertyPanel(QWidget):
    """Fields of the selection (one node or connection), else the workflow's own."""

    def __init__(self, editor: VisualWorkflowEditor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._editor = editor
        self._target: str | None = None
        self._fields: dict[str, QWidget] = {}
        self._title = QLabel()
        self._title.setStyleSheet("font-weight: bold")
        self._form_host = QWidget()
        self._form = QFormLayout(self._form_host)
        self._message = QLabel()
        self._message.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self._title)
        layout.addWidget(self._form_host)
        layout.addWidget(self._message)
        layout.addStretch(1)
        editor.scene().selectionChanged.connect(self.refresh)
        editor.workflow_modified.connect(self._values_changed)
        editor.editable_changed.connect(lambda *_: self.refresh())
        self.refresh()

    # --- public ---------------------------------------------------------------------------
    def target(self) -> str | None:
        """What the panel shows: a node or connection id, ``""`` (the workflow) or None."""
        return self._target

    def field(self, name: str) -> QWidget | None:
        """The editing widget of a field (``QLineEdit``, ``QComboBox`` or ``QCheckBox``)."""
        return self._fields.get(name)

    def message(self) -> str:
        """The last refusal or CEL problem shown (``""`` when none)."""
        return self._message.text()

    def refresh(self) -> None:
        """Rebuild the form for the current selection."""
        editor = self._editor
        if not shiboken6.isValid(editor) or not shiboken6.isValid(editor.scene()):
            return  # the editor is being destroyed (its scene clears its selection)
        nodes, edges = editor.selected_node_ids(), editor.selected_connection_ids()
        if len(nodes) + len(edges) > 1:
            target: str | None = None
            self._title.setText(f"{len(nodes) + len(edges)} items selected")
        elif nodes or edges:
            target = (nodes or edges)[0]
            self._title.setText(f"{'Node' if nodes else 'Connection'} {target}")
        else:
            target = ""
            self._title.setText("Workflow")
        self._target = target
        while self._form.rowCount():
            self._form.removeRow(0)
        self._fields.clear()
        self._message.clear()
        if target is None:
            return
        editable = editor.is_editable()
        for name in editor.editable_fields(target):
            widget = self._make(name, target)
            widget.setEnabled(editable)
            self._fields[name] = widget
            self._form.addRow(_label(name), widget)
        self._values_changed()

    # --- widgets --------------------------------------------------------------------------
    def _make(self, name: str, target: str) -> QWidget:
        # Each widget commits to the target it was made for, even if the selection has
        # moved on by the time its editing finishes (focus leaves it for the canvas).
        if name in _BOOLEANS:
            box = QCheckBox()
            box.clicked.connect(lambda checked, n=name: self._commit(target, n, bool(checked)))
            return box
        choices = self._choices(name)
        if choices:
            combo = QComboBox()
            combo.addItems(choices)
            combo.activated.connect(
                lambda _i, n=name, c=combo: self._commit(target, n, c.currentText())
            )
            return combo
        line = QLineEdit()
        line.editingFinished.connect(lambda n=name, e=line: self._commit_text(target, n, e))
        if name in _CEL:
            line.textEdited.connect(self._check_expression)
        return line

    def _choices(self, name: str) -> list[str]:
        if name == "execution_mode":
            kind = type(self._editor.get_workflow()).__name__
            enum = WorkflowExecutionMode if kind == "PluginWorkflow" else ExecutionMode
            return [m.name for m in enum]
        return _CHOICES.get(name, [])

    def _values_changed(self) -> None:
        target = self._target
        if target is None:
            return
        doc_fields = self._editor.editable_fields(target)
        if not doc_fields and target:
            self.refresh()  # the node or connection is gone
            return
        for name, widget in self._fields.items():
            value = self._editor.node_property(target, name)
            if not value:
                continue
            current = value.value()
            widget.blockSignals(True)
            if isinstance(widget, QCheckBox):
                widget.setChecked(bool(current))
            elif isinstance(widget, QComboBox):
                widget.setCurrentText(_shown(name, current))
            elif isinstance(widget, QLineEdit):
                widget.setText(_shown(name, current))
            widget.blockSignals(False)

    def _check_expression(self, text: str) -> None:
        problem = self._editor.check_expression(text)
        self._message.setText(problem)
        self._message.setStyleSheet("color: #c62828" if problem else "")

    # --- committing -----------------------------------------------------------------------
    def _commit_text(self, target: str, name: str, line: QLineEdit) -> None:
        text = line.text()
        value: Any = text
        if name in _JSON:
            try:
                value = json.loads(text or "{}")
            except ValueError as exc:
                self._show(f"{_label(name)}: not valid JSON ({exc})")
                self._values_changed()
                return
        elif name in _INTEGERS:
            if not text.strip() and name == "timeout" and target == "":
                value = None
            else:
                try:
                    value = int(text)
                except ValueError:
                    self._show(f"{_label(name)}: a whole number is needed")
                    self._values_changed()
                    return
        self._commit(target, name, value)

    def _commit(self, target: str, name: str, value: Any) -> None:
        if target and target not in self._editor.node_ids() + self._editor.connection_ids():
            return  # deleted meanwhile
        current = self._editor.node_property(target, name)
        if current and _shown(name, current.value()) == _shown(name, value):
            return
        if target:
            done = self._editor.set_node_property(target, name, value)
        else:
            done = self._editor.set_workflow_property(name, value)
        self._show("" if done else done.error().message)
        self._values_changed()

    def _show(self, text: str) -> None:
        self._message.setText(text)
        self._message.setStyleSheet("color: #c62828" if text else "")
