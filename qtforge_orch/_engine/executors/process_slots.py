"""Which worker runs a call next: one call running and one queued ahead per worker.

A worker that is busy may already hold the next call (its pool's call queue has room for it),
so it starts that call the moment the current one returns, without a round trip through the
parent. The parent can still take a queued call back: every call claims its place in the
worker before it runs (``process_claims``), and the parent withdraws an unclaimed one under
the same lock. That is how a queued call that is cancelled or timed out never runs, how a call
queued behind a long one moves to a worker that became free, and how a call queued on a worker
that died is sent again, never lost.

Each slot (one per worker process) holds at most ``PLACES`` calls, counted in ``load`` from
the moment a drainer takes the slot (``take``) until the worker answers the call (or dies).
A free slot goes to the drainers waiting for one, first come, first served; among slots with
room, an idle one comes first (the one freed last: busy workers stay warm, idle ones are not
started), then the one whose running call was sent earliest (likely to end first).
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any

from ...contract.context import StepContext
from .process_claims import FINISHED, PLACES, QUEUED, STARTED, WITHDRAWN, run_claimed
from .process_workers import Worker

# How long the parent waits for a worker's gate: the worker holds it for a few bytecodes, but
# one killed from outside while holding it never gives it back.
GATE_WAIT_S = 1.0

Wake = Callable[[], None]


class Waker:
    """What a drainer thread blocked in the executor sleeps on: set when its call's answer
    arrives, when a slot is handed to it, when its call is moved, or when its attempt is
    cancelled. A drainer wakes for those and nothing else, so a running step costs the parent
    process no CPU."""

    __slots__ = ("event", "hooked", "slot")

    def __init__(self) -> None:
        self.event = threading.Event()
        # The context whose cancellation sets ``event``: a stream stage calls once per item
        # with the same context, and one hook covers them all.
        self.hooked: StepContext | None = None
        self.slot: Slot | None = None

    def watch(self, context: StepContext) -> None:
        if self.hooked is not context:
            context.add_cancel_hook(self.event.set)
            self.hooked = context

    def wait_until(self, ready: Callable[[], bool], context: StepContext) -> bool:
        """Block until ``ready()`` (True) or ``context`` is cancelled (False).

        Wake-ups from an earlier call (its late answer, its context cancelled afterwards) only
        cost a look: each condition is checked after the event was cleared, and whoever makes
        one true sets the event after doing so."""
        event = self.event
        while True:
            if ready():
                return True
            if context.is_cancelled():
                return False
            event.wait()
            event.clear()


class SlotWorker(Worker):
    """A slot's worker with the calls sent to it (``Slots``' bookkeeping, under its lock)."""

    __slots__ = ("detached", "free", "tickets")

    def __init__(self) -> None:
        super().__init__()
        self.free = list(range(PLACES))  # places no unanswered call holds
        self.tickets: list[Ticket] = []  # calls sent and not answered yet, oldest first
        self.detached = False  # killed or dead: its slot has a new worker


class Ticket:
    """One call sent to a worker: its place there, its future, and whether it was moved."""

    __slots__ = ("claim", "future", "moved", "moved_to", "order", "slot", "wake", "worker")

    def __init__(self, worker: SlotWorker, slot: Slot, claim: int, order: int, wake: Wake) -> None:
        self.worker = worker
        self.slot = slot
        self.claim = claim
        self.order = order
        self.wake = wake
        self.future: Future[Any] | None = None
        # Withdrawn by the executor before it started (its worker died or was killed, or
        # another worker became free): the drainer sends it again, to ``moved_to`` if set
        # (a slot already reserved for it).
        self.moved = False
        self.moved_to: Slot | None = None

    def settled(self) -> bool:
        """Moved, or answered."""
        return self.moved or (self.future is not None and self.future.done())


class Slot:
    """A place for one worker process; its worker is replaced after a kill or a death."""

    __slots__ = ("freed", "load", "worker")

    def __init__(self) -> None:
        self.worker = SlotWorker()
        self.load = 0  # slots taken for a call not sent yet + calls sent and not answered
        self.freed = 0  # when its load last fell to zero (an order, not a time)


class Slots:
    """The executor's slots and the calls in them (all bookkeeping under one lock)."""

    def __init__(self, count: int) -> None:
        self._lock = threading.Lock()
        self.slots = [Slot() for _ in range(count)]
        self._waiting: deque[Waker] = deque()
        self._order = itertools.count(1)

    # --- drainer side ----------------------------------------------------------------------
    def take(self, waker: Waker, context: StepContext) -> Slot | None:
        """A slot with room for one more call, waiting for one if need be; None if
        ``context`` is cancelled first. The caller sends a call to it or ``untake``s it."""
        with self._lock:
            slot = self._pick()
            if slot is not None:
                slot.load += 1
                return slot
            waker.slot = None
            self._waiting.append(waker)
        waker.wait_until(lambda: waker.slot is not None, context)
        with self._lock:
            slot, waker.slot = waker.slot, None
            if slot is None:
                self._waiting.remove(waker)
        return slot

    def untake(self, slot: Slot) -> None:
        """A taken slot that will not get its call."""
        with self._lock:
            slot.load -= 1
            wakes = self._freed(slot)
        _ring(wakes)

    def send(self, slot: Slot, args: tuple[Any, ...], wake: Wake) -> Ticket | Exception:
        """Send a call to ``slot``'s worker (started if need be): its ticket, or why it could
        not be sent (the slot is then given back). A worker found dead when the call is
        handed over is replaced once: the call never reached it."""
        for attempt in range(2):
            placed = self._place(slot, wake)
            if isinstance(placed, Exception):
                return placed
            ticket, pool = placed
            try:
                future = pool.submit(run_claimed, ticket.claim, *args)
            except Exception as exc:  # a broken pool, or the interpreter shutting down
                worker = ticket.worker
                with self._lock:
                    moved = ticket.moved  # its worker was killed meanwhile: send it again
                    wakes = []
                    if not moved:
                        # The slot stays taken for this call; the worker is replaced.
                        worker.tickets.remove(ticket)
                        worker.free.append(ticket.claim)
                        wakes = self._detach(worker)
                _ring(wakes)
                worker.reap()
                if moved:
                    return ticket
                if attempt == 0 and isinstance(exc, BrokenProcessPool):
                    continue
                self.untake(slot)
                return exc
            ticket.future = future
            future.add_done_callback(partial(self._answered, ticket))
            return ticket
        raise AssertionError("unreachable")  # the loop returns on its second pass

    def _place(self, slot: Slot, wake: Wake) -> tuple[Ticket, ProcessPoolExecutor] | Exception:
        """A place on ``slot``'s started worker for a call (the slot is taken for it)."""
        while True:
            with self._lock:
                worker = slot.worker
            try:
                pool = worker.started()
            except Exception as exc:  # a process that cannot start: the caller fails the call
                self.untake(slot)
                return exc
            with self._lock:
                if not worker.detached:
                    claim = worker.free.pop()
                    ticket = Ticket(worker, slot, claim, next(self._order), wake)
                    worker.tickets.append(ticket)
                    worker.states[claim] = QUEUED  # the worker holds no call with this place
                    return ticket, pool
            worker.reap()  # killed while it started: the slot has a new worker

    def moved_to(self, ticket: Ticket) -> Slot | None:
        """The slot reserved for a moved call, if any (the caller's from now on)."""
        with self._lock:
            slot, ticket.moved_to = ticket.moved_to, None
        return slot

    def withdraw(self, ticket: Ticket) -> None:
        """The call's attempt was cancelled: it must not run. A call its worker has not
        started is withdrawn (the worker skips it); one it runs is stopped the only way Python
        code in another process can be, by killing the worker (whose queued call, if any, is
        sent again elsewhere)."""
        with self._lock:
            if ticket.moved:
                slot, ticket.moved_to = ticket.moved_to, None
                wakes = []
                if slot is not None:
                    slot.load -= 1
                    wakes = self._freed(slot)
                killed = None
            else:
                wakes, killed = self._withdraw_or_kill(ticket)
        _ring(wakes)
        if killed is not None:
            killed.reap()

    def worker_died(self, ticket: Ticket) -> tuple[int, list[int | None]]:
        """The call's worker died: the state its call reached (QUEUED: it never ran) and the
        worker's exit codes. The slot gets a new worker; other calls queued there move."""
        worker = ticket.worker
        with self._lock:
            state = worker.states[ticket.claim]  # no gate: nobody else writes any more
            codes = worker.exit_codes()
            wakes = self._detach(worker)
        _ring(wakes)
        worker.reap()
        return state, codes

    def kill_all(self) -> None:
        """Kill every worker; calls they had not started move (their drainers send them
        again, or see their attempt cancelled)."""
        for slot in self.slots:
            with self._lock:
                worker = slot.worker
                got = worker.gate is not None and worker.gate.acquire(True, GATE_WAIT_S)
                try:
                    wakes = self._detach(worker)
                    worker.kill_processes()
                finally:
                    if got:
                        worker.gate.release()
            _ring(wakes)
            worker.reap()

    # --- diagnostics -----------------------------------------------------------------------
    def workers(self) -> list[SlotWorker]:
        with self._lock:
            return [slot.worker for slot in self.slots]

    def unanswered(self) -> int:
        """How many calls were sent to workers and not answered yet."""
        with self._lock:
            return sum(len(slot.worker.tickets) for slot in self.slots)

    # --- bookkeeping (lock held) -----------------------------------------------------------
    def _pick(self) -> Slot | None:
        idle: Slot | None = None
        ahead: Slot | None = None
        ahead_order = math.inf
        for slot in self.slots:
            load = slot.load
            if load == 0:
                if idle is None or slot.freed > idle.freed:
                    idle = slot
            elif load < PLACES:
                tickets = slot.worker.tickets
                order = tickets[0].order if tickets else math.inf
                if ahead is None or order < ahead_order:
                    ahead, ahead_order = slot, order
        return idle if idle is not None else ahead

    def _answered(self, ticket: Ticket, _: Future[Any]) -> None:
        # The future's done-callback: the pool's result thread, or whoever broke the pool.
        with self._lock:
            wakes = self._retire(ticket)
        ticket.wake()
        _ring(wakes)

    def _retire(self, ticket: Ticket) -> list[Wake]:
        """The worker is done with the call: its place is free again."""
        worker = ticket.worker
        if ticket not in worker.tickets:  # its worker was detached: the place went with it
            return []
        worker.tickets.remove(ticket)
        worker.free.append(ticket.claim)
        ticket.slot.load -= 1
        return self._freed(ticket.slot)

    def _freed(self, slot: Slot) -> list[Wake]:
        """``slot`` has room again: hand it to the drainers waiting, else, when idle, move a
        call queued behind another worker's running one to it."""
        wakes: list[Wake] = []
        while slot.load < PLACES and self._waiting:
            waker = self._waiting.popleft()
            waker.slot = slot
            slot.load += 1
            wakes.append(waker.event.set)
        if slot.load == 0:
            slot.freed = next(self._order)
            if slot.worker.is_started() and not slot.worker.detached:
                moved = self._move_to(slot)
                if moved is not None:
                    wakes.append(moved)
        return wakes

    def _move_to(self, slot: Slot) -> Wake | None:
        """Withdraw a call queued behind a running one elsewhere and reserve ``slot`` for it;
        the wake-up of its drainer (None: no such call)."""
        for other in self.slots:
            worker = other.worker
            tickets = worker.tickets
            if other is slot or len(tickets) < PLACES or tickets[-1].moved:
                continue
            ticket = tickets[-1]
            # Not blocking: the worker holds its gate only to claim or finish a call, and
            # then the move is moot anyway.
            if not worker.gate.acquire(False):
                continue
            try:
                states = worker.states
                if states[tickets[0].claim] != STARTED or states[ticket.claim] != QUEUED:
                    continue
                states[ticket.claim] = WITHDRAWN
            finally:
                worker.gate.release()
            ticket.moved = True
            ticket.moved_to = slot
            slot.load += 1
            return ticket.wake
        return None

    def _withdraw_or_kill(self, ticket: Ticket) -> tuple[list[Wake], SlotWorker | None]:
        worker = ticket.worker
        if ticket not in worker.tickets:  # answered, or its worker is gone already
            return [], None
        got = worker.gate.acquire(True, GATE_WAIT_S)
        try:
            state = worker.states[ticket.claim]
            if state == QUEUED:
                # The worker skips it and answers; its place comes back with the answer.
                worker.states[ticket.claim] = WITHDRAWN
                return [], None
            if state == FINISHED:  # it returned: nothing runs, its answer is on its way
                return [], None
            # Running. Killed while the gate is held: the worker cannot have moved on to the
            # call queued behind, which is withdrawn first and sent again elsewhere.
            wakes = self._detach(worker)
            worker.kill_processes()
            return wakes, worker
        finally:
            if got:
                worker.gate.release()

    def _detach(self, worker: SlotWorker) -> list[Wake]:
        """``worker`` is killed or dead: its slot gets a new worker; the calls it had not
        started move (withdrawn, so a worker still alive for a moment skips them)."""
        if worker.detached:
            return []
        worker.detached = True
        wakes: list[Wake] = []
        states = worker.states
        for ticket in worker.tickets:
            if states is not None and states[ticket.claim] == QUEUED:
                states[ticket.claim] = WITHDRAWN
                if not ticket.moved:
                    ticket.moved = True
                    wakes.append(ticket.wake)
        for slot in self.slots:
            if slot.worker is worker:
                slot.load -= len(worker.tickets)
                worker.tickets = []
                slot.worker = SlotWorker()
                wakes += self._freed(slot)
        return wakes


def _ring(wakes: list[Wake]) -> None:
    for wake in wakes:
        wake()
