"""The process executor: CPU-bound steps on a maintained pool of spawned worker processes.

Each slot is one worker process (``process_workers``); a busy worker already holds the next
call, so it starts that call as soon as the current one returns (``process_slots``). A timeout
or cancel stays precise: a call its worker has not started is withdrawn and never runs; a
running one is stopped by killing exactly its worker, and only that slot starts a fresh worker
(lazily, on its next call). Every other step keeps running.

Workers never outlive the application: each one ends when its parent process does, however
it ends (``remote.end_with_parent``), and multiprocessing's resource tracker follows once the
application and its workers are gone (it exits when the last of them closes its pipe).
"""

from __future__ import annotations

import os
import pickle
import threading
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any

from ...contract.context import StepContext
from ...contract.outcome import Outcome
from ...contract.plan import TaskSpec
from ..invoke import PluginLookup
from .process_claims import QUEUED, WITHDRAWN_REPLY
from .process_slots import Slot, Slots, Ticket, Waker
from .protocol import ExitShutdown, cancelled, failed, from_reply
from .shipping import Shipper

# How often one call is sent again after its worker died before starting it (a worker that
# cannot even start would otherwise be replaced for ever).
LOST_SENDS = 3

# ``_await``'s answers other than an outcome: the call is to be sent again.
_MOVED: Any = object()  # withdrawn before it started: not the call's fault
_LOST: Any = object()  # its worker died before it started

_wakers = threading.local()


def _waker() -> Waker:
    try:
        waker: Waker = _wakers.waker
    except AttributeError:
        waker = _wakers.waker = Waker()
    return waker


# concurrent.futures joins its pools in a threading-shutdown hook that waits for running work,
# so a stuck plugin would hold the interpreter's exit: this one (newer, so it runs first) kills
# the workers before.
_at_exit = ExitShutdown(0.0)


class ProcessExecutor:
    """Runs steps in spawned worker processes (``workers`` of them, default: CPU count)."""

    name = "process"

    def __init__(self, plugins: PluginLookup, workers: int | None = None) -> None:
        self.size = max(1, workers or os.cpu_count() or 2)
        self._shipper = Shipper(
            plugins, partial(pickle.dumps, protocol=pickle.HIGHEST_PROTOCOL), self.name
        )
        self._slots = Slots(self.size)
        _at_exit.track(self)
        _at_exit.install()

    def call(
        self,
        task: TaskSpec,
        params: dict[str, Any],
        context: StepContext,
        *,
        allow_stream: bool = False,
    ) -> Outcome:
        shipped = self._shipper.ship(task.plugin_id)
        if not isinstance(shipped, tuple):
            return Outcome(error=shipped)
        waker = _waker()
        waker.watch(context)
        args = shipped.call_args(task, params, allow_stream)
        try:
            return self._call(task, args, context, waker)
        finally:
            if not allow_stream:
                waker.hooked = None  # the attempt is over: do not keep its context alive

    def _call(
        self, task: TaskSpec, args: tuple[Any, ...], context: StepContext, waker: Waker
    ) -> Outcome:
        slots = self._slots
        slot: Slot | None = None
        lost = 0
        while True:
            if slot is None:
                slot = slots.take(waker, context)
                if slot is None:
                    return cancelled(task)
            if context.is_cancelled():
                slots.untake(slot)
                return cancelled(task)
            sent = slots.send(slot, args, waker.event.set)
            if not isinstance(sent, Ticket):
                return failed(context, task, self.name, f"could not start a worker: {sent}")
            answer = self._await(sent, task, context, waker)
            if answer is _MOVED:
                slot = slots.moved_to(sent)
                continue
            if answer is _LOST:
                lost += 1
                if lost <= LOST_SENDS:
                    slot = None
                    continue
                return failed(
                    context,
                    task,
                    self.name,
                    f"{lost} worker processes died before they could start it",
                )
            outcome: Outcome = answer
            return outcome

    def _await(self, ticket: Ticket, task: TaskSpec, context: StepContext, waker: Waker) -> Any:
        """The call's outcome, ``_MOVED`` or ``_LOST``."""
        if not waker.wait_until(ticket.settled, context):
            self._slots.withdraw(ticket)
            return cancelled(task)
        if ticket.moved:
            return _MOVED
        assert ticket.future is not None
        try:
            reply = ticket.future.result()
        except BrokenProcessPool:
            state, codes = self._slots.worker_died(ticket)
            if context.is_cancelled():
                return cancelled(task)
            if state == QUEUED:
                return _LOST
            return failed(
                context,
                task,
                self.name,
                f"the worker process running it died (exit code {codes[0] if codes else '?'})"
                "; a fresh worker takes the slot's next step",
            )
        except Exception as exc:  # inputs or outputs that do not pickle, mostly
            return failed(context, task, self.name, f"{type(exc).__name__}: {exc}")
        if reply == WITHDRAWN_REPLY:  # withdrawn by the executor: ``moved`` says so first
            return _MOVED
        return from_reply(task, reply)

    def worker_pids(self) -> list[int]:
        """The pids of the live worker processes (for diagnostics and tests)."""
        return [pid for worker in self._slots.workers() for pid in worker.pids()]

    def unanswered(self) -> int:
        """How many calls were sent to workers and not answered yet (diagnostics, tests)."""
        return self._slots.unanswered()

    def shutdown(self, timeout: float) -> bool:
        """Kill every worker; steps still running fail (their runs were cancelled first by
        ``Engine.shutdown``). Slots stay usable: a later step starts a worker again."""
        self._slots.kill_all()
        return True
