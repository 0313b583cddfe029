"""The editor's view mechanics: zoom, pan, fit, texts revealed for what is in view.

Also the Qt event overrides, handed to the canvas input. ``VisualWorkflowEditor`` builds on
it; what is here knows the scene, not the workflow.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, QRectF, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView, QWidget

from ._input import MAX_ZOOM, MIN_ZOOM, CanvasInput
from ._items import EdgeItem, NodeItem
from ._scene import LABEL_MIN_ZOOM, EditorScene

#: ``fit()`` never magnifies beyond this.
FIT_MAX_ZOOM = 1.25
#: Room to pan beyond the drawing, in scene units on each side.
PAN_ROOM = 4000.0
#: Time per event-loop turn spent making the texts of nodes scrolled or zoomed into view
#: (the rest follow in the next turns): a quarter of a frame, so a pan stays smooth.
REVEAL_BUDGET_S = 0.004


class CanvasView(QGraphicsView):
    """The view mechanics of the editor (see ``VisualWorkflowEditor``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = EditorScene(self)
        self.setScene(self._scene)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setBackgroundBrush(QColor("#f5f7f8"))
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._reveal = QTimer(self)
        self._reveal.setSingleShot(True)
        self._reveal.timeout.connect(self._reveal_visible)
        self._input = CanvasInput(self, self)  # type: ignore[arg-type]  # only ever an editor

    def node_item(self, node_id: str) -> NodeItem | None:
        """The node's graphics item (``port_scene_pos(port, output)``...), or None."""
        return self._scene.nodes.get(node_id)

    def connection_item(self, connection_id: str) -> EdgeItem | None:
        """The connection's graphics item, or None."""
        return self._scene.edges.get(connection_id)

    def _edge_near(self, pos: Any) -> EdgeItem | None:
        """The connection a few pixels around ``pos`` (viewport coordinates), if any."""
        for item in self._input._near(pos):
            if isinstance(item, EdgeItem):
                return item
        return None

    def fit(self) -> None:
        """Show the whole workflow (never magnified beyond 125 %)."""
        rect = self._scene.drawing_rect()
        if rect.isEmpty():
            rect = QRectF(-200, -150, 400, 300)
        self._update_scene_rect()
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > FIT_MAX_ZOOM:
            self.set_zoom(FIT_MAX_ZOOM)
            self.centerOn(rect.center())
        self._update_detail_level()

    def _update_scene_rect(self) -> None:
        drawing = self._scene.known_bounds()
        room = drawing.adjusted(-PAN_ROOM, -PAN_ROOM, PAN_ROOM, PAN_ROOM)
        current = self.sceneRect()
        if not current.contains(drawing) or current.width() > room.width() * 2:
            self.setSceneRect(room)

    def _reveal_visible(self) -> None:
        """Texts and ports for the nodes in view, a frame's budget at a time."""
        area = self.mapToScene(self.viewport().rect()).boundingRect()
        if self._scene.reveal(area, budget_s=REVEAL_BUDGET_S):
            self._reveal.start(16)

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        """Qt override: nodes scrolled into view get their texts."""
        super().scrollContentsBy(dx, dy)
        if self._scene.labels_shown():
            self._reveal.start(0)

    def resizeEvent(self, event: Any) -> None:
        """Qt override."""
        super().resizeEvent(event)
        self._reveal.start(0)

    def zoom(self) -> float:
        """The scale factor (1.0: one scene unit per pixel)."""
        return self.transform().m11()

    def set_zoom(self, factor: float) -> None:
        """Set the scale factor, within 3 %-400 %."""
        factor = min(MAX_ZOOM, max(MIN_ZOOM, float(factor)))
        self.scale(factor / self.zoom(), factor / self.zoom())
        self._update_detail_level()

    def zoom_at(self, factor: float, where: QPoint) -> None:
        """Zoom so that the scene point under ``where`` (viewport coordinates) stays there."""
        under = self.mapToScene(where)
        centre = self.mapToScene(self.viewport().rect().center())
        old = self.zoom()
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.set_zoom(factor)
        self.setTransformationAnchor(anchor)
        ratio = old / self.zoom()
        self.centerOn(under + (centre - under) * ratio)
        # centerOn works in whole scroll steps: correct what rounding left.
        drift = self.mapFromScene(under) - where
        bars = self.horizontalScrollBar(), self.verticalScrollBar()
        bars[0].setValue(bars[0].value() + drift.x())
        bars[1].setValue(bars[1].value() + drift.y())

    def _update_detail_level(self) -> None:
        readable = self.zoom() >= LABEL_MIN_ZOOM
        self._scene.set_labels_shown(readable)
        if readable:
            self._reveal.start(0)
        # Far out, smooth edges are invisible and antialiasing is most of a frame.
        self.setRenderHint(QPainter.RenderHint.Antialiasing, readable)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Qt override: ports start connections; middle button or space+drag pans."""
        if not self._input.press(event):
            super().mousePressEvent(event)
            self._input.after_press()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Qt override."""
        if not self._input.move(event):
            super().mouseMoveEvent(event)
            self._input.after_move()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """Qt override: ends a pan, a connection drag or a move (one undoable step)."""
        if not self._input.release(event):
            super().mouseReleaseEvent(event)
            self._input.after_release()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Qt override: space pans, Escape cancels (shortcuts are ``action(name)``)."""
        if not self._input.key_press(event):
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        """Qt override."""
        if not self._input.key_release(event):
            super().keyReleaseEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Qt override: the wheel zooms around the cursor."""
        self._input.wheel(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Qt override: accepts plugins dragged from the palette."""
        self._input.drag_enter(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        """Qt override."""
        self._input.drag_enter(event)

    def dropEvent(self, event: QDropEvent) -> None:
        """Qt override: a dropped plugin becomes a node under the cursor."""
        self._input.drop(event)
