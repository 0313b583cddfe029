"""A ``WorkflowExecution`` handle's subscription to its execution, and the execution's end.

A handle is a subscriber of its execution's events (``orchestrator.subscribe``), made before
the execution starts; the subscription keeps it alive until the terminal event, whose final
state reports what no step event announced (skipped, cancelled and rolled-back steps, final
attempts and item counters). The end then settles the result, resolves awaiters and runs done
callbacks. A handle made for an execution already under way or ended takes its state as read
(``_load``); one whose orchestrator was destroyed finishes cancelled (``_orphan``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .._log import logger
from ..errors import PluginError, PluginErrorCode
from ..events import EventKind, ExecutionEvent
from ..results import Expected
from ._status import (
    FINAL_STATUSES,
    FINAL_STEP_STATUSES,
    ExecutionState,
    epoch_seconds,
    outcome_error,
)
from ._step_following import STEP_KINDS, StepFollowing

#: What a handle follows of its execution (Streaming ones also ``ITEM_COUNTS``).
FOLLOWED_KINDS = (
    frozenset(
        {
            EventKind.WORKFLOW_STARTED,
            EventKind.WORKFLOW_COMPLETED,
            EventKind.WORKFLOW_FAILED,
            EventKind.WORKFLOW_CANCELLED,
            EventKind.PROGRESS,
            EventKind.PAUSED,
            EventKind.RESUMED,
        }
    )
    | STEP_KINDS
)
#: The error of a handle whose orchestrator was destroyed while the execution ran.
ORCHESTRATOR_GONE = (
    "the orchestrator was destroyed while the execution ran (its parent was deleted, "
    "deleteLater, application shutdown or its last reference dropped): the execution was "
    "cancelled"
)
_TERMINAL_STATUS = {
    EventKind.WORKFLOW_COMPLETED: "completed",
    EventKind.WORKFLOW_FAILED: "failed",
    EventKind.WORKFLOW_CANCELLED: "cancelled",
}


class ExecutionEvents(StepFollowing):
    """A ``WorkflowExecution``'s subscription, and its execution's end (module docstring)."""

    def _follow(self, orchestrator: Any) -> Expected[Any]:
        """Subscribe to the execution's events (``InvalidState`` once it has ended)."""
        kinds = FOLLOWED_KINDS if self._live_steps else FOLLOWED_KINDS - STEP_KINDS
        if self._streaming:
            kinds = kinds | {EventKind.ITEM_COUNTS}
        if self._event_driven:
            kinds = kinds | {EventKind.EVENT_COUNTS}
        # Held strongly (weak=False): a running execution keeps its handle alive.
        followed: Expected[Any] = orchestrator.subscribe(
            self._on_event, self._execution_id, kinds, weak=False
        )
        return followed

    def _load(self, state: ExecutionState) -> None:
        """Take an execution's state as read now (a handle made after it started).

        Settled steps are reported once, as their events would have, so a late connection
        gets the same replay as on a handle made by ``start_workflow``.
        """
        self._progress = state.progress
        self._current = state.current_step
        if state.status != "pending":
            self._emit("started")
        for step in state.steps:
            record = self._record(step.step_id)
            record.status = step.status
            record.attempts = step.attempts
            record.output = dict(step.output)
            record.error = step.error
            record.duration_ms = step.duration_ms
            record.started_at = epoch_seconds(step.start_time)
            record.finished_at = epoch_seconds(step.end_time)
            record.items = dict(step.items) if step.items is not None else None
            self._take_runs(record, step)
            if step.status in FINAL_STEP_STATUSES:
                detail = {"error": step.error} if step.status == "failed" else record.output
                self._emit("step_finished", step.step_id, step.status, detail)
            elif step.status == "running":
                self._emit("step_started", step.step_id)
        self._roll_back(state.rollbacks)
        self._publish_items(
            {step.step_id: dict(step.items) for step in state.steps if step.items is not None}
        )
        self._publish_events(state.events)
        if state.status in FINAL_STATUSES:
            self._finish(state.status, state.result, None, state)
        elif state.status != "pending":
            self._set_status(state.status)

    def _on_end(self, event: ExecutionEvent) -> None:
        """(owner thread) The terminal event: the execution's end, or its orchestrator's."""
        if event.source is None:  # the stream ended it: its orchestrator went away
            self._orphan()
            return
        detail = event.args[1] if len(event.args) > 1 else None
        self._finish(_TERMINAL_STATUS[event.kind], detail, event.source)

    def _orphan(self) -> None:
        """Its orchestrator was destroyed mid-run (the owner thread, as it goes).

        Nothing can be read from it any more; the engine cancels the execution. The handle
        finishes now, ``cancelled``, with the reason: every step still open is reported
        cancelled, then ``finished``, awaiters and done callbacks.
        """
        if self.is_finished():
            return
        if (not self._live_steps or self._catch_up_due) and self._run is not None:
            self._live_steps, self._catch_up_due = True, False
            try:  # the run itself can still be read; its orchestrator cannot
                self._take_steps(self._final_state(self._run), self._emit, self._add_message)
            except Exception:
                logger("qt").debug("steps of %s unreadable", self._execution_id, exc_info=True)
        self._run = None
        self._orphaned = True
        for record in self._steps.values():
            if record.status not in FINAL_STEP_STATUSES:
                self._settle(record, "cancelled")
                self._emit("step_finished", record.step_id, "cancelled", {})
        self._finish("cancelled", ORCHESTRATOR_GONE, None)

    def _finish(
        self, status: str, detail: Any, source: Any, state: ExecutionState | None = None
    ) -> None:
        """Report what no step event announced, then ``finished``, callbacks and awaiters.

        ``state``: the final state already taken (``_load``); otherwise it is read from the
        terminal event's ``source`` when a step may be left unannounced.
        """
        if self.is_finished():
            return
        if self._catch_up_due:
            self._catch_up()
        if state is None and not self._live_steps and status == "completed":
            # Nobody followed the steps: they are read from the run when first asked for, in
            # places of the replay order set aside now, before the end's own signals.
            self._set_aside_places()
        elif (
            state is None
            and source is not None
            and (status != "completed" or self._streaming or not self._all_settled())
        ):
            # Only then can a step be left unannounced (skipped, cancelled, rolled back) or a
            # final item count be missing; a completed run whose every step already reported
            # needs no final state (several ms on a 1,000-step run, in the GUI thread).
            state = self._final_state(source)
            if state is not None:
                if not self._live_steps:
                    self._live_steps = True
                    self._take_steps(state, self._emit, self._add_message)
                self._reconcile(state)
            self._run = None
        if status == "completed":
            self._result = dict(detail) if isinstance(detail, dict) else {}
        elif state is not None:
            self._error = outcome_error(replace(state, status=status))
        else:
            code = PluginErrorCode.ExecutionFailed
            if status == "cancelled":
                code = PluginErrorCode.OperationCancelled
            self._error = PluginError(
                code, str(detail or status), context={"execution_id": self._execution_id}
            )
        if status == "completed" and self._progress < 1.0:
            self._set_progress(1.0)
        self._finished_at = time.time()
        reason = f": {self._error.message}" if self._error is not None else ""
        self._add_message(f"execution {status}{reason}")
        self._set_status(status)
        self._emit("finished", status, self._result if self._error is None else self._error)
        outcome = self.result()
        for future in self._futures:
            if not future.done():
                future.set_result(outcome)
        self._futures.clear()
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            self._call(fn)

    def _call(self, fn: Callable[[Any], Any]) -> None:
        try:
            fn(self)
        except Exception as exc:  # a user's callback must not break the handle or the loop
            logger("qt").exception("a done callback of execution %s raised", self._execution_id)
            self._add_message(f"done callback {getattr(fn, '__name__', fn)!s} raised: {exc!r}")
