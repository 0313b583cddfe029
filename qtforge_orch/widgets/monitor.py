"""``WorkflowMonitor``: graph, steps table, progress bar, log and Run/Pause/Cancel."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..errors import PluginErrorCode
from ..events import EventKind, ExecutionEvent, Subscription
from ..qt.execution import WorkflowExecution
from ..results import Expected, from_error, make_error, make_success
from ._cell_painter import StepCellPainter
from ._coalesce import FrameBatcher
from ._following import END_KINDS, follow, resolve
from ._steps_table import StepsTableView
from .graph_view import WorkflowGraphView
from .status_style import status_label
from .steps_model import SORT_ROLE, StepsModel

LOG_LINES = 2000
#: Step outcomes the log shows (completions are in the table; failures and rollbacks have a
#: message of the handle's).
_LOGGED_STEP_STATUSES = frozenset({"skipped", "cancelled"})
#: The events after which the handle may have a new message (failures, pause, the end).
_MESSAGE_KINDS = END_KINDS | {EventKind.TASK_FAILED, EventKind.PAUSED, EventKind.RESUMED}
#: The events the monitor follows: those, and what changes the progress bar and status line
#: (an EventDriven execution's bar counts its events).
_FOLLOWED = _MESSAGE_KINDS | {
    EventKind.WORKFLOW_STARTED,
    EventKind.PROGRESS,
    EventKind.EVENT_COUNTS,
}
#: The log, progress bar and status line refresh at 20 Hz: text nobody reads at 60 Hz, and
#: their repaints would share the graph's frames.
CHROME_MS = 50


class WorkflowMonitor(QWidget):
    """A ready-made monitor window for one registered workflow of an orchestrator.

    ```py
    monitor = WorkflowMonitor(orchestrator, "etl")
    monitor.show()          # Run starts it; monitor.run() from code does the same
    ```

    Nothing here blocks: Run calls ``start_workflow`` and every display follows the
    handle's signals, batched per frame. Signals: ``execution_started(handle)`` and
    ``execution_finished(status)``.
    """

    execution_started = Signal(object)  # the WorkflowExecution
    execution_finished = Signal(str)  # its final status

    def __init__(
        self,
        orchestrator: Any,
        workflow_id: str,
        input_data: dict[str, Any] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._orchestrator = orchestrator
        self._workflow_id = workflow_id
        self._input = input_data
        self._handle: WorkflowExecution | None = None
        self._following: Subscription | None = None
        self._log_lines: list[str] = []
        self._messages_logged = 0  # of the handle's messages, how many the log has
        self._steps_logged: set[str] = set()
        self._batch = FrameBatcher(self._apply, self, CHROME_MS)

        self._run_button = QPushButton("Run")
        self._pause_button = QPushButton("Pause")
        self._cancel_button = QPushButton("Cancel")
        self._status = QLabel("not started")
        bar = QHBoxLayout()
        for button in (self._run_button, self._pause_button, self._cancel_button):
            bar.addWidget(button)
        bar.addWidget(self._status, 1)
        self._run_button.clicked.connect(self.run)
        self._pause_button.clicked.connect(self.toggle_pause)
        self._cancel_button.clicked.connect(self.cancel)

        self._graph = WorkflowGraphView()
        self._steps = StepsModel(parent=self)
        # The table is bound to a new execution one event-loop turn after the graph: its
        # reset and first paint (~10 ms for a screenful of rows) would otherwise land in the
        # same frame as the start and the graph's reset, a single stall of twice that.
        self._graph_binding: WorkflowExecution | None = None
        self._table_binding: WorkflowExecution | None = None
        # Through the pacer that runs the batched updates: a binding step never shares an
        # event-loop turn with a flush that already took its time.
        self._binder = FrameBatcher(self._bind_next, self, 0, alone=True)
        self._proxy = QSortFilterProxyModel(self)
        self._proxy.setSourceModel(self._steps)
        self._proxy.setSortRole(SORT_ROLE)
        self._table = StepsTableView(self._steps, self._proxy)
        self._table.setModel(self._proxy)
        self._table.setSortingEnabled(True)
        # Unsorted until the user clicks a header: a sorted proxy re-sorts (calling data()
        # for every changed row) on each batched update, which a 1,000-step run cannot afford.
        self._table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self._table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self._table.verticalHeader().setVisible(False)
        # Fixed row heights and no word wrap: otherwise the first paint after a new execution
        # is bound measures rows through data() calls (20 ms for a screenful in Python).
        self._table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self._table.verticalHeader().setDefaultSectionSize(self._table.fontMetrics().height() + 8)
        self._table.setWordWrap(False)
        self._table.setItemDelegate(StepCellPainter(self._steps, self._proxy, self._table))
        self._table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self._table.horizontalHeader().setStretchLastSection(True)
        self._graph.node_selected.connect(self._select_row)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._graph)
        splitter.addWidget(self._table)
        splitter.setSizes([600, 500])

        self._progress = QProgressBar()
        self._progress.setRange(0, 1000)
        self._progress.setFormat("%p %")
        self._log = QPlainTextEdit()
        self._log.setReadOnly(True)
        self._log.setMaximumBlockCount(LOG_LINES)
        self._log.setMaximumHeight(130)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        layout.addWidget(self._progress)
        layout.addWidget(self._log)
        self.setWindowTitle(f"Workflow {workflow_id}")

        workflow = orchestrator.get_workflow(workflow_id)
        if workflow:
            self._graph.set_workflow(workflow.value())
        else:
            self._log_line(f"cannot show workflow: {workflow.error().message}")
            self._run_button.setEnabled(False)
        self._update_buttons()

    # --- parts -------------------------------------------------------------------------------
    def graph_view(self) -> WorkflowGraphView:
        """The graph view inside the monitor."""
        self._bind_all()
        return self._graph

    def steps_model(self) -> StepsModel:
        """The model behind the steps table."""
        self._bind_all()
        return self._steps

    def _bind_next(self, _dirty: set[object]) -> set[object] | None:
        # One part per event-loop turn: starting a run, binding the graph and binding the
        # table (~2 ms for 1,000 rows, more while engine threads hold the GIL) together
        # would stall a frame.
        handle, self._graph_binding = self._graph_binding, None
        if handle is not None:
            self._graph.set_execution(handle)
            return {"table"} if self._table_binding is not None else None
        self._bind_table()
        return None

    def _bind_all(self) -> None:
        handle, self._graph_binding = self._graph_binding, None
        if handle is not None:
            self._graph.set_execution(handle)
        self._bind_table()

    def _bind_table(self) -> None:
        handle, self._table_binding = self._table_binding, None
        if handle is not None:
            self._steps.set_handle(handle)
            # Columns that say nothing for this execution are hidden: runs are EventDriven's,
            # the rollback column shows once a step was rolled back (v1 only).
            event_driven = handle.is_event_driven()
            self._table.setColumnHidden(StepsModel.RUNS, not event_driven)
            self._table.setColumnHidden(StepsModel.ATTEMPTS, event_driven)
            if event_driven:  # room for "120 · 12 failed · avg 123.4 ms" without eliding
                sample = "000 · 00 failed · avg 000.0 ms"
                width = self._table.fontMetrics().horizontalAdvance(sample) + 16
                self._table.setColumnWidth(StepsModel.RUNS, width)
            self._table.setColumnHidden(StepsModel.ROLLBACK, not _rolled_back(handle))

    def steps_view(self) -> QTableView:
        """The steps table."""
        return self._table

    def log_view(self) -> QPlainTextEdit:
        """The log of messages and errors."""
        return self._log

    def progress_bar(self) -> QProgressBar:
        """The overall progress bar."""
        return self._progress

    def execution(self) -> WorkflowExecution | None:
        """The execution shown, or None before the first run."""
        return self._handle

    # --- actions -----------------------------------------------------------------------------
    def run(self) -> Expected[WorkflowExecution]:
        """Start the workflow (never blocks); its error, if any, goes to the log too."""
        started = self._orchestrator.start_workflow(self._workflow_id, self._input)
        if not started:
            self._log_line(f"cannot start: {started.error().message}")
            return from_error(started.error())
        self._show(started.value())
        self.execution_started.emit(started.value())
        return make_success(started.value())

    def set_execution(self, execution: WorkflowExecution | str) -> Expected[WorkflowExecution]:
        """Show an execution started elsewhere: its handle, or its execution id.

        An id is looked up with the monitor's ``orchestrator.execution(id)``: a running,
        finished or journaled execution. Its past is read from the handle.

        Returns:
            The handle shown, or the lookup's error (``NotFound``, ``InvalidArgument``...),
            also written to the log; what is shown does not change then.
        """
        found = resolve(execution, self._orchestrator, "WorkflowMonitor.set_execution")
        if not found or found.value() is None:
            error = found.error() if not found else None
            message = error.message if error is not None else "set_execution needs an execution"
            self._log_line(f"cannot show execution: {message}")
            if error is not None:
                return from_error(error)
            return make_error(PluginErrorCode.InvalidArgument, message)
        handle = found.value()
        assert handle is not None
        self._show(handle)
        return make_success(handle)

    def _show(self, handle: WorkflowExecution) -> None:
        if self._following is not None:
            self._following.cancel()
            self._following = None
        self._handle = handle
        self._graph_binding = handle
        self._table_binding = handle
        self._binder.mark("graph")
        self._log.clear()
        # The past is read here; the execution's events (subscribed below) report what comes
        # next, and the handle, called before this monitor for each event, has the text.
        messages = handle.messages()
        self._messages_logged = len(messages)
        self._log_lines = [f"started {handle.execution_id()}", *messages]
        self._steps_logged = set()
        self._log_steps(handle)
        self._following = follow(handle, self._on_event, _FOLLOWED)
        self._batch.mark("all")
        if handle.is_finished():
            self._batch.mark("state")
            self.execution_finished.emit(handle.status())

    def cancel(self) -> None:
        """Cancel the shown execution (what the Cancel button does); refusals go to the log."""
        if self._handle is not None:
            done = self._handle.cancel()
            if not done:
                self._log_line(f"cancel: {done.error().message}")

    def toggle_pause(self) -> None:
        """Pause a running execution or resume a paused one (v2 only; refusals go to the log)."""
        handle = self._handle
        if handle is None:
            return
        done = handle.resume() if handle.status() == "paused" else handle.pause()
        if not done:
            self._log_line(done.error().message)

    def flush(self) -> None:
        """Apply every pending display update now (before a screenshot, in tests)."""
        self._bind_all()
        self._steps.flush()
        self._graph.flush()
        self._batch.flush_all()

    # --- live updates (batched) --------------------------------------------------------------
    def _log_line(self, text: str) -> None:
        self._log_lines.append(text)
        self._batch.mark("log")

    def _on_event(self, event: ExecutionEvent) -> None:
        handle = self._handle
        if handle is None:
            return
        if event.kind in _MESSAGE_KINDS:
            if event.terminal:  # completions are in the table; these have no message
                self._log_steps(handle)
            messages = handle.messages()
            for text in messages[self._messages_logged :]:
                self._log_line(text)
            self._messages_logged = len(messages)
        self._batch.mark("state")
        if event.terminal:
            if self._table_binding is None and _rolled_back(handle):
                self._table.setColumnHidden(StepsModel.ROLLBACK, False)
            self.execution_finished.emit(handle.status())

    def _log_steps(self, handle: WorkflowExecution) -> None:
        for step in handle.step_ids():
            record = handle.step(step)
            if (
                record is not None
                and record.status in _LOGGED_STEP_STATUSES
                and step not in self._steps_logged
            ):
                self._steps_logged.add(step)
                self._log_line(f"{step}: {status_label(record.status)}")

    def _apply(self, _dirty: set[object]) -> None:
        if self._log_lines:
            lines, self._log_lines = self._log_lines, []
            self._log.appendPlainText("\n".join(lines))
        handle = self._handle
        if handle is not None:
            value, text = _bar(handle)
            if text != self._progress.format():
                self._progress.setFormat(text)
            if value != self._progress.value():
                # QProgressBar.setValue repaints at once (synchronously, in this flush): with
                # updates off it only records the value, and turning them on again schedules
                # the repaint with the window's next paint pass.
                self._progress.setUpdatesEnabled(False)
                self._progress.setValue(value)
                self._progress.setUpdatesEnabled(True)
            self._status.setText(f"{handle.execution_id()}: {status_label(handle.status())}")
        self._update_buttons()

    def _update_buttons(self) -> None:
        handle = self._handle
        running = handle is not None and not handle.is_finished()
        self._run_button.setEnabled(not running and self._graph.node_ids() != [])
        self._cancel_button.setEnabled(running)
        self._pause_button.setEnabled(running and handle is not None and handle.supports_pause())
        paused = handle is not None and handle.status() == "paused"
        self._pause_button.setText("Resume" if paused else "Pause")

    def _select_row(self, node_id: str) -> None:
        self._bind_table()
        row = self._steps.row_of(node_id)
        if row >= 0:
            self._table.selectRow(self._proxy.mapFromSource(self._steps.index(row, 0)).row())


def _rolled_back(handle: WorkflowExecution) -> bool:
    """Whether a step of the execution was rolled back (known at its end)."""
    if handle.supports_pause() or not handle.is_finished():
        return False  # graph workflows have no rollback steps; rollbacks come at the end
    return any(
        record is not None and record.rollback != ""
        for record in map(handle.step, handle.step_ids())
    )


def _bar(handle: WorkflowExecution) -> tuple[int, str]:
    """The progress bar's value (0-1000) and text.

    An EventDriven execution has no end to progress towards: its bar shows how many of the
    events received have been handled, and the counts.
    """
    if not handle.is_event_driven():
        return round(handle.current_progress() * 1000), "%p %"
    counts = handle.current_event_counts()
    received = counts.get("events_received", 0)
    completed = counts.get("events_completed", 0)
    failed = counts.get("events_failed", 0)
    value = round((completed + failed) / received * 1000) if received else 0
    return value, f"{received} events · {completed} completed · {failed} failed"
