"""The monitor's steps table: repaints only for visible changes, and paints in one Python call.

While a burst of steps finishes, the engine's threads hold the GIL most of the time, and every
entry from Qt into Python waits for it, up to the interpreter's switch interval (5 ms) each.
``QTableView``'s own paint enters Python three times per cell (the delegate, and the model's
``rowCount``/``columnCount`` through the proxy): some 470 entries for a screenful, 30-400 ms
of waiting next to two busy threads. This view draws the visible cells itself, in the one
Python call of its ``paintEvent``, from the rows' records and a per-row cache of their elided
texts; ``QPainter`` calls keep the GIL.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem, QTableView

from ..qt.records import StepRecord
from ._cell_painter import ICON, dot, status_pen_color
from .steps_model import StepsModel

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT_COLUMNS = frozenset({StepsModel.ATTEMPTS, StepsModel.TIME})


class StepsTableView(QTableView):
    """A ``QTableView`` of a ``StepsModel`` seen through ``proxy``.

    It repaints only when a change touches a visible row (``QAbstractItemView`` repaints its
    whole viewport for any multi-cell ``dataChanged``), and draws the cells as
    ``StepCellPainter`` does, all in one call (see the module).
    """

    def __init__(self, steps: StepsModel, proxy: QSortFilterProxyModel) -> None:
        super().__init__()
        self._steps = steps
        self._proxy = proxy
        # row -> (record drawn, column widths, the texts elided to them)
        self._texts: dict[int, tuple[StepRecord, tuple[int, ...], list[str]]] = {}
        steps.modelReset.connect(self._texts.clear)

    def dataChanged(self, top_left: Any, bottom_right: Any, roles: Any = ()) -> None:
        """Qt override: pass on only changes that touch a visible row."""
        first = self.rowAt(0)
        last = self.rowAt(self.viewport().height() - 1)
        if first < 0:
            first = 0
        if last < 0:
            last = self.model().rowCount() - 1 if self.model() is not None else -1
        if bottom_right.row() < first or top_left.row() > last:
            return
        super().dataChanged(top_left, bottom_right, roles)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Qt override: draw the cells in ``event.rect()`` (background, grid, text, dots)."""
        if self.model() is not self._proxy:  # someone set another model: Qt paints it
            super().paintEvent(event)
            return
        area = event.rect()
        first = self.rowAt(area.top())
        if first < 0:
            return  # below the last row: the viewport's background is all there is
        last = self.rowAt(area.bottom())
        if last < 0:
            last = self._proxy.rowCount() - 1
        painter = QPainter(self.viewport())
        try:
            self._paint_rows(painter, area, first, last)
        finally:
            painter.end()

    def _columns(self, left: int, right: int) -> list[tuple[int, int, int]]:
        """(logical column, x, width) of the visible columns between ``left`` and ``right``."""
        header = self.horizontalHeader()
        first = header.visualIndexAt(left)
        if first < 0:
            return []
        last = header.visualIndexAt(right)
        if last < 0:
            last = header.count() - 1
        columns = []
        for visual in range(first, last + 1):
            logical = header.logicalIndex(visual)
            if not header.isSectionHidden(logical):
                columns.append(
                    (logical, self.columnViewportPosition(logical), header.sectionSize(logical))
                )
        return columns

    def _paint_rows(self, painter: QPainter, area: Any, first: int, last: int) -> None:
        columns = self._columns(area.left(), area.right())
        if not columns:
            return
        header = self.horizontalHeader()
        widths = tuple(header.sectionSize(c) for c in range(header.count()))
        grid = 1 if self.showGrid() else 0
        palette = QPalette(self.palette())
        if not self.isEnabled():
            palette.setCurrentColorGroup(QPalette.ColorGroup.Disabled)
        elif not self.isActiveWindow():
            palette.setCurrentColorGroup(QPalette.ColorGroup.Inactive)
        text_color = palette.text().color()
        selected_color = palette.highlightedText().color()
        highlight = palette.highlight()
        selected = self._selected()
        metrics = self.fontMetrics()
        proxy, steps = self._proxy, self._steps
        x0, x1 = columns[0][1], columns[-1][1] + columns[-1][2] - 1
        row_lines: list[int] = []
        for row in range(first, last + 1):
            if self.isRowHidden(row):
                continue
            y, height = self.rowViewportPosition(row), self.rowHeight(row)
            row_lines.append(y + height - 1)
            source = proxy.mapToSource(proxy.index(row, 0)).row()
            record = steps.record_at(source)
            if record is None:
                continue
            texts = self._row_texts(source, record, widths, metrics)
            for column, x, width in columns:
                cell_w, cell_h = width - grid, height - grid
                chosen = (row, column) in selected or row in selected
                if chosen:
                    painter.fillRect(x, y, cell_w, cell_h, highlight)
                left = x + 4
                if column == StepsModel.STATUS:
                    painter.drawPixmap(left, y + (cell_h - ICON) // 2, dot(record.status))
                    left += ICON + 4
                    painter.setPen(selected_color if chosen else status_pen_color(record.status))
                else:
                    painter.setPen(selected_color if chosen else text_color)
                text_w = x + cell_w - 1 - 4 - left
                if text_w > 0 and texts[column]:
                    align = _RIGHT if column in _RIGHT_COLUMNS else _LEFT
                    painter.drawText(left, y, text_w, cell_h, align, texts[column])
        if grid and row_lines:
            option = QStyleOptionViewItem()
            option.initFrom(self)
            hint = self.style().styleHint(QStyle.StyleHint.SH_Table_GridLineColor, option, self)
            painter.setPen(QPen(QColor.fromRgba(hint & 0xFFFFFFFF), 0, self.gridStyle()))
            top, bottom = self.rowViewportPosition(first), row_lines[-1]
            for y in row_lines:
                painter.drawLine(x0, y, x1, y)
            for _, x, width in columns:
                painter.drawLine(x + width - 1, top, x + width - 1, bottom)

    def _row_texts(
        self, source: int, record: StepRecord, widths: tuple[int, ...], metrics: Any
    ) -> list[str]:
        """The row's texts elided to their columns (cached until the record or widths change)."""
        cached = self._texts.get(source)
        if cached is not None and cached[0] is record and cached[1] == widths:
            return cached[2]
        grid = 1 if self.showGrid() else 0
        texts = []
        for column, width in enumerate(widths):
            room = width - grid - 1 - 8 - (ICON + 4 if column == StepsModel.STATUS else 0)
            text = str(self._steps.display_text(record, column))
            texts.append(
                metrics.elidedText(text, Qt.TextElideMode.ElideRight, room) if room > 0 else ""
            )
        self._texts[source] = (record, widths, texts)
        return texts

    def _selected(self) -> set[Any]:
        """Selected rows (ints) and cells ((row, column)); a table selects a few at most."""
        chosen: set[Any] = set()
        model = self.selectionModel()
        if model is None or not model.hasSelection():
            return chosen
        columns = self.model().columnCount()
        selection = model.selection()
        for part in (selection.at(i) for i in range(selection.size())):
            for row in range(part.top(), part.bottom() + 1):
                if part.left() == 0 and part.right() == columns - 1:
                    chosen.add(row)
                else:
                    chosen.update((row, c) for c in range(part.left(), part.right() + 1))
        return chosen
