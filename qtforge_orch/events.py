"""What an execution reports while it runs: typed events, and subscriptions to them.

Every orchestrator delivers one stream of ``ExecutionEvent``s, in its own thread, causally
ordered per execution: ``WORKFLOW_STARTED`` first, then step/node events in the order the run
recorded them, then exactly one terminal event (``WORKFLOW_COMPLETED``, ``WORKFLOW_FAILED`` or
``WORKFLOW_CANCELLED``). The one kind that can follow it is ``LATE_OUTCOME``: a step the
execution abandoned while it ran (cancel, timeout) that returned after the end; a subscription
to one execution has ended by then, so subscribe to every execution to get those. Its Qt
signals, the ``WorkflowExecution`` handles and the widgets are all subscribers of that stream;
applications subscribe the same way::

    def on_event(event: ExecutionEvent) -> None:
        if event.kind is EventKind.TASK_COMPLETED:
            status_bar.showMessage(f"{event.step} done")

    subscription = orchestrator.subscribe(on_event, execution_id, [EventKind.TASK_COMPLETED])

Events of a kind nobody subscribes to (and no signal is connected for) are never built, so a
subscription made after an execution started does not see what happened before it.

This module is pure Python: the stream itself (``qtforge_orch._engine.events.EventPump``)
lives in the engine.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from enum import IntEnum
from types import MethodType
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .errors import PluginError


class EventKind(IntEnum):
    """What an event reports. ``TASK_*`` events are about one step (v1) or node (v2)."""

    WORKFLOW_STARTED = 0
    WORKFLOW_COMPLETED = 1
    WORKFLOW_FAILED = 2
    WORKFLOW_CANCELLED = 3
    TASK_STARTED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    TASK_RETRYING = 7
    PROGRESS = 8
    PAUSED = 9
    RESUMED = 10
    #: Streaming item counters, sampled while the execution runs and sent when they change.
    ITEM_COUNTS = 11
    #: EventDriven event counters, sampled while the execution runs and sent when they change.
    EVENT_COUNTS = 12
    #: What came of an attempt the execution abandoned while it ran (cancelled, timed out)
    #: and that returned anyway, once that is settled (its late success undone by the
    #: rollback step, kept, or a late failure recorded). It may come after the terminal event.
    LATE_OUTCOME = 13


#: Exactly one of these ends every execution; nothing of that execution follows it but
#: ``LATE_OUTCOME`` events, which only subscribers of every execution get then.
TERMINAL_KINDS = frozenset(
    {EventKind.WORKFLOW_COMPLETED, EventKind.WORKFLOW_FAILED, EventKind.WORKFLOW_CANCELLED}
)
_TASK_KINDS = frozenset(
    {
        EventKind.TASK_STARTED,
        EventKind.TASK_COMPLETED,
        EventKind.TASK_FAILED,
        EventKind.TASK_RETRYING,
        EventKind.LATE_OUTCOME,
    }
)


class ExecutionEvent(NamedTuple):
    """One event of one execution.

    ``args`` are exactly the arguments of the orchestrator's signal for the kind (the execution
    id first); the properties name them. A property that does not apply to the event's kind
    gives its empty value (``""``, ``{}``, ``0``).
    """

    kind: EventKind
    args: tuple[Any, ...]
    execution_id: str
    terminal: bool = False
    #: The journal record the event reports (0: none); it is delivered once that is committed.
    seq: int = 0
    #: Terminal events only: the finished execution's engine record, opaque to applications.
    #: The orchestrator reads the final step states from it (no status call after the end).
    source: Any = None
    #: ``TASK_FAILED``, ``TASK_RETRYING`` (the error retried), ``WORKFLOW_FAILED`` and a late
    #: failure's ``LATE_OUTCOME``: the ``PluginError`` itself, with its code, the exception's
    #: type, message and traceback (``context``) and the exception (``exception``); None for
    #: the other kinds.
    error: PluginError | None = None

    @property
    def workflow_id(self) -> str:
        """``WORKFLOW_STARTED``: the id of the workflow being run."""
        return str(self.args[1]) if self.kind is EventKind.WORKFLOW_STARTED else ""

    @property
    def step(self) -> str:
        """``TASK_*`` and ``LATE_OUTCOME``: the step (v1) or node (v2) id."""
        return str(self.args[1]) if self.kind in _TASK_KINDS else ""

    @property
    def output(self) -> dict[str, Any]:
        """``TASK_COMPLETED``: the step's output (a Streaming node's item counters)."""
        if self.kind is EventKind.TASK_COMPLETED:
            value = self.args[2]
            return value if isinstance(value, dict) else {"value": value}
        return {}

    @property
    def message(self) -> str:
        """``TASK_FAILED`` and ``WORKFLOW_FAILED``: the error message."""
        if self.kind is EventKind.TASK_FAILED:
            return str(self.args[2])
        if self.kind is EventKind.WORKFLOW_FAILED:
            return str(self.args[1])
        return ""

    @property
    def retry(self) -> int:
        """``TASK_RETRYING``: the number of the retry about to happen (1-based)."""
        return int(self.args[2]) if self.kind is EventKind.TASK_RETRYING else 0

    @property
    def progress(self) -> float:
        """``PROGRESS``: 0.0 to 1.0."""
        return float(self.args[1]) if self.kind is EventKind.PROGRESS else 0.0

    @property
    def result(self) -> dict[str, Any]:
        """``WORKFLOW_COMPLETED``: the final data."""
        if self.kind is EventKind.WORKFLOW_COMPLETED:
            value = self.args[1]
            return value if isinstance(value, dict) else {}
        return {}

    @property
    def late_outcome(self) -> dict[str, Any]:
        """``LATE_OUTCOME``: the abandoned attempt's entry of the status's ``late_outcomes``.

        That is ``step_id`` (v1) or ``node_id`` (v2), ``attempt``, ``outcome``,
        ``returned_at``, ``rollback`` and, when there are any, ``error``, ``error_info`` and
        ``rollback_error``.
        """
        if self.kind is EventKind.LATE_OUTCOME:
            entry: dict[str, Any] = self.args[2]
            return entry
        return {}

    @property
    def item_counts(self) -> dict[str, dict[str, int]]:
        """``ITEM_COUNTS``: ``{node: {items_in, items_out, items_dropped, items_failed}}``."""
        if self.kind is EventKind.ITEM_COUNTS:
            counts: dict[str, dict[str, int]] = self.args[1]
            return counts
        return {}

    @property
    def event_counts(self) -> dict[str, int]:
        """``EVENT_COUNTS``: ``{events_received, events_completed, events_failed}``."""
        if self.kind is EventKind.EVENT_COUNTS:
            counts: dict[str, int] = self.args[1]
            return counts
        return {}

    @property
    def node_runs(self) -> dict[str, dict[str, float]]:
        """``EVENT_COUNTS``: per node that ran, ``{runs, failed_runs, run_ms, last_ms}``.

        The runs that ended, those that failed, their total time and the latest one's (ms).
        """
        if self.kind is EventKind.EVENT_COUNTS:
            runs: dict[str, dict[str, float]] = self.args[2]
            return runs
        return {}


Subscriber = Callable[[ExecutionEvent], object]


class Subscription:
    """One subscriber of an orchestrator's event stream (``orchestrator.subscribe``).

    It lasts until ``cancel()``, until its callback's object is gone (bound methods are held
    weakly unless ``weak=False`` was given; a deleted QObject counts as gone) or, for a
    subscription to one execution, until that execution's terminal event was delivered.
    """

    __slots__ = (
        "_active",
        "_callback",
        "_function",
        "_qt_bound",
        "_remove",
        "_target",
        "execution_id",
        "kinds",
    )

    def __init__(
        self,
        callback: Subscriber,
        weak: bool,
        qt_bound: bool,
        kinds: frozenset[EventKind],
        execution_id: str | None,
        remove: Callable[[Subscription], None],
    ) -> None:
        # Held strongly in ``_callback``, or, for a weakly held bound method, as a weak
        # reference to its object and the plain function: the stream calls
        # ``_function(target, event)``, which costs no bound method per event.
        self._callback: Subscriber | None = None
        self._target: weakref.ref[Any] | None = None
        self._function: Callable[[Any, ExecutionEvent], object] | None = None
        if weak and isinstance(callback, MethodType):
            self._target = weakref.ref(callback.__self__)
            self._function = callback.__func__
        else:
            self._callback = callback
        #: The kinds delivered to this subscriber.
        self.kinds = kinds
        #: The execution followed, or None for every execution.
        self.execution_id = execution_id
        # The weakly held object is a Qt object: checked for deletion before each call.
        self._qt_bound = qt_bound
        self._remove = remove
        self._active = True

    def callback(self) -> Subscriber | None:
        """The subscriber's callable, or None once it has been collected or has ended."""
        if self._callback is not None or self._target is None or self._function is None:
            return self._callback
        target = self._target()
        return None if target is None else MethodType(self._function, target)

    def is_active(self) -> bool:
        """Whether events are still delivered to it."""
        return self._active

    def cancel(self) -> None:
        """Stop delivering events to it (any thread; doing it twice is harmless)."""
        if self._active:
            self._ended()
            self._remove(self)

    def _ended(self) -> None:
        """The stream has dropped it (its execution ended, its object is gone, cancelled)."""
        self._active = False
        self._callback = None
        self._target = None
        self._function = None

    def __repr__(self) -> str:
        scope = self.execution_id or "every execution"
        state = "active" if self._active else "ended"
        kinds = ", ".join(kind.name for kind in sorted(self.kinds))
        return f"<Subscription {state}: {scope}; {kinds}>"


__all__ = ["TERMINAL_KINDS", "EventKind", "ExecutionEvent", "Subscriber", "Subscription"]
