"""A delegate that paints a ``StepsModel`` cell in one Python call.

Qt's default delegate asks the model for seven roles per cell, each a trip from C++ into
Python (about 15 us with the proxy in between): a screenful of a 1,000-step table cost 10-20 ms
per paint, more than a frame. This delegate reads the row's record once and draws the text (and
the status dot) itself, with the same colours and icons the model reports.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from .status_style import status_color, status_icon
from .steps_model import StepsModel

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_SELECTED = QStyle.StateFlag.State_Selected
ICON = 12


@cache
def dot(status: str) -> QPixmap:
    return status_icon(status).pixmap(ICON, ICON)


@cache
def status_pen_color(status: str) -> QColor:
    return status_color(status)


class StepCellPainter(QStyledItemDelegate):
    """Paints the cells of a table showing ``model`` (through ``proxy``, if any)."""

    def __init__(
        self, model: StepsModel, proxy: QSortFilterProxyModel | None, parent: QWidget
    ) -> None:
        super().__init__(parent)
        self._model = model
        self._proxy = proxy

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        """Draw one cell: selection background, status dot, elided text."""
        source = self._proxy.mapToSource(index) if self._proxy is not None else index
        column = source.column()
        record = self._model.record_at(source.row())
        if record is None:
            super().paint(painter, option, index)
            return
        rect: Any = option.rect
        palette = option.palette
        selected = bool(option.state & _SELECTED)
        if selected:
            painter.fillRect(rect, palette.highlight())
        text = str(self._model.display_text(record, column))
        left = rect.left() + 4
        if column == StepsModel.STATUS:
            painter.drawPixmap(left, rect.top() + (rect.height() - ICON) // 2, dot(record.status))
            left += ICON + 4
            painter.setPen(
                palette.highlightedText().color() if selected else status_pen_color(record.status)
            )
        else:
            painter.setPen(
                palette.highlightedText().color() if selected else palette.text().color()
            )
        width = rect.right() - 4 - left
        if width <= 0:
            return
        elided = option.fontMetrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
        align = _RIGHT if column in (StepsModel.ATTEMPTS, StepsModel.TIME) else _LEFT
        painter.drawText(left, rect.top(), width, rect.height(), align, elided)
