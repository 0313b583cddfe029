"""The editor's scene: one item per node and connection, kept in step with the document.

Zoomed far out (texts unreadable), the scene switches to an overview: node outlines and texts
are dropped, and the connections are drawn as a few combined paths (one per pen) instead of
one item each. A frame of a 1,000-node, 1,500-connection graph then costs a few milliseconds
instead of most of a frame; the connection items are kept (hidden) and come back when the
view zooms in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from math import ceil, floor
from typing import Any

from PySide6.QtCore import QObject, QRectF, QSize, QTimer
from PySide6.QtGui import QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSceneHelpEvent,
    QToolTip,
)

from ._document import GraphDocument
from ._items import NODE_WIDTH, EdgeItem, NodeItem

#: Below this zoom, texts are hidden: unreadable, and most of a frame's drawing.
LABEL_MIN_ZOOM = 0.4
#: Margin around the drawing that ``fit()`` shows.
MARGIN = 20.0
#: How far a connection can run outside the node boxes (backward ones run below them).
STRAY = 44.0
#: The longest side of the overview's cached picture of the connections.
OVERVIEW_PIXELS = 2048


class Unrevealed:
    """Nodes whose texts and ports are not shown, bucketed by where they are.

    A reveal looks only at the buckets in view instead of at every hidden node (a pan of a
    1,000-node graph at 100 % touches a few dozen).
    """

    CELL = 512.0
    #: How far a node reaches right of and below its position (its box).
    REACH = (NODE_WIDTH, 200.0)

    def __init__(self) -> None:
        self._cell_of: dict[NodeItem, tuple[int, int]] = {}
        self._cells: dict[tuple[int, int], set[NodeItem]] = {}

    def __bool__(self) -> bool:
        return bool(self._cell_of)

    def add(self, node: NodeItem) -> None:
        """Remember a node as hidden (or where it is now, after a move)."""
        self.discard(node)
        at = node.pos()
        cell = (floor(at.x() / self.CELL), floor(at.y() / self.CELL))
        self._cell_of[node] = cell
        self._cells.setdefault(cell, set()).add(node)

    def discard(self, node: NodeItem) -> None:
        """Forget a node (shown, or removed)."""
        cell = self._cell_of.pop(node, None)
        if cell is not None:
            self._cells[cell].discard(node)

    def moved(self, node: NodeItem) -> None:
        """A hidden node moved: file it under its new place."""
        if node in self._cell_of:
            self.add(node)

    def reset(self, nodes: Iterable[NodeItem]) -> None:
        """Exactly these nodes are hidden."""
        self._cell_of.clear()
        self._cells.clear()
        for node in nodes:
            self.add(node)

    def near(self, area: QRectF) -> list[NodeItem]:
        """The hidden nodes that may overlap ``area``."""
        size = self.CELL
        left = floor((area.left() - self.REACH[0]) / size)
        top = floor((area.top() - self.REACH[1]) / size)
        found: list[NodeItem] = []
        for x in range(left, floor(area.right() / size) + 1):
            for y in range(top, floor(area.bottom() / size) + 1):
                found.extend(self._cells.get((x, y), ()))
        return found


class EdgeOverview(QGraphicsItem):
    """Every connection of the overview in one item, drawn from a cached picture.

    Zoomed out, a screenful of long connections costs most of a frame to rasterise; cached
    in item coordinates (at about the resolution of the most detailed overview zoom), a
    pan or zoom only scales the picture. The picture is redrawn when the connections change.
    """

    def __init__(self) -> None:
        super().__init__()
        self._paths: list[tuple[QPen, QPainterPath]] = []
        self._rect = QRectF()
        self.setZValue(0)

    def set_paths(self, paths: list[tuple[QPen, QPainterPath]]) -> None:
        """What to draw: (pen, path) pairs in scene coordinates."""
        self.prepareGeometryChange()
        self._paths = paths
        rect = QRectF()
        for _, path in paths:
            rect = rect.united(path.controlPointRect())
        self._rect = rect.adjusted(-2, -2, 2, 2)
        longest = max(self._rect.width(), self._rect.height(), 1.0)
        scale = min(LABEL_MIN_ZOOM, OVERVIEW_PIXELS / longest)
        size = QSize(
            max(1, ceil(self._rect.width() * scale)), max(1, ceil(self._rect.height() * scale))
        )
        self.setCacheMode(QGraphicsItem.CacheMode.ItemCoordinateCache, size)
        self.update()

    def boundingRect(self) -> QRectF:
        """Qt override (one item: one Python call per repaint)."""
        return self._rect

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        """Qt override: called only when the cached picture is redrawn."""
        for pen, path in self._paths:
            painter.setPen(pen)
            painter.drawPath(path)


class EditorScene(QGraphicsScene):
    """Items by id; adding, removing, restyling and routing them after document changes.

    No item index: items are added and removed in thousands (paste, undo) and a BSP tree
    would be rebuilt each time; painting and hit tests over a few thousand items are cheap
    without one. Connections are children of one layer item, so the overview hides them
    in one call.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[str, EdgeItem] = {}
        self._touching: dict[str, set[str]] = {}  # node id -> ids of its connections
        self._labels_shown = True
        self._quiet = 0
        self._selected: set[NodeItem | EdgeItem] = set()
        self._badged: set[str] = set()  # targets drawn with an issue badge
        # Nodes whose texts and ports are not shown (made or shown by ``reveal``).
        self._hidden_detail = Unrevealed()
        self._bounds = QRectF()  # every node box placed so far
        # The workflow a plugin id runs when it is a nested workflow's plugin (the canvas
        # looks it up in its plugin manager); a node of it shows the workflow's name.
        self.nested_of: Callable[[str], str | None] = lambda plugin_id: None
        self._edge_layer = self._new_layer()
        self._overview = EdgeOverview()
        self._overview.setVisible(False)
        self.addItem(self._overview)
        self._bundle_timer = QTimer(self)
        self._bundle_timer.setSingleShot(True)
        self._bundle_timer.timeout.connect(self.flush_bundles)
        self.selectionChanged.connect(self._restyle_selection)

    def _new_layer(self) -> QGraphicsPathItem:
        layer = QGraphicsPathItem()  # an empty path: a plain container
        layer.setZValue(0)
        self.addItem(layer)
        return layer

    def _restyle_selection(self) -> None:
        """Selected items get the selection outline (Qt's dashed box is not enough)."""
        now = {i for i in self.selectedItems() if isinstance(i, NodeItem | EdgeItem)}
        for item in now.symmetric_difference(self._selected):
            if item.scene() is self:
                item.restyle()
        self._selected = now

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Many item changes, one ``selectionChanged`` (if the selection changed)."""
        before = {id(item) for item in self.selectedItems()} if self._quiet == 0 else set()
        self._quiet += 1
        self.blockSignals(True)
        try:
            yield
        finally:
            self._quiet -= 1
            if self._quiet == 0:
                self.blockSignals(False)
                if {id(item) for item in self.selectedItems()} != before:
                    self.selectionChanged.emit()
                else:
                    self._selected = {
                        i for i in self._selected if i.scene() is self and i.isSelected()
                    }

    # --- nodes ----------------------------------------------------------------------------
    def add_nodes(
        self, document: GraphDocument, ids: Iterable[str], where: Mapping[str, tuple[float, float]]
    ) -> None:
        """Make the items of nodes already in the document, at ``where``."""
        overview = not self._labels_shown
        with self.batch():
            for node_id in ids:
                info = document.node_info(node_id)
                item = NodeItem(info, overview)
                item.set_nested(self.nested_of(info.plugin_id))
                x, y = where.get(node_id) or document.position(node_id) or (0.0, 0.0)
                item.setPos(x, y)
                self.addItem(item)
                self.nodes[node_id] = item
                self._hidden_detail.add(item)
                self._grow(item)
                self._touching.setdefault(node_id, set())

    def remove_items(self, node_ids: Iterable[str], edge_ids: Iterable[str]) -> None:
        """Remove the items of nodes and connections (ids without an item are ignored)."""
        with self.batch():
            for edge_id in edge_ids:
                edge = self.edges.pop(edge_id, None)
                if edge is not None:
                    info = edge.info
                    self._touching.get(info.source, set()).discard(edge_id)
                    self._touching.get(info.target, set()).discard(edge_id)
                    self.removeItem(edge)
            for node_id in node_ids:
                node = self.nodes.pop(node_id, None)
                self._touching.pop(node_id, None)
                if node is not None:
                    self._hidden_detail.discard(node)
                    self.removeItem(node)
        self._bundles_changed()

    def refresh_node(self, document: GraphDocument, node_id: str) -> None:
        """Show a node's changed fields and re-route its connections."""
        node = self.nodes.get(node_id)
        if node is not None:
            info = document.node_info(node_id)
            node.rebuild(info)
            node.set_nested(self.nested_of(info.plugin_id))
            self.reroute([node_id])

    def place(self, positions: Mapping[str, tuple[float, float]]) -> None:
        """Move nodes (connections follow)."""
        for node_id, (x, y) in positions.items():
            node = self.nodes.get(node_id)
            if node is not None:
                node.setPos(x, y)
                self._hidden_detail.moved(node)
                self._grow(node)
        self.reroute(positions)

    def _grow(self, node: NodeItem) -> None:
        width, height = node.size()
        self._bounds = self._bounds.united(QRectF(node.pos().x(), node.pos().y(), width, height))

    def known_bounds(self) -> QRectF:
        """A rect holding every node placed since the scene was cleared.

        Cheap to keep; it may be larger than the drawing is now.
        """
        grow = MARGIN + STRAY
        return self._bounds.adjusted(-grow, -grow, grow, grow)

    # --- connections ----------------------------------------------------------------------
    def add_edges(self, document: GraphDocument, ids: Iterable[str]) -> None:
        """Make the items of connections already in the document."""
        layer = self._edge_layer
        for edge_id in ids:
            info = document.edge_info(edge_id)
            if info.source not in self.nodes or info.target not in self.nodes:
                continue
            edge = EdgeItem(info, layer, labelled=self._labels_shown)
            self.edges[edge_id] = edge
            self._touching[info.source].add(edge_id)
            self._touching[info.target].add(edge_id)
            self._route(edge)
        self._bundles_changed()

    def refresh_edge(self, document: GraphDocument, edge_id: str) -> None:
        """Show a connection's changed fields."""
        edge = self.edges.get(edge_id)
        if edge is not None:
            edge.restyle(document.edge_info(edge_id))
            self._bundles_changed()

    def reroute(self, node_ids: Iterable[str]) -> None:
        """Re-draw the connections of nodes that moved or changed shape (each once)."""
        touching = self._touching
        edge_ids: set[str] = set()
        for node_id in node_ids:
            edge_ids.update(touching.get(node_id, ()))
        for edge_id in edge_ids:
            self._route(self.edges[edge_id])
        if edge_ids:
            self._bundles_changed()

    def _route(self, edge: EdgeItem) -> None:
        info = edge.info
        a = self.nodes[info.source].port_scene_pos(info.source_port, True)
        b = self.nodes[info.target].port_scene_pos(info.target_port, False)
        edge.route(a, b)

    # --- the overview ---------------------------------------------------------------------
    def set_labels_shown(self, shown: bool) -> None:
        """Readable zoom (True): every item in full; far out (False): the overview.

        Texts are made and shown by ``reveal`` for what is in view.
        """
        if shown == self._labels_shown:
            return
        self._labels_shown = shown
        for node in self.nodes.values():
            node.set_overview(not shown)
            if not shown:
                node.show_detail(False)
        if not shown:
            self._hidden_detail.reset(self.nodes.values())
        self._edge_layer.setVisible(shown)
        if shown:
            self._overview.setVisible(False)
            for edge in self.edges.values():
                edge.allow_label()
        else:
            self.flush_bundles()

    def labels_shown(self) -> bool:
        """Whether texts are shown at the current zoom (False: the overview)."""
        return self._labels_shown

    def _bundles_changed(self) -> None:
        if not self._labels_shown:
            self._bundle_timer.start(0)

    def flush_bundles(self) -> None:
        """Re-draw the overview's connections (one combined path per pen)."""
        self._bundle_timer.stop()
        if self._labels_shown:
            return
        paths: dict[tuple[str, int], tuple[QPen, QPainterPath]] = {}
        for edge in self.edges.values():
            pen = edge.pen()
            key = (pen.color().name(), int(pen.style().value))
            entry = paths.get(key)
            if entry is None:
                # One device pixel, whatever the zoom: the cheapest line to draw.
                thin = QPen(pen)
                thin.setCosmetic(True)
                thin.setWidthF(1.0)
                entry = paths[key] = (thin, QPainterPath())
            entry[1].addPath(edge.path())
        self._overview.set_paths(list(paths.values()))
        self._overview.setVisible(True)

    def reveal(self, area: QRectF, budget_s: float | None = None) -> bool:
        """Show the texts and ports of the nodes in ``area`` (made on first show).

        Returns whether nodes are left for another call (the time budget ran out).
        """
        if not self._labels_shown or not self._hidden_detail:
            return False
        began = time.perf_counter()
        shown = 0
        for node in self._hidden_detail.near(area):
            if not area.intersects(node.sceneBoundingRect()):
                continue
            node.show_detail(True)
            self._hidden_detail.discard(node)
            shown += 1
            over = budget_s is not None and time.perf_counter() - began > budget_s
            if shown % 8 == 0 and over:
                return True
        return False

    # --- state ----------------------------------------------------------------------------
    def set_issues(self, by_target: Mapping[str, list[str]]) -> None:
        """Badges on exactly the targets listed (changed ones only are touched)."""
        for target in self._badged | set(by_target):
            item = self.nodes.get(target) or self.edges.get(target)
            messages = by_target.get(target, [])
            if item is not None and messages != item.issues():
                item.set_issues(messages)
        self._badged = set(by_target)

    def helpEvent(self, event: QGraphicsSceneHelpEvent) -> None:
        """Qt override: tool tips are made when shown, not kept on every item."""
        for item in self.items(event.scenePos()):
            while item is not None and not isinstance(item, NodeItem | EdgeItem):
                item = item.parentItem()
            if item is not None:
                QToolTip.showText(event.screenPos(), item.tooltip())
                event.accept()
                return
        QToolTip.hideText()

    def drawing_rect(self) -> QRectF:
        """The bounds of the nodes and connections, with a margin.

        Not ``itemsBoundingRect``, which would visit every text and port item.
        """
        if not self.nodes:
            return QRectF()
        lefts, tops, rights, bottoms = [], [], [], []
        for node in self.nodes.values():
            at = node.pos()
            width, height = node.size()
            lefts.append(at.x())
            tops.append(at.y())
            rights.append(at.x() + width)
            bottoms.append(at.y() + height)
        rect = QRectF(min(lefts), min(tops), max(rights) - min(lefts), max(bottoms) - min(tops))
        for edge in self.edges.values():
            rect = rect.united(edge.path().controlPointRect())
        return rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)

    def clear_items(self) -> None:
        """Remove every item."""
        with self.batch():
            self.clear()
            self.nodes.clear()
            self.edges.clear()
            self._touching.clear()
            self._selected.clear()
            self._badged.clear()
            self._hidden_detail.reset(())
            self._overview = EdgeOverview()
            self._overview.setVisible(False)
            self.addItem(self._overview)
            self._bounds = QRectF()
            self._edge_layer = self._new_layer()
            self._edge_layer.setVisible(self._labels_shown)
