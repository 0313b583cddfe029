"""``ExecutionHistoryModel``: the journal's executions of one orchestrator, paged and live.

The journal is read a page at a time (``fetchMore``, which views call as they scroll), newest
first. What happens after the model was made comes from the orchestrator's event stream, not
from reading the journal again: a started execution is inserted at the top, an ended one's row
changes (or appears or goes, under a status filter). A durable execution's events are
delivered once the journal has committed what they report, so a row and the journal agree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt

from ..errors import PluginError, PluginErrorCode
from ..events import EventKind, ExecutionEvent, Subscription
from ..qt._status import is_graph_orchestrator
from ..results import Expected, make_error, make_success
from ._coalesce import FrameBatcher
from ._execution_table import ExecutionTable, status_cell
from .status_style import STATUS_ORDER, format_ms, status_label
from .steps_model import SORT_ROLE, STATUS_ROLE

_Index = QModelIndex | QPersistentModelIndex
_DISPLAY = Qt.ItemDataRole.DisplayRole
#: The execution id of a row (also ``execution_id(row)``): open it with
#: ``orchestrator.execution(id)``.
EXECUTION_ID_ROLE = Qt.ItemDataRole.UserRole + 3
#: The statuses a filter may name (the journal's). ``running`` also shows paused ones.
HISTORY_STATUSES = frozenset({"running", "interrupted", "completed", "failed", "cancelled"})
DEFAULT_PAGE_SIZE = 50
_ENDED = {
    EventKind.WORKFLOW_COMPLETED: "completed",
    EventKind.WORKFLOW_FAILED: "failed",
    EventKind.WORKFLOW_CANCELLED: "cancelled",
}
_FOLLOWED = frozenset({EventKind.WORKFLOW_STARTED, EventKind.PAUSED, EventKind.RESUMED, *_ENDED})


@dataclass
class _Row:
    execution_id: str
    workflow_id: str
    status: str
    started_at: float
    ended_at: float | None = None
    error: str = ""
    resumed_from: str = ""

    def duration_ms(self) -> float | None:
        if self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.started_at) * 1000


class ExecutionHistoryModel(ExecutionTable):
    """The executions an orchestrator's journal holds, newest first, paged, filtered, live.

    ```py
    history = ExecutionHistoryModel(orchestrator, workflow_id="etl", status="failed")
    table.setModel(history)                       # views fetch older pages as they scroll
    row = table.currentIndex().row()
    handle = orchestrator.execution(history.execution_id(row)).value()
    ```

    Columns: execution id, workflow, status (``running``, ``paused``, ``interrupted``,
    ``completed``, ``failed``, ``cancelled``), started (local time), ended, duration, error,
    resumed from. ``EXECUTION_ID_ROLE`` (or ``execution_id(row)``) gives a row's execution
    id for ``orchestrator.execution(id)``; ``SORT_ROLE`` and ``STATUS_ROLE`` work as in the
    other models.

    Pages of ``page_size`` executions are read from the journal with ``fetchMore`` (views
    call it as they scroll; ``canFetchMore`` says whether older executions remain). Only
    executions of the orchestrator's kind are listed (a journal can be shared by a v1 and a
    v2 orchestrator). Executions that start or end while the model exists are shown from the
    orchestrator's event stream, batched per frame: a new one at the top, an ended one
    updated in place, removed or added as the status filter says. Without a journal there is
    no history: the model lists the executions started while it exists, and
    ``last_error()`` says why.
    """

    COLUMNS = (
        "Execution",
        "Workflow",
        "Status",
        "Started",
        "Ended",
        "Duration",
        "Error",
        "Resumed from",
    )
    EXECUTION, WORKFLOW, STATUS, STARTED, ENDED, DURATION, ERROR, RESUMED_FROM = range(8)

    def __init__(
        self,
        orchestrator: Any,
        workflow_id: str | None = None,
        status: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._orchestrator = orchestrator
        self._kind = "v2" if is_graph_orchestrator(orchestrator) else "v1"
        self._rows: list[_Row] = []
        self._row_of: dict[str, int] = {}
        self._workflow_id: str | None = None
        self._status: str | None = None
        self._page_size = DEFAULT_PAGE_SIZE
        self._cursor: str | None = None
        self._more = False
        self._last_error: PluginError | None = None
        # Events of executions the model has no row for, or whose row changes: applied
        # together at the next frame (a burst of ends is one pass).
        self._pending: dict[str, _Row] = {}
        # Executions seen starting that the status filter hides (until they end).
        self._unlisted: dict[str, _Row] = {}
        self._batch = FrameBatcher(self._apply, self)
        # Every execution's lifecycle, however it was started; held weakly (a deleted model
        # is no longer called).
        followed = orchestrator.subscribe(self._on_event, None, _FOLLOWED)
        self._following: Subscription | None = followed.value() if followed else None
        checked = self._check(workflow_id, status, page_size)
        if checked:
            self._reload()
        else:  # a constructor cannot return it: the model stays empty, and says why
            self._last_error = checked.error()

    # --- public API --------------------------------------------------------------------------
    def set_filter(
        self, workflow_id: str | None = None, status: str | None = None
    ) -> Expected[None]:
        """Show only ``workflow_id``'s executions and/or those in ``status`` (None: all).

        The rows are read again from the newest.

        Returns:
            Success, or ``InvalidArgument`` (the filter stays as it was).
        """
        checked = self._check(workflow_id, status, self._page_size)
        if not checked:
            return checked
        self._reload()
        return make_success()

    def workflow_filter(self) -> str | None:
        """The workflow shown, or None for all."""
        return self._workflow_id

    def status_filter(self) -> str | None:
        """The status shown, or None for all."""
        return self._status

    def refresh(self) -> None:
        """Read the rows again from the journal, from the newest page."""
        self._reload()

    def flush(self) -> None:
        """Apply pending live updates now instead of at the next frame."""
        self._batch.flush_now()

    def last_error(self) -> PluginError | None:
        """Why the history could not be read, or None.

        ``InvalidState`` (no journal), ``InvalidArgument`` (a bad filter given to the
        constructor: nothing was read), or the journal's error (a damaged file...).
        """
        return self._last_error

    # --- paging ------------------------------------------------------------------------------
    def canFetchMore(self, parent: _Index = QModelIndex()) -> bool:  # noqa: B008
        """Qt override: whether older executions remain in the journal."""
        return not parent.isValid() and self._more

    def fetchMore(self, parent: _Index = QModelIndex()) -> None:  # noqa: B008
        """Qt override: append the next (older) page of executions."""
        if parent.isValid() or not self._more:
            return
        self._read_page(self._cursor)

    def _check(self, workflow_id: Any, status: Any, page_size: Any) -> Expected[None]:
        if workflow_id is not None and not isinstance(workflow_id, str):
            return make_error(
                PluginErrorCode.InvalidArgument,
                f"workflow_id must be a string or None, got {type(workflow_id).__name__}",
            )
        if status is not None and status not in HISTORY_STATUSES:
            return make_error(
                PluginErrorCode.InvalidArgument,
                f"status must be one of {', '.join(sorted(HISTORY_STATUSES))} (or None for "
                f"all), got {status!r}",
            )
        if (
            not isinstance(page_size, int)
            or isinstance(page_size, bool)
            or not (1 <= page_size <= 1000)
        ):
            return make_error(
                PluginErrorCode.InvalidArgument,
                f"page_size must be an int from 1 to 1000, got {page_size!r}",
            )
        self._workflow_id, self._status, self._page_size = workflow_id, status, page_size
        return make_success()

    def _reload(self) -> None:
        self.beginResetModel()
        self._rows, self._row_of, self._pending, self._unlisted = [], {}, {}, {}
        self._cursor, self._more = None, False
        self.endResetModel()
        if self._orchestrator.journal() is None:
            self._last_error = PluginError(
                PluginErrorCode.InvalidState,
                "the orchestrator has no journal: only executions started from now on are "
                "listed; pass journal='runs.sqlite' when creating it to keep a history",
            )
            return
        self._read_page(None)

    def _read_page(self, before: str | None) -> None:
        page = self._orchestrator.get_execution_history(
            self._workflow_id, self._page_size, before, status=self._status
        )
        if not page:
            self._last_error, self._more = page.error(), False
            return
        self._last_error = None
        found = page.value()
        self._cursor, self._more = found.next_cursor, found.next_cursor is not None
        rows = [
            _Row(
                e.execution_id,
                e.workflow_id,
                e.status,
                e.started_at,
                e.ended_at if e.status != "running" else None,
                e.error or "",
                e.resumed_from or "",
            )
            for e in found.executions
            if e.kind == self._kind and e.execution_id not in self._row_of
        ]
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        for row in rows:
            self._row_of[row.execution_id] = len(self._rows)
            self._rows.append(row)
        self.endInsertRows()

    # --- live updates ------------------------------------------------------------------------
    def _on_event(self, event: ExecutionEvent) -> None:
        execution_id = event.execution_id
        kind = event.kind
        known = self._known(execution_id, kind in _ENDED)
        if kind is EventKind.WORKFLOW_STARTED:
            if known is None:
                known = _Row(execution_id, event.workflow_id, "running", time.time())
        elif known is None:
            return  # an execution the model does not list (another workflow, or older)
        elif kind is EventKind.PAUSED:
            known.status = "paused"
        elif kind is EventKind.RESUMED:
            known.status = "running"
        else:
            known.status = _ENDED[kind]
            known.ended_at = time.time()
            known.error = event.message
        self._pending[execution_id] = known
        self._batch.mark(execution_id)

    def _known(self, execution_id: str, ending: bool) -> _Row | None:
        """A copy of the row the model has (or would have) for an execution, or None."""
        known = self._pending.get(execution_id) or self._unlisted.get(execution_id)
        if known is not None:
            return known
        at = self._row_of.get(execution_id)
        if at is not None:
            return replace(self._rows[at])  # the shown row changes at the next frame
        if ending and self._status is not None:
            return self._recorded(execution_id)
        return None

    def _recorded(self, execution_id: str) -> _Row | None:
        """An execution hidden by the status filter until it ended, from its journal record.

        It started before the model; None when it is older than the rows read (a later
        ``fetchMore`` lists it) or not of this orchestrator's kind.
        """
        journal = self._orchestrator.journal()
        record = journal.execution(execution_id) if journal is not None else None
        if record is None or record.kind != self._kind:
            return None
        if self._more and self._rows and record.started_at < self._rows[-1].started_at:
            return None  # older than the pages read: a later fetchMore lists it
        return _Row(
            execution_id,
            record.workflow_id,
            record.status,
            record.started_at,
            None,
            record.error or "",
            record.resumed_from or "",
        )

    def _apply(self, _dirty: set[object]) -> None:
        pending, self._pending = self._pending, {}
        added: list[_Row] = []
        gone: list[int] = []
        changed: list[int] = []
        for execution_id, row in pending.items():
            at = self._row_of.get(execution_id)
            shown = self._shows(row)
            if row.status in ("running", "paused") and not shown:
                self._unlisted[execution_id] = row  # it may show once it ends
            else:
                self._unlisted.pop(execution_id, None)
            if at is None:
                if shown:
                    added.append(row)
            elif not shown:
                gone.append(at)
            else:
                self._rows[at] = row
                changed.append(at)
        self._announce_rows(sorted(changed))
        for at in sorted(gone, reverse=True):
            self.beginRemoveRows(QModelIndex(), at, at)
            del self._rows[at]
            self.endRemoveRows()
        if gone:
            self._row_of = {row.execution_id: i for i, row in enumerate(self._rows)}
        if added:
            # Newest first: the executions seen starting go above everything read before.
            added.sort(key=lambda row: row.started_at, reverse=True)
            self.beginInsertRows(QModelIndex(), 0, len(added) - 1)
            self._rows[0:0] = added
            self._row_of = {row.execution_id: i for i, row in enumerate(self._rows)}
            self.endInsertRows()

    def _shows(self, row: _Row) -> bool:
        if self._workflow_id is not None and row.workflow_id != self._workflow_id:
            return False
        if self._status == "running":
            return row.status in ("running", "paused")
        return self._status is None or row.status == self._status

    # --- QAbstractItemModel ------------------------------------------------------------------
    def data(self, index: _Index, role: int = _DISPLAY) -> Any:
        """Qt override: a cell's value for ``role`` (display, sort, status, id, colour...)."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, column = self._rows[index.row()], index.column()
        if role == _DISPLAY:
            return self._display(row, column)
        if role == EXECUTION_ID_ROLE:
            return row.execution_id
        if role == SORT_ROLE:
            return self._sort_value(row, index.row(), column)
        if role == STATUS_ROLE:
            return row.status
        if column == self.STATUS:
            return status_cell(row, role)
        if role == Qt.ItemDataRole.ToolTipRole and column == self.ERROR:
            return row.error or None
        if role == Qt.ItemDataRole.TextAlignmentRole and column == self.DURATION:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, row: _Row, column: int) -> Any:
        if column == self.EXECUTION:
            return row.execution_id
        if column == self.WORKFLOW:
            return row.workflow_id
        if column == self.STATUS:
            return status_label(row.status)
        if column == self.STARTED:
            return _when(row.started_at)
        if column == self.ENDED:
            return _when(row.ended_at)
        if column == self.DURATION:
            return format_ms(row.duration_ms())
        if column == self.ERROR:
            return row.error
        return row.resumed_from

    def _sort_value(self, row: _Row, position: int, column: int) -> Any:
        if column in (self.EXECUTION, self.STARTED):
            return -position  # newest first is the model's own order
        if column == self.STATUS:
            return STATUS_ORDER.get(row.status, len(STATUS_ORDER))
        if column == self.ENDED:
            return row.ended_at if row.ended_at is not None else float("inf")
        if column == self.DURATION:
            duration = row.duration_ms()
            return duration if duration is not None else -1.0
        return self._display(row, column)


def _when(stamp: float | None) -> str:
    if stamp is None:
        return ""
    return datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")
