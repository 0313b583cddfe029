"""``ExecutionsModel``: every execution of one orchestrator, live, as a table."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, QTimer

from ..events import EventKind, ExecutionEvent
from ..qt._status import FINAL_STATUSES, is_graph_orchestrator, read_state
from ._coalesce import FrameBatcher
from ._execution_table import ExecutionTable, status_cell
from .status_style import STATUS_ORDER, format_ms, status_label
from .steps_model import SORT_ROLE, STATUS_ROLE, _Index

_DISPLAY = Qt.ItemDataRole.DisplayRole
_STATUS_OF = {
    EventKind.WORKFLOW_COMPLETED: "completed",
    EventKind.WORKFLOW_FAILED: "failed",
    EventKind.WORKFLOW_CANCELLED: "cancelled",
    EventKind.PAUSED: "paused",
    EventKind.RESUMED: "running",
}
#: What a row shows changes with these events (of every execution).
_FOLLOWED = frozenset(
    {EventKind.WORKFLOW_STARTED, EventKind.PROGRESS, EventKind.TASK_STARTED, *_STATUS_OF}
)
#: Running rows' durations are refreshed this often (a clock, not an event).
DURATION_REFRESH_MS = 500


@dataclass
class _Row:
    execution_id: str
    workflow_id: str
    status: str = "running"
    progress: float = 0.0
    current_step: str = ""
    started_at: float = 0.0
    ended_at: float | None = None

    def duration_ms(self) -> float:
        return ((self.ended_at or time.time()) - self.started_at) * 1000


class ExecutionsModel(ExecutionTable):
    """A table model with one row per execution of an orchestrator (v1 or v2), in start order.

    Columns: id, workflow, status, progress, current step, started, duration. It subscribes to the
    orchestrator's events, so executions started any way (``execute_workflow``,
    ``start_workflow``, ``execute_workflow_async``) appear; executions already running when
    the model is made are read once from the orchestrator. Updates are batched per frame.
    """

    COLUMNS = ("Execution", "Workflow", "Status", "Progress", "Current step", "Started", "Duration")
    EXECUTION, WORKFLOW, STATUS, PROGRESS, CURRENT, STARTED, DURATION = range(7)

    def __init__(self, orchestrator: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._orchestrator = orchestrator
        self._rows: list[_Row] = []
        self._by_id: dict[str, _Row] = {}
        self._row_of: dict[str, int] = {}
        self._new: list[_Row] = []  # seen, not yet inserted (inserted at the next frame)
        self._batch = FrameBatcher(self._apply, self)
        self._clock = QTimer(self)
        self._clock.setInterval(DURATION_REFRESH_MS)
        self._clock.timeout.connect(self._tick)
        o = orchestrator
        # Every execution's events, however it was started; this model's method is held
        # weakly, so a deleted model is simply no longer called.
        self._following = o.subscribe(self._on_event, None, _FOLLOWED).value()
        if is_graph_orchestrator(o):
            active = o.get_active_executions()
        else:
            active = o.list_active_executions()
        for execution_id in active:
            state = read_state(o, execution_id)
            if state is not None:
                row = self._add(execution_id, state.workflow_id)
                row.status, row.progress = state.status, state.progress
                row.current_step = state.current_step
        self._batch.flush_now()

    def flush(self) -> None:
        """Apply pending updates now instead of at the next frame."""
        self._batch.flush_now()

    def clear_finished(self) -> None:
        """Drop the rows of executions that have ended."""
        self.flush()
        keep = [r for r in self._rows if r.status not in FINAL_STATUSES]
        if len(keep) == len(self._rows):
            return
        self.beginResetModel()
        self._rows = keep
        self._row_of = {r.execution_id: i for i, r in enumerate(keep)}
        self._by_id = {r.execution_id: r for r in keep + self._new}
        self.endResetModel()

    # --- live updates ----------------------------------------------------------------------
    def _add(self, execution_id: str, workflow_id: str) -> _Row:
        row = _Row(execution_id, workflow_id, started_at=time.time())
        self._by_id[execution_id] = row
        self._new.append(row)
        self._batch.mark(execution_id)
        return row

    def _on_event(self, event: ExecutionEvent) -> None:
        kind = event.kind
        if kind is EventKind.PROGRESS:
            self._on_progress(event.execution_id, event.progress)
        elif kind is EventKind.TASK_STARTED:
            self._on_step(event.execution_id, event.step)
        elif kind is EventKind.WORKFLOW_STARTED:
            if event.execution_id not in self._by_id:
                self._add(event.execution_id, event.workflow_id)
        else:
            self._on_status(event.execution_id, _STATUS_OF[kind])

    def _on_status(self, execution_id: str, status: str) -> None:
        if row := self._by_id.get(execution_id):
            row.status = status
            if status in FINAL_STATUSES:
                row.ended_at = time.time()
                if status == "completed":
                    row.progress = 1.0
            self._batch.mark(execution_id)

    def _on_progress(self, execution_id: str, value: float) -> None:
        if row := self._by_id.get(execution_id):
            row.progress = value
            self._batch.mark(execution_id)

    def _on_step(self, execution_id: str, step: str) -> None:
        if row := self._by_id.get(execution_id):
            row.current_step = step
            self._batch.mark(execution_id)

    def _tick(self) -> None:
        running = [r.execution_id for r in self._rows if r.status not in FINAL_STATUSES]
        if running:
            self._batch.mark_many(running)
        else:
            self._clock.stop()

    def _apply(self, dirty: set[object]) -> None:  # rows are few: no frame budget needed
        if self._new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(self._new) - 1)
            for row in self._new:
                self._row_of[row.execution_id] = len(self._rows)
                self._rows.append(row)
            self._new = []
            self.endInsertRows()
        rows = [self._row_of[k] for k in dirty if isinstance(k, str) and k in self._row_of]
        self._announce_rows(sorted(rows))
        if not self._clock.isActive() and any(r.status not in FINAL_STATUSES for r in self._rows):
            self._clock.start()

    # --- QAbstractItemModel ----------------------------------------------------------------
    def data(self, index: _Index, role: int = _DISPLAY) -> Any:
        """Qt override: a cell's value for ``role`` (display, sort, status, colour...)."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, column = self._rows[index.row()], index.column()
        if role == _DISPLAY:
            return self._display(row, column)
        if role == SORT_ROLE:
            return self._sort_value(row, index.row(), column)
        if role == STATUS_ROLE:
            return row.status
        if column == self.STATUS:
            return status_cell(row, role)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (
            self.PROGRESS,
            self.DURATION,
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, row: _Row, column: int) -> Any:
        if column == self.EXECUTION:
            return row.execution_id
        if column == self.WORKFLOW:
            return row.workflow_id
        if column == self.STATUS:
            return status_label(row.status)
        if column == self.PROGRESS:
            return f"{row.progress * 100:.0f} %"
        if column == self.CURRENT:
            return row.current_step
        if column == self.STARTED:
            return datetime.fromtimestamp(row.started_at).strftime("%H:%M:%S")
        return format_ms(row.duration_ms())

    def _sort_value(self, row: _Row, position: int, column: int) -> Any:
        if column == self.EXECUTION:
            return position  # start order
        if column == self.STATUS:
            return STATUS_ORDER.get(row.status, len(STATUS_ORDER))
        if column == self.PROGRESS:
            return row.progress
        if column == self.STARTED:
            return row.started_at
        if column == self.DURATION:
            return row.duration_ms()
        return self._display(row, column)
