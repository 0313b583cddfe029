"""Undo commands: every edit of the editor is one ``QUndoCommand`` on its ``QUndoStack``.

A command holds what it needs to go both ways; a multi-item edit (a paste, a deletion of a
selection, a layout) is one command, so it is undone in one step and one batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtGui import QUndoCommand

from ._canvas import Canvas
from ._document import Removed


class AddCommand(QUndoCommand):
    """Add nodes (at given positions) and connections: a new node, a paste, a duplicate."""

    def __init__(
        self,
        canvas: Canvas,
        text: str,
        models: list[Any],
        edges: list[Any],
        where: Mapping[str, tuple[float, float]],
    ) -> None:
        super().__init__(text)
        self._canvas = canvas
        self._models = models
        self._edges = edges
        self._where = dict(where)
        self.node_ids: list[str] = []
        self.edge_ids: list[str] = []

    def redo(self) -> None:
        """Qt override."""
        self.node_ids, self.edge_ids = self._canvas.add(self._models, self._edges, self._where)

    def undo(self) -> None:
        """Qt override: what was added is last in the lists; dropping it restores them."""
        self._canvas.drop_last(self.node_ids, self.edge_ids)


class RemoveCommand(QUndoCommand):
    """Remove nodes (with their connections) and connections."""

    def __init__(self, canvas: Canvas, text: str, node_ids: list[str], edge_ids: list[str]):
        super().__init__(text)
        self._canvas = canvas
        self._node_ids = node_ids
        self._edge_ids = edge_ids
        self._removed: Removed | None = None

    def redo(self) -> None:
        """Qt override."""
        self._removed = self._canvas.remove(self._node_ids, self._edge_ids)

    def undo(self) -> None:
        """Qt override."""
        if self._removed is not None:
            self._canvas.restore(self._removed)


class MoveCommand(QUndoCommand):
    """Place nodes: a drag, or an automatic layout."""

    def __init__(self, canvas: Canvas, text: str, positions: Mapping[str, tuple[float, float]]):
        super().__init__(text)
        self._canvas = canvas
        self._positions = dict(positions)
        self._previous: dict[str, Any] = {}

    def redo(self) -> None:
        """Qt override."""
        self._previous = self._canvas.move(self._positions)

    def undo(self) -> None:
        """Qt override."""
        self._canvas.unmove(self._previous)


class FieldCommand(QUndoCommand):
    """Set one field of a node, a connection or the workflow."""

    def __init__(self, canvas: Canvas, target_id: str, name: str, value: Any) -> None:
        super().__init__(f"Set {name}")
        self._canvas = canvas
        self._target_id = target_id
        self._name = name
        self._value = value
        self._undo: tuple[str, Any] | None = None

    def redo(self) -> None:
        """Qt override (the value was checked before the command was pushed)."""
        done = self._canvas.set_field(self._target_id, self._name, self._value)
        self._undo = done.value() if done else None

    def undo(self) -> None:
        """Qt override."""
        if self._undo is not None:
            self._canvas.restore_field(self._target_id, *self._undo)
