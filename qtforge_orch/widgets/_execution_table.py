"""What the tables of executions share: rows by execution id, and the status cell.

``ExecutionsModel`` (the executions of this session) and ``ExecutionHistoryModel`` (the
journal's) both show one execution per row.
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush

from ._table import RowTableModel
from .status_style import status_color, status_icon


class ExecutionRow(Protocol):
    """A row of a table of executions."""

    execution_id: str
    status: str


class ExecutionTable(RowTableModel):
    """A flat table with one execution per row (``_rows``), found by id (``_row_of``)."""

    _rows: list[Any]
    _row_of: dict[str, int]

    def execution_id(self, row: int) -> str:
        """The execution id shown in ``row`` (for ``orchestrator.execution``), or ``""``."""
        return self._rows[row].execution_id if 0 <= row < len(self._rows) else ""

    def row_of(self, execution_id: str) -> int:
        """The row showing ``execution_id``, or -1."""
        return self._row_of.get(execution_id, -1)


def status_cell(row: ExecutionRow, role: int) -> Any:
    """The status column's colour (``ForegroundRole``) or dot (``DecorationRole``), else None."""
    if role == Qt.ItemDataRole.DecorationRole:
        return status_icon(row.status)
    if role == Qt.ItemDataRole.ForegroundRole:
        return QBrush(status_color(row.status))
    return None
