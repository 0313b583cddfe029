"""One execution: the run shell every mode shares, around the scheduler its plan picks.

The shell owns the lifecycle (start, pause, resume, cancel, finish, compensation), the lock,
the per-task state the status calls read, progress and event posting. What runs when is the
scheduler's business (``batch``, ``streaming`` or ``eventdriven``, chosen by
``plan.schedule``); it sees the shell through the small surface below and changes its state
only with the lock held.

Nothing calls out under the lock, by construction: callbacks, future resolution, event-source
hooks and starting or cancelling other runs go through ``lock.later`` and run on release
(``guard.RunLock``); plugin calls happen in ``Scheduler.work``, which the shell calls with the
lock released; events go to the pump, which delivers them in the owner thread.

Any thread may advance a run: pool drainers run ready work back to back (one dispatch per
burst, not per task), the timer thread fires retries and timeouts, and a thread that waits
synchronously helps run work itself, so nested synchronous executions cannot starve a small
pool.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from .._errors import PluginError, PluginErrorCode
from .batch import BatchScheduler
from .context import StepContext
from .events import Event, EventKind
from .guard import RunLock
from .plan import Plan, ScheduleKind, TaskState
from .schedulers import scheduler_for
from .status import RunStatus, SignalNames

if TYPE_CHECKING:
    from .compensation import Compensation
    from .core import Engine

_P = TaskState.Pending
_R = TaskState.Running
_X = TaskState.Cancelled
_T = TaskState.Retrying

_taker = threading.local()

PROGRESS_STEP = 0.01
YIELD_EVERY_S = 0.001


def _now() -> datetime:
    return datetime.now(UTC)


class Scheduler(Protocol):
    """What runs when inside one run. Methods marked (lock held) are called with the shell's
    lock held and must not call user code; ``work`` is called without it."""

    def begin(self) -> None:
        """(lock held) Queue the first work."""

    def take(self) -> Any:
        """(lock held) The next unit of work for a drainer, or None."""

    def work(self, taken: Any) -> None:
        """Do one unit of work from ``take`` (plugin calls happen here, lock released)."""

    def capacity(self) -> int:
        """(lock held) How many units may run at once now."""

    def spawned(self) -> None:
        """(lock held) Drainers were asked for while work waits (the batch stall guard)."""

    def work_done(self) -> bool:
        """(lock held) Nothing is left to run: the execution may complete."""

    def final_result(self) -> dict[str, Any]:
        """(lock held) The execution completes: its result."""

    def abort(self, final_status: str, error: PluginError) -> bool:
        """(lock held) Stop and cancel in-flight work. True when the scheduler finishes the run
        itself later, with ``final_status`` and ``error`` (EventDriven: once its passes have
        ended)."""

    def paused(self) -> None:
        """(lock held) The run was paused."""

    def resumed(self) -> None:
        """(lock held) The run was resumed."""

    def finished(self) -> None:
        """(lock held) The run ended: let go of timers."""

    def task_extras(self) -> list[dict[str, Any]] | None:
        """(lock held) Mode-specific per-task figures for status reports."""

    def run_extras(self) -> dict[str, Any]:
        """(lock held) Mode-specific execution-level figures for status reports."""


SchedulerFactory = Callable[["Run"], Scheduler]


class Run:
    """Mutable state of one execution. Every field below is guarded by ``lock``."""

    def __init__(
        self,
        engine: Engine,
        plan: Plan,
        execution_id: str,
        initial_data: dict[str, Any],
        *,
        transaction_id: str | None = None,
        scheduler: SchedulerFactory | None = None,
    ) -> None:
        self.engine = engine
        self.plan = plan
        self.execution_id = execution_id
        self.workflow_id = plan.workflow_id
        self.initial_data = initial_data
        self.transaction_id = transaction_id
        self.lock = RunLock(engine.lane)
        n = len(plan.tasks)
        self.states: list[int] = [_P] * n
        self.outputs: list[dict[str, Any] | None] = [None] * n
        self.errors: list[str] = [""] * n
        self.retries: list[int] = [0] * n
        self.starts: list[float] = [0.0] * n
        self.ends: list[float] = [0.0] * n
        # Progress a running step reported through its StepContext: index -> (fraction, note)
        self.step_progress: dict[int, tuple[float, str]] = {}
        self.ready: list[int] = []  # the scheduler's heap of ready work
        self.running = 0  # units of work taken and not yet given back
        self._starting = 0  # drainers submitted that have not taken work yet
        self.limit = plan.max_concurrency or engine.executor.max_threads()
        self._helpers = 0  # threads blocked in help_until_done, the only waiters on ``lock``
        self.shared: dict[str, Any] = dict(initial_data)
        self.overlaps: dict[str, list[int]] = {}  # key -> tasks that wrote it, merged in rank
        self.status = RunStatus.PENDING
        self.stopping = False
        self.settled = 0
        self.completed = 0
        self.compensations: list[Compensation] = []
        self.current_task = ""
        self.progress = 0.0
        self._posted_progress = 0.0
        self.error: PluginError | None = None
        self.result: dict[str, Any] | None = None
        self.rollback_errors: list[str] = []
        self.error_messages: list[str] = []  # execution-level notes beyond per-task errors
        self.start_time: datetime | None = None
        self.end_time: datetime | None = None
        self.done = threading.Event()
        self.resumed_event = threading.Event()
        self.resumed_event.set()
        self._workflow_timer: Any = None
        self._finish_callbacks: list[Callable[[Run], None]] = []
        self._finished = False  # final state recorded; callbacks may still be running
        # Contexts handed to user code outside per-task attempts (stream stages, event
        # sources): cancelled with the run.
        self.long_contexts: list[StepContext] = []
        # Per-task reports a facade built for status calls, reused while unchanged
        # (snapshot.cached_reports); written outside the lock, read-only once built.
        self.report_cache: list[Any] | None = None
        # An EventDriven execution's per-event passes share its id but not its lifecycle
        # signals or progress; a pass started while its execution is paused starts paused.
        self.is_child = False
        self.parent: Run | None = None
        if scheduler is None:
            scheduler = scheduler_for(plan.schedule)
        self.scheduler: Scheduler = scheduler(self)

    def new_child(self, plan: Plan, data: dict[str, Any], seed: dict[str, Any] | None) -> Run:
        """A pass of an EventDriven execution: a batch run of ``plan`` sharing this run's id;
        ``seed`` is the output its first task (the trigger) starts with."""
        child = Run(
            self.engine,
            plan,
            self.execution_id,
            data,
            scheduler=partial(BatchScheduler, seed=seed),
        )
        child.is_child = True
        child.parent = self
        return child

    @property
    def kind(self) -> ScheduleKind:
        return self.plan.schedule

    # --- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        with self.lock:
            self.status = RunStatus.RUNNING
            parent = self.parent
            if parent is not None and parent.status == RunStatus.PAUSED:
                self.status = RunStatus.PAUSED
                self.resumed_event.clear()
            self.start_time = _now()
            if not self.is_child:
                self.post(EventKind.WORKFLOW_STARTED, (self.execution_id, self.workflow_id))
            if self.plan.timeout_ms:
                self._workflow_timer = self.engine.timers.call_later(
                    self.plan.timeout_ms / 1000.0, self._on_workflow_timeout
                )
            self.scheduler.begin()
            self.spawn(0)
            self.maybe_complete()

    def on_finish(self, callback: Callable[[Run], None]) -> None:
        """``callback(run)`` once the run has ended, never under its lock (at once, in this
        thread, if it already has)."""
        with self.lock:
            if not self._finished:
                self._finish_callbacks.append(callback)
                return
        callback(self)

    def remove_finish_callback(self, callback: Callable[[Run], None]) -> None:
        with self.lock:
            if callback in self._finish_callbacks:
                self._finish_callbacks.remove(callback)

    def task_extras(self) -> list[dict[str, Any]] | None:
        """(lock held) Mode-specific per-task figures for status reports."""
        return self.scheduler.task_extras()

    def run_extras(self) -> dict[str, Any]:
        """(lock held) Mode-specific execution-level figures for status reports."""
        return self.scheduler.run_extras()

    def new_context(self, step_id: str) -> StepContext:
        """A context for user code that is not one task attempt (lock held)."""
        context = StepContext(self.execution_id, step_id, 1, self.resumed_event)
        if self.stopping:
            context.cancel()
        self.long_contexts.append(context)
        return context

    def cancel(self, error: PluginError | None = None) -> bool:
        with self.lock:
            if self.stopping or self.status in RunStatus.FINAL:
                return False
            self.abort(
                RunStatus.CANCELLED,
                error
                or PluginError(
                    PluginErrorCode.OperationCancelled,
                    f"execution '{self.execution_id}' was cancelled",
                ),
            )
            return True

    def pause(self) -> PluginError | None:
        with self.lock:
            if self.status != RunStatus.RUNNING or self.stopping:
                return self._state_error("pause", RunStatus.RUNNING)
            self.status = RunStatus.PAUSED
            self.resumed_event.clear()
            if self.engine.names.paused and not self.is_child:
                self.post(EventKind.PAUSED, (self.execution_id,))
            self.scheduler.paused()
            return None

    def resume(self) -> PluginError | None:
        with self.lock:
            if self.status != RunStatus.PAUSED or self.stopping:
                return self._state_error("resume", RunStatus.PAUSED)
            self.status = RunStatus.RUNNING
            self.resumed_event.set()
            if self.engine.names.resumed and not self.is_child:
                self.post(EventKind.RESUMED, (self.execution_id,))
            self.scheduler.resumed()
            self.spawn(0)
            return None

    def _state_error(self, action: str, needed: str) -> PluginError:
        return PluginError(
            PluginErrorCode.InvalidState,
            f"cannot {action} execution '{self.execution_id}': it is {self.status}, not {needed}",
            context={"execution_id": self.execution_id, "status": self.status},
        )

    # --- drainers and helpers -------------------------------------------------------------
    def drain(self) -> None:
        """Pool entry point: do ready work back to back until none can start."""
        previous = getattr(_taker, "run", None)
        _taker.run = self
        take, work, lock = self.scheduler.take, self.scheduler.work, self.lock
        try:
            with lock:
                self._starting -= 1
                taken = take()
            pump = self.engine.pump
            yielded = time.perf_counter()
            while taken is not None:
                work(taken)
                now = time.perf_counter()
                if pump.draining or now - yielded > YIELD_EVERY_S:
                    # A drainer on a run of tiny steps would keep the GIL for whole switch
                    # intervals at a time; handing it over keeps the GUI thread's timers and
                    # signal delivery on time (issue #4, B6).
                    time.sleep(0)
                    yielded = now
                with lock:
                    taken = take()
        finally:
            _taker.run = previous

    def help_until_done(self, deadline: float | None = None) -> bool:
        """Used by a non-GUI thread waiting synchronously: run this run's work meanwhile
        (so a pool worker waiting on a nested execution cannot starve it). ``deadline`` is a
        ``time.monotonic()`` value; returns whether the run ended."""
        previous = getattr(_taker, "run", None)
        _taker.run = self
        take, work = self.scheduler.take, self.scheduler.work
        try:
            while True:
                with self.lock:
                    taken = take()
                    while taken is None:
                        if self.done.is_set():
                            return True
                        wait = 0.25 if deadline is None else min(0.25, deadline - time.monotonic())
                        if wait <= 0:
                            return False
                        self._helpers += 1
                        try:
                            self.lock.wait(wait)
                        finally:
                            self._helpers -= 1
                        taken = take()
                work(taken)
        finally:
            _taker.run = previous

    def is_taker(self) -> bool:
        """Whether this thread is a drainer or helper of this run (it takes the next work
        itself, so one fewer drainer is needed)."""
        return getattr(_taker, "run", None) is self

    def wake_helpers(self) -> None:
        if self._helpers:
            self.lock.notify_all()

    def spawn(self, self_takers: int) -> None:
        """(lock held) Submit drainers for ready work, up to the scheduler's capacity."""
        if self.status != RunStatus.RUNNING or self.stopping:
            return
        free = self.scheduler.capacity() - self.running - self._starting
        wanted = min(len(self.ready), free) - self_takers
        for _ in range(max(0, wanted)):
            self._starting += 1
            self.engine.executor.submit(self.drain)
        if self.ready:
            self.wake_helpers()
            self.scheduler.spawned()

    # --- progress and completion (lock held) -----------------------------------------------
    def update_progress(self) -> None:
        if self.is_child:
            return
        total = len(self.plan.tasks)
        partial_work = (
            sum(fraction for i, (fraction, _) in self.step_progress.items() if self.states[i] == _R)
            if self.step_progress
            else 0.0
        )
        progress = (self.settled + partial_work) / total if total else 1.0
        if progress > self.progress:
            self.progress = progress
            # Signals are coalesced anyway; posting every 1% keeps big runs cheap.
            if progress >= self._posted_progress + PROGRESS_STEP:
                self._posted_progress = progress
                self._post_progress(progress)

    def maybe_complete(self) -> bool:
        if self.stopping or not self.scheduler.work_done():
            return False
        self.stopping = True
        self._cancel_workflow_timer()
        self.result = self.scheduler.final_result()
        self.finish(RunStatus.COMPLETED, None)
        return True

    def abort(self, final_status: str, error: PluginError) -> None:
        """Stop scheduling, cancel what runs or waits, then compensate and finish."""
        self.stopping = True
        self._cancel_workflow_timer()
        self.resumed_event.set()  # paused checkpoints must wake up to see the cancellation
        self.ready.clear()
        self.step_progress.clear()
        for context in self.long_contexts:
            context.cancel()
        self.error = error
        self.wake_helpers()
        if self.scheduler.abort(final_status, error):
            return
        pending = self.engine.compensations.claim_for_run(self)
        if pending:
            self.engine.compensations.run_chain(
                pending, lambda errors: self._finish_after_rollback(final_status, error, errors)
            )
        else:
            self.finish(final_status, error)

    def cancel_unsettled(self) -> None:
        """(lock held, aborting) Every task not yet terminal ends Cancelled."""
        states = self.states
        for index, state in enumerate(states):
            if state in (_P, _R, _T):
                states[index] = _X
                self.settled += 1

    def _finish_after_rollback(
        self, final_status: str, error: PluginError, rollback_errors: list[str]
    ) -> None:
        with self.lock:
            self.rollback_errors.extend(rollback_errors)
            self.finish(final_status, error)

    def finish(self, final_status: str, error: PluginError | None) -> None:
        """(lock held) Record the final state; callbacks and ``done`` follow on release."""
        self.scheduler.finished()
        self.status = final_status
        self.end_time = _now()
        self.current_task = ""
        self._finished = True
        if not self.is_child:  # passes share their execution's id, not its place in history
            self.engine.retire(self)
            self._post_terminal(final_status, error)
        callbacks, self._finish_callbacks = self._finish_callbacks, []
        # Callbacks may be user code (future done-callbacks): they run once the lock is
        # released, and ``done`` is set after them, so whoever waits on the run finds its
        # future resolved and its callbacks run.
        for callback in callbacks:
            self.lock.later(partial(callback, self))
        self.lock.later(self._mark_done)

    def _mark_done(self) -> None:
        self.done.set()
        with self.lock:
            self.wake_helpers()

    def _post_terminal(self, final_status: str, error: PluginError | None) -> None:
        if final_status == RunStatus.COMPLETED:
            self.progress = 1.0
            if self._posted_progress < 1.0:
                self._posted_progress = 1.0
                self._post_progress(1.0)
            result = dict(self.result or {})
            self.post(EventKind.WORKFLOW_COMPLETED, (self.execution_id, result), terminal=True)
        elif final_status == RunStatus.FAILED:
            assert error is not None
            self.post(EventKind.WORKFLOW_FAILED, (self.execution_id, error.message), terminal=True)
        else:
            self.post(EventKind.WORKFLOW_CANCELLED, (self.execution_id,), terminal=True)

    def _on_workflow_timeout(self) -> None:
        with self.lock:
            if self.stopping or self.status in RunStatus.FINAL:
                return
            self.abort(
                RunStatus.CANCELLED,
                PluginError(
                    PluginErrorCode.Timeout,
                    f"workflow '{self.workflow_id}' exceeded its timeout of "
                    f"{self.plan.timeout_ms} ms and was cancelled",
                    context={"execution_id": self.execution_id},
                ),
            )

    def _cancel_workflow_timer(self) -> None:
        if self._workflow_timer is not None:
            self._workflow_timer.cancel()
            self._workflow_timer = None

    # --- events (lock held) ------------------------------------------------------------------
    def _post_progress(self, progress: float) -> None:
        if EventKind.PROGRESS in self.engine.listened:
            self.engine.pump.post_progress(self.execution_id, progress)

    def post(self, kind: EventKind, args: tuple[Any, ...], *, terminal: bool = False) -> None:
        self.engine.pump.post(Event(kind, args, self.execution_id, terminal))

    def post_task(self, kind: EventKind, args: tuple[Any, ...]) -> None:
        """Step/node events, a few per task: not even built for a signal nobody has connected
        (connect before starting to see them). Workflow-level events are always queued, so a
        slot connected right after an async start still hears how the execution ends."""
        if kind in self.engine.listened:
            self.engine.pump.post(Event(kind, args, self.execution_id))


__all__ = ["Run", "RunStatus", "Scheduler", "SignalNames"]
