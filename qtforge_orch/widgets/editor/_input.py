"""Mouse, wheel, key and drop handling of the editor's canvas.

- left drag from a port to a port (or onto a node) connects them; on the background it draws
  a rubber band; on a node it moves the selection (one undoable move on release);
- the middle button, or the left button with the space bar held, pans;
- the wheel zooms around the cursor;
- a plugin dragged from the palette is dropped as a new node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsView

from .._edge_path import edge_path
from ._clipboard import decode_plugin_drag, has_plugin_drag
from ._items import HEADER, NODE_WIDTH, PORT_RADIUS, NodeItem

if TYPE_CHECKING:
    from ._scene import EditorScene


class EditorCanvas(Protocol):
    """What the input handling asks of the editor (``VisualWorkflowEditor``) beyond its view."""

    _scene: EditorScene

    def is_editable(self) -> bool: ...
    def node_item(self, node_id: str) -> NodeItem | None: ...
    def _edge_near(self, pos: Any) -> Any: ...
    def zoom(self) -> float: ...
    def zoom_at(self, factor: float, where: QPoint) -> None: ...
    def connect_nodes(
        self, source_node: str, source_port: str, target_node: str, target_port: str
    ) -> object: ...
    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> object: ...
    def add_plugin_node(
        self, plugin_id: str, position: QPointF | tuple[float, float], command: str = ""
    ) -> str: ...


#: How close (in pixels on screen) a press must be to a port or connection to hit it.
HIT_PIXELS = 7
ZOOM_PER_NOTCH = 1.15
MIN_ZOOM, MAX_ZOOM = 0.03, 4.0


class _PortDrag:
    def __init__(self, node: str, port: str, output: bool, line: QGraphicsPathItem):
        self.node, self.port, self.output, self.line = node, port, output, line


class CanvasInput:
    """The editor's interaction state; the view hands it its events first."""

    def __init__(self, view: QGraphicsView, editor: EditorCanvas) -> None:
        # One object seen twice: the view (Qt's calls) and the editor (its own).
        self._view = view
        self._editor = editor
        self._pan_from: QPoint | None = None
        self._space = False
        self._drag: _PortDrag | None = None
        self._moving: dict[str, QPointF] = {}

    # --- hit testing ----------------------------------------------------------------------
    def _near(self, pos: QPoint) -> list[Any]:
        r = HIT_PIXELS
        area = self._view.mapToScene(QRectF(pos.x() - r, pos.y() - r, 2 * r, 2 * r).toRect())
        return self._view.scene().items(area)

    def port_at(self, pos: QPoint) -> tuple[str, str, bool] | None:
        """(node, port, output) of the port nearest ``pos`` (viewport coordinates)."""
        editor = self._editor
        where = self._view.mapToScene(pos)
        reach = HIT_PIXELS / max(editor.zoom(), 1e-6) + PORT_RADIUS
        best: tuple[float, tuple[str, str, bool]] | None = None
        for item in self._near(pos):
            while item is not None and not isinstance(item, NodeItem):
                item = item.parentItem()
            if item is None:
                continue
            origin = item.pos()
            for (name, output), at in item.ports().items():
                delta = origin + at - where
                distance = (delta.x() ** 2 + delta.y() ** 2) ** 0.5
                if distance <= reach and (best is None or distance < best[0]):
                    best = (distance, (item.node_id, name, output))
        return best[1] if best is not None else None

    def node_at(self, pos: QPoint) -> NodeItem | None:
        """The node drawn under ``pos`` (viewport coordinates)."""
        for item in self._view.items(pos):
            while item is not None and not isinstance(item, NodeItem):
                item = item.parentItem()
            if isinstance(item, NodeItem):
                return item
        return None

    # --- mouse ----------------------------------------------------------------------------
    def press(self, event: QMouseEvent) -> bool:
        """A press the canvas handles itself (True), or one for QGraphicsView."""
        editor = self._editor
        button = event.button()
        pos = event.position().toPoint()
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space
        ):
            self._pan_from = pos
            self._view.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return True
        if button != Qt.MouseButton.LeftButton:
            return False
        port = self.port_at(pos) if editor.is_editable() else None
        if port is not None:
            line = QGraphicsPathItem()
            line.setPen(QPen(QColor("#1e88e5"), 2.0, Qt.PenStyle.DashLine))
            line.setZValue(10)
            self._view.scene().addItem(line)
            self._drag = _PortDrag(*port, line)
            self._follow(pos)
            return True
        if not self._view.items(pos):
            edge = editor._edge_near(pos)
            if edge is not None:  # a thin connection a few pixels off still selects
                if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
                    self._view.scene().clearSelection()
                edge.setSelected(True)
                return True
        return False

    def after_press(self) -> None:
        """Remember where the selected nodes are, to make one move command on release."""
        self._moving = {
            item.node_id: item.pos()
            for item in self._view.scene().selectedItems()
            if isinstance(item, NodeItem)
        }
        if not self._editor.is_editable():
            self._moving = {}

    def after_move(self) -> None:
        """Connections follow the nodes being dragged."""
        if self._moving:
            self._editor._scene.reroute(self._moving)

    def move(self, event: QMouseEvent) -> bool:
        """A move the canvas handles itself (pan, connection drag)."""
        pos = event.position().toPoint()
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = pos
            across, down = self._view.horizontalScrollBar(), self._view.verticalScrollBar()
            across.setValue(across.value() - delta.x())
            down.setValue(down.value() - delta.y())
            return True
        if self._drag is not None:
            self._follow(pos)
            return True
        return False

    def release(self, event: QMouseEvent) -> bool:
        """A release the canvas handles itself (end of a pan or a connection drag)."""
        editor = self._editor
        if self._pan_from is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._pan_from = None
            self._view.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor
            )
            return True
        drag = self._drag
        if drag is not None and event.button() == Qt.MouseButton.LeftButton:
            self._drag = None
            self._view.scene().removeItem(drag.line)
            end = self._end_at(event.position().toPoint(), drag)
            if end is not None:
                node, port = end
                if drag.output:
                    editor.connect_nodes(drag.node, drag.port, node, port)
                else:
                    editor.connect_nodes(node, port, drag.node, drag.port)
            return True
        return False

    def after_release(self) -> None:
        """Turn a drag of nodes into one undoable move."""
        moved = {}
        for node_id, before in self._moving.items():
            item = self._editor.node_item(node_id)
            if item is not None and item.pos() != before:
                moved[node_id] = (item.pos().x(), item.pos().y())
        self._moving = {}
        if moved:
            self._editor.move_nodes(moved)

    def _end_at(self, pos: QPoint, drag: _PortDrag) -> tuple[str, str] | None:
        """The (node, port) a connection drag ends on.

        A port of the other side, or a node (its whole-data port).
        """
        port = self.port_at(pos)
        if port is not None and port[2] != drag.output and port[0] != drag.node:
            return port[0], port[1]
        node = self.node_at(pos)
        if node is not None and node.node_id != drag.node:
            return node.node_id, ""
        return None

    def _follow(self, pos: QPoint) -> None:
        drag = self._drag
        if drag is None:
            return
        item = self._editor.node_item(drag.node)
        if item is None:
            return
        start = item.port_scene_pos(drag.port, drag.output)
        end = self._view.mapToScene(pos)
        snapped = self.port_at(pos)
        if snapped is not None and snapped[2] != drag.output:
            target = self._editor.node_item(snapped[0])
            if target is not None:
                end = target.port_scene_pos(snapped[1], snapped[2])
        a, b = (start, end) if drag.output else (end, start)
        drag.line.setPath(edge_path(a, b, arrow=False))

    def cancel(self) -> bool:
        """Escape: drop a connection being dragged (True if there was one)."""
        drag, self._drag = self._drag, None
        if drag is not None:
            self._view.scene().removeItem(drag.line)
            return True
        return False

    # --- wheel and keys -------------------------------------------------------------------
    def wheel(self, event: QWheelEvent) -> None:
        """Zoom around the cursor: the point under it stays under it."""
        steps = event.angleDelta().y() / 120
        if steps:
            editor = self._editor
            editor.zoom_at(editor.zoom() * ZOOM_PER_NOTCH**steps, event.position().toPoint())
        event.accept()

    def key_press(self, event: QKeyEvent) -> bool:
        """Space arms panning; Escape cancels a connection drag or clears the selection."""
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self._view.setDragMode(QGraphicsView.DragMode.NoDrag)
            self._view.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return True
        if event.key() == Qt.Key.Key_Escape:
            if not self.cancel():
                self._view.scene().clearSelection()
            return True
        return False

    def key_release(self, event: QKeyEvent) -> bool:
        """Releasing space ends pan mode."""
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._view.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            self._view.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            return True
        return False

    # --- drops from the palette -----------------------------------------------------------
    def drag_enter(self, event: QDragEnterEvent | QDragMoveEvent) -> None:
        """Accept plugin drags from the palette (while the editor can be edited)."""
        if has_plugin_drag(event.mimeData()) and self._editor.is_editable():
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def drop(self, event: QDropEvent) -> None:
        """A new node for the dropped plugin and command, centred under the cursor."""
        dropped = decode_plugin_drag(event.mimeData())
        if dropped is None:
            event.ignore()
            return
        plugin_id, command = dropped
        where = self._view.mapToScene(event.position().toPoint())
        corner = where - QPointF(NODE_WIDTH / 2, HEADER / 2)
        if self._editor.add_plugin_node(plugin_id, corner, command):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()
