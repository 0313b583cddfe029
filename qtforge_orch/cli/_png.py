"""PNG rendering of a workflow graph with Qt alone (QImage + QPainter, offscreen).

No Graphviz binary is needed: nodes are laid out in layers (longest path from the roots,
networkx's topological generations) and drawn as rounded boxes with arrows between them.
"""

from __future__ import annotations

import math
import os
from typing import Any

from .._export import STATUS_COLOURS, Graph

_BOX_PADDING = 10
_LAYER_GAP = 60
_COLUMN_GAP = 30
_MARGIN = 20


def _layers(graph: Graph) -> list[list[str]]:
    import networkx

    digraph = networkx.DiGraph()
    digraph.add_nodes_from(node.key for node in graph.nodes)
    digraph.add_edges_from(
        (e.source, e.target) for e in graph.edges if e.source in digraph and e.target in digraph
    )
    order = {node.key: i for i, node in enumerate(graph.nodes)}
    try:
        generations = list(networkx.topological_generations(digraph))
    except networkx.NetworkXUnfeasible:  # a cycle (an invalid file): one row, as declared
        generations = [list(order)]
    return [sorted(layer, key=order.__getitem__) for layer in generations]


def _application() -> Any:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.instance() or QGuiApplication([])


def render_png(graph: Graph, path: str) -> bool:
    """Draw ``graph`` into a PNG file at ``path``; False if Qt could not write it."""
    _application()
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen, QPolygonF

    font = QFont("Sans Serif", 10)
    metrics = QFontMetrics(font)
    nodes = {node.key: node for node in graph.nodes}
    sizes: dict[str, tuple[float, float]] = {}
    for node in graph.nodes:
        lines = (node.label + (f"\n({node.status})" if node.status else "")).split("\n")
        box_width = max(metrics.horizontalAdvance(line) for line in lines) + 2 * _BOX_PADDING
        sizes[node.key] = (box_width, metrics.height() * len(lines) + 2 * _BOX_PADDING)

    layers = _layers(graph)
    rows = [
        (
            sum(sizes[k][0] for k in layer) + _COLUMN_GAP * (len(layer) - 1),
            max((sizes[k][1] for k in layer), default=0),
        )
        for layer in layers
    ]
    width = float(max((w for w, _ in rows), default=100.0)) + 2 * _MARGIN
    height = float(sum(h for _, h in rows)) + _LAYER_GAP * max(len(rows) - 1, 0) + 2 * _MARGIN
    boxes: dict[str, QRectF] = {}
    y = float(_MARGIN)
    for layer, (row_width, row_height) in zip(layers, rows, strict=True):
        x = (width - row_width) / 2
        for key in layer:
            w, h = sizes[key]
            boxes[key] = QRectF(x, y + (row_height - h) / 2, w, h)
            x += w + _COLUMN_GAP
        y += row_height + _LAYER_GAP

    image = QImage(math.ceil(width), math.ceil(height), QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setFont(font)
        for edge in graph.edges:
            if edge.source in boxes and edge.target in boxes:
                pen = QPen(QColor("#555555"), 1.5)
                if edge.dashed:
                    pen.setStyle(Qt.PenStyle.DashLine)
                painter.setPen(pen)
                start = boxes[edge.source].center()
                end = boxes[edge.target].center()
                start.setY(boxes[edge.source].bottom())
                end.setY(boxes[edge.target].top())
                painter.drawLine(start, end)
                angle = math.atan2(end.y() - start.y(), end.x() - start.x())
                head = [
                    end,
                    end - QPointF(8 * math.cos(angle - 0.4), 8 * math.sin(angle - 0.4)),
                    end - QPointF(8 * math.cos(angle + 0.4), 8 * math.sin(angle + 0.4)),
                ]
                painter.setBrush(QColor("#555555"))
                painter.drawPolygon(QPolygonF(head))
        for key, box in boxes.items():
            node = nodes[key]
            painter.setPen(QPen(QColor("#333333"), 1.2))
            painter.setBrush(QColor(STATUS_COLOURS.get(node.status, "#ffffff")))
            painter.drawRoundedRect(box, 6, 6)
            text = node.label + (f"\n({node.status})" if node.status else "")
            painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)
    finally:
        painter.end()
    # PySide6 takes the format as str at run time, whatever its stubs say.
    return bool(image.save(path, "PNG"))  # type: ignore[call-overload]
