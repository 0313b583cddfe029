"""``WorkflowExecution``: one execution as a QObject, in the spirit of ``QFutureWatcher``.

Handles are made by ``start_workflow`` in the orchestrator's thread, and live there: every
signal below is emitted in that thread, and ``cancel``/``pause``/``resume``/``wait`` call the
orchestrator's public methods. A handle is built in layers, one module each: its state and
records (``_handle_state``), the events it takes as they arrive (``_step_intake``), a finished
run's steps read on demand (``_ended_steps``), steps followed once somebody asks
(``_step_following``), its subscription and the execution's end (``_execution_events``); this
module adds its signals and public methods.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal

from ..errors import PluginErrorCode
from ..results import Expected, make_error
from ._execution_events import ORCHESTRATOR_GONE, ExecutionEvents
from .records import ExecutionSnapshot, StepRecord

if TYPE_CHECKING:
    import asyncio


class WorkflowExecution(ExecutionEvents):
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

    def _gone(self, action: str) -> Expected[None]:
        return make_error(
            PluginErrorCode.InvalidState,
            f"cannot {action} execution '{self._execution_id}': {ORCHESTRATOR_GONE}",
            context={"execution_id": self._execution_id},
        )

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
