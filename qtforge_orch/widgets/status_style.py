"""Status colours and icons shared by the models, the graph view and the monitor."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

#: One colour per step/execution status (Material palette: readable on light and dark).
STATUS_COLORS: dict[str, str] = {
    "pending": "#9e9e9e",
    "running": "#1e88e5",
    "retrying": "#fb8c00",
    "paused": "#f9a825",
    "completed": "#43a047",
    "failed": "#e53935",
    "skipped": "#b0bec5",
    "cancelled": "#6d4c41",
    "rolled_back": "#8e24aa",
}

#: Sort order of statuses (what needs attention first when sorted descending).
STATUS_ORDER: dict[str, int] = {name: i for i, name in enumerate(STATUS_COLORS)}


def status_color(status: str) -> QColor:
    """The colour of a status (grey for an unknown one)."""
    return QColor(STATUS_COLORS.get(status, "#9e9e9e"))


def status_label(status: str) -> str:
    """How a status reads in a cell or a log line (``rolled_back``: ``rolled back``)."""
    return status.replace("_", " ")


@cache
def status_icon(status: str) -> QIcon:
    """A small filled circle in the status colour (cached: one pixmap per status)."""
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(status_color(status))
    painter.drawEllipse(1, 1, 10, 10)
    painter.end()
    return QIcon(pixmap)


def format_ms(ms: float | None) -> str:
    """A duration for a table cell: milliseconds below a second, seconds above."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms:.1f} ms"
    return f"{ms / 1000:.2f} s"


def summarize(value: object, limit: int = 60) -> str:
    """A one-line, bounded summary of an output for a table cell."""
    text = repr(value) if not isinstance(value, str) else value
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
