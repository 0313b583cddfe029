"""How each node kind and connection type looks: outline shape, header colour, pen.

The seven node types differ in colour and in outline, so they are told apart at a glance
and in greyscale: a Source is rounded on its input side, a Sink on its output side, a
Decision is pointed at both ends, a Splitter widens towards its outputs and an Aggregator
narrows towards its output; Processor is a rounded box and Custom a box with cut corners.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPolygonF

#: Header colour of each node kind ("Step": a v1 step).
KIND_COLORS: dict[str, str] = {
    "Source": "#2e7d32",
    "Processor": "#1565c0",
    "Sink": "#6a1b9a",
    "Decision": "#e65100",
    "Aggregator": "#00838f",
    "Splitter": "#ad1457",
    "Custom": "#37474f",
    "Step": "#1565c0",
}
#: A disabled node: grey header, pale body, grey text and a dashed grey outline.
DISABLED_HEADER = "#bdbdbd"
DISABLED_BODY = "#eeeeee"
DISABLED_TEXT = "#8a8a8a"
BODY = "#ffffff"
OUTLINE = "#37474f"
SELECTED = "#ffab00"
ISSUE = "#d32f2f"

#: Pen colour and style of each connection type.
EDGE_STYLES: dict[str, tuple[str, Qt.PenStyle]] = {
    "DataFlow": ("#455a64", Qt.PenStyle.SolidLine),
    "Control": ("#e65100", Qt.PenStyle.DashLine),
    "Dependency": ("#795548", Qt.PenStyle.DotLine),
    "Event": ("#00897b", Qt.PenStyle.DashDotLine),
}
DISABLED_EDGE = "#b0bec5"

_ROUND = 7.0
_POINT = 14.0  # how far a pointed or slanted end reaches in


def kind_color(kind: str) -> QColor:
    """The header colour of a node kind (Processor's for an unknown one)."""
    return QColor(KIND_COLORS.get(kind, KIND_COLORS["Processor"]))


def kind_outline(kind: str, width: float, height: float) -> QPainterPath:
    """The outline of a node of ``kind`` in a ``width`` x ``height`` box at the origin."""
    path = QPainterPath()
    w, h, p = width, height, _POINT
    if kind == "Source":
        radius = min(h / 2, 22.0)
        path.addRoundedRect(QRectF(0, 0, w, h), _ROUND, _ROUND)
        rounded = QPainterPath()
        rounded.addRoundedRect(QRectF(0, 0, 2 * radius + 4, h), radius, radius)
        right = QPainterPath()
        right.addRoundedRect(QRectF(radius, 0, w - radius, h), _ROUND, _ROUND)
        return rounded.united(right)
    if kind == "Sink":
        radius = min(h / 2, 22.0)
        left = QPainterPath()
        left.addRoundedRect(QRectF(0, 0, w - radius, h), _ROUND, _ROUND)
        rounded = QPainterPath()
        rounded.addRoundedRect(QRectF(w - 2 * radius - 4, 0, 2 * radius + 4, h), radius, radius)
        return left.united(rounded)
    if kind == "Decision":
        points = [(p, 0), (w - p, 0), (w, h / 2), (w - p, h), (p, h), (0, h / 2)]
    elif kind == "Splitter":  # narrow input side, wide output side
        points = [(0, p * 0.6), (w, 0), (w, h), (0, h - p * 0.6)]
    elif kind == "Aggregator":  # wide input side, narrow output side
        points = [(0, 0), (w, p * 0.6), (w, h - p * 0.6), (0, h)]
    elif kind == "Custom":
        c = 9.0
        points = [(c, 0), (w - c, 0), (w, c), (w, h - c), (w - c, h), (c, h), (0, h - c), (0, c)]
    else:
        path.addRoundedRect(QRectF(0, 0, w, h), _ROUND, _ROUND)
        return path
    path.addPolygon(QPolygonF([QPointF(x, y) for x, y in points]))
    path.closeSubpath()
    return path
