"""The editor's actions and their shortcuts (active while the canvas has the focus).

The designer puts the same ``QAction`` objects in its toolbar and menus, so a shortcut is
defined once and works in the bare editor as in the designer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


class EditorCommands(Protocol):
    """What the actions call: ``VisualWorkflowEditor``'s edit and view commands."""

    def undo(self) -> object: ...
    def redo(self) -> object: ...
    def cut_selection(self) -> object: ...
    def copy_selection(self) -> object: ...
    def paste(self) -> object: ...
    def duplicate_selection(self) -> object: ...
    def select_all(self) -> object: ...
    def delete_selection(self) -> object: ...
    def auto_layout(self) -> object: ...
    def fit(self) -> object: ...
    def zoom(self) -> float: ...
    def set_zoom(self, factor: float) -> object: ...


#: name -> (text, shortcuts, tool tip)
ACTIONS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "undo": ("Undo", ("Ctrl+Z",), "Undo the last edit"),
    "redo": ("Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo the edit undone last"),
    "cut": ("Cut", ("Ctrl+X",), "Cut the selected nodes"),
    "copy": ("Copy", ("Ctrl+C",), "Copy the selected nodes and their connections"),
    "paste": ("Paste", ("Ctrl+V",), "Paste copied nodes"),
    "duplicate": ("Duplicate", ("Ctrl+D",), "Duplicate the selected nodes"),
    "select_all": ("Select all", ("Ctrl+A",), "Select every node and connection"),
    "delete": ("Delete", ("Delete", "Backspace"), "Delete the selection"),
    "auto_layout": ("Auto layout", ("Ctrl+L",), "Arrange the nodes in layers"),
    "fit": ("Fit", ("F",), "Show the whole workflow"),
    "zoom_in": ("Zoom in", ("Ctrl++", "Ctrl+="), "Zoom in"),
    "zoom_out": ("Zoom out", ("Ctrl+-",), "Zoom out"),
}


def make_actions(editor: QWidget, commands: EditorCommands) -> dict[str, QAction]:
    """One action per entry of ``ACTIONS``, added to ``editor`` and wired to ``commands``."""
    handlers: dict[str, Callable[[], object]] = {
        "undo": commands.undo,
        "redo": commands.redo,
        "cut": commands.cut_selection,
        "copy": commands.copy_selection,
        "paste": commands.paste,
        "duplicate": commands.duplicate_selection,
        "select_all": commands.select_all,
        "delete": commands.delete_selection,
        "auto_layout": commands.auto_layout,
        "fit": commands.fit,
        "zoom_in": lambda: commands.set_zoom(commands.zoom() * 1.25),
        "zoom_out": lambda: commands.set_zoom(commands.zoom() / 1.25),
    }
    return {
        name: shortcut_action(editor, name, text, keys, tip, handlers[name])
        for name, (text, keys, tip) in ACTIONS.items()
    }


def shortcut_action(
    owner: QWidget,
    name: str,
    text: str,
    keys: tuple[str, ...],
    tip: str,
    handler: Callable[[], object],
) -> QAction:
    """An action of ``owner`` whose shortcuts work while the focus is inside ``owner``."""
    action = QAction(text, owner)
    action.setObjectName(name)
    action.setShortcuts([QKeySequence(key) for key in keys])
    action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    action.setToolTip(f"{tip} ({keys[0]})" if keys else tip)
    action.triggered.connect(lambda _checked=False: handler())
    owner.addAction(action)
    return action
