"""The engine a facade owns: pool, timers, signal pump, plugin route, runs, history and
compensations; what ``services.RunServices`` describes to the runs it creates."""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any

from PySide6.QtCore import QObject, QThread, QThreadPool

from ..contract.plan import Plan
from ..errors import PluginError, PluginErrorCode
from . import events
from .compensation import CompensationLedger
from .control_lane import ControlLane, shared_lane
from .events import EventPump
from .invoke import PluginLookup
from .journal_link import JournalEntry, JournalSink, ResumeSeed
from .plugin_route import PluginRoute
from .run import Run
from .run_status import SignalNames
from .timers import Timers, shared_timers
from .transitions import ListenedKinds
from .worker_pool import WorkerPool

DEFAULT_HISTORY_LIMIT = 256


# Execution ids: one random prefix per process, a serial per engine and a counter per engine.
# uuid4() per execution reads os.urandom, which releases the GIL and cost ~45 us under load.
# The per-engine counter also tells which ids this engine issued, so an id that finished and
# left the bounded history is known to have ended, not unknown.
_ID_PREFIX = os.urandom(6).hex()  # the entropy of uuid4's first 12 digits, without uuid
_engine_serials = itertools.count(1)

_live_engines: weakref.WeakSet[Engine] = weakref.WeakSet()
_exit_hook_lock = threading.Lock()
_exit_hook_installed = False
EXIT_JOIN_TIMEOUT_MS = 3000


def _shutdown_live_engines() -> None:
    """At interpreter exit: cancel what still runs (compensations included) and join the
    worker threads, all engines together within one bound, so Python does not finalise under
    running plugins and a hung plugin cannot hold the exit for long."""
    deadline = time.monotonic() + EXIT_JOIN_TIMEOUT_MS / 1000.0
    engines = list(_live_engines)
    for engine in engines:
        engine.cancel_all()
    for engine in engines:
        if not engine.shutdown(max(0, int((deadline - time.monotonic()) * 1000))):
            engine.executor.abandon()


