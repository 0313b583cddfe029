"""Delivers engine events to their subscribers in the orchestrator's own thread.

Workers append to one queue; the first append after a drain posts a single queued wake-up, so a
burst of N events costs one thread hop instead of N (about 45 us each here). Drains run under a
time budget so a flood of tiny steps cannot stall the GUI thread. Progress is coalesced to the
latest value per execution and flushed before that execution's terminal event, so nobody sees
progress after completion. Nothing else is ever dropped or reordered.

Everything that follows an execution subscribes here (``subscribe``): the orchestrator's Qt
signals (one subscription per connected signal), ``WorkflowExecution`` handles, the widgets
and applications. A subscription takes every execution or one (it ends after that execution's
terminal event) and a set of kinds; ``listened`` is the union of the kinds wanted, which the
run shell checks before it builds a step event, so an event nobody wants is never built. A
subscriber that raises is logged and the others still get the event.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable

from PySide6.QtCore import (
    QAbstractEventDispatcher,
    QCoreApplication,
    QEvent,
    QObject,
    QTimer,
    Signal,
)

from ..events import EventKind, Subscriber, Subscription
from ..events import ExecutionEvent as Event
from .event_subscribers import (
    KindSet,
    SubscriberTable,
    deliver,
    deliver_weakly,
    subscriber_raised,
)
from .ringing_event import RingingEvent

# Nothing here touches PySide6's ``Qt`` namespace, which PySide6 builds whole on first touch
# (14 ms of every cold start): no explicit QueuedConnection. The wake-up needs none
# (see ``__init__``); ``call_soon`` posts an event of its own type, always queued.
_CALL_EVENT = QEvent.Type(QEvent.registerEventType())

DRAIN_BUDGET_S = 0.002
WAIT_SLICE_S = 0.01  # a synchronous wait woken by an event lets more gather this long
# How long a synchronous wait that saw its execution end waits for the journal to commit its
# records (a full or failing disk retries for ever); then it returns (``Engine.journal_lag``).
JOURNAL_FLUSH_BOUND_S = 5.0


class EventPump(QObject):
    _wake = Signal()

    def __init__(self, parent: QObject, listened: KindSet) -> None:
        super().__init__(parent)
        self._table = SubscriberTable(listened)
        self.listened = listened
        self._events: deque[Event] = deque()
        self._progress: dict[str, float] = {}
        self._cond = threading.Condition(threading.Lock())
        self._wake_pending = False
        self._owner_ident = threading.get_ident()  # the pump is made in its owner's thread
        # Set when the orchestrator is destroyed: nothing can be delivered any more. Other
        # threads emit the wake-up only under ``_emit_lock`` after checking it, and the
        # orchestrator's ``destroyed`` (emitted before its children, this pump among them, are
        # deleted) sets it under the same lock: no emit can be under way while the pump's C++
        # object goes, which would crash the process rather than raise.
        self._closed = False
        self._emit_lock = threading.Lock()
        pump_ref = weakref.ref(self)

        def owner_destroyed(*_: object) -> None:
            pump = pump_ref()
            if pump is not None:
                pump.close()

        parent.destroyed.connect(owner_destroyed)
        # True while the owner thread delivers signals: each emit releases and re-takes the
        # GIL, so drainers hand it back after every task instead of every millisecond.
        self.draining = False
        # True while the owner thread sleeps in ``wait_until`` (a synchronous execution): it
        # needs the GIL only when it wakes, so drainers need not hand the GIL over every
        # millisecond for its sake (each hand-over costs ~50-80 us here).
        self.blocked = False
        # What ``wait_until`` sleeps on (``_waiters`` nested waits): rung by a wake-up request
        # (an event posted, a journal commit with events held) and by a ``RingingEvent``.
        self._bell = threading.Event()
        self._waiters = 0
        # A child timer, not QTimer.singleShot with a callable: it dies with the pump, so a
        # pending continuation can never fire into a deleted orchestrator.
        self._resume = QTimer(self)
        self._resume.setSingleShot(True)
        self._resume.setInterval(0)
        self._resume.timeout.connect(self._on_wake)
        # The wake-up only arms that zero timer (QTimer.start itself: no Python in the posted
        # event). Draining from the posted event put the drain in the same sendPostedEvents
        # pass as everything else posted then (a run's start, the window's paint); a timer
        # drains between those passes. An automatic connection is enough: emitted from a
        # worker it is queued to the timer's thread, and emitted in the owner thread it
        # starts the timer at once, which never drains on the spot either.
        self._wake.connect(self._resume.start)
        # call_soon's functions, one posted event each, run in posting order.
        self._calls: deque[Callable[[], None]] = deque()
        # Durable executions: events wait until the journal has committed their record.
        self._committed: Callable[[], int] | None = None
        self._flush_journal: Callable[[float | None], bool] | None = None

    def set_gate(self, committed: Callable[[], int], flush: Callable[[float | None], bool]) -> None:
        """Deliver an event only once ``committed()`` has reached its ``seq``."""
        self._flush_journal = flush
        self._committed = committed

    def wake_for_commit(self) -> None:
        """(any thread) The journal committed more: events held for it may go."""
        if not self._closed and self._events:
            self._request_wake()

    # --- any thread -------------------------------------------------------------------
    def close(self) -> None:
        """The orchestrator is going: nothing more is delivered, every subscription ends.

        The runs are cancelled and their own terminal events dropped, so each execution still
        followed ends for its subscribers here, in the owner thread: a ``WORKFLOW_CANCELLED``
        terminal event without a run (``source`` None) is delivered to the subscribers of that
        execution that take it (handles finish ``cancelled`` with the reason).
        """
        with self._emit_lock:
            self._closed = True
        self._events.clear()
        with self._cond:
            self._progress.clear()
        everywhere, scoped = self._table.close()
        for sub in everywhere:
            sub._ended()
        in_owner = threading.get_ident() == self._owner_ident
        for execution_id, subs in scoped.items():
            end = Event(EventKind.WORKFLOW_CANCELLED, (execution_id,), execution_id, True)
            for sub in subs:
                if in_owner and sub.is_active() and end.kind in sub.kinds:
                    deliver(sub, end)
                sub._ended()

    # --- subscribers (any thread) -------------------------------------------------------
    def subscribe(
        self,
        callback: Subscriber,
        kinds: Iterable[EventKind],
        execution_id: str | None = None,
        *,
        weak: bool = True,
        still_open: Callable[[], bool] | None = None,
    ) -> Subscription:
        """Deliver the events of ``kinds`` (of one execution, or of all) to ``callback``.

        With ``weak`` a bound method is held through a weak reference (a deleted QObject
        counts as gone); anything else is held until the subscription ends. ``still_open``
        (checked with the subscribers locked, so no terminal event is delivered meanwhile)
        says whether the execution can still report anything; when it cannot, the
        subscription is returned ended.
        """
        return self._table.subscribe(callback, kinds, execution_id, weak, still_open)

    def terminal_queued(self, execution_id: str) -> bool:
        """Whether ``execution_id``'s terminal event is posted and not yet delivered."""
        return execution_id in self._table.terminals_queued

    def wants(self, kind: EventKind, execution_id: str) -> bool:
        """Whether some subscriber would get an event of ``kind`` of ``execution_id``."""
        return self._table.wants(kind, execution_id)

    def post(self, event: Event) -> None:
        # deque.append is atomic, so the hot path takes no lock; only the idle -> pending
        # transition of the wake-up flag does (see drain for the other half of that protocol).
        if self._closed:
            return
        if event.terminal:
            self._table.terminals_queued.add(event.execution_id)
        self._events.append(event)
        if not self._wake_pending:
            self._request_wake()

    def post_progress(self, execution_id: str, progress: float) -> None:
        if self._closed:
            return
        with self._cond:
            self._progress[execution_id] = progress
        if not self._wake_pending:
            self._request_wake()

    def _request_wake(self) -> None:
        with self._cond:
            if self._wake_pending:
                return
            self._wake_pending = True
        if self._waiters:
            self._bell.set()  # the owner thread sleeps in ``wait_until``: it delivers
        try:
            # In the owner thread the wake-up starts the timer directly; with no event
            # dispatcher there (a plain script without a QCoreApplication: no loop can ever
            # run) that only makes Qt warn. Synchronous waits deliver the events; a later post
            # tries again. Other threads' emits are queued and need no check, and must not
            # touch the pump itself (it may be being destroyed in its own thread).
            if (
                threading.get_ident() == self._owner_ident
                and QAbstractEventDispatcher.instance() is None
            ):
                with self._cond:
                    self._wake_pending = False
                return
            with self._emit_lock:
                if not self._closed:
                    self._wake.emit()
        except RuntimeError:  # the wrapper was already invalidated
            self._closed = True

    def call_soon(self, function: Callable[[], None]) -> None:
        """Run ``function`` in the owner thread from its event loop (dropped by Qt if the
        orchestrator is gone by then)."""
        if self._closed:
            return
        self._calls.append(function)
        try:
            with self._emit_lock:
                if not self._closed:
                    QCoreApplication.postEvent(self, QEvent(_CALL_EVENT))
        except RuntimeError:
            self._closed = True

    # --- owner thread only ------------------------------------------------------------
    def customEvent(self, event: QEvent) -> None:
        if event.type() == _CALL_EVENT:
            self._calls.popleft()()

    def _on_wake(self) -> None:
        self.drain(DRAIN_BUDGET_S)

    def drain(self, budget_s: float | None = None) -> None:
        if self._closed:
            return
        self.draining = True
        try:
            self._drain(budget_s)
        finally:
            self.draining = False

    def _drain(self, budget_s: float | None) -> None:
        deadline = None if budget_s is None else time.monotonic() + budget_s
        events = self._events
        committed = self._committed
        while True:
            try:
                event = events.popleft()
                if event.seq and committed is not None and event.seq > committed():
                    events.appendleft(event)
                    if self._hold_for_commit(event.seq):
                        return
                    continue
            except IndexError:
                with self._cond:
                    if events:
                        continue
                    self._wake_pending = False
                    if events:
                        # A post appended after our check but saw the flag still set: it
                        # relies on this drain, so keep going.
                        self._wake_pending = True
                        continue
                    progress, self._progress = self._progress, {}
                break
            if event.terminal:
                with self._cond:
                    flush = self._progress.pop(event.execution_id, None)
                if flush is not None:
                    self._progress_event(event.execution_id, flush)
            self._dispatch(event)
            if deadline is not None and time.monotonic() > deadline:
                # Yield to the event loop. A zero timer, not a posted event, continues where we
                # stopped: timers that are already due (the GUI's own) get to run first.
                self._resume.start()
                return
        for execution_id, value in progress.items():
            self._progress_event(execution_id, value)

    def _hold_for_commit(self, seq: int) -> bool:
        """Stop delivering until the journal commits ``seq``; False if it already has."""
        assert self._committed is not None
        with self._cond:
            self._wake_pending = False
        # The commit listener wakes the pump; a commit that landed before the flag was
        # cleared found it set and woke no one, so look again.
        if seq <= self._committed():
            with self._cond:
                self._wake_pending = True
            return False
        return True

    def wait_until(self, done: threading.Event, deadline: float | None = None) -> bool:
        """Block the owner thread until ``done`` or the ``time.monotonic()`` deadline,
        delivering the events posted meanwhile; returns whether ``done`` was set.

        The thread sleeps until there is something to do: ``done`` set (a ``RingingEvent``
        rings the pump's bell) or an event to deliver (its wake-up request rings the bell
        too), so a wait with nothing to deliver costs no wake-ups. An event wakes it, and it
        lets the events that follow gather for ``WAIT_SLICE_S`` (waking early only for
        ``done``) before it delivers them: waking for every event would ping-pong the GIL
        with the worker producing them (a thread hop each). An Event that cannot ring is
        looked at every slice."""
        bell = self._bell
        ringing = done if isinstance(done, RingingEvent) else None
        previous = None
        if ringing is not None:
            previous, ringing.ring = ringing.ring, bell.set
        self._waiters += 1
        try:
            while True:
                bell.clear()
                finished = done.is_set()
                if finished and self._flush_journal is not None:
                    # A synchronous execution returns after its signals: wait for their
                    # records, within the caller's deadline and the flush bound.
                    bound = JOURNAL_FLUSH_BOUND_S
                    if deadline is not None:
                        bound = min(bound, max(0.0, deadline - time.monotonic()))
                    self._flush_journal(bound)
                self.drain(None)
                if finished:
                    return True
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return done.is_set()
                self.blocked = True
                try:
                    if ringing is None or (bell.wait(left) and not done.is_set()):
                        if deadline is not None:
                            left = deadline - time.monotonic()
                        done.wait(
                            WAIT_SLICE_S if left is None else max(0.0, min(WAIT_SLICE_S, left))
                        )
                finally:
                    self.blocked = False
        finally:
            self._waiters -= 1
            if ringing is not None:
                ringing.ring = previous

    def _progress_event(self, execution_id: str, value: float) -> None:
        self._dispatch(Event(EventKind.PROGRESS, (execution_id, value), execution_id))

    def _dispatch(self, event: Event) -> None:
        # The hot loop of delivery (thousands of events a second in the owner thread): a
        # strongly held callback is called right here; the subscription's fields are read
        # directly rather than through its methods.
        table = self._table
        everywhere = table.everywhere.get(event.kind)
        if everywhere is not None:
            for sub in everywhere:
                callback = sub._callback
                if callback is None:
                    deliver_weakly(sub, event)
                    continue
                try:
                    callback(event)
                except Exception:  # a broken subscriber must not stop delivery to the others
                    subscriber_raised(event)
        scoped = table.scoped.get(event.execution_id)
        if scoped is not None:
            kind = event.kind
            for sub in scoped:
                if kind not in sub.kinds:
                    continue
                callback = sub._callback
                if callback is None:
                    deliver_weakly(sub, event)
                    continue
                try:
                    callback(event)
                except Exception:
                    subscriber_raised(event)
        if event.terminal:
            table.end_execution(event.execution_id)


# The event types are public (``qtforge_orch.events``); the engine posts them under these names.
__all__ = [
    "DRAIN_BUDGET_S",
    "JOURNAL_FLUSH_BOUND_S",
    "WAIT_SLICE_S",
    "Event",
    "EventKind",
    "EventPump",
]
