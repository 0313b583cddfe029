"""Executions in the ``logging`` hierarchy: a subscriber of the orchestrator's event stream.

Records go to the logger ``qtforge_orch.execution``:

==============  ==========================================================================
DEBUG           a step (a node, in v2) started, completed
INFO            an execution started, completed, was cancelled, paused, resumed
WARNING         a step's attempt failed and it is retried
ERROR           a step failed for good (with its traceback when its error keeps one); an
                execution failed
==============  ==========================================================================

Every record carries ``execution_id``, ``workflow_id``, ``step_id`` (``""`` for a record about
the whole execution) and ``event_kind`` (``"task_failed"``...) as attributes, for formatters
(``%(execution_id)s``) and filters.

Rollback steps an execution ran are logged at its end, before its own last record (a
transaction's rollback, after its executions ended, logs its steps when it has run).

The stream builds an event only for a kind some subscriber wants, so this subscriber takes only
the kinds the logger is enabled for. ``logging`` has no notice of a level change: the kinds are
checked again before every execution starts (``follow``), a handful of cached ``isEnabledFor``
calls. With the default level (WARNING), no step event is built for a step that succeeds.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from .._engine import log_rollback
from .._log import logger
from ..errors import PluginError
from ..events import EventKind, ExecutionEvent, Subscription

if TYPE_CHECKING:
    from .._engine import Engine, Run

LOGGER_AREA = "execution"

_LEVEL_OF: dict[EventKind, int] = {
    EventKind.TASK_STARTED: logging.DEBUG,
    EventKind.TASK_COMPLETED: logging.DEBUG,
    EventKind.WORKFLOW_STARTED: logging.INFO,
    EventKind.WORKFLOW_COMPLETED: logging.INFO,
    EventKind.WORKFLOW_CANCELLED: logging.INFO,
    EventKind.PAUSED: logging.INFO,
    EventKind.RESUMED: logging.INFO,
    EventKind.TASK_RETRYING: logging.WARNING,
    EventKind.TASK_FAILED: logging.ERROR,
    EventKind.WORKFLOW_FAILED: logging.ERROR,
}
_THRESHOLDS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)
# The end of every execution is taken whenever anything is: it forgets the execution's
# workflow id (terminal events are built for every execution anyway).
_ENDS = frozenset(
    {EventKind.WORKFLOW_COMPLETED, EventKind.WORKFLOW_FAILED, EventKind.WORKFLOW_CANCELLED}
)
# The kinds taken at each threshold: those logged at it or above, and the ends.
_KINDS_AT: dict[int, frozenset[EventKind]] = {
    threshold: frozenset(k for k, level in _LEVEL_OF.items() if level >= threshold) | _ENDS
    for threshold in _THRESHOLDS
}
_NOTHING = logging.CRITICAL


class ExecutionLog:
    """Logs an orchestrator's executions (``qtforge_orch.execution``) from its event stream."""

    def __init__(self, engine: Engine) -> None:
        self._pump = engine.pump
        self._logger = logger(LOGGER_AREA)
        self._lock = threading.Lock()
        self._threshold = -1  # none checked yet
        self._subscription: Subscription | None = None
        # The workflow of each execution followed, until its terminal event is delivered.
        self._workflows: dict[str, str] = {}

    def follow(self, run: Run) -> None:
        """Before ``run`` starts (any thread): take the kinds the logger is enabled for now.

        The run's workflow is kept for its records until its terminal event.
        """
        threshold = self._current_threshold()
        if threshold != self._threshold:
            self._subscribe(threshold)
        if threshold != _NOTHING:
            self._workflows[run.execution_id] = run.workflow_id

    def resuming(self, run: Run, resumed_from: str) -> None:
        """(before ``run`` starts) It resumes execution ``resumed_from`` from the journal."""
        log = self._logger
        if not log.isEnabledFor(logging.INFO):
            return
        reused = len(run.resume_seed.outputs) if run.resume_seed is not None else 0
        log.info(
            "execution %s of workflow %s resumes execution %s (%d completed steps reused)",
            run.execution_id,
            run.workflow_id,
            resumed_from,
            reused,
            extra={
                "execution_id": run.execution_id,
                "workflow_id": run.workflow_id,
                "step_id": "",
                "event_kind": "resumed_from_journal",
                "resumed_from": resumed_from,
            },
        )

    def _current_threshold(self) -> int:
        enabled = self._logger.isEnabledFor
        for threshold in _THRESHOLDS:
            if enabled(threshold):
                return threshold
        return _NOTHING

    def _subscribe(self, threshold: int) -> None:
        with self._lock:
            if threshold == self._threshold:
                return
            self._threshold = threshold
            old, self._subscription = self._subscription, None
            if old is not None:
                old.cancel()
            if threshold == _NOTHING:
                self._workflows.clear()
                return
            # Held strongly: this object refers to the pump, never to the orchestrator.
            self._subscription = self._pump.subscribe(
                self._record, _KINDS_AT[threshold], weak=False
            )

    def _record(self, event: ExecutionEvent) -> None:
        """(owner thread) One record for one event, if its level is enabled."""
        kind = event.kind
        execution_id = event.execution_id
        workflows = self._workflows
        workflow_id = (
            workflows.pop(execution_id, "") if event.terminal else workflows.get(execution_id, "")
        )
        if event.terminal and event.source is not None:
            _rollbacks(event.source, workflow_id)
        level = _LEVEL_OF[kind]
        log = self._logger
        if not log.isEnabledFor(level):
            return
        step_id = event.step
        extra = {
            "execution_id": execution_id,
            "workflow_id": workflow_id,
            "step_id": step_id,
            "event_kind": kind.name.lower(),
        }
        if step_id:
            self._step_record(log, level, event, extra)
        else:
            self._execution_record(log, level, event, extra)

    @staticmethod
    def _execution_record(
        log: logging.Logger, level: int, event: ExecutionEvent, extra: dict[str, Any]
    ) -> None:
        what = _EXECUTION_VERBS[event.kind]
        if event.kind is EventKind.WORKFLOW_FAILED:
            log.log(
                level,
                "execution %s of workflow %s failed: %s",
                event.execution_id,
                extra["workflow_id"],
                event.message,
                extra=extra,
            )
            return
        log.log(
            level,
            "execution %s of workflow %s %s",
            event.execution_id,
            extra["workflow_id"],
            what,
            extra=extra,
        )

    @staticmethod
    def _step_record(
        log: logging.Logger, level: int, event: ExecutionEvent, extra: dict[str, Any]
    ) -> None:
        kind = event.kind
        if kind is EventKind.TASK_FAILED:
            failure = failure_details(event)
            if failure.traceback:
                extra["traceback"] = failure.traceback
            log.log(
                level,
                "step %s of execution %s failed: %s%s",
                event.step,
                event.execution_id,
                event.message,
                f"\n{failure.traceback.rstrip()}" if failure.traceback else "",
                extra=extra,
                exc_info=failure.exc_info,
            )
        elif kind is EventKind.TASK_RETRYING:
            extra["retry"] = event.retry
            log.log(
                level,
                "step %s of execution %s failed; retry %d follows",
                event.step,
                event.execution_id,
                event.retry,
                extra=extra,
            )
        else:
            log.log(
                level,
                "step %s of execution %s %s",
                event.step,
                event.execution_id,
                "started" if kind is EventKind.TASK_STARTED else "completed",
                extra=extra,
            )


