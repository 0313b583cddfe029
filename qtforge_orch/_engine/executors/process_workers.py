"""The process executor's worker processes: one single-worker ``ProcessPoolExecutor`` each.

One worker per pool is what makes a kill precise: the executor knows which process runs a
call and kills exactly that one (a multi-worker pool breaks whole when one worker dies).
Workers are started from one long-lived thread, and each one ends with its parent process
(``remote.end_with_parent``), however the parent ends.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import suppress
from multiprocessing.process import BaseProcess
from typing import Any

from .process_claims import PLACES, start_worker

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


def _started_worker() -> tuple[Any, Any, ProcessPoolExecutor]:
    """(spawner thread) The claim gate and states, and a one-worker pool whose worker is
    already starting: the no-op's submit spawns it here, later submits spawn nothing."""
    context = multiprocessing.get_context("spawn")
    gate = context.Lock()
    states = context.RawArray("b", PLACES)
    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=context,
        initializer=start_worker,
        initargs=(os.getpid(), gate, states),
    )
    pool.submit(int)
    return gate, states, pool


class Worker:
    """One worker process, started on first use (``started``, which sets the pool, the claim
    gate and the claim states once)."""

    __slots__ = ("_lock", "gate", "pool", "states")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pool: ProcessPoolExecutor | None = None
        self.gate: Any = None  # the claim lock shared with the worker (process_claims)
        self.states: Any = None  # one claim state per place, shared with the worker

    def started(self) -> ProcessPoolExecutor:
        """The pool, its worker started if it was not."""
        with self._lock:
            if self.pool is None:
                self.gate, self.states, self.pool = _spawner.run(_started_worker)
            return self.pool

    def is_started(self) -> bool:
        return self.pool is not None

    def processes(self) -> list[BaseProcess]:
        # ProcessPoolExecutor has no public way to reach its workers before Python 3.14's
        # terminate_workers()/kill_workers(); ``_processes`` is the attribute those use.
        if self.pool is None:
            return []
        return list((getattr(self.pool, "_processes", None) or {}).values())

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes() if p.pid is not None]

    def exit_codes(self) -> list[int | None]:
        return [p.exitcode for p in self.processes()]

    def kill_processes(self) -> None:
        """Send the worker SIGKILL (whatever it runs); ``reap`` finishes the job."""
        for process in self.processes():
            with suppress(Exception):
                process.kill()

    def reap(self) -> None:
        """Kill the worker if it still runs, close its pool and wait until its pid is gone."""
        with self._lock:
            pool = self.pool
        if pool is None:
            return
        processes = self.processes()
        self.kill_processes()
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with suppress(Exception):
                process.join(KILL_JOIN_S)  # reaped: its pid is really gone afterwards
