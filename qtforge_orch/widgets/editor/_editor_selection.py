"""The editor's selection and what is done to it: delete, copy, cut, paste, duplicate, move.

The clipboard holds plain JSON text (``_clipboard``); a paste is checked against the
library's validation before it is pushed as one undoable command.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtGui import QGuiApplication

from ...results import Expected, from_error, make_success
from ._canvas import added, first_problem
from ._clipboard import copy_text, parse_paste
from ._commands import AddCommand, MoveCommand, RemoveCommand
from ._editor_fields import FieldEditing
from ._editor_structure import _point
from ._items import EdgeItem, NodeItem


class SelectionEditing(FieldEditing):
    """The selected nodes and connections, and the edits that act on them."""

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
