"""The curve of one connection, from an output on a node's right to an input on another's left.

Shared by the graph view and the editor. A connection that points right is an S-curve. One
that points back (to the next row of a wrapped layout, or round a cycle) is routed through the
space between the rows with rounded corners, and every control point stays within a few pixels
of its ends: ``QGraphicsPathItem`` bounds a path by its control points, so a long S-curve
backwards would widen the drawing (and add scroll bars to a fitted view).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtGui import QPainterPath

#: How far a backward connection leaves its node before it turns.
TURN = 14.0
#: Arrow head length and half width.
ARROW_LENGTH, ARROW_HALF = 9.0, 5.0


def edge_path(a: QPointF, b: QPointF, arrow: bool = True, below: float = 40.0) -> QPainterPath:
    """The path from ``a`` (an output) to ``b`` (an input), with an arrow head at ``b``.

    ``below``: for a backward connection between nodes on one line, how far below them it
    runs back.
    """
    return routed(a, b, arrow, below)[0]


def routed(
    a: QPointF, b: QPointF, arrow: bool = True, below: float = 40.0
) -> tuple[QPainterPath, QPointF]:
    """``edge_path`` and the middle of the curve (where a label or badge goes)."""
    path = QPainterPath(a)
    if b.x() - a.x() >= 2 * TURN:
        bend = max(40.0, (b.x() - a.x()) / 2)
        path.cubicTo(a + QPointF(bend, 0), b - QPointF(bend, 0), b)
        middle = (a + b) / 2  # the S-curve is symmetric about it
    else:
        middle = _route_back(path, a, b, below)
    if arrow:  # an open triangle at the input (lines, not a QPolygonF: cheaper to build)
        tip_x, tip_y = b.x(), b.y()
        path.moveTo(tip_x, tip_y)
        path.lineTo(tip_x - ARROW_LENGTH, tip_y - ARROW_HALF)
        path.lineTo(tip_x - ARROW_LENGTH, tip_y + ARROW_HALF)
        path.lineTo(tip_x, tip_y)
    return path, middle


def _route_back(path: QPainterPath, a: QPointF, b: QPointF, below: float) -> QPointF:
    middle = (a.y() + b.y()) / 2
    if abs(b.y() - a.y()) < 4 * TURN:  # on one line: run back below both ends
        middle = max(a.y(), b.y()) + below
    out, into = a.x() + TURN, b.x() - TURN
    down = 1.0 if middle >= a.y() else -1.0
    path.quadTo(QPointF(out, a.y()), QPointF(out, a.y() + down * TURN))
    path.lineTo(out, middle - down * TURN)
    path.quadTo(QPointF(out, middle), QPointF(out - TURN, middle))
    path.lineTo(into + TURN, middle)
    onward = 1.0 if b.y() >= middle else -1.0
    path.quadTo(QPointF(into, middle), QPointF(into, middle + onward * TURN))
    path.lineTo(into, b.y() - onward * TURN)
    path.quadTo(QPointF(into, b.y()), b)
    return QPointF((out + into) / 2, middle)
