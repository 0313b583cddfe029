"""Delivers engine events as Qt signals in the orchestrator's own thread.

Workers append to one queue; the first append after a drain posts a single queued wake-up, so a
burst of N events costs one thread hop instead of N (about 45 us each here). Drains run under a
time budget so a flood of tiny steps cannot stall the GUI thread. Progress is coalesced to the
latest value per execution and flushed before that execution's terminal event, so slots never
see progress after completion. Nothing else is ever dropped or reordered.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from enum import IntEnum
from typing import Any, NamedTuple

from PySide6.QtCore import (
    QAbstractEventDispatcher,
    QCoreApplication,
    QEvent,
    QObject,
    QTimer,
    Signal,
)

from .._log import logger

# Nothing here touches PySide6's ``Qt`` namespace, which PySide6 builds whole on first touch
# (14 ms of every cold start): no explicit QueuedConnection. The wake-up needs none
# (see ``__init__``); ``call_soon`` posts an event of its own type, always queued.
_CALL_EVENT = QEvent.Type(QEvent.registerEventType())

DRAIN_BUDGET_S = 0.002
WAIT_SLICE_S = 0.01
# How long a synchronous wait that saw its execution end waits for the journal to commit the
# execution's records (a full, locked or failing disk retries for ever); past it the wait
# returns and the caller reports the journal's error (``Engine.journal_lag``).
JOURNAL_FLUSH_BOUND_S = 5.0


class EventKind(IntEnum):
    """What the engine reports; each orchestrator maps every kind it has to its signals once
    (v1 steps, v2 nodes, QtForge's header aliases)."""

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


class Event(NamedTuple):
    kind: EventKind
    args: tuple[Any, ...]
    execution_id: str
    terminal: bool = False
    # The journal record this event reports (0: none); delivered only once it is committed.
    seq: int = 0
    # TASK_FAILED, TASK_RETRYING, WORKFLOW_FAILED: the PluginError (its code, exception type
    # and traceback), for whoever logs events; the signals carry only its message.
    error: Any = None


Dispatch = Callable[[EventKind, tuple[Any, ...]], None]


class EventPump(QObject):
    _wake = Signal()

    def __init__(self, dispatch: Dispatch, parent: QObject) -> None:
        super().__init__(parent)
        self._dispatch = dispatch
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
        # True while the owner thread is blocked in ``wait_until`` (a synchronous execution):
        # it needs the GIL only when its wait slice ends, so drainers need not hand the GIL
        # over every millisecond for its sake (each hand-over costs ~50-80 us here: a sleep
        # lasts at least the kernel's timer slack).
        self.blocked = False
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
        with self._emit_lock:
            self._closed = True
        self._events.clear()
        with self._cond:
            self._progress.clear()

    def post(self, event: Event) -> None:
        # deque.append is atomic, so the hot path takes no lock; only the idle -> pending
        # transition of the wake-up flag does (see drain for the other half of that protocol).
        if self._closed:
            return
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
                    self._emit(EventKind.PROGRESS, (event.execution_id, flush))
            self._emit(event.kind, event.args)
            if deadline is not None and time.monotonic() > deadline:
                # Yield to the event loop. A zero timer, not a posted event, continues where we
                # stopped: timers that are already due (the GUI's own) get to run first.
                self._resume.start()
                return
        for execution_id, value in progress.items():
            self._emit(EventKind.PROGRESS, (execution_id, value))

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
        delivering events every few milliseconds; returns whether ``done`` was set.

        Waking on every event would ping-pong the GIL with the worker producing them (a thread
        hop each); delivering in slices keeps signals flowing at a fraction of the cost."""
        while True:
            slice_s = WAIT_SLICE_S
            if deadline is not None:
                slice_s = max(0.0, min(slice_s, deadline - time.monotonic()))
            self.blocked = True
            try:
                finished = done.wait(slice_s)
            finally:
                self.blocked = False
            if finished and self._flush_journal is not None:
                # A synchronous execution returns after its signals: wait for their records,
                # within the caller's deadline and the flush bound.
                bound = JOURNAL_FLUSH_BOUND_S
                if deadline is not None:
                    bound = min(bound, max(0.0, deadline - time.monotonic()))
                self._flush_journal(bound)
            self.drain(None)
            if finished:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return done.is_set()

    def _emit(self, kind: EventKind, args: tuple[Any, ...]) -> None:
        try:
            self._dispatch(kind, args)
        except Exception:  # a broken slot must not break delivery to the others
            logger("engine").exception("a slot connected to %s raised", kind.name.lower())
