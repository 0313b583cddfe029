"""What a ``WorkflowExecution`` handle does with its execution's events as they arrive.

Progress, pause and resume, counters, the execution's start and each step's start, retries and
end, as its subscriptions deliver them in the owner thread; the execution's end is handed on
(``_execution_events``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..events import EventKind, ExecutionEvent
from ._handle_state import HandleState
from ._status import FINAL_STEP_STATUSES
from .records import StepRecord


class StepIntake(HandleState):
    """The events of an execution, taken into a ``WorkflowExecution``'s state."""

    #: (owner thread) The execution's end, as its terminal event reports it.
    _on_end: Callable[[ExecutionEvent], None]

    def _on_event(self, event: ExecutionEvent) -> None:
        """(owner thread) Take one of the execution's events."""
        kind = event.kind
        if kind is EventKind.TASK_COMPLETED:
            self._step_completed(event.step, event.args[2])
        elif kind is EventKind.TASK_STARTED:
            self._step_started(event.step)
        elif kind is EventKind.PROGRESS:
            self._set_progress(event.progress)
        elif kind is EventKind.TASK_FAILED:
            self._step_failed(event.step, event.message)
        elif kind is EventKind.TASK_RETRYING:
            self._step_retrying(event.step, event.retry)
        elif kind is EventKind.ITEM_COUNTS:
            self._publish_items(event.item_counts)
        elif kind is EventKind.EVENT_COUNTS:
            self._count_runs(event.node_runs)
            self._publish_events(event.event_counts)
        elif kind is EventKind.WORKFLOW_STARTED:
            self._mark_started()
        elif kind is EventKind.PAUSED:
            self._set_status("paused")
            self._add_message("paused")
        elif kind is EventKind.RESUMED:
            self._set_status("running")
            self._add_message("resumed")
        elif event.terminal:
            self._on_end(event)

    # A handle that caught up from the execution's state may then get events older than that
    # state (queued before it subscribed). Outside EventDriven executions a step starts once,
    # retries with rising numbers and ends once, so an event that does not move the step on
    # is one the state already reported.
    # And a handle that followed its steps late reports each step's start before anything
    # else about it, and the execution's start before any step.
    def _step_started(self, step: str) -> None:
        record = self._record(step)
        if record.status != "pending" and not self._event_driven:
            return
        self._mark_started()
        record.status = "running"
        record.attempts = max(record.attempts, 1)
        record.started_at = time.time()
        self._current = step
        self._emit("step_started", step)

    def _moved_on(self, step: str, attempt: int = 0) -> StepRecord | None:
        """The record of the step an event moves on, its start reported first if it had none.

        None for an event the state already reported: the step has ended, or (``attempt``,
        a retry's) it has reached that attempt.
        """
        record = self._record(step)
        if not self._event_driven:
            if record.status in FINAL_STEP_STATUSES or 0 < attempt <= record.attempts:
                return None
            if record.status == "pending":
                self._step_started(step)
        return record

    def _step_completed(self, step: str, output: Any) -> None:
        record = self._moved_on(step)
        if record is None:
            return
        record.output = dict(output) if isinstance(output, dict) else {"value": output}
        self._settle(record, "completed")
        self._emit("step_finished", step, "completed", record.output)

    def _step_failed(self, step: str, error: str) -> None:
        record = self._moved_on(step)
        if record is None:
            return
        record.error = error
        self._settle(record, "failed")
        self._add_message(f"{step} failed: {error}")
        self._emit("step_finished", step, "failed", {"error": error})

    def _step_retrying(self, step: str, retry: int) -> None:
        record = self._moved_on(step, retry + 1)
        if record is None:
            return
        record.status = "retrying"
        record.attempts = retry + 1
        self._emit("step_retrying", step, retry)
