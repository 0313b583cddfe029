"""``WorkflowExecution``: one execution as a QObject, in the spirit of ``QFutureWatcher``.

Handles are made by ``start_workflow`` in the orchestrator's thread, and live there: every
signal below is emitted in that thread, and ``cancel``/``pause``/``resume``/``wait`` call the
orchestrator's public methods. A handle is a subscriber of its execution's events
(``orchestrator.subscribe``), made before the execution starts; the subscription keeps it
alive until the terminal event, whose final state reports what no step event announced
(skipped, cancelled and rolled-back steps, final attempts and item counters).

Step events cost the engine an event per step and the owner thread a delivery per event, so
a handle that ``start_workflow`` made follows them only once something follows steps live:
a slot connected to a step signal or to ``message``, or a read of ``step``, ``snapshot`` or
``messages`` while it runs. Then it subscribes to them and catches up from the execution's
state. A handle nobody asked about steps reads them once, from the finished run, the first
time they are asked for; their signals replay in the order they would have had.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QMetaMethod, QThread, QTimer, Signal

from .._log import logger
from ..errors import PluginError, PluginErrorCode
from ..events import EventKind, ExecutionEvent
from ..results import Expected, from_error, make_error, make_success
from ._replay import ReplayingObject
from ._status import (
    FINAL_STATUSES,
    FINAL_STEP_STATUSES,
    ExecutionState,
    StepState,
    outcome_error,
)
from .records import ExecutionSnapshot, StepRecord

if TYPE_CHECKING:
    import asyncio

#: The step events a handle follows once something follows its steps live.
STEP_KINDS = frozenset(
    {
        EventKind.TASK_STARTED,
        EventKind.TASK_COMPLETED,
        EventKind.TASK_FAILED,
        EventKind.TASK_RETRYING,
    }
)
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
#: Signals whose first connection means somebody follows the steps live.
_STEP_SIGNALS = frozenset({"step_started", "step_finished", "step_retrying", "message"})
#: Replay places set aside per step for reading steps after the end: started, finished, a
#: failure message, a rollback and its message.
_PLACES_PER_STEP = 5
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


class WorkflowExecution(ReplayingObject):
    """A live handle on one execution; ``start_workflow`` returns it. Signals carry no id.

    It lives in the orchestrator's thread and emits its signals there: ``started()``,
    ``progress(fraction)``, ``step_started(step)``, ``step_finished(step, status, output)``,
    ``step_retrying(step, retry)``, ``message(text)``, ``finished(status, result)``,
    ``item_counts(counts)`` (Streaming, per node) and ``status_changed(status)``.

    ``finished(status, result)`` passes the final data dict when the status is
    ``completed`` and the ``PluginError`` otherwise. ``step_finished(step, status, output)``
    reports each step once: ``completed``, ``failed`` (output: ``{"error": message}``),
    ``skipped`` or ``cancelled`` (an EventDriven node once per run). A completed step whose
    rollback step ran afterwards is reported by ``step_rolled_back(step, detail)``
    (``{"rollback_status": ..., "error": ...}``); its record's status becomes ``rolled_back``
    and its time stays that of its own run. ``event_counts(counts)`` (EventDriven) gives
    ``{"events_received", "events_completed", "events_failed"}``. A slot connected after the
    execution started gets the signal's history replayed (see ``qtforge_orch.qt._replay``).

    ``orchestrator.execution(execution_id)`` gives the handle of any execution the
    orchestrator knows (running, finished, or recorded in its journal); ``start_workflow``
    returns the handle of the execution it starts.
    """

    started = Signal()
    progress = Signal(float)
    step_started = Signal(str)
    step_finished = Signal(str, str, object)
    step_retrying = Signal(str, int)
    step_rolled_back = Signal(str, object)
    message = Signal(str)
    finished = Signal(str, object)
    item_counts = Signal(dict)
    event_counts = Signal(dict)
    status_changed = Signal(str)

    _REPLAYED = frozenset(
        {
            "started",
            "step_started",
            "step_finished",
            "step_retrying",
            "step_rolled_back",
            "message",
            "finished",
        }
    )
    _LATEST_ONLY = frozenset({"progress", "item_counts", "event_counts", "status_changed"})

    def __init__(
        self,
        orchestrator: Any,
        state: ExecutionState,
        streaming: bool,
        final_state: Callable[[Any], ExecutionState | None],
        *,
        event_driven: bool = False,
        follow: bool = True,
        run: Any = None,
        step_keys: list[str] | None = None,
    ) -> None:
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
        self._callbacks: list[Callable[[WorkflowExecution], Any]] = []
        self._futures: list[asyncio.Future[Expected[dict[str, Any]]]] = []
        self._items: dict[str, dict[str, int]] = {}
        self._events: dict[str, int] = {}
        self._streaming = streaming
        self._event_driven = event_driven
        # Reads a finished execution's state from its terminal event (the orchestrator's).
        self._final_state = final_state
        # The engine's run, while the steps are still to be read from it: steps are then
        # followed only once somebody asks (module docstring). EventDriven nodes run again
        # and again, Streaming ones report counters: those are always followed.
        self._run = run if not (streaming or event_driven) else None
        self._live_steps = self._run is None
        self._steps_lock = threading.RLock()  # making the records; reading an ended run's steps
        self._places: tuple[int, int] | None = None  # replay places and message index set aside
        self._catch_up_due = False  # following steps, what they did before is still to report
        self._places_left: Iterator[int] = iter(())
        if follow:
            followed = self._follow(orchestrator)
            if not followed:
                raise followed.error()

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

    # --- identity and state --------------------------------------------------------------
    def execution_id(self) -> str:
        """The execution's id, as the orchestrator's methods take it."""
        return self._execution_id

    def workflow_id(self) -> str:
        """The id of the workflow being run."""
        return self._workflow_id

    def orchestrator(self) -> Any:
        """The orchestrator running the execution (v1 or v2); None once it was destroyed."""
        return self._orchestrator_ref()

    def _live_orchestrator(self) -> Any:
        """The orchestrator while its Qt object exists, else None (the handle is orphaned)."""
        orchestrator = self._orchestrator_ref()
        if orchestrator is None or self._orphaned or not shiboken6.isValid(orchestrator):
            return None
        return orchestrator

    def _gone(self, action: str) -> Expected[None]:
        return make_error(
            PluginErrorCode.InvalidState,
            f"cannot {action} execution '{self._execution_id}': {ORCHESTRATOR_GONE}",
            context={"execution_id": self._execution_id},
        )

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

    def step(self, step_id: str) -> StepRecord | None:
        """A copy of one step's record, or None for an unknown id."""
        self._read_steps()
        record = self._steps.get(step_id)
        # Not dataclasses.replace: a model reads 1,000 records at once, and replace() re-runs
        # __init__ through field introspection (5 us each).
        return record.__copy__() if record is not None else None

    def is_event_driven(self) -> bool:
        """Whether the execution runs an EventDriven workflow (see ``event_counts``)."""
        return self._event_driven

    def current_event_counts(self) -> dict[str, int]:
        """EventDriven: ``{"events_received", "events_completed", "events_failed"}`` so far."""
        return dict(self._events)

    def supports_pause(self) -> bool:
        """Whether ``pause``/``resume`` can work: True for a v2 orchestrator only."""
        return self._graph

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

    def messages(self) -> list[str]:
        """The messages so far (failures, rollbacks, pause/resume, the end)."""
        self._read_steps()
        return list(self._messages)

    def snapshot(self) -> ExecutionSnapshot:
        """An immutable copy of everything the handle knows now (steps, messages, result)."""
        self._read_steps()
        return ExecutionSnapshot(
            execution_id=self._execution_id,
            workflow_id=self._workflow_id,
            status=self._status,
            progress=self._progress,
            current_step=self._current,
            steps={k: replace(v, output=dict(v.output)) for k, v in self._steps.items()},
            messages=list(self._messages),
            result=dict(self._result) if self._result is not None else None,
            error=self._error.message if self._error is not None else "",
            started_at=self._started_at,
            finished_at=self._finished_at,
        )

    # --- control -------------------------------------------------------------------------
    def cancel(self) -> Expected[None]:
        """Cancel the execution (``InvalidState`` once it has ended)."""
        orch = self._live_orchestrator()
        if orch is None:
            return self._gone("cancel")
        cancel = getattr(orch, "cancel_execution", None) or orch.cancel_workflow
        result: Expected[None] = cancel(self._execution_id)
        return result

    def pause(self) -> Expected[None]:
        """Pause (v2 only; v1 has no pause and answers ``NotSupported``)."""
        if not self.supports_pause():
            return make_error(PluginErrorCode.NotSupported, "PluginOrchestrator cannot pause")
        orch = self._live_orchestrator()
        if orch is None:
            return self._gone("pause")
        result: Expected[None] = orch.pause_execution(self._execution_id)
        return result

    def resume(self) -> Expected[None]:
        """Resume a paused execution (v2 only; v1 answers ``NotSupported``)."""
        if not self.supports_pause():
            return make_error(PluginErrorCode.NotSupported, "PluginOrchestrator cannot resume")
        orch = self._live_orchestrator()
        if orch is None:
            return self._gone("resume")
        result: Expected[None] = orch.resume_execution(self._execution_id)
        return result

    def wait(self, timeout_ms: int | None = None) -> bool:
        """Block until the execution ended; False on timeout.

        In the owner thread this delivers the pending signals, so ``finished`` has been emitted
        when it returns True. Never call it from a GUI slot: it freezes the window for as long
        as the execution runs.
        """
        if self.is_finished():
            return True
        orch = self._live_orchestrator()
        if orch is None:
            return self.is_finished()
        return bool(orch.wait_for_execution(self._execution_id, timeout_ms))

    def add_done_callback(self, fn: Callable[[WorkflowExecution], Any]) -> None:
        """Call ``fn(handle)`` in the owner thread once finished (at once if it already is).

        An exception in ``fn`` is printed and reported through ``message``, never raised.
        """
        if self.is_finished():
            self._call(fn)
        else:
            self._callbacks.append(fn)

    def __await__(self) -> Generator[Any, None, Expected[dict[str, Any]]]:
        """``await handle`` (under qasync) gives ``result()``.

        Cancelling the awaiting task cancels the execution.
        """
        import asyncio  # deferred: plain Qt users never pay for it

        future: asyncio.Future[Expected[dict[str, Any]]] = asyncio.get_event_loop().create_future()
        if self.is_finished():
            future.set_result(self.result())
        else:
            self._futures.append(future)
            future.add_done_callback(self._future_done)
        return future.__await__()

    def _future_done(self, future: asyncio.Future[Expected[dict[str, Any]]]) -> None:
        if future.cancelled() and not self.is_finished():
            self.cancel()

    # --- intake: the execution's events (owner thread) ---------------------------------
    def _on_event(self, event: ExecutionEvent) -> None:
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
            if event.source is None:  # the stream ended it: its orchestrator went away
                self._orphan()
                return
            detail = event.args[1] if len(event.args) > 1 else None
            self._finish(_TERMINAL_STATUS[kind], detail, event.source)

    # A handle that caught up from the execution's state may then get events older than that
    # state (queued before it subscribed). Outside EventDriven executions a step starts once,
    # retries with rising numbers and ends once, so an event that does not move the step on
    # is one the state already reported.
    # And a handle that followed its steps late reports each step's start before anything
    # else about it, and the execution's start before any step.
    def _mark_started(self) -> None:
        if self._status == "pending":
            self._emit("started")
            self._set_status("running")

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

    def _step_completed(self, step: str, output: Any) -> None:
        record = self._record(step)
        if not self._event_driven:
            if record.status in FINAL_STEP_STATUSES:
                return
            if record.status == "pending":
                self._step_started(step)
        record.output = dict(output) if isinstance(output, dict) else {"value": output}
        self._settle(record, "completed")
        self._emit("step_finished", step, "completed", record.output)

    def _step_failed(self, step: str, error: str) -> None:
        record = self._record(step)
        if not self._event_driven:
            if record.status in FINAL_STEP_STATUSES:
                return
            if record.status == "pending":
                self._step_started(step)
        record.error = error
        self._settle(record, "failed")
        self._add_message(f"{step} failed: {error}")
        self._emit("step_finished", step, "failed", {"error": error})

    def _step_retrying(self, step: str, retry: int) -> None:
        record = self._record(step)
        if not self._event_driven:
            if record.status in FINAL_STEP_STATUSES or retry + 1 <= record.attempts:
                return
            if record.status == "pending":
                self._step_started(step)
        record.status = "retrying"
        record.attempts = retry + 1
        self._emit("step_retrying", step, retry)

    def _set_progress(self, value: float) -> None:
        self._progress = value
        self._emit("progress", value)

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
            self._places = (
                self._reserve(_PLACES_PER_STEP * len(self.step_ids())),
                len(self._messages),
            )
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

    # --- steps read on demand ------------------------------------------------------------
    def connectNotify(self, signal: QMetaMethod) -> None:
        """Qt override: a step signal's first connection makes the handle follow steps."""
        if not self._live_steps:
            name = bytes(signal.name().data()).decode()
            if name in _STEP_SIGNALS:
                if QThread.currentThread() == self.thread():
                    # Subscribed now; the catch-up emits, which Qt may forbid here (it can
                    # hold a mutex), so it runs from a zero timer or the next read.
                    self._follow_steps(catch_up_now=False)
                else:
                    QTimer.singleShot(0, self, self._read_steps)
        super().connectNotify(signal)

    def _read_steps(self) -> None:
        """Make the step records current before they are read (module docstring)."""
        if self._catch_up_due:
            if QThread.currentThread() == self.thread():
                self._catch_up()
            return
        if self._live_steps:
            return
        if self.is_finished():
            self._read_ended_steps()
        elif QThread.currentThread() == self.thread():
            self._follow_steps(catch_up_now=True)

    def _follow_steps(self, catch_up_now: bool) -> None:
        """(owner thread, running) Follow step events from now on, then take the steps' state.

        Subscribed before the state is read, so nothing falls between; events queued before
        the read are dropped by the step handlers as not moving a step on.
        """
        if self._live_steps:
            return
        if self.is_finished():
            self._read_ended_steps()
            return
        self._live_steps = True
        orchestrator = self._live_orchestrator()
        if orchestrator is None or self._run is None:
            return
        followed = orchestrator.subscribe(
            self._on_event, self._execution_id, STEP_KINDS, weak=False
        )
        if not followed:  # its end is being delivered: the final state reports the steps
            logger("qt").debug("execution %s ended as its steps were asked for", self._execution_id)
        self._catch_up_due = True
        if catch_up_now:
            self._catch_up()
        else:
            QTimer.singleShot(0, self, self._catch_up)

    def _catch_up(self) -> None:
        """(owner thread) Report what the steps did before the handle followed them."""
        if not self._catch_up_due:
            return
        self._catch_up_due = False
        run, self._run = self._run, None
        if run is not None:
            self._take_steps(self._final_state(run), self._emit, self._add_message)

    def _read_ended_steps(self) -> None:
        """(any thread) Read an ended execution's steps into the places set aside at its end.

        Once, for an execution that completed with nobody following its steps.
        """
        with self._steps_lock:
            if self._live_steps:
                return
            self._live_steps = True
            run, places = self._run, self._places
            self._run = None
            if run is None or places is None:
                return
            self._places_left = iter(
                range(places[0], places[0] + _PLACES_PER_STEP * len(self.step_ids()))
            )
            found: list[str] = []

            def note(text: str) -> None:
                found.append(text)
                self._record_places("message", text)

            self._take_steps(self._final_state(run), self._record_places, note)
            self._messages[places[1] : places[1]] = found

    def _record_places(self, name: str, *args: Any) -> None:
        """Record an emission in the next place set aside at the end (not emitted)."""
        place = next(self._places_left, None)
        self._record_at(self._reserve(1) if place is None else place, name, *args)

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
            if record.status == "pending" and (step.attempts or status in ("completed", "failed")):
                out("step_started", step.step_id)
            for retry in range(max(reported, 1), step.attempts):
                out("step_retrying", step.step_id, retry)
            record.status = status
            if status not in FINAL_STEP_STATUSES:
                continue
            record.output = dict(step.output)
            record.error = step.error
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

    def _call(self, fn: Callable[[WorkflowExecution], Any]) -> None:
        try:
            fn(self)
        except Exception as exc:  # a user's callback must not break the handle or the loop
            logger("qt").exception("a done callback of execution %s raised", self._execution_id)
            self._add_message(f"done callback {getattr(fn, '__name__', fn)!s} raised: {exc!r}")
