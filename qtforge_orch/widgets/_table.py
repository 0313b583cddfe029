"""What the live table models share.

A flat table of rows under ``COLUMNS`` titles, and change announcements that repaint only
what changed.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

_Index = QModelIndex | QPersistentModelIndex
_DISPLAY = Qt.ItemDataRole.DisplayRole

#: Beyond this many runs of adjacent changed rows, one range is cheaper than many signals.
MAX_RANGES = 32


class RowTableModel(QAbstractTableModel):
    """A flat table: ``self._rows`` (one entry per row) under the titles in ``COLUMNS``."""

    COLUMNS: tuple[str, ...] = ()
    _rows: list[Any]

    def _announce_rows(self, rows: list[int]) -> None:
        """Emit ``dataChanged`` for sorted ``rows``, one signal per run of adjacent rows.

        A single range from the first to the last changed row would repaint every visible row
        in between (a table repaint is ~10 ms of Python data() calls), although most changes
        are off screen.
        """
        if not rows:
            return
        last = len(self.COLUMNS) - 1
        runs: list[tuple[int, int]] = []
        for row in rows:
            if runs and row <= runs[-1][1] + 1:
                runs[-1] = (runs[-1][0], row)
            else:
                runs.append((row, row))
        if len(runs) > MAX_RANGES:
            runs = [(rows[0], rows[-1])]
        for first, final in runs:
            self.dataChanged.emit(self.index(first, 0), self.index(final, last))

    # --- QAbstractItemModel ----------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        """Qt override: the number of rows (none under a valid parent: a flat table)."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        """Qt override: the number of columns (``COLUMNS``)."""
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        """Qt override: the column titles (``COLUMNS``) for the horizontal header."""
        if (
            orientation == Qt.Orientation.Horizontal
            and role == _DISPLAY
            and 0 <= section < len(self.COLUMNS)
        ):
            return self.COLUMNS[section]
        return None
