"""OpenTelemetry spans for executions and step attempts (``pip install "qtforge_orch[otel]"``).

Tracing is off until an application turns it on for an orchestrator::

    tracing = trace_executions(orchestrator).value()  # the global tracer provider
    ...
    tracing.close()  # stop; spans still open end now

It is a subscriber of the orchestrator's event stream, like its signals: one span per execution
(``execution <workflow id>``, a new trace) and one per step attempt (``step <step id>``, a child
of its execution's span), with the ids as attributes, the status (``OK``, ``ERROR`` with the
error message, unset for a cancelled one) and the error as an ``exception`` span event. Spans
start and end when the orchestrator's thread receives the events, within milliseconds of the
step's own start and end (later when that thread is busy). Only ``opentelemetry-api`` is
imported; the application chooses the SDK and exporter (docs/logging-and-tracing.md).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .errors import PluginError, PluginErrorCode
from .events import EventKind, ExecutionEvent, Subscription
from .results import Expected, make_error, make_success

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider

    from .orchestration.advanced.plugin_orchestrator_v2 import AdvancedPluginOrchestrator
    from .orchestration.plugin_orchestrator import PluginOrchestrator

TRACER_NAME = "qtforge_orch"
"""The instrumentation scope's name (the tracer's), as OpenTelemetry asks of a library."""

# Attribute keys (the library's own namespace).
EXECUTION_ID = "qtforge.execution_id"
WORKFLOW_ID = "qtforge.workflow_id"
STEP_ID = "qtforge.step_id"
ATTEMPT = "qtforge.attempt"
STATUS = "qtforge.status"

_KINDS = (
    EventKind.WORKFLOW_STARTED,
    EventKind.WORKFLOW_COMPLETED,
    EventKind.WORKFLOW_FAILED,
    EventKind.WORKFLOW_CANCELLED,
    EventKind.PAUSED,
    EventKind.RESUMED,
    EventKind.TASK_STARTED,
    EventKind.TASK_COMPLETED,
    EventKind.TASK_FAILED,
    EventKind.TASK_RETRYING,
)


def trace_executions(
    orchestrator: PluginOrchestrator | AdvancedPluginOrchestrator,
    tracer_provider: TracerProvider | None = None,
) -> Expected[ExecutionTracing]:
    """Record the executions ``orchestrator`` starts from now on as OpenTelemetry spans.

    Args:
        orchestrator: A ``PluginOrchestrator`` or an ``AdvancedPluginOrchestrator``.
        tracer_provider: Where the spans go; None takes OpenTelemetry's global provider
            (``opentelemetry.trace.set_tracer_provider``), which records nothing until the
            application sets one.

    Returns:
        The ``ExecutionTracing`` (``close()`` stops it), or ``DependencyMissing`` without
        ``opentelemetry-api``, ``InvalidArgument`` for something that is not an orchestrator.
    """
    subscribe = getattr(orchestrator, "subscribe", None)
    if not callable(subscribe) or not hasattr(orchestrator, "start_workflow"):
        return make_error(
            PluginErrorCode.InvalidArgument,
            "trace_executions needs a PluginOrchestrator or an AdvancedPluginOrchestrator, "
            f"got {type(orchestrator).__name__}",
        )
    try:
        from opentelemetry import trace
    except ImportError:
        return make_error(
            PluginErrorCode.DependencyMissing,
            "tracing needs OpenTelemetry's API: pip install 'qtforge_orch[otel]' "
            "(or opentelemetry-api), and an SDK to export the spans",
        )
    tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
    tracing = ExecutionTracing(tracer)
    subscribed = subscribe(tracing._on_event, None, _KINDS, False)
    if not subscribed:
        return make_error(subscribed.error().code, subscribed.error().message)
    tracing._subscription = subscribed.value()
    return make_success(tracing)


class ExecutionTracing:
    """The spans of one orchestrator's executions, made from its event stream.

    Made by ``trace_executions``; traces until ``close()``, which ends the spans still open
    (close it before the orchestrator goes: spans of executions it cancels on its way out are
    otherwise never ended, so never exported).
    """

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        self._subscription: Subscription | None = None
        self._lock = threading.Lock()
        # Open spans: one per execution, and per (execution, step) the attempts under way
        # (more than one at a time when passes of an EventDriven execution run one step).
        self._executions: dict[str, tuple[Span, str]] = {}  # the span, the workflow id
        self._attempts: dict[tuple[str, str], list[tuple[Span, int]]] = {}

    def is_active(self) -> bool:
        """Whether executions are still traced."""
        return self._subscription is not None and self._subscription.is_active()

    def close(self) -> None:
        """Stop tracing; the spans still open end now, marked ``qtforge.status=untraced``."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.cancel()
        with self._lock:
            attempts = [span for spans in self._attempts.values() for span, _ in spans]
            executions = [span for span, _ in self._executions.values()]
            self._attempts.clear()
            self._executions.clear()
        for span in (*attempts, *executions):
            span.set_attribute(STATUS, "untraced")
            span.end()

    # --- the stream's subscriber (owner thread) -----------------------------------------------
    def _on_event(self, event: ExecutionEvent) -> None:
        kind = event.kind
        if kind is EventKind.WORKFLOW_STARTED:
            self._execution_started(event)
        elif event.terminal:
            self._execution_ended(event)
        elif kind is EventKind.PAUSED or kind is EventKind.RESUMED:
            found = self._executions.get(event.execution_id)
            if found is not None:
                found[0].add_event(kind.name.lower())
        elif kind is EventKind.TASK_STARTED:
            self._attempt_started(event, 1)
        else:
            self._attempt_ended(event)

    def _execution_started(self, event: ExecutionEvent) -> None:
        from opentelemetry.context import Context

        span = self._tracer.start_span(
            f"execution {event.workflow_id}",
            context=Context(),  # a root: the execution's own trace
            attributes={EXECUTION_ID: event.execution_id, WORKFLOW_ID: event.workflow_id},
        )
        with self._lock:
            self._executions[event.execution_id] = (span, event.workflow_id)

    def _attempt_started(self, event: ExecutionEvent, attempt: int) -> None:
        from opentelemetry import trace

        with self._lock:
            found = self._executions.get(event.execution_id)
        if found is None:  # started before tracing was
            return
        parent, workflow_id = found
        attributes: dict[str, Any] = {
            EXECUTION_ID: event.execution_id,
            WORKFLOW_ID: workflow_id,
            STEP_ID: event.step,
            ATTEMPT: attempt,
        }
        span = self._tracer.start_span(
            f"step {event.step}",
            context=trace.set_span_in_context(parent),
            attributes=attributes,
        )
        with self._lock:
            self._attempts.setdefault((event.execution_id, event.step), []).append((span, attempt))

    def _attempt_ended(self, event: ExecutionEvent) -> None:
        from opentelemetry.trace import Status, StatusCode

        key = (event.execution_id, event.step)
        with self._lock:
            open_attempts = self._attempts.get(key)
            if not open_attempts:
                return
            span, attempt = open_attempts.pop(0)
            if not open_attempts:
                del self._attempts[key]
        kind = event.kind
        if kind is EventKind.TASK_COMPLETED:
            span.set_status(Status(StatusCode.OK))
            span.set_attribute(STATUS, "completed")
        elif kind is EventKind.TASK_RETRYING:
            span.set_status(Status(StatusCode.ERROR, "the attempt failed; it is retried"))
            span.set_attribute(STATUS, "retrying")
            _record_error(span, event)
        else:
            span.set_status(Status(StatusCode.ERROR, event.message))
            span.set_attribute(STATUS, "failed")
            _record_error(span, event)
        span.end()
        if kind is EventKind.TASK_RETRYING:
            self._attempt_started(event, attempt + 1)

    def _execution_ended(self, event: ExecutionEvent) -> None:
        from opentelemetry.trace import Status, StatusCode

        execution_id = event.execution_id
        with self._lock:
            found = self._executions.pop(execution_id, None)
            steps = [key for key in self._attempts if key[0] == execution_id]
            leftovers = [s for key in steps for s, _ in self._attempts.pop(key)]
        kind = event.kind
        status = {
            EventKind.WORKFLOW_COMPLETED: "completed",
            EventKind.WORKFLOW_FAILED: "failed",
            EventKind.WORKFLOW_CANCELLED: "cancelled",
        }[kind]
        for attempt in leftovers:  # attempts the execution's end cut short
            attempt.set_attribute(STATUS, "cancelled")
            attempt.end()
        if found is None:
            return
        span = found[0]
        span.set_attribute(STATUS, status)
        if kind is EventKind.WORKFLOW_COMPLETED:
            span.set_status(Status(StatusCode.OK))
        elif kind is EventKind.WORKFLOW_FAILED:
            span.set_status(Status(StatusCode.ERROR, event.message))
            _record_error(span, event)
        span.end()


def _record_error(span: Span, event: ExecutionEvent) -> None:
    """The error as an ``exception`` span event (OpenTelemetry's semantic conventions).

    Its message, and its type and traceback when the event carries the step's error.
    """
    message = event.message or f"the attempt failed; retry {event.retry} follows"
    attributes: dict[str, str] = {"exception.message": message}
    error = getattr(event, "error", None)
    if isinstance(error, PluginError):
        attributes["exception.message"] = error.message
        exception = getattr(error, "exception", None)
        if isinstance(exception, BaseException):
            attributes["exception.type"] = type(exception).__qualname__
        traceback = error.context.get("traceback")
        if isinstance(traceback, str) and traceback:
            attributes["exception.stacktrace"] = traceback
    span.add_event("exception", attributes)


__all__ = ["TRACER_NAME", "ExecutionTracing", "trace_executions"]