_EXECUTION_VERBS = {
    EventKind.WORKFLOW_STARTED: "started",
    EventKind.WORKFLOW_COMPLETED: "completed",
    EventKind.WORKFLOW_FAILED: "failed",
    EventKind.WORKFLOW_CANCELLED: "was cancelled",
    EventKind.PAUSED: "paused",
    EventKind.RESUMED: "resumed",
}


def _rollbacks(run: Run, workflow_id: str) -> None:
    """The rollback steps an ending execution ran, in the order they ran (newest first)."""
    for item in sorted(run.compensations, key=lambda item: item.sequence, reverse=True):
        log_rollback(item, workflow_id)


class Failure:
    """What a step failure's event carries about the fault.

    A traceback as text, or the exception itself (with its frames) for ``exc_info``; both
    empty when the event carries neither.
    """

    __slots__ = ("exc_info", "traceback")

    def __init__(self, traceback: str = "", exc_info: BaseException | None = None) -> None:
        self.traceback = traceback
        self.exc_info = exc_info


def failure_details(event: ExecutionEvent) -> Failure:
    """The traceback of the error behind a failure event, when the event carries the error.

    A step's ``PluginError`` may keep the plugin's traceback as text (``context["traceback"]``,
    or a multi-line ``details``) or the exception it wraps (``exception``, with its frames);
    events that carry only the message give an empty ``Failure``.
    """
    error = getattr(event, "error", None)
    if not isinstance(error, PluginError):
        return Failure()
    text = error.context.get("traceback")
    if isinstance(text, str) and text:
        return Failure(text)
    if "\n" in error.details:
        return Failure(error.details)
    exception = getattr(error, "exception", None)
    if isinstance(exception, BaseException) and exception.__traceback__ is not None:
        return Failure(exc_info=exception)
    return Failure()
