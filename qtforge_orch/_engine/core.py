"""The engine a facade owns: pool, timers, signal pump, runs, history and compensations."""

from __future__ import annotations

import atexit
import itertools
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, QThreadPool

from .compensation import CompensationLedger
from .context import StepContext
from .dataflow import collect_result
from .events import Dispatch, EventPump
from .invoke import Outcome, PluginLookup, call_plugin
from .plan import Plan, TaskSpec
from .run import Run, SignalNames
from .timers import shared_timers

DEFAULT_HISTORY_LIMIT = 256

RunFactory = Callable[["Engine", Plan, str, dict[str, Any]], Run]


class Executor:
    """Runs engine callables on a QThreadPool (the orchestrator's own unless one is given)."""

    def __init__(self, pool: QThreadPool | None) -> None:
        if pool is None:
            pool = QThreadPool()
            pool.setMaxThreadCount(max(4, QThread.idealThreadCount()))
        self.pool = pool

    def submit(self, function: Callable[[], None]) -> None:
        self.pool.start(function)

    def max_threads(self) -> int:
        return max(1, self.pool.maxThreadCount())


# Execution ids: one random prefix per process plus a counter. uuid4() per execution reads
# os.urandom, which releases the GIL and cost ~45 us under load (issue #4, B9).
_ID_PREFIX = uuid.uuid4().hex[:12]
_ids = itertools.count(1)

_live_engines: weakref.WeakSet[Engine] = weakref.WeakSet()
_exit_hook_lock = threading.Lock()
_exit_hook_installed = False
EXIT_JOIN_TIMEOUT_MS = 3000


def _shutdown_live_engines() -> None:
    """At interpreter exit: cancel what still runs (compensations included) and join the
    worker threads for a bounded time, so Python does not finalise under running plugins."""
    for engine in list(_live_engines):
        engine.shutdown(EXIT_JOIN_TIMEOUT_MS)


def _install_exit_hook() -> None:
    global _exit_hook_installed
    with _exit_hook_lock:
        if not _exit_hook_installed:
            atexit.register(_shutdown_live_engines)
            _exit_hook_installed = True


class Engine:
    def __init__(
        self,
        owner: QObject,
        names: SignalNames,
        dispatch: Dispatch,
        plugins: PluginLookup,
        thread_pool: QThreadPool | None = None,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
    ) -> None:
        self.owner = owner
        self.names = names
        self.plugins = plugins
        self.executor = Executor(thread_pool)
        self.timers = shared_timers()
        self.pump = EventPump(dispatch, names.progress, owner)
        # Signal names with at least one receiver (kept by the facade's connectNotify).
        self.listened: set[str] = set()
        self.compensations = CompensationLedger(self)
        self._lock = threading.RLock()
        self._active: dict[str, Run] = {}
        self._history: OrderedDict[str, Run] = OrderedDict()
        self._history_limit = history_limit
        self.invoke: Callable[[TaskSpec, dict[str, Any], StepContext], Outcome] = (
            self._invoke_plugin
        )
        _live_engines.add(self)
        _install_exit_hook()

    # --- runs ------------------------------------------------------------------------
    def new_run(
        self,
        plan: Plan,
        initial_data: dict[str, Any],
        *,
        transaction_id: str | None = None,
        factory: RunFactory | None = None,
    ) -> Run:
        execution_id = f"{_ID_PREFIX}-{next(_ids):06d}"
        if factory is None:
            run = Run(self, plan, execution_id, initial_data, transaction_id=transaction_id)
        else:
            run = factory(self, plan, execution_id, initial_data)
        with self._lock:
            self._active[run.execution_id] = run
        run.on_finish(self._retire)
        return run

    def discard(self, run: Run) -> None:
        """Forget a run that was created but never started."""
        with self._lock:
            self._active.pop(run.execution_id, None)

    def _retire(self, run: Run) -> None:
        with self._lock:
            self._active.pop(run.execution_id, None)
            self._history[run.execution_id] = run
            while len(self._history) > self._history_limit:
                self._history.popitem(last=False)

    def get_run(self, execution_id: str) -> Run | None:
        with self._lock:
            return self._active.get(execution_id) or self._history.get(execution_id)

    def active_runs(self) -> list[Run]:
        with self._lock:
            return list(self._active.values())

    def set_history_limit(self, limit: int) -> None:
        with self._lock:
            self._history_limit = max(0, limit)
            while len(self._history) > self._history_limit:
                self._history.popitem(last=False)

    def history_limit(self) -> int:
        return self._history_limit

    def in_owner_thread(self) -> bool:
        return QThread.currentThread() == self.owner.thread()

    def wait(self, run: Run) -> None:
        """Block until ``run`` ends without starving anyone: the owner thread delivers the
        run's signals while it waits; any other thread helps run its tasks."""
        if self.in_owner_thread():
            self.pump.wait_until(run.done)
        else:
            run.help_until_done()

    def wait_for(self, execution_id: str, timeout_ms: int | None = None) -> bool:
        """Block until an execution ended (delivering signals in the owner thread); False on
        timeout or for an unknown id."""
        run = self.get_run(execution_id)
        if run is None:
            return False
        if not self.in_owner_thread():
            # Help run it: the caller may be a pool worker the execution needs.
            deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000.0
            return run.help_until_done(deadline)
        if timeout_ms is None:
            self.pump.wait_until(run.done)
            return True
        ended = threading.Event()
        run.on_finish(lambda _: ended.set())
        timer = self.timers.call_later(timeout_ms / 1000.0, ended.set)
        self.pump.wait_until(ended)
        timer.cancel()
        return run.done.is_set()

    def wait_event(self, done: threading.Event) -> None:
        if self.in_owner_thread():
            self.pump.wait_until(done)
        else:
            done.wait()

    # --- work ------------------------------------------------------------------------
    def _invoke_plugin(
        self, task: TaskSpec, params: dict[str, Any], context: StepContext
    ) -> Outcome:
        return call_plugin(self.plugins, task.plugin_id, task.command, params, context)

    def collect_result(self, run: Run) -> dict[str, Any]:
        return collect_result(run.plan, run.shared, run.outputs, run.states)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel every active run, let compensations finish, join the pool's threads."""
        runs = self.active_runs()
        for run in runs:
            run.cancel()
        for run in runs:
            if self.in_owner_thread():
                self.wait_for(run.execution_id, timeout_ms)
            else:
                run.done.wait(timeout_ms / 1000.0)
        return bool(self.executor.pool.waitForDone(timeout_ms))
