"""The process executor: CPU-bound steps on a maintained pool of spawned worker processes.

The pool is ``concurrent.futures.ProcessPoolExecutor`` (spawn context), one single-worker
executor per slot. One worker per slot is what makes a timeout or cancel precise: the drainer
knows which process runs its step and kills exactly that one, and only that slot starts a
fresh worker (lazily, on its next step). Every other step keeps running.

Workers never outlive the application: each one ends when its parent process does, however
it ends (``remote.end_with_parent``), and multiprocessing's resource tracker follows once the
application and its workers are gone (it exits when the last of them closes its pipe).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from functools import partial
from typing import Any

from ...contract.context import StepContext
from ...contract.outcome import Outcome
from ...contract.plan import TaskSpec
from ..invoke import PluginLookup
from .protocol import ExitShutdown, cancelled, failed, from_reply
from .remote import end_with_parent, run_remote
from .shipping import Shipper

KILL_JOIN_S = 2.0


class _Spawner:
    """Starts worker processes from one thread that lives as long as the process.

    A worker's parent-death signal (``remote.end_with_parent``) fires when the *thread* that
    started it ends, not only the process: started from a pool thread, which Qt retires after
    30 s idle, a healthy worker would be killed with it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None

    def run(self, function: Callable[[], Any]) -> Any:
        """``function()`` run on the spawner thread; its result, or what it raised."""
        done: Future[Any] = Future()
        self._requests.put((function, done))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="qtforge-process-spawner", daemon=True
                )
                self._thread.start()
        return done.result()

    def _serve(self) -> None:
        while True:
            function, done = self._requests.get()
            try:
                done.set_result(function())
            except Exception as exc:  # handed to the caller
                done.set_exception(exc)


_spawner = _Spawner()


def _started_pool() -> ProcessPoolExecutor:
    """(spawner thread) A one-worker pool whose worker is already starting: the no-op's submit
    spawns it here, and later submits find it and spawn nothing."""
    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=end_with_parent,
        initargs=(os.getpid(),),
    )
    pool.submit(int)
    return pool


class _Slot:
    """One worker process, started on first use and replaced after it was killed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, *args: Any) -> Future[tuple[Any, ...]]:
        with self._lock:
            if self._pool is None:
                self._pool = _spawner.run(_started_pool)
            return self._pool.submit(run_remote, *args)

    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in _processes(self._pool) if p.pid is not None]

    def exit_codes(self) -> list[int | None]:
        with self._lock:
            return [p.exitcode for p in _processes(self._pool)]

    def kill(self) -> None:
        """Kill the worker (whatever it runs) and reap it; the next submit starts a new one."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = _processes(pool)
        for process in processes:
            with suppress(Exception):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with suppress(Exception):
                process.join(KILL_JOIN_S)  # reaped: its pid is really gone afterwards


def _processes(pool: ProcessPoolExecutor | None) -> list[multiprocessing.process.BaseProcess]:
    # ProcessPoolExecutor has no public way to reach its workers before Python 3.14's
    # terminate_workers()/kill_workers(); ``_processes`` is the attribute those use.
    if pool is None:
        return []
    return list((getattr(pool, "_processes", None) or {}).values())


class _Waker:
    """What a drainer thread blocked in the executor sleeps on: set when its step's result
    arrives, when a free slot is handed to it, or when its attempt is cancelled. A drainer
    wakes for those and nothing else, so a running step costs the parent process no CPU."""

    __slots__ = ("event", "hooked", "slot")

    def __init__(self) -> None:
        self.event = threading.Event()
        # The context whose cancellation sets ``event``: a stream stage calls once per item
        # with the same context, and one hook covers them all.
        self.hooked: StepContext | None = None
        self.slot: _Slot | None = None

    def watch(self, context: StepContext) -> None:
        if self.hooked is not context:
            context.add_cancel_hook(self.event.set)
            self.hooked = context

    def wait_until(self, ready: Callable[[], bool], context: StepContext) -> bool:
        """Block until ``ready()`` (True) or ``context`` is cancelled (False).

        Wake-ups from an earlier step (its late result, its context cancelled afterwards) only
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


_wakers = threading.local()


def _waker() -> _Waker:
    try:
        waker: _Waker = _wakers.waker
    except AttributeError:
        waker = _wakers.waker = _Waker()
    return waker


class _FreeSlots:
    """The slots no step holds: last in, first out (the busiest stay warm, idle ones never
    spawn), handed straight to the drainers waiting for one, first come, first served."""

    def __init__(self, slots: list[_Slot]) -> None:
        self._lock = threading.Lock()
        self._free = list(reversed(slots))
        self._waiting: deque[_Waker] = deque()

    def take(self, waker: _Waker, context: StepContext) -> _Slot | None:
        """A free slot, waiting for one if need be; None if ``context`` is cancelled first."""
        with self._lock:
            if self._free:
                return self._free.pop()
            waker.slot = None
            self._waiting.append(waker)
        waker.wait_until(lambda: waker.slot is not None, context)
        with self._lock:
            slot, waker.slot = waker.slot, None
            if slot is None:
                self._waiting.remove(waker)
        return slot

    def give_back(self, slot: _Slot) -> None:
        with self._lock:
            if not self._waiting:
                self._free.append(slot)
                return
            waker = self._waiting.popleft()
            waker.slot = slot
        waker.event.set()


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
        self._slots = [_Slot() for _ in range(self.size)]
        self._free = _FreeSlots(self._slots)
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
        try:
            slot = self._free.take(waker, context)
            if slot is None:
                return cancelled(task)
            try:
                args = (shipped.blob, shipped.modules, task.plugin_id, task.command, params)
                return self._run(slot, task, (*args, task.key, allow_stream), context, waker)
            finally:
                self._free.give_back(slot)
        finally:
            if not allow_stream:
                waker.hooked = None  # the attempt is over: do not keep its context alive

    def _run(
        self,
        slot: _Slot,
        task: TaskSpec,
        args: tuple[Any, ...],
        context: StepContext,
        waker: _Waker,
    ) -> Outcome:
        if context.is_cancelled():
            return cancelled(task)
        try:
            future = slot.submit(*args)
        except Exception as exc:  # a broken pool or interpreter shutdown: start afresh
            slot.kill()
            return failed(context, task, self.name, f"could not start a worker: {exc}")
        event = waker.event
        future.add_done_callback(lambda _: event.set())
        if not waker.wait_until(future.done, context):
            slot.kill()  # the only way to stop Python code in another process
            return cancelled(task)
        try:
            reply = future.result()
        except BrokenProcessPool:
            codes = slot.exit_codes()
            slot.kill()
            if context.is_cancelled():
                return cancelled(task)
            return failed(
                context,
                task,
                self.name,
                f"the worker process running it died (exit code {codes[0] if codes else '?'})"
                "; a fresh worker takes the slot's next step",
            )
        except Exception as exc:  # inputs or outputs that do not pickle, mostly
            return failed(context, task, self.name, f"{type(exc).__name__}: {exc}")
        return from_reply(task, reply)

    def worker_pids(self) -> list[int]:
        """The pids of the live worker processes (for diagnostics and tests)."""
        return [pid for slot in self._slots for pid in slot.pids()]

    def shutdown(self, timeout: float) -> bool:
        """Kill every worker; steps still running fail (their runs were cancelled first by
        ``Engine.shutdown``). Slots stay usable: a later step starts a worker again."""
        for slot in self._slots:
            slot.kill()
        return True
