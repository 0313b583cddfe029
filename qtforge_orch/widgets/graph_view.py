"""``WorkflowGraphView``: a workflow drawn as nodes and connections, with live status."""

from __future__ import annotations

import math
import time
from typing import Any

from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, QSizeF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QImage,
    QKeyEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QLabel,
    QWidget,
)

from ..errors import PluginErrorCode
from ..events import EventKind, ExecutionEvent, Subscription
from ..qt.execution import WorkflowExecution
from ..results import Expected, from_error, make_error, make_success
from ._coalesce import BUDGET_S, FrameBatcher
from ._edge_path import routed
from ._following import END_KINDS, TASK_KINDS, follow, resolve
from ._layout import DEFAULT_ASPECT, NODE_H, NODE_W, GraphSpec, graph_spec, layout
from .status_style import status_color, status_label

_DARK_TEXT = frozenset({"pending", "skipped", "paused"})
#: Node restyles per frame: a restyled node's cached pixmap is re-rasterised at the next paint
#: (~0.1 ms each), so a burst of 1,000 finishing steps is spread over several frames instead of
#: one paint of tens of milliseconds.
NODE_UPDATES_PER_FRAME = 60
#: Below this zoom, labels are hidden: unreadable, and drawing them is most of a frame.
LABEL_MIN_ZOOM = 0.35
#: Point size of a node's name and detail line at 100 % zoom.
LABEL_POINT_SIZE = 12.0
DETAIL_POINT_SIZE = 10.0
#: ``fit()`` never magnifies beyond this: a two-node graph is not drawn with huge boxes.
FIT_MAX_ZOOM = 1.5
#: Scene margin around the drawing; ``fit()`` shows exactly the scene rect, so the margin
#: is all there is to scroll and a fitted view has no scroll bars.
SCENE_MARGIN = 20.0
#: The events the view follows: node changes, counters, and the overlay's status and progress.
_FOLLOWED = (
    TASK_KINDS
    | END_KINDS
    | {
        EventKind.ITEM_COUNTS,
        EventKind.EVENT_COUNTS,
        EventKind.PROGRESS,
        EventKind.WORKFLOW_STARTED,
        EventKind.PAUSED,
        EventKind.RESUMED,
    }
)
_EDGE_PENS = {
    "Control": Qt.PenStyle.DashLine,
    "Dependency": Qt.PenStyle.DotLine,
    "Event": Qt.PenStyle.DashDotLine,
}


class _Node:
    """The items of one node: a filled rounded box, its label and a detail line."""

    def __init__(self, scene: QGraphicsScene, node_id: str, label: str, x: float, y: float):
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, NODE_W, NODE_H), 8, 8)
        self.box = QGraphicsPathItem(path)
        self.box.setPos(x, y)
        self.box.setPen(QPen(QColor("#37474f"), 1.2))
        self.box.setFlag(QGraphicsPathItem.GraphicsItemFlag.ItemIsSelectable)
        self.box.setData(0, node_id)
        # Repaints blit a cached pixmap instead of re-rasterising path and text: a frame of a
        # 1,000-node graph costs a few milliseconds, not most of the frame.
        self.box.setCacheMode(QGraphicsPathItem.CacheMode.DeviceCoordinateCache)
        self.box.setToolTip(node_id)
        self.label = QGraphicsSimpleTextItem(label if len(label) <= 18 else label[:17] + "…")
        self.label.setParentItem(self.box)
        font = QFont()
        font.setBold(True)
        font.setPointSizeF(LABEL_POINT_SIZE)
        self.label.setFont(font)
        self.label.setPos(8, 5)
        self.detail = QGraphicsSimpleTextItem("")
        self.detail.setParentItem(self.box)
        detail_font = QFont()
        detail_font.setPointSizeF(DETAIL_POINT_SIZE)
        self.detail.setFont(detail_font)
        self.detail.setPos(8, 30)
        scene.addItem(self.box)
        self.status = ""
        self.set_status("pending", "")

    def set_status(self, status: str, detail: str) -> None:
        if status != self.status:
            self.status = status
            self.box.setBrush(QBrush(status_color(status)))
            text = QColor("#212121" if status in _DARK_TEXT else "#ffffff")
            self.label.setBrush(text)
            self.detail.setBrush(text)
        if detail != self.detail.text():
            self.detail.setText(detail)


