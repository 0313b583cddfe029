"""The graphics items of the editor: a node with its ports, and a connection.

Items are built from Qt's own shape and text items (paths, simple texts, ellipses) and never
paint in Python: a frame of a 1,000-node graph is drawn by Qt alone, so panning and zooming
stay within a frame. No item overrides ``itemChange`` or ``boundingRect`` either, which Qt
would call into Python for every child added, every move and every repaint; moves and
selection are handled by the view and the scene instead. A node's texts and ports hang
under one ``detail`` item, hidden in one call when the view is zoomed too far out to read
them.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QLinearGradient,
    QPainterPath,
    QPainterPathStroker,
    QPen,
)
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsSimpleTextItem,
)

from .._edge_path import routed
from ..status_style import STATUS_COLORS
from ._document import EdgeInfo, NodeInfo
from ._kinds import (
    BODY,
    DISABLED_BODY,
    DISABLED_EDGE,
    DISABLED_HEADER,
    DISABLED_TEXT,
    EDGE_STYLES,
    ISSUE,
    OUTLINE,
    SELECTED,
    kind_color,
    kind_outline,
)

NODE_WIDTH = 190.0
HEADER = 28.0
#: The plugin/status line under the header; named ports start below it.
SUBTITLE = 24.0
PORT_ROW = 18.0
PORT_RADIUS = 5.0
TITLE_POINT_SIZE = 12.0
SMALL_POINT_SIZE = 9.0
#: Width of outlines and connections: Qt rasterises antialiased lines up to one pixel wide
#: several times faster than wider ones (a screenful of long connections: 7 ms, not 24).
LINE = 1.0
_DARK_STATUS_TEXT = frozenset({"pending", "skipped", "paused", "retrying"})
_Flag = QGraphicsItem.GraphicsItemFlag
_NO_PEN = QPen(Qt.PenStyle.NoPen)
#: The badge of a node that runs a nested workflow.
NESTED = "#5e35b1"


@cache
def _font(name: str) -> QFont:
    """Fonts are made once (after the QApplication exists) and shared by every item."""
    font = QFont()
    font.setPointSizeF(TITLE_POINT_SIZE if name == "title" else SMALL_POINT_SIZE)
    font.setBold(name == "title")
    return font


@cache
def _metrics(name: str) -> QFontMetricsF:
    return QFontMetricsF(_font(name))


@cache
def _pen(color: str, width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    return QPen(QColor(color), width, style)


@cache
def _brush(color: str) -> QBrush:
    return QBrush(QColor(color))


@cache
def _node_brush(header: str, body: str, height: float) -> QBrush:
    """The header band over the body: one brush (a hard-stop gradient) fills both."""
    gradient = QLinearGradient(0, 0, 0, height)
    split = HEADER / height
    gradient.setColorAt(0.0, QColor(header))
    gradient.setColorAt(split, QColor(header))
    gradient.setColorAt(min(1.0, split + 0.0001), QColor(body))
    gradient.setColorAt(1.0, QColor(body))
    return QBrush(gradient)


@cache
def _outline(kind: str, width: float, height: float) -> QPainterPath:
    """Shared by every node of a kind and size (paths are implicitly shared)."""
    return kind_outline(kind, width, height)


@cache
def _port_circle() -> QRectF:
    r = PORT_RADIUS
    return QRectF(-r, -r, 2 * r, 2 * r)


def node_size(info: NodeInfo) -> tuple[float, float]:
    """Width and height of a node: taller for each row of named ports."""
    rows = max(len(info.inputs), len(info.outputs))
    return NODE_WIDTH, HEADER + SUBTITLE + rows * PORT_ROW + (6.0 if rows else 2.0)


def _elided(text: str, font: str, width: float) -> str:
    metrics = _metrics(font)
    if metrics.horizontalAdvance(text) <= width:
        return text
    return metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)


def _text(parent: QGraphicsItem, text: str, font: str, color: str) -> QGraphicsSimpleTextItem:
    item = QGraphicsSimpleTextItem(text, parent)
    item.setFont(_font(font))
    item.setBrush(_brush(color))
    return item


class NodeItem(QGraphicsPathItem):
    """One node: its outline (header in the kind's colour), name, plugin line and ports.

    ``port_scene_pos(port, output)`` is where a port is drawn (``""``: the node's whole
    input or output, on the header), e.g. to drag a connection from it with ``QTest``.
    The texts and port dots are made when the node is first shown at a readable zoom
    (``show_detail``): a 1,000-node graph opened zoomed out costs one path per node.
    """

    def __init__(self, info: NodeInfo, overview: bool = False) -> None:
        super().__init__()
        self.node_id = info.node_id
        self._status = ""
        self._detail_text = ""
        self._issues: list[str] = []
        self._badge: QGraphicsEllipseItem | None = None
        self._nested: str | None = None
        self._nested_badge: QGraphicsPathItem | None = None
        self._detail: QGraphicsPathItem | None = None
        self._subtitle: QGraphicsSimpleTextItem | None = None
        self._overview = overview
        self.setZValue(1)
        self.setFlags(_Flag.ItemIsSelectable | _Flag.ItemIsMovable)
        self._set_info(info)

    def _set_info(self, info: NodeInfo) -> None:
        self.info = info
        self._size = width, height = node_size(info)
        self._ports: dict[tuple[str, bool], QPointF] = {
            ("", False): QPointF(0, HEADER / 2),
            ("", True): QPointF(width, HEADER / 2),
        }
        for output, names in ((False, info.inputs), (True, info.outputs)):
            for row, name in enumerate(names):
                y = HEADER + SUBTITLE + PORT_ROW * row + PORT_ROW / 2
                self._ports[(name, output)] = QPointF(width if output else 0, y)
        self.setPath(_outline(info.kind, width, height))
        self.restyle()

    # --- building -------------------------------------------------------------------------
    def show_detail(self, shown: bool = True) -> None:
        """Show (making them the first time) or hide the texts and port dots."""
        if self._detail is None:
            if not shown:
                return
            self._build_detail()
        assert self._detail is not None
        self._detail.setVisible(shown)

    def detail_shown(self) -> bool:
        """Whether the texts and port dots are shown."""
        return self._detail is not None and self._detail.isVisible()

    def _build_detail(self) -> None:
        info = self.info
        width = self._size[0]
        detail = self._detail = QGraphicsPathItem(self)  # an empty path: a plain container
        title_color = "#ffffff" if info.enabled else DISABLED_TEXT
        title = _text(detail, _elided(info.label, "title", width - 28), "title", title_color)
        title.setPos(14, (HEADER - _metrics("title").height()) / 2)
        self._subtitle = _text(detail, "", "small", "#546e7a")
        self._subtitle.setPos(14, HEADER + 3)
        self._set_subtitle()
        port_color = kind_color(info.kind).name() if info.enabled else DISABLED_HEADER
        label_color = "#37474f" if info.enabled else DISABLED_TEXT
        small_height = _metrics("small").height()
        for (name, output), at in self._ports.items():
            port = QGraphicsEllipseItem(_port_circle(), detail)
            port.setPos(at)
            port.setPen(_pen(OUTLINE, 1.0))
            port.setBrush(_brush(port_color if name else "#ffffff"))
            if name:
                shown = _elided(name, "small", width / 2 - 16)
                label = _text(detail, shown, "small", label_color)
                left = width - 10 - _metrics("small").horizontalAdvance(shown) if output else 10
                label.setPos(left, at.y() - small_height / 2)

    def rebuild(self, info: NodeInfo) -> None:
        """Show changed fields (name, plugin, type, ports...)."""
        shown = self.detail_shown()
        scene = self.scene()
        for child in self.childItems():
            if scene is not None:
                scene.removeItem(child)
            else:
                child.setParentItem(None)
        self._badge = self._detail = self._subtitle = None
        self._nested_badge = None
        self._set_info(info)
        self.show_detail(shown)
        self.set_issues(self._issues)

    # --- queries --------------------------------------------------------------------------
    def size(self) -> tuple[float, float]:
        """(width, height) in scene units."""
        return self._size

    def ports(self) -> dict[tuple[str, bool], QPointF]:
        """Every port drawn, (name, output) -> position in the node's coordinates."""
        return self._ports

    def port_scene_pos(self, port: str, output: bool) -> QPointF:
        """Where a port is drawn, in scene coordinates.

        The whole-data port stands in for a name the node does not declare.
        """
        at = self._ports.get((port, output)) or self._ports[("", output)]
        return self.pos() + at

    def has_port(self, port: str, output: bool) -> bool:
        """Whether the node draws this port."""
        return (port, output) in self._ports

    def issues(self) -> list[str]:
        """The messages of the issues shown on the node."""
        return list(self._issues)

    def status(self) -> str:
        """The execution status shown (``""`` when none is attached)."""
        return self._status

    # --- state ----------------------------------------------------------------------------
    def set_overview(self, overview: bool) -> None:
        """Far out, a node is a plain block in its kind's (or status) colour, no outline."""
        if overview != self._overview:
            self._overview = overview
            self.restyle()

    def restyle(self) -> None:
        """Colours for the kind, enabled state, execution status and selection."""
        info = self.info
        height = self._size[1]
        header = kind_color(info.kind).name() if info.enabled else DISABLED_HEADER
        body = BODY if info.enabled else DISABLED_BODY
        if self._status:
            body = STATUS_COLORS.get(self._status, "#9e9e9e")
        if self._overview:
            self.setBrush(_brush(body if self._status else header))
            self.setPen(_pen(SELECTED, 6.0) if self.isSelected() else _NO_PEN)
            return
        self.setBrush(_node_brush(header, body, height))
        if self.isSelected():
            self.setPen(_pen(SELECTED, 3.0))
        elif not info.enabled:
            self.setPen(_pen(DISABLED_TEXT, LINE, Qt.PenStyle.DashLine))
        else:
            self.setPen(_pen(OUTLINE, LINE))

    def _subtitle_text(self) -> tuple[str, str]:
        info = self.info
        if self._status:
            text = self._detail_text or self._status.replace("_", " ")
            return text, "#212121" if self._status in _DARK_STATUS_TEXT else "#ffffff"
        call = f"{info.plugin_id}.{info.command}" if info.command else info.plugin_id
        return f"{info.kind} · {call or '(no plugin)'}", (
            "#546e7a" if info.enabled else DISABLED_TEXT
        )

    def _set_subtitle(self) -> None:
        if self._subtitle is None:
            return
        text, color = self._subtitle_text()
        self._subtitle.setText(_elided(text, "small", self._size[0] - 28))
        self._subtitle.setBrush(_brush(color))

    def subtitle(self) -> str:
        """The line under the header (plugin and command, or the execution's detail)."""
        return self._subtitle_text()[0]

    def set_status(self, status: str, detail: str = "") -> None:
        """Colour the body with an execution status (``""``: back to the editing look)."""
        if (status, detail) == (self._status, self._detail_text):
            return
        self._status, self._detail_text = status, detail
        self.restyle()
        self._set_subtitle()

    def set_issues(self, messages: list[str]) -> None:
        """Show a red badge with the issues in its tool tip (none: no badge)."""
        self._issues = list(messages)
        if messages and self._badge is None:
            size = 18.0
            badge = QGraphicsEllipseItem(0, 0, size, size, self)
            badge.setPos(self._size[0] - size + 4, -size / 2)
            badge.setBrush(_brush(ISSUE))
            badge.setPen(_pen("#ffffff", 1.5))
            badge.setZValue(2)
            mark = _text(badge, "!", "title", "#ffffff")
            mark.setPos((size - mark.boundingRect().width()) / 2, 0)
            self._badge = badge
        if self._badge is not None:
            self._badge.setVisible(bool(messages))

    def set_nested(self, workflow_id: str | None) -> None:
        """Mark the node as a nested workflow's: a badge above its header names the workflow.

        One node, however many steps the workflow has; None removes the badge.
        """
        if workflow_id == self._nested and (workflow_id is None) == (self._nested_badge is None):
            return
        self._nested = workflow_id
        if self._nested_badge is not None:
            scene = self.scene()
            if scene is not None:
                scene.removeItem(self._nested_badge)
            else:
                self._nested_badge.setParentItem(None)
            self._nested_badge = None
        if workflow_id is None:
            return
        text = _elided(f"workflow {workflow_id}", "small", self._size[0] - 16)
        width = _metrics("small").horizontalAdvance(text) + 12
        height = _metrics("small").height() + 4
        outline = QPainterPath()
        outline.addRoundedRect(QRectF(0, 0, width, height), 4, 4)
        badge = QGraphicsPathItem(outline, self)
        badge.setPos(8, -height + 1)
        badge.setBrush(_brush(NESTED))
        badge.setPen(_pen("#ffffff", 1.0))
        badge.setZValue(2)
        label = _text(badge, text, "small", "#ffffff")
        label.setPos(6, 2)
        self._nested_badge = badge

    def nested_workflow(self) -> str | None:
        """The workflow the node runs as a nested workflow (None: an ordinary plugin)."""
        return self._nested

    def nested_badge_text(self) -> str:
        """The text of the nested-workflow badge (``""``: none)."""
        badge = self._nested_badge
        if badge is None:
            return ""
        (label,) = [c for c in badge.childItems() if isinstance(c, QGraphicsSimpleTextItem)]
        return label.text()

    def tooltip(self) -> str:
        """The node's tool tip (made when asked for: the scene's help event)."""
        info = self.info
        lines = [f"{info.label} ({info.node_id})", f"{info.kind}: {info.plugin_id}"]
        if info.command:
            lines[-1] += f".{info.command}"
        if self._nested is not None:
            lines.append(f"runs the workflow '{self._nested}' as a child execution")
        if not info.enabled:
            lines.append("disabled")
        return "\n".join(lines + self._issues)


class EdgeItem(QGraphicsPathItem):
    """One connection: a curve from an output port to an input port, styled by type."""

    def __init__(
        self, info: EdgeInfo, parent: QGraphicsItem | None = None, labelled: bool = True
    ) -> None:
        super().__init__(parent)
        self.edge_id = info.edge_id
        # Whether the text beside the connection is made yet (not while the scene shows
        # the overview, where it would be hidden anyway).
        self._labelled = labelled
        self.info = info
        self._hit: QPainterPath | None = None
        self._middle = QPointF()
        self._issues: list[str] = []
        self._badge: QGraphicsEllipseItem | None = None
        self._nested: str | None = None
        self._nested_badge: QGraphicsPathItem | None = None
        self._label: QGraphicsSimpleTextItem | None = None
        self._count = ""
        self.setFlag(_Flag.ItemIsSelectable)
        self.restyle(info)

    def restyle(self, info: EdgeInfo | None = None) -> None:
        """Show changed fields (type, enabled, condition) and the selection."""
        info = self.info = info or self.info
        color, style = EDGE_STYLES.get(info.kind, EDGE_STYLES["DataFlow"])
        if not info.enabled:
            color, style = DISABLED_EDGE, Qt.PenStyle.DashLine
        if self.isSelected():
            self.setPen(_pen(SELECTED, 3.0, style))
        else:
            self.setPen(_pen(color, LINE, style))
        self._set_label()

    def tooltip(self) -> str:
        """The connection's tool tip (made when asked for: the scene's help event)."""
        info = self.info
        ends = f"{info.source}:{info.source_port or '*'} -> {info.target}:{info.target_port or '*'}"
        lines = [f"{info.kind}: {ends}"]
        if info.condition:
            lines.append(f"when {info.condition}")
        return "\n".join(lines + self._issues)

    def route(self, a: QPointF, b: QPointF) -> None:
        """Draw the connection from ``a`` (output port) to ``b`` (input port)."""
        path, self._middle = routed(a, b, below=40.0)
        self.setPath(path)
        self._hit = None  # the clickable stroke is made when first asked for
        if self._badge is not None:
            self._badge.setPos(self._middle - QPointF(8, 8))
        if self._label is not None:
            self._label.setPos(self._middle + QPointF(6, 3))

    def allow_label(self) -> None:
        """Make the text beside the connection from now on (the overview has ended)."""
        if not self._labelled:
            self._labelled = True
            self._set_label()

    def _set_label(self) -> None:
        text = self._count or self.info.condition
        if text and self._label is None and self._labelled:
            self._label = _text(self, "", "small", "#37474f")
            self._label.setPos(self._middle + QPointF(6, 3))
        if self._label is not None:
            self._label.setText(text if len(text) <= 28 else text[:27] + "…")

    def set_count(self, text: str) -> None:
        """A live figure on the connection (Streaming items), ``""`` to remove it."""
        if text != self._count:
            self._count = text
            self._set_label()

    def label_text(self) -> str:
        """The text drawn beside the connection (its condition, or a live figure)."""
        return self._label.text() if self._label is not None else ""

    def middle(self) -> QPointF:
        """The middle of the curve, in scene coordinates (where its badge is)."""
        return QPointF(self._middle)

    def issues(self) -> list[str]:
        """The messages of the issues shown on the connection."""
        return list(self._issues)

    def set_issues(self, messages: list[str]) -> None:
        """Show a red badge at the middle of the connection (none: no badge)."""
        self._issues = list(messages)
        if messages and self._badge is None:
            self._badge = QGraphicsEllipseItem(0, 0, 16, 16, self)
            self._badge.setBrush(_brush(ISSUE))
            self._badge.setPen(_pen("#ffffff", 1.5))
            self._badge.setPos(self._middle - QPointF(8, 8))
        if self._badge is not None:
            self._badge.setVisible(bool(messages))

    def shape(self) -> QPainterPath:
        """Qt override: the stroke around the curve (not the area it encloses) is clickable.

        ``boundingRect`` is left to Qt: overriding it would call into Python for every
        connection at every repaint. The view looks a few pixels around a click instead.
        """
        if self._hit is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(10.0)
            self._hit = stroker.createStroke(self.path())
        return self._hit
