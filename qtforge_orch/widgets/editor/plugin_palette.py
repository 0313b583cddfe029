"""The designer's palette: the plugin manager's plugins and their commands, filterable.

An entry dragged onto the editor becomes a node calling that plugin (and command); a
double-click asks for one at the centre of the view (``activated``).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ._clipboard import PLUGIN_MIME_TYPE, plugin_drag_data

_ENTRY = Qt.ItemDataRole.UserRole


class _PaletteTree(QTreeWidget):
    """A tree whose entries drag as palette entries (``plugin_drag_data``)."""

    def mimeTypes(self) -> list[str]:
        """Qt override."""
        return [PLUGIN_MIME_TYPE]

    def mimeData(self, items: Any) -> QMimeData:
        """Qt override: the first dragged entry's plugin and command."""
        for item in items:
            entry = item.data(0, _ENTRY)
            if isinstance(entry, tuple | list) and len(entry) == 2:
                return plugin_drag_data(str(entry[0]), str(entry[1]))
        return QMimeData()


class PluginPalette(QWidget):
    """Plugins (top level) and their commands (below), with a filter box.

    Signals: ``activated(plugin_id, command)`` on a double-click (``command`` is ``""``
    for a plugin entry).
    """

    activated = Signal(str, str)

    def __init__(self, plugin_manager: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._manager = plugin_manager
        self._filter = QLineEdit()
        self._filter.setPlaceholderText("Filter plugins and commands")
        self._filter.setClearButtonEnabled(True)
        self._filter.textChanged.connect(self._apply_filter)
        self._tree = _PaletteTree()
        self._tree.setHeaderHidden(True)
        self._tree.setDragEnabled(True)
        self._tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self._tree.itemDoubleClicked.connect(self._double_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self._filter)
        layout.addWidget(self._tree, 1)
        self.refresh()

    def set_plugin_manager(self, plugin_manager: Any) -> None:
        """List another plugin manager's plugins."""
        self._manager = plugin_manager
        self.refresh()

    def refresh(self) -> None:
        """Read the plugins and their commands again (a plugin that raises is listed bare)."""
        self._tree.clear()
        manager = self._manager
        if manager is None:
            return
        for plugin_id in manager.list_plugins():
            found = manager.get_plugin(plugin_id)
            if not found:
                continue
            plugin = found.value()
            entry = QTreeWidgetItem([plugin_id])
            entry.setData(0, _ENTRY, (plugin_id, ""))
            entry.setToolTip(0, _describe(plugin, plugin_id))
            for command in _commands(plugin):
                child = QTreeWidgetItem([command])
                child.setData(0, _ENTRY, (plugin_id, command))
                child.setToolTip(0, f"{plugin_id}.{command}: drag onto the canvas")
                entry.addChild(child)
            self._tree.addTopLevelItem(entry)
        self._tree.expandAll()
        self._apply_filter(self._filter.text())

    def filter_box(self) -> QLineEdit:
        """The filter's line edit."""
        return self._filter

    def tree(self) -> QTreeWidget:
        """The tree of plugins and commands."""
        return self._tree

    def entry(self, plugin_id: str, command: str = "") -> QTreeWidgetItem | None:
        """The tree item of a plugin (or one of its commands), or None."""
        for index in range(self._tree.topLevelItemCount()):
            top = self._tree.topLevelItem(index)
            if top is None or top.text(0) != plugin_id:
                continue
            if not command:
                return top
            for row in range(top.childCount()):
                child = top.child(row)
                if child is not None and child.text(0) == command:
                    return child
        return None

    def visible_entries(self) -> list[tuple[str, str]]:
        """(plugin, command) of every entry the filter shows."""
        shown = []
        for index in range(self._tree.topLevelItemCount()):
            top = self._tree.topLevelItem(index)
            if top is None or top.isHidden():
                continue
            shown.append((top.text(0), ""))
            for row in range(top.childCount()):
                child = top.child(row)
                if child is not None and not child.isHidden():
                    shown.append((top.text(0), child.text(0)))
        return shown

    def _apply_filter(self, text: str) -> None:
        wanted = text.strip().casefold()
        for index in range(self._tree.topLevelItemCount()):
            top = self._tree.topLevelItem(index)
            if top is None:
                continue
            plugin_hit = not wanted or wanted in top.text(0).casefold()
            any_child = False
            for row in range(top.childCount()):
                child = top.child(row)
                if child is None:
                    continue
                hit = plugin_hit or wanted in child.text(0).casefold()
                child.setHidden(not hit)
                any_child = any_child or hit
            top.setHidden(not (plugin_hit or any_child))

    def _double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        entry = item.data(0, _ENTRY)
        if isinstance(entry, tuple | list) and len(entry) == 2:
            self.activated.emit(str(entry[0]), str(entry[1]))


def _commands(plugin: Any) -> list[str]:
    try:
        return [str(name) for name in plugin.available_commands()]
    except Exception:  # a plugin's bug must not break the palette
        return []


def _describe(plugin: Any, plugin_id: str) -> str:
    try:
        description = str(getattr(plugin, "description", "") or "")
    except Exception:
        description = ""
    return f"{plugin_id}: {description}" if description else plugin_id