def live_run(execution_id: str) -> Run | None:
    """The run with ``execution_id`` in any engine of this process (active or in a history)."""
    for engine in list(_live_engines):
        run = engine.get_run(execution_id)
        if run is not None:
            return run
    return None


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
        plugins: PluginLookup,
        thread_pool: QThreadPool | None = None,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
        timers: Timers | None = None,
        lane: ControlLane | None = None,
    ) -> None:
        # Weak: the orchestrator holds its engine, and a strong link back would make the pair a
        # reference cycle, freed by the cyclic collector in whatever thread it runs, possibly a
        # worker, which must never destroy the orchestrator's QObjects (a crash in the GUI
        # thread's event dispatch). Without the cycle the orchestrator goes when its last
        # reference does, in that thread.
        self._owner = weakref.ref(owner)
        self._owner_thread = owner.thread()
        self.names = names
        self.plugins = plugins  # where plugin ids are looked up (what registration checks)
        # Every plugin call of every run, here or on another executor.
        self.route = PluginRoute(plugins)
        # Where non-thread steps run (process pool, Dask): each built on first use.
        self.executors = self.route.executors
        self.timers: Timers = timers if timers is not None else shared_timers()
        self.lane = lane if lane is not None else shared_lane()
        # Event kinds with at least one subscriber: the pump keeps it, runs read it.
        self.listened = ListenedKinds()
        self.pump = EventPump(owner, self.listened)
        self.executor = WorkerPool(thread_pool, self.pump)
        self.closed = False
        engine_ref = weakref.ref(self)

        def owner_destroyed(*_: object) -> None:
            engine = engine_ref()
            if engine is not None:
                engine.owner_gone()

        # The pump is the owner's child: it is destroyed with the orchestrator (a deleted
        # parent, app.shutdown()), and from then on no signal can be delivered.
        self.pump.destroyed.connect(owner_destroyed)
        self._id_base = f"{_ID_PREFIX}-{next(_engine_serials)}-"
        self._ids = itertools.count(1)
        self._issued = 0
        self.compensations = CompensationLedger(self.lane, self.timers, self.route.invoke)
        self._lock = threading.RLock()
        self._active: dict[str, Run] = {}
        self._history: OrderedDict[str, Run] = OrderedDict()
        self._history_limit = history_limit
        # Durable executions: set by attach_journal.
        self.journal: JournalSink | None = None
        _live_engines.add(self)
        _install_exit_hook()

    # --- runs ------------------------------------------------------------------------
    def new_run(
        self,
        plan: Plan,
        initial_data: dict[str, Any],
        *,
        transaction_id: str | None = None,
        journal_entry: JournalEntry | None = None,
        resume: ResumeSeed | None = None,
        execution_id: str | None = None,
    ) -> Run:
        """A new run of ``plan``, not started; ``execution_id`` is chosen by the caller for a
        nested workflow's child (derived from its parent, so a resumed parent finds it)."""
        if execution_id is None:
            number = next(self._ids)
            self._issued = number
            execution_id = f"{self._id_base}{number:06d}"
        run = Run(
            self,
            plan,
            execution_id,
            initial_data,
            retire=self.retire,
            transaction_id=transaction_id,
            journal_entry=journal_entry if self.journal is not None else None,
            resume=resume,
        )
        with self._lock:
            self._active[run.execution_id] = run
        return run

    def attach_journal(self, journal: JournalSink) -> None:
        """Journal every execution from now on; events wait for their record's commit."""
        self.journal = journal
        pump = self.pump
        pump.set_gate(journal.committed_seq, journal.flush)
        pump_ref = weakref.ref(pump)

        def committed(_seq: int) -> None:
            alive = pump_ref()
            if alive is not None:
                alive.wake_for_commit()

        journal.add_commit_listener(committed)

    def discard(self, run: Run) -> None:
        """Forget a run that was created but never started."""
        with self._lock:
            self._active.pop(run.execution_id, None)

    def retire(self, run: Run) -> None:
        """Move a finished run to the bounded history (called by the run, its lock held)."""
        with self._lock:
            self._active.pop(run.execution_id, None)
            self._history[run.execution_id] = run
            while len(self._history) > self._history_limit:
                self._history.popitem(last=False)

    def get_run(self, execution_id: str) -> Run | None:
        with self._lock:
            return self._active.get(execution_id) or self._history.get(execution_id)

    def forgotten(self, execution_id: str) -> bool:
        """True for an id this engine issued whose run has ended and left the history."""
        if not execution_id.startswith(self._id_base):
            return False
        number = execution_id[len(self._id_base) :]
        if not number.isdigit() or not 0 < int(number) <= self._issued:
            return False
        return self.get_run(execution_id) is None

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
        # The orchestrator (or its C++ object) may be gone: then its last known thread stands.
        owner = self._owner()
        if owner is not None:
            with contextlib.suppress(RuntimeError):
                self._owner_thread = owner.thread()
        return QThread.currentThread() == self._owner_thread

    def wait(self, run: Run) -> PluginError | None:
        """Block until ``run`` ends without starving anyone: the owner thread delivers the
        run's signals while it waits; any other thread helps run its tasks.

        A journaled run's records are then waited for, at most ``JOURNAL_FLUSH_BOUND_S``;
        returns the journal's error if they are still not committed (None when all is well).
        """
        if self.in_owner_thread():
            self.pump.wait_until(run.done)
        else:
            run.workers.help_until_done()
            if run.journal is not None:
                run.journal.sink.flush(events.JOURNAL_FLUSH_BOUND_S)
        return self.journal_lag(run)

    @staticmethod
    def journal_lag(run: Run) -> PluginError | None:
        """Why an ended run's records are not in its journal yet (None: they are, or no
        journal): a full, locked or failing disk that the writer keeps retrying."""
        journal = run.journal
        if journal is None or journal.sink.committed_seq() >= journal.seq:
            return None
        reason = journal.sink.last_error
        return PluginError(
            PluginErrorCode.FileSystemError,
            f"execution '{run.execution_id}' {run.status}, but the execution journal has not "
            f"recorded it within {events.JOURNAL_FLUSH_BOUND_S:g} s "
            f"({reason or 'the writer is behind'}); its records stay queued and are written "
            "once the disk accepts them, and its signals wait for them",
            context={
                "execution_id": run.execution_id,
                "status": run.status,
                "journal_error": str(reason) if reason is not None else None,
            },
        )

    def wait_for(self, execution_id: str, timeout_ms: int | None = None) -> bool:
        """Block until an execution ended (delivering signals in the owner thread); False on
        timeout or for an unknown id, True for one that ended and left the history."""
        run = self.get_run(execution_id)
        if run is None:
            return self.forgotten(execution_id)
        if run.is_done():
            if self.in_owner_thread():
                self.pump.drain(None)
            return True
        deadline = None if timeout_ms is None else time.monotonic() + max(0, timeout_ms) / 1000.0
        if not self.in_owner_thread():
            # Help run it: the caller may be a pool worker the execution needs.
            return run.workers.help_until_done(deadline)
        return self.pump.wait_until(run.done, deadline)

    def wait_event(self, done: threading.Event) -> None:
        """Block until ``done`` (delivering signals when called in the owner thread)."""
        if self.in_owner_thread():
            self.pump.wait_until(done)
        else:
            done.wait()

    # --- ending ----------------------------------------------------------------------
    def cancel_all(self) -> list[Run]:
        runs = self.active_runs()
        for run in runs:
            run.cancel()
        return runs

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel every active run, let compensations finish, join the pool's threads: all of
        it within ``timeout_ms`` in total. False if something was still busy at the end."""
        deadline = time.monotonic() + max(0, timeout_ms) / 1000.0
        runs = self.cancel_all()
        owner = self.in_owner_thread() and not self.closed
        ended = True
        for run in runs:
            if owner:
                ended = self.pump.wait_until(run.done, deadline) and ended
            else:
                ended = run.done.wait(max(0.0, deadline - time.monotonic())) and ended
        # Kills worker processes and closes Dask clients: a drainer still waiting on one
        # wakes up at once, so the pool join below is not held by remote work.
        ended = self.executors.shutdown(max(0.0, deadline - time.monotonic())) and ended
        remaining = max(0, int((deadline - time.monotonic()) * 1000))
        return self.executor.wait_for_done(remaining) and ended

    def owner_gone(self) -> None:
        """The orchestrator was destroyed: nothing can be delivered any more. Cancel what runs
        (compensations still run, futures still resolve) and drop later events."""
        self.closed = True
        self.pump.close()
        self.cancel_all()
        # Destroying the pump next would join the pool, waiting for plugins that ignore the
        # cancel: let it go instead, so this thread (the GUI's) and every other orchestrator
        # it serves carry on at once.
        self.executor.release()
        if self.executors.built():
            # Nothing can reach these workers any more; stop them off this (GUI) thread, as
            # closing a Dask client waits for its scheduler.
            threading.Thread(
                target=self.executors.shutdown, args=(5.0,), name="qtforge-executors-stop"
            ).start()