class WorkflowGraphView(QGraphicsView):
    """A view that draws a ``Workflow`` or ``PluginWorkflow`` and, bound, its live execution.

    Bound to a ``WorkflowExecution`` it shows each node's live status (colour), attempts and
    Streaming item counts (on the edges) and the overall progress. Ctrl+wheel or +/- zoom,
    drag pans, 0 fits; the ``node_selected(node_id)`` signal reports clicks. Updates are
    batched per frame.
    """

    node_selected = Signal(str)

    def __init__(self, workflow: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        self.setBackgroundBrush(QColor("#fafafa"))
        self._nodes: dict[str, _Node] = {}
        self._edge_labels: dict[str, list[QGraphicsSimpleTextItem]] = {}
        # (path, items label, source, target) of every drawn connection.
        self._edges: list[tuple[QGraphicsPathItem, QGraphicsSimpleTextItem, str, str]] = []
        self._handle: WorkflowExecution | None = None
        self._following: Subscription | None = None
        self._overlay = ""
        # The overall status and progress, fixed in the top-left corner: a label over the
        # viewport, not a drawForeground override, so painting the graph never enters Python
        # (each entry waits for the GIL while engine threads run a burst of steps).
        self._overlay_label = QLabel(self)
        self._overlay_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        # Opaque (the view's background colour): a transparent child would repaint the graph
        # under it at every progress change.
        palette = self._overlay_label.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor("#fafafa"))
        palette.setColor(QPalette.ColorRole.WindowText, QColor("#263238"))
        self._overlay_label.setPalette(palette)
        # Explicit roles: a child inherits the scroll area's (Base and Text) otherwise.
        self._overlay_label.setBackgroundRole(QPalette.ColorRole.Window)
        self._overlay_label.setForegroundRole(QPalette.ColorRole.WindowText)
        self._overlay_label.setAutoFillBackground(True)
        self._overlay_label.hide()
        self._labels_shown = True
        self._graph: GraphSpec | None = None
        # The aspect ratio (rounded) the computed layout was made for; None: positions given.
        self._laid_out_for: float | None = None
        self._batch = FrameBatcher(self._apply, self)
        self.scene().selectionChanged.connect(self._selection_changed)
        if workflow is not None:
            self.set_workflow(workflow)

    # --- content ---------------------------------------------------------------------------
    def set_workflow(self, workflow: Any) -> Expected[None]:
        """Draw a workflow, replacing the current one.

        Positions come from ``ui_properties`` (v2) / ``metadata`` (v1) ``{"x", "y"}`` when
        every node has one, else from the layered layout, wrapped into rows to suit the
        view's shape (and laid out again when a resize changes that shape much).

        Returns:
            Success, or ``InvalidArgument`` for anything but a workflow.
        """
        spec = graph_spec(workflow)
        if not spec:
            return from_error(spec.error())
        graph = spec.value()
        scene = self.scene()
        scene.clear()
        self._nodes.clear()
        self._edge_labels.clear()
        self._edges.clear()
        self._graph = graph
        given = bool(graph.nodes) and all(node in graph.positions for node in graph.nodes)
        self._laid_out_for = None if given else self._aspect()
        where = layout(graph, self._laid_out_for or DEFAULT_ASPECT)
        for node in graph.nodes:
            x, y = where[node]
            self._nodes[node] = _Node(scene, node, graph.labels[node], x, y)
        for source, target, kind in graph.edges:
            if source in self._nodes and target in self._nodes:
                self._add_edge(source, target, kind)
        self._fit_scene_rect()
        self._labels_shown = True
        self.fit()
        if self._handle is not None:
            self._batch.mark_many(self._nodes)
        return make_success()

    def _aspect(self) -> float:
        """The viewport's width/height, rounded to 10 % steps (a layout per step, not pixel)."""
        size = self.viewport().size()
        if size.width() < 50 or size.height() < 50:
            return DEFAULT_ASPECT
        return round(math.exp(round(math.log(size.width() / size.height()) / 0.1) * 0.1), 3)

    def _relayout_for_shape(self) -> None:
        """Lay a computed layout out again for the view's shape.

        A chain wraps into more rows in a narrow pane and into fewer in a wide one.
        """
        graph = self._graph
        if graph is None or self._laid_out_for is None:
            return
        aspect = self._aspect()
        if aspect == self._laid_out_for:
            return
        self._laid_out_for = aspect
        where = layout(graph, aspect)
        for node_id, node in self._nodes.items():
            node.box.setPos(*where[node_id])
        for path_item, label, source, target in self._edges:
            path, middle = self._edge_path(source, target)
            path_item.setPath(path)
            label.setPos(middle + QPointF(-20, -16))
        self._fit_scene_rect()

    def _fit_scene_rect(self) -> None:
        scene = self.scene()
        scene.setSceneRect(QRectF())  # let itemsBoundingRect follow the items again
        margin = SCENE_MARGIN
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-margin, -margin, margin, margin))

    def _edge_path(self, source: str, target: str) -> tuple[QPainterPath, QPointF]:
        a = self._nodes[source].box.pos() + QPointF(NODE_W, NODE_H / 2)
        b = self._nodes[target].box.pos() + QPointF(0, NODE_H / 2)
        return routed(a, b, below=NODE_H / 2 + 20)

    def _add_edge(self, source: str, target: str, kind: str) -> None:
        path, middle = self._edge_path(source, target)
        pen = QPen(QColor("#78909c"), 1.4, _EDGE_PENS.get(kind, Qt.PenStyle.SolidLine))
        path_item = self.scene().addPath(path, pen)
        path_item.setZValue(-1)
        label = self.scene().addSimpleText("")
        label.setBrush(QColor("#263238"))
        label.setPos(middle + QPointF(-20, -16))
        self._edge_labels.setdefault(source, []).append(label)
        self._edges.append((path_item, label, source, target))

    def node_ids(self) -> list[str]:
        """The ids of the drawn nodes."""
        return list(self._nodes)

    def node_scene_rect(self, node_id: str) -> QRectF:
        """Where a node is drawn, in scene coordinates (empty for an unknown id)."""
        node = self._nodes.get(node_id)
        return QRectF(node.box.pos(), QSizeF(NODE_W, NODE_H)) if node is not None else QRectF()

    def node_status(self, node_id: str) -> str:
        """The status a node is drawn with (``pending``, ``running``...); empty if unknown."""
        node = self._nodes.get(node_id)
        return node.status if node is not None else ""

    # --- live execution --------------------------------------------------------------------
    def set_execution(
        self, handle: WorkflowExecution | str | None, orchestrator: Any = None
    ) -> Expected[None]:
        """Follow an execution of the drawn workflow (None: stop following; colours stay).

        ``handle`` is a ``WorkflowExecution`` or an execution id, looked up with
        ``orchestrator.execution(id)``.

        Returns:
            Success, or the lookup's error (``NotFound``, ``InvalidArgument``...); what is
            shown does not change then.
        """
        found = resolve(handle, orchestrator, "WorkflowGraphView.set_execution")
        if not found:
            return from_error(found.error())
        self._follow_handle(found.value())
        return make_success()

    def _follow_handle(self, handle: WorkflowExecution | None) -> None:
        if self._following is not None:
            self._following.cancel()
            self._following = None
        self._handle = handle
        if handle is not None:
            # Every node is read below, so what happened before needs no replay; from here on
            # the execution's events mark what to read again.
            self._following = follow(handle, self._on_event, _FOLLOWED)
            self._batch.mark_many(self._nodes)

    def execution(self) -> WorkflowExecution | None:
        """The execution followed, or None."""
        return self._handle

    def _on_event(self, event: ExecutionEvent) -> None:
        kind = event.kind
        if kind in TASK_KINDS:
            if event.step in self._nodes:
                self._batch.mark(event.step)
        elif kind is EventKind.ITEM_COUNTS:
            self._batch.mark_many(event.item_counts)
        elif kind is EventKind.EVENT_COUNTS:
            self._batch.mark_many([*event.node_runs, ""])  # node runs, the overlay's counts
        elif event.terminal:
            self._batch.mark_many(self._nodes)  # finished: skipped/cancelled/rolled back
        else:
            self._batch.mark("")  # progress/status: the overlay only

    def flush(self) -> None:
        """Apply pending updates now instead of at the next frame."""
        self._batch.flush_all()

    def _apply(self, dirty: set[object]) -> set[object] | None:
        handle = self._handle
        if handle is None:
            return None
        deadline = time.perf_counter() + BUDGET_S
        pending = list(dirty)
        for done, key in enumerate(pending):
            if done >= NODE_UPDATES_PER_FRAME or (
                done % 16 == 15 and time.perf_counter() > deadline
            ):
                self._update_overlay(handle)
                return set(pending[done:])
            node = self._nodes.get(key) if isinstance(key, str) else None
            record = handle.step(key) if node is not None and isinstance(key, str) else None
            if node is None or record is None:
                continue
            detail = f"attempt {record.attempts}" if record.attempts > 1 else ""
            if record.items:
                taken, sent = record.items.get("items_in", 0), record.items.get("items_out", 0)
                detail = f"in {taken} out {sent}"
                for label in self._edge_labels.get(record.step_id, []):
                    label.setText(f"{sent} items")
            elif record.runs:
                failed = f" · {record.failed_runs} failed" if record.failed_runs else ""
                detail = f"{record.runs} runs{failed}"
            elif record.status not in ("pending", "running"):
                detail = detail or status_label(record.status)
            node.set_status(record.status, detail)
        self._update_overlay(handle)
        return None

    def _update_overlay(self, handle: WorkflowExecution) -> None:
        if handle.is_event_driven():
            # No end to progress towards: the events handled so far.
            counts = handle.current_event_counts()
            amount = (
                f"{counts.get('events_received', 0)} events, "
                f"{counts.get('events_completed', 0)} completed, "
                f"{counts.get('events_failed', 0)} failed"
            )
        else:
            amount = f"{handle.current_progress() * 100:.0f} %"
        overlay = f"{handle.workflow_id()}  ·  {status_label(handle.status())}  ·  {amount}"
        if overlay != self._overlay:
            self._overlay = overlay
            label = self._overlay_label
            label.setText(overlay)
            label.adjustSize()
            self._place_overlay()
            label.show()

    def _place_overlay(self) -> None:
        # x 10, baseline 20 in viewport coordinates: clear of the scene's top-left node.
        label = self._overlay_label
        top = 20 - label.fontMetrics().ascent() - label.contentsMargins().top()
        label.move(self.viewport().pos() + QPoint(10, top))

    # --- zoom, pan, selection --------------------------------------------------------------
    def zoom(self) -> float:
        """The current scale factor (1.0: one scene unit per pixel)."""
        return self.transform().m11()

    def set_zoom(self, factor: float) -> None:
        """Set the scale factor, clamped to 0.02-8."""
        factor = min(8.0, max(0.02, factor))
        self.scale(factor / self.zoom(), factor / self.zoom())
        self._update_detail_level()

    def zoom_in(self) -> None:
        """Zoom in by 25 %."""
        self.set_zoom(self.zoom() * 1.25)

    def zoom_out(self) -> None:
        """Zoom out by 25 %."""
        self.set_zoom(self.zoom() / 1.25)

    def fit(self) -> None:
        """Show the whole workflow (never magnified beyond 150 %), without scroll bars."""
        rect = self.sceneRect()
        if not rect.isEmpty():
            self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
            if self.zoom() > FIT_MAX_ZOOM:
                self.set_zoom(FIT_MAX_ZOOM)
        self._update_detail_level()

    def _update_detail_level(self) -> None:
        shown = self.zoom() >= LABEL_MIN_ZOOM
        if shown != self._labels_shown:
            self._labels_shown = shown
            for node in self._nodes.values():
                node.label.setVisible(shown)
                node.detail.setVisible(shown)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Qt override: Ctrl+wheel zooms; the plain wheel scrolls."""
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.set_zoom(self.zoom() * 1.15 ** (event.angleDelta().y() / 120))
            event.accept()
        else:
            super().wheelEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Qt override: ``+``/``=`` zoom in, ``-`` zooms out, ``0`` fits the workflow."""
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_in()
        elif key == Qt.Key.Key_Minus:
            self.zoom_out()
        elif key == Qt.Key.Key_0:
            self.fit()
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event: Any) -> None:
        """Qt override: fit the workflow to the new size."""
        super().resizeEvent(event)
        self._place_overlay()
        self._relayout_for_shape()
        self.fit()

    def _selection_changed(self) -> None:
        selected = self.scene().selectedItems()
        if selected:
            self.node_selected.emit(str(selected[0].data(0)))

    def select_node(self, node_id: str) -> None:
        """Select (highlight) a node; nothing is selected for an unknown id."""
        self.scene().clearSelection()
        if node := self._nodes.get(node_id):
            node.box.setSelected(True)

    # --- export ----------------------------------------------------------------------------
    def export_png(self, path: str, scale: float = 2.0) -> Expected[None]:
        """The whole workflow (not just the visible part) as a PNG."""
        rect = self.scene().itemsBoundingRect().adjusted(-20, -20, 20, 20)
        size = QSize(max(1, int(rect.width() * scale)), max(1, int(rect.height() * scale)))
        image = QImage(size, QImage.Format.Format_ARGB32)
        image.fill(QColor("#ffffff"))
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.scene().render(painter, QRectF(0, 0, size.width(), size.height()), rect)
        painter.end()
        if not image.save(str(path), "PNG"):  # type: ignore[call-overload]
            return make_error(PluginErrorCode.FileSystemError, f"could not write PNG {path!r}")
        return make_success()

    def export_svg(self, path: str) -> Expected[None]:
        """The whole workflow as an SVG (vector; text stays text)."""
        from PySide6.QtSvg import QSvgGenerator

        rect = self.scene().itemsBoundingRect().adjusted(-20, -20, 20, 20)
        generator = QSvgGenerator()
        generator.setFileName(str(path))
        generator.setSize(rect.size().toSize())
        generator.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
        generator.setTitle(self._overlay or "workflow")
        painter = QPainter()
        if not painter.begin(generator):
            return make_error(PluginErrorCode.FileSystemError, f"could not write SVG {path!r}")
        self.scene().render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
        painter.end()
        return make_success()
