"""What a ``WorkflowExecution`` handle knows, and how it brings that to a reported state.

The handle's fields, its plain reads (status, progress, steps, result), its step records
(made when first needed: a run nobody asks about steps never needs them) and the small
transitions every part of it shares. A reported ``ExecutionState`` (the orchestrator's, read
from the run) is taken here: by a handle made for an execution already under way, by a handle
catching up with its steps, and at the end. Each step is reported once, as its events would
have: through ``out`` (a signal and its arguments) and ``note`` (a message), so the same code
emits live and records into replay places set aside (``_ended_steps``).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import shiboken6

from ..errors import PluginError, PluginErrorCode
from ..results import Expected, from_error, make_error, make_success
from ._replay import ReplayingObject
from ._status import (
    FINAL_STATUSES,
    FINAL_STEP_STATUSES,
    ExecutionState,
    StepState,
    epoch_seconds,
)
from .records import StepRecord

if TYPE_CHECKING:
    import asyncio


class HandleState(ReplayingObject):
    """The state of one ``WorkflowExecution`` (its base; see that class)."""

    def __init__(
        self,
        orchestrator: Any,
        state: ExecutionState,
        streaming: bool,
        final_state: Callable[[Any], ExecutionState | None],
        *,
        event_driven: bool = False,
        run: Any = None,
        step_keys: list[str] | None = None,
    ) -> None:
        """A handle on the execution ``state`` reports, following nothing yet.

        Args:
            orchestrator: The orchestrator running it (held weakly).
            state: The execution as known when the handle is made.
            streaming: A Streaming execution (item counters, steps always followed).
            final_state: Reads an execution's state from a run (the orchestrator's kind).
            event_driven: An EventDriven execution (nodes run again and again).
            run: The engine's run, its steps read from it on demand; None: steps followed.
            step_keys: The step ids in declaration order (default: ``state``'s steps).
        """
        super().__init__(None)  # owned by whoever holds it; its subscription too, while it runs
        # Weak: a handle does not keep its orchestrator alive. When the orchestrator goes, its
        # event stream ends the execution with a terminal event that carries no run.
        self._orchestrator_ref = weakref.ref(orchestrator)
        self._graph = hasattr(orchestrator, "pause_execution")
        self._orphaned = False  # its orchestrator was destroyed: nothing more can be read
        self._execution_id = state.execution_id
        self._workflow_id = state.workflow_id
        self._status = "pending"  # "running" once workflow_started has been delivered
        self._progress = state.progress
        self._current = state.current_step
        # Records are made when first needed: a run nobody asks about steps never needs them.
        self._step_keys = step_keys if step_keys is not None else [s.step_id for s in state.steps]
        self._step_table: dict[str, StepRecord] | None = None
        self._messages: list[str] = []
        self._result: dict[str, Any] | None = None
        self._error: PluginError | None = None
        self._started_at: float | None = time.time()
        self._finished_at: float | None = None
        self._callbacks: list[Callable[[Any], Any]] = []  # done callbacks, given the handle
        self._futures: list[asyncio.Future[Expected[dict[str, Any]]]] = []
        self._items: dict[str, dict[str, int]] = {}
        self._events: dict[str, int] = {}
        self._streaming = streaming
        self._event_driven = event_driven
        # Reads a finished execution's state from its terminal event (the orchestrator's).
        self._final_state = final_state
        # The engine's run, while the steps are still to be read from it: steps are then
        # followed only once somebody asks (``_step_following``). EventDriven nodes run again
        # and again, Streaming ones report counters: those are always followed.
        self._run = run if not (streaming or event_driven) else None
        self._live_steps = self._run is None
        self._steps_lock = threading.RLock()  # making the records; reading an ended run's steps
        self._places: tuple[int, int] | None = None  # replay places and message index set aside
        self._catch_up_due = False  # following steps, what they did before is still to report
        self._places_left: Iterator[int] = iter(())

    # --- what the handle knows -----------------------------------------------------------
    def status(self) -> str:
        """The status: ``pending`` (until ``started``), ``running``, ``paused`` or final.

        The final ones are ``completed``, ``failed`` and ``cancelled``.
        """
        return self._status

    def current_progress(self) -> float:
        """The latest progress (0.0 to 1.0) without copying a snapshot."""
        return self._progress

    def is_finished(self) -> bool:
        """Whether the status is final (``completed``, ``failed`` or ``cancelled``)."""
        return self._status in FINAL_STATUSES

    def step_ids(self) -> list[str]:
        """Steps (v1) or nodes (v2) in declaration order."""
        table = self._step_table
        return list(self._step_keys if table is None else table)

    @property
    def _steps(self) -> dict[str, StepRecord]:
        table = self._step_table
        if table is None:
            with self._steps_lock:
                table = self._step_table
                if table is None:
                    table = {key: StepRecord(key) for key in self._step_keys}
                    self._step_table = table
        return table

    def result(self) -> Expected[dict[str, Any]]:
        """The final data once completed.

        Returns:
            The final data; the execution's error once it failed or was cancelled;
            ``InvalidState`` while it runs.
        """
        if self._error is not None:
            return from_error(self._error)
        if self._result is not None:
            return make_success(dict(self._result))
        return make_error(
            PluginErrorCode.InvalidState,
            f"execution '{self._execution_id}' is still {self._status}",
            context={"execution_id": self._execution_id},
        )

    # --- taking a reported state ----------------------------------------------------------
    def _take_steps(
        self, state: ExecutionState | None, out: Callable[..., None], note: Callable[[str], None]
    ) -> None:
        """Bring every step record to ``state``, reporting what its events would have.

        Through ``out`` (signal, args) and ``note`` (a message): a start, then the end of
        each step that ended, then rollbacks.
        """
        if state is None:
            return
        if state.status != "pending":
            self._mark_started()  # nothing once ended: steps read after the end replay only
        if state.current_step:
            self._current = state.current_step
        for step in state.steps:
            record = self._record(step.step_id)
            if record.status in FINAL_STEP_STATUSES:
                continue
            status = step.status
            reported = record.attempts  # the retries its events reported (attempts - 1)
            record.attempts = max(record.attempts, step.attempts)
            if step.duration_ms is not None:
                record.duration_ms = step.duration_ms
            if status == "pending":
                continue
            if record.started_at is None:  # the engine's start: the one its event announced
                record.started_at = epoch_seconds(step.start_time)
            if record.status == "pending" and (step.attempts or status in ("completed", "failed")):
                out("step_started", step.step_id)
            for retry in range(max(reported, 1), step.attempts):
                out("step_retrying", step.step_id, retry)
            record.status = status
            if status not in FINAL_STEP_STATUSES:
                continue
            record.output = dict(step.output)
            record.error = step.error
            if record.finished_at is None:
                record.finished_at = epoch_seconds(step.end_time)
            if status == "failed":
                note(f"{step.step_id} failed: {step.error}")
                out("step_finished", step.step_id, status, {"error": step.error})
            else:
                out("step_finished", step.step_id, status, record.output)
        self._roll_back(state.rollbacks, out, note)

    def _all_settled(self) -> bool:
        return all(record.status in FINAL_STEP_STATUSES for record in self._steps.values())

    def _reconcile(self, state: ExecutionState) -> None:
        for step in state.steps:
            record = self._record(step.step_id)
            record.attempts = max(record.attempts, step.attempts)
            if step.duration_ms is not None:
                record.duration_ms = step.duration_ms
            if step.items is not None:
                record.items = dict(step.items)
            self._take_runs(record, step)
            if step.status in ("skipped", "cancelled") and record.status != step.status:
                self._settle(record, step.status)
                self._emit("step_finished", step.step_id, step.status, {})
        self._roll_back(state.rollbacks)
        self._publish_items(
            {step.step_id: dict(step.items) for step in state.steps if step.items is not None}
        )
        self._publish_events(state.events)

    def _roll_back(
        self,
        rollbacks: list[dict[str, Any]],
        out: Callable[..., None] | None = None,
        note: Callable[[str], None] | None = None,
    ) -> None:
        """Completed steps whose rollback step ran: reported apart from ``step_finished``.

        The step finished once (``completed``); its time stays that of its own run.
        """
        out = out or self._emit
        note = note or self._add_message
        for rollback in rollbacks:
            record = self._record(str(rollback["step_id"]))
            if record.rollback:
                continue
            outcome = str(rollback.get("status") or "completed")
            detail = {"rollback_status": outcome, "error": rollback.get("error")}
            record.status = "rolled_back"
            record.rollback = outcome
            note(f"{record.step_id} rolled back ({outcome})")
            out("step_rolled_back", record.step_id, detail)

    @staticmethod
    def _take_runs(record: StepRecord, step: StepState) -> None:
        if step.runs is not None:
            record.runs = step.runs
            record.failed_runs = step.failed_runs or 0
            record.total_ms = step.run_ms or 0.0

    def _count_runs(self, nodes: dict[str, dict[str, float]]) -> None:
        """EventDriven: each node's runs so far, as the engine timed them."""
        for step_id, figures in nodes.items():
            record = self._record(step_id)
            record.runs = int(figures.get("runs", 0))
            record.failed_runs = int(figures.get("failed_runs", 0))
            record.total_ms = float(figures.get("run_ms", 0.0))
            if figures.get("last_ms"):
                record.duration_ms = float(figures["last_ms"])

    def _publish_events(self, counts: dict[str, int]) -> None:
        if counts and counts != self._events:
            self._events = dict(counts)
            self._emit("event_counts", dict(counts))

    # --- Streaming counters --------------------------------------------------------------
    def _publish_items(self, counts: dict[str, dict[str, int]]) -> None:
        if counts and counts != self._items:
            self._items = counts
            for step_id, items in counts.items():
                self._record(step_id).items = dict(items)
            self._emit("item_counts", {k: dict(v) for k, v in counts.items()})

    # --- helpers -------------------------------------------------------------------------
    def _record(self, step: str) -> StepRecord:
        record = self._steps.get(step)
        if record is None:  # a node added after the first status read; keep it, never raise
            record = self._steps[step] = StepRecord(step)
        return record

    def _settle(self, record: StepRecord, status: str) -> None:
        record.status = status
        record.finished_at = time.time()
        # An EventDriven node's times are the engine's (EVENT_COUNTS): its start and end
        # events often arrive in one delivery, which would time it at zero.
        if record.started_at is not None and not self._event_driven:
            record.duration_ms = (record.finished_at - record.started_at) * 1000

    def _set_status(self, status: str) -> None:
        if status != self._status:
            self._status = status
            self._emit("status_changed", status)

    def _add_message(self, text: str) -> None:
        self._messages.append(text)
        self._emit("message", text)

    def _live_orchestrator(self) -> Any:
        """The orchestrator while its Qt object exists, else None (the handle is orphaned)."""
        orchestrator = self._orchestrator_ref()
        if orchestrator is None or self._orphaned or not shiboken6.isValid(orchestrator):
            return None
        return orchestrator

    def _mark_started(self) -> None:
        """Report the execution's start once (before anything about a step)."""
        if self._status == "pending":
            self._emit("started")
            self._set_status("running")

    def _set_progress(self, value: float) -> None:
        self._progress = value
        self._emit("progress", value)
