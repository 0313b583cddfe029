"""``StepsModel``: the steps (v1) or nodes (v2) of one execution, live, as a table."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush

from .._log import logger
from ..events import EventKind, ExecutionEvent, Subscription
from ..qt.execution import WorkflowExecution
from ..qt.records import StepRecord
from ..results import Expected, from_error, make_success
from ._coalesce import BUDGET_S, FrameBatcher
from ._following import END_KINDS, TASK_KINDS, follow, resolve
from ._table import RowTableModel
from .status_style import (
    STATUS_ORDER,
    format_ms,
    status_color,
    status_icon,
    status_label,
    summarize,
)

#: Raw, sortable values (numbers stay numbers): use with ``QSortFilterProxyModel.setSortRole``.
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
#: The status string of the row (``completed``, ``failed``, ...).
STATUS_ROLE = Qt.ItemDataRole.UserRole + 2

_Index = QModelIndex | QPersistentModelIndex
#: The events that change a row.
_FOLLOWED = TASK_KINDS | END_KINDS | {EventKind.ITEM_COUNTS, EventKind.EVENT_COUNTS}
_DISPLAY = Qt.ItemDataRole.DisplayRole
_ROLES = frozenset(
    {
        _DISPLAY,
        SORT_ROLE,
        STATUS_ROLE,
        Qt.ItemDataRole.DecorationRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.TextAlignmentRole,
    }
)


class StepsModel(RowTableModel):
    """A table model with one row per step or node of a ``WorkflowExecution``.

    Columns: step, status, attempts, time (its own run; EventDriven: its latest run), runs
    (EventDriven: runs ended, failed, mean time), items (Streaming counters), rollback (the
    outcome of its rollback step, once rolled back), output summary, error. Updates are
    batched per frame and emitted per run of adjacent changed rows.

    Give it a handle, or an execution id with the ``orchestrator`` to look it up in.
    """

    COLUMNS = (
        "Step",
        "Status",
        "Attempts",
        "Time",
        "Runs",
        "Items",
        "Rollback",
        "Output",
        "Error",
    )
    STEP, STATUS, ATTEMPTS, TIME, RUNS, ITEMS, ROLLBACK, OUTPUT, ERROR = range(9)

    def __init__(
        self,
        handle: WorkflowExecution | str | None = None,
        parent: QObject | None = None,
        orchestrator: Any = None,
    ) -> None:
        super().__init__(parent)
        self._orchestrator = orchestrator
        self._handle: WorkflowExecution | None = None
        self._ids: list[str] = []
        self._rows: list[StepRecord] = []
        self._row_of: dict[str, int] = {}
        self._following: Subscription | None = None
        self._batch = FrameBatcher(self._apply, self)
        if handle is not None:
            shown = self.set_handle(handle)
            if not shown:  # a constructor cannot return the error: the model stays empty
                logger("widgets").warning("StepsModel: %s", shown.error().message)

    def handle(self) -> WorkflowExecution | None:
        """The execution shown, or None."""
        return self._handle

    def set_handle(
        self, handle: WorkflowExecution | str | None, orchestrator: Any = None
    ) -> Expected[None]:
        """Show another execution (None: empty): a handle or an execution id.

        An id is looked up with ``orchestrator.execution(id)`` (the orchestrator given here
        or to the constructor). Rows start from the handle's snapshot, so binding late shows
        everything that already happened.

        Returns:
            Success, or the lookup's error (``NotFound``, ``InvalidArgument``...); the rows
            shown do not change then.
        """
        found = resolve(handle, orchestrator or self._orchestrator, "StepsModel.set_handle")
        if not found:
            return from_error(found.error())
        self._show(found.value())
        return make_success()

    def _show(self, handle: WorkflowExecution | None) -> None:
        if self._following is not None:
            self._following.cancel()
            self._following = None
        self.beginResetModel()
        self._handle = handle
        self._ids = handle.step_ids() if handle is not None else []
        self._row_of = {step: row for row, step in enumerate(self._ids)}
        self._rows = [self._read(step) for step in self._ids]
        self.endResetModel()
        if handle is not None:
            # The rows were just read; from here on the execution's events mark what to read
            # again.
            self._following = follow(handle, self._on_event, _FOLLOWED)

    def flush(self) -> None:
        """Apply pending updates now instead of at the next frame."""
        self._batch.flush_all()

    def step_id(self, row: int) -> str:
        """The step or node id shown in ``row``, or an empty string."""
        return self._ids[row] if 0 <= row < len(self._ids) else ""

    def row_of(self, step_id: str) -> int:
        """The row showing ``step_id``, or -1."""
        return self._row_of.get(step_id, -1)

    # --- live updates ----------------------------------------------------------------------
    def _on_event(self, event: ExecutionEvent) -> None:
        if event.kind in TASK_KINDS:
            self._batch.mark(event.step)
        elif event.kind is EventKind.ITEM_COUNTS:
            self._batch.mark_many(event.item_counts)
        elif event.kind is EventKind.EVENT_COUNTS:
            self._batch.mark_many(event.node_runs)
        else:  # the end: skipped, cancelled and rolled-back steps, final counters
            self._mark_all()

    def _mark_all(self) -> None:
        self._batch.mark_many(self._ids)

    def _read(self, step: str) -> StepRecord:
        record = self._handle.step(step) if self._handle is not None else None
        return record if record is not None else StepRecord(step)

    def _apply(self, dirty: set[object]) -> set[object] | None:
        if self._handle is None:
            return None
        known = self._handle.step_ids()
        if len(known) > len(self._ids):  # nodes the handle met after binding
            first = len(self._ids)
            self.beginInsertRows(QModelIndex(), first, len(known) - 1)
            for step in known[first:]:
                self._row_of[step] = len(self._ids)
                self._ids.append(step)
                self._rows.append(self._read(step))
            self.endInsertRows()
        rows = sorted(self._row_of[s] for s in dirty if isinstance(s, str) and s in self._row_of)
        left: set[object] = set()
        changed: list[int] = []
        deadline = time.perf_counter() + BUDGET_S
        for done, row in enumerate(rows):
            if done % 64 == 63 and time.perf_counter() > deadline:
                left = {self._ids[r] for r in rows[done:]}
                break
            record = self._read(self._ids[row])
            # Only rows that really changed are announced (the end of a run marks them all):
            # each dataChanged lets an engine thread take the GIL, and an unchanged record
            # keeps the table's cached texts.
            if record != self._rows[row]:
                self._rows[row] = record
                changed.append(row)
        self._announce_rows(changed)
        return left

    # --- QAbstractItemModel ----------------------------------------------------------------
    def data(self, index: _Index, role: int = _DISPLAY) -> Any:
        """Qt override: a cell's value for ``role`` (display, sort, status, colour...)."""
        if role not in _ROLES:  # views ask for a dozen roles per cell: answer most at once
            return None
        row = index.row()
        if not index.isValid() or not 0 <= row < len(self._rows):
            return None
        record, column = self._rows[row], index.column()
        if role == _DISPLAY:
            return self._display(record, column)
        if role == SORT_ROLE:
            return self._sort_value(record, index.row(), column)
        if role == STATUS_ROLE:
            return record.status
        if column == self.STATUS:
            if role == Qt.ItemDataRole.DecorationRole:
                return status_icon(record.status)
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(status_color(record.status))
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.OUTPUT:
                return summarize(record.output, 2000)
            if column == self.ERROR:
                return record.error or None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (self.ATTEMPTS, self.TIME):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def record_at(self, row: int) -> StepRecord | None:
        """The record shown in ``row`` (None outside the table)."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def display_text(self, record: StepRecord, column: int) -> Any:
        """What ``DisplayRole`` shows for ``record`` in ``column``."""
        return self._display(record, column)

    def _display(self, record: StepRecord, column: int) -> Any:
        if column == self.STEP:
            return record.step_id
        if column == self.STATUS:
            return status_label(record.status)
        if column == self.ATTEMPTS:
            return record.attempts
        if column == self.TIME:
            return format_ms(record.duration_ms)
        if column == self.RUNS:
            return runs_text(record)
        if column == self.ROLLBACK:
            return status_label(record.rollback) if record.rollback else ""
        if column == self.ITEMS:
            items = record.items
            if not items:
                return ""
            text = f"in {items.get('items_in', 0)} / out {items.get('items_out', 0)}"
            keys = ("items_dropped", "items_failed")
            extra = [f"{k[6:]} {items[k]}" for k in keys if items.get(k)]
            return ", ".join([text, *extra])
        if column == self.OUTPUT:
            return summarize(record.output) if record.output else ""
        return record.error

    def _sort_value(self, record: StepRecord, row: int, column: int) -> Any:
        if column == self.STEP:
            return row  # declaration order
        if column == self.STATUS:
            return STATUS_ORDER.get(record.status, len(STATUS_ORDER))
        if column == self.ATTEMPTS:
            return record.attempts
        if column == self.TIME:
            return record.duration_ms if record.duration_ms is not None else -1.0
        if column == self.ITEMS:
            return (record.items or {}).get("items_in", -1)
        if column == self.RUNS:
            return record.runs
        return self._display(record, column)


def runs_text(record: StepRecord) -> str:
    """An EventDriven node's runs: how many ended, how many failed, their mean time."""
    if not record.runs:
        return ""
    parts = [f"{record.runs}"]
    if record.failed_runs:
        parts.append(f"{record.failed_runs} failed")
    mean = record.mean_ms()
    if mean is not None:
        parts.append(f"avg {format_ms(mean)}")
    return " · ".join(parts)
