"""One execution of a compiled plan: the scheduler every mode and both facades share.

State lives in flat per-task lists guarded by one lock per run. Any thread may advance a run:
pool drainers run ready tasks back to back (one dispatch per burst, not per task), the timer
thread fires retries and timeouts, and a thread that waits synchronously helps run tasks itself
so nested synchronous executions cannot starve a small pool.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

from .._errors import PluginError, PluginErrorCode
from .._jsoncopy import json_copy
from .context import StepContext
from .dataflow import MAPPED_KEY, build_params, deliver, fan_out_items, should_run
from .events import Event, EventKind
from .guard import RunLock
from .invoke import Outcome, call_plugin
from .plan import Plan, Role, TaskSpec, TaskState, WireKind
from .retry import RetryPolicy

if TYPE_CHECKING:
    from .compensation import Compensation
    from .core import Engine

_P = TaskState.Pending
_R = TaskState.Running
_C = TaskState.Completed
_F = TaskState.Failed
_S = TaskState.Skipped
_X = TaskState.Cancelled
_T = TaskState.Retrying


class SignalNames(NamedTuple):
    """An orchestrator's signal name for each event kind (None: it has no such signal)."""

    workflow_started: str
    workflow_completed: str
    workflow_failed: str
    workflow_cancelled: str
    task_started: str
    task_completed: str
    task_failed: str
    task_retrying: str | None
    progress: str
    paused: str | None = None
    resumed: str | None = None
    noun: str = "step"  # how messages name a task: v1 steps, v2 nodes

    def by_kind(self) -> dict[EventKind, str]:
        """Each event kind the orchestrator has, with its signal's name."""
        named = {
            EventKind.WORKFLOW_STARTED: self.workflow_started,
            EventKind.WORKFLOW_COMPLETED: self.workflow_completed,
            EventKind.WORKFLOW_FAILED: self.workflow_failed,
            EventKind.WORKFLOW_CANCELLED: self.workflow_cancelled,
            EventKind.TASK_STARTED: self.task_started,
            EventKind.TASK_COMPLETED: self.task_completed,
            EventKind.TASK_FAILED: self.task_failed,
            EventKind.TASK_RETRYING: self.task_retrying,
            EventKind.PROGRESS: self.progress,
            EventKind.PAUSED: self.paused,
            EventKind.RESUMED: self.resumed,
        }
        return {kind: name for kind, name in named.items() if name}


class RunStatus:
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    FINAL = frozenset({COMPLETED, FAILED, CANCELLED})


_taker = threading.local()

PROGRESS_STEP = 0.01

# Adaptive concurrency (issue #4, B2): when steps are this short, more drainers only fight
# over the GIL and the run lock (measured: 1 drainer 43k steps/s, 4 drainers 22k), so the run
# keeps one. A stall guard lifts the cap as soon as a running step holds the others back.
SHORT_STEP_S = 0.0002
YIELD_EVERY_S = 0.001
STALL_S = 0.002


def _now() -> datetime:
    return datetime.now(UTC)


def _default_policy(task: TaskSpec) -> RetryPolicy:
    return RetryPolicy(task.max_retries, task.retry_delay_ms)


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
        max_concurrency: int | None = None,
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
        self.waiting: list[int] = list(plan.dependency_counts)
        self.outputs: list[dict[str, Any] | None] = [None] * n
        self.errors: list[str] = [""] * n
        self.retries: list[int] = [0] * n
        self.starts: list[float] = [0.0] * n
        self.ends: list[float] = [0.0] * n
        self.active_control: list[set[int] | None] = [None] * n
        self._contexts: list[StepContext | None] = [None] * n
        self._params: list[dict[str, Any] | None] = [None] * n
        # Progress a running step reported through its StepContext: index -> (fraction, note)
        self.step_progress: dict[int, tuple[float, str]] = {}
        self._retry_timers: dict[int, Any] = {}
        # Step timeouts: one watchdog timer per run, armed for the earliest deadline of a
        # running attempt, instead of a timer per attempt (a tiny step would pay more for
        # arming and cancelling its own timer than for the rest of its scheduling).
        self._deadlines: dict[int, tuple[float, StepContext]] = {}
        self._watchdog: Any = None
        self._watchdog_at = 0.0
        self._ready: list[int] = []
        self._running = 0
        self._starting = 0
        self._limit = max_concurrency or plan.max_concurrency or engine.executor.max_threads()
        # Moving average of attempt wall time. Unknown counts as short: the stall guard lifts
        # the cap within STALL_S when the first steps turn out to block.
        self._step_time = 0.0
        self._clock = engine.timers.now
        self._last_progress = 0.0  # engine clock at the latest attempt start or end
        self._stall_timer: Any = None
        self._helpers = 0  # threads blocked in help_until_done, the only waiters on ``lock``
        self.shared: dict[str, Any] = dict(initial_data)
        self.writers: dict[Any, int] = {}  # shared key -> task that wrote it (merge_rank)
        self.overlaps: dict[str, list[int]] = {}  # key -> tasks that wrote it, merged in rank
        self.status = RunStatus.PENDING
        self._stopping = False
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
        self._resumed = threading.Event()
        self._resumed.set()
        self._workflow_timer: Any = None
        self._finish_callbacks: list[Callable[[Run], None]] = []
        self._finished = False  # final state recorded; callbacks may still be running
        # Contexts handed to user code outside the per-task attempts (stream stages, event
        # sources): cancelled with the run.
        self.long_contexts: list[StepContext] = []
        # Per-task reports a facade built for status calls, reused while unchanged
        # (snapshot.cached_reports); written outside the lock, read-only once built.
        self.report_cache: list[Any] | None = None
        # An EventDriven execution's per-event runs share its id but not its lifecycle
        # signals or progress.
        self.is_child = False
        # The EventDriven execution a pass belongs to: a pass started while it is paused
        # starts paused.
        self.parent: Run | None = None

    # --- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        with self.lock:
            self.status = RunStatus.RUNNING
            parent = self.parent
            if parent is not None and parent.status == RunStatus.PAUSED:
                self.status = RunStatus.PAUSED
                self._resumed.clear()
            self.start_time = _now()
            if not self.is_child:
                self._post(EventKind.WORKFLOW_STARTED, (self.execution_id, self.workflow_id))
            if self.plan.timeout_ms:
                self._workflow_timer = self.engine.timers.call_later(
                    self.plan.timeout_ms / 1000.0, self._on_workflow_timeout
                )
            self._begin()
            self._spawn(0)
            self._maybe_complete()

    def _begin(self) -> None:
        self._release(list(self.plan.roots))

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
        return None

    def run_extras(self) -> dict[str, Any]:
        """(lock held) Mode-specific execution-level figures for status reports."""
        return {}

    def new_context(self, step_id: str) -> StepContext:
        """A context for user code that is not one task attempt (lock held)."""
        context = StepContext(self.execution_id, step_id, 1, self._resumed)
        if self._stopping:
            context.cancel()
        self.long_contexts.append(context)
        return context

    def cancel(self, error: PluginError | None = None) -> bool:
        with self.lock:
            if self._stopping or self.status in RunStatus.FINAL:
                return False
            self._abort(
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
            if self.status != RunStatus.RUNNING or self._stopping:
                return self._state_error("pause", RunStatus.RUNNING)
            self.status = RunStatus.PAUSED
            self._resumed.clear()
            if self.engine.names.paused and not self.is_child:
                self._post(EventKind.PAUSED, (self.execution_id,))
            return None

    def resume(self) -> PluginError | None:
        with self.lock:
            if self.status != RunStatus.PAUSED or self._stopping:
                return self._state_error("resume", RunStatus.PAUSED)
            self.status = RunStatus.RUNNING
            self._resumed.set()
            if self.engine.names.resumed and not self.is_child:
                self._post(EventKind.RESUMED, (self.execution_id,))
            self._spawn(0)
            return None

    def _state_error(self, action: str, needed: str) -> PluginError:
        return PluginError(
            PluginErrorCode.InvalidState,
            f"cannot {action} execution '{self.execution_id}': it is {self.status}, not {needed}",
            context={"execution_id": self.execution_id, "status": self.status},
        )

    # --- work ----------------------------------------------------------------------
    def drain(self) -> None:
        """Pool entry point: run ready tasks back to back until none can start."""
        previous = getattr(_taker, "run", None)
        _taker.run = self
        try:
            with self.lock:
                self._starting -= 1
                task = self._take()
            pump = self.engine.pump
            yielded = time.perf_counter()
            while task is not None:
                self._work(task)
                now = time.perf_counter()
                if pump.draining or now - yielded > YIELD_EVERY_S:
                    # A drainer on a run of tiny steps would keep the GIL for whole switch
                    # intervals at a time; handing it over keeps the GUI thread's timers and
                    # signal delivery on time (issue #4, B6).
                    time.sleep(0)
                    yielded = now
                with self.lock:
                    task = self._take()
        finally:
            _taker.run = previous

    def help_until_done(self, deadline: float | None = None) -> bool:
        """Used by a non-GUI thread waiting synchronously: run this run's tasks meanwhile
        (so a pool worker waiting on a nested execution cannot starve it). ``deadline`` is a
        ``time.monotonic()`` value; returns whether the run ended."""
        previous = getattr(_taker, "run", None)
        _taker.run = self
        try:
            return self._help(deadline)
        finally:
            _taker.run = previous

    def _help(self, deadline: float | None) -> bool:
        while True:
            with self.lock:
                task = self._take()
                while task is None:
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
                    task = self._take()
            self._work(task)

    def _take(self) -> Any:
        """Pop a ready task (lock held). Tasks without a condition to check leave already
        prepared, so the common path costs one lock round trip before the plugin call."""
        if (
            self._stopping
            or self.status != RunStatus.RUNNING
            or not self._ready
            or self._running >= self._capacity()
        ):
            return None
        index = heapq.heappop(self._ready)
        self._running += 1
        self.states[index] = _R
        if self.plan.tasks[index].condition is None or self.retries[index]:
            params, context = self._begin_attempt(index)
            return index, params, context
        return index, None, None

    def _params_for(self, index: int) -> dict[str, Any]:
        params = self._params[index]
        if params is None:
            params = self._params[index] = build_params(
                self.plan,
                self.plan.tasks[index],
                self.shared,
                self.initial_data,
                self.outputs,
                self.active_control,
            )
        return params

    def _begin_attempt(self, index: int) -> tuple[dict[str, Any], StepContext]:
        task = self.plan.tasks[index]
        params = self._params_for(index)
        if task.max_retries:
            # The cached input stays pristine: each attempt gets its own (deep) copy to change.
            params = json_copy(params)
        context = StepContext(
            self.execution_id,
            task.key,
            self.retries[index] + 1,
            self._resumed,
            partial(self._on_step_progress, index),
        )
        self._contexts[index] = context
        self.current_task = task.key
        self._last_progress = self._clock()
        self._watch_for_stall()
        if not self.retries[index]:
            self.starts[index] = time.time()
            self._post_task(EventKind.TASK_STARTED, (self.execution_id, task.key))
        if task.timeout_ms:
            deadline = self.engine.timers.now() + task.timeout_ms / 1000.0
            self._deadlines[index] = (deadline, context)
            if self._watchdog is None or deadline < self._watchdog_at:
                self._arm_watchdog(deadline)
        return params, context

    def _work(self, taken: Any) -> None:
        index, params, context = taken
        task = self.plan.tasks[index]
        if context is None:
            with self.lock:
                params = self._params_for(index)
            verdict = self._check_condition(index, params)
            with self.lock:
                if self.states[index] != _R or self._stopping:
                    self._running -= 1
                    self._wake_helpers()
                    return
                if verdict is not True:
                    self._running -= 1
                    if verdict is False:
                        self._settle(index, _S)
                        self._after_settle()
                    else:
                        self._fail(index, verdict)
                    self._wake_helpers()
                    return
                params, context = self._begin_attempt(index)
        started = time.perf_counter()
        outcome = self._invoke(task, params, context)
        with self.lock:
            if self._contexts[index] is not context:
                return  # timed out or cancelled meanwhile: the late result is discarded
            self._record_step_time(started)
            self._contexts[index] = None
            self._running -= 1
            if self._deadlines:
                self._deadlines.pop(index, None)
            if outcome.ok:
                self._complete(index, outcome.output)
            else:
                assert outcome.error is not None
                self._attempt_failed(index, outcome.error)
            self._wake_helpers()

    def _invoke(self, task: TaskSpec, params: dict[str, Any], context: StepContext) -> Outcome:
        if task.fan_out is None:
            return self.engine.invoke(task, params, context)
        with self.lock:
            items = fan_out_items(task, self.outputs)
        results: list[Any] = []
        for item in items:
            if context.is_cancelled():
                return Outcome(error=PluginError(PluginErrorCode.OperationCancelled, "cancelled"))
            item_params = dict(params)
            deliver(item_params, item, "", task.fan_out.target_port)
            outcome = self.engine.invoke(task, item_params, context)
            if not outcome.ok:
                return outcome
            results.append(outcome.output)
        return Outcome({MAPPED_KEY: results})

    def _check_condition(self, index: int, params: dict[str, Any]) -> bool | PluginError:
        condition = self.plan.tasks[index].condition
        assert condition is not None
        try:
            # A copy: a condition that mutates its argument must not change the step's input.
            return bool(condition(json_copy(params)))
        except BaseException as exc:
            return PluginError(
                PluginErrorCode.ExecutionFailed,
                f"condition of '{self.plan.tasks[index].key}' could not be evaluated: {exc}",
            )

    # --- transitions (lock held) --------------------------------------------------------
    def _complete(self, index: int, output: dict[str, Any]) -> None:
        task = self.plan.tasks[index]
        if task.role is Role.SPLITTER:
            port = task.out_port or "items"
            if not isinstance(output.get(port), list):
                self._attempt_failed(
                    index,
                    PluginError(
                        PluginErrorCode.InvalidParameters,
                        f"splitter '{task.key}' must return a list under '{port}'",
                    ),
                    retry=False,
                )
                return
        control = self.plan.control_out.get(index)
        if control:
            error = self._route(index, output, control)
            if error is not None:
                self._attempt_failed(index, error, retry=False)
                return
        self.outputs[index] = output
        if self.plan.data == 0:  # DataPolicy.SHARED
            if self.plan.merge_rank is None:
                self.shared.update(output)
            else:
                self._merge_shared(index, output)
        self.ends[index] = time.time()
        self._params[index] = None
        self.completed += 1
        if task.rollback is not None:
            self.engine.compensations.record(self, index)
        if EventKind.TASK_COMPLETED in self.engine.listened:
            self._post_task(EventKind.TASK_COMPLETED, (self.execution_id, task.key, dict(output)))
        self._settle(index, _C)
        self._after_settle()

    def _merge_shared(self, index: int, output: dict[str, Any]) -> None:
        """Concurrent steps writing one key: the later one in sequential order wins, so the
        result does not depend on which finished first; the overlap is reported."""
        ranks = self.plan.merge_rank
        assert ranks is not None
        writers = self.writers
        rank = ranks[index]
        shared = self.shared
        for key, value in output.items():
            writer = writers.get(key)
            if writer is None:
                writers[key] = index
                shared[key] = value
                continue
            overlap = self.overlaps.setdefault(str(key), [])
            for step in (writer, index):
                if step not in overlap:
                    overlap.append(step)
            if rank >= ranks[writer]:
                writers[key] = index
                shared[key] = value

    def _route(
        self, index: int, output: dict[str, Any], control: list[tuple[int, Any]]
    ) -> PluginError | None:
        for target, wire in control:
            if wire.condition is None:
                taken = True
            else:
                try:
                    taken = bool(wire.condition(output))
                except BaseException as exc:
                    return PluginError(
                        PluginErrorCode.ExecutionFailed,
                        f"condition '{wire.condition_text}' on the connection "
                        f"'{self.plan.tasks[index].key}' -> '{self.plan.tasks[target].key}' "
                        f"could not be evaluated: {exc}",
                    )
            if taken:
                active = self.active_control[target]
                if active is None:
                    active = self.active_control[target] = set()
                active.add(index)
        return None

    def _attempt_failed(self, index: int, error: PluginError, *, retry: bool = True) -> None:
        task = self.plan.tasks[index]
        self.step_progress.pop(index, None)
        policy = task.retry or _default_policy(task)
        if (
            retry
            and self.retries[index] < policy.max_retries
            and not self._stopping
            and policy.retryable(error.code)
        ):
            self.retries[index] += 1
            self.states[index] = _T
            names = self.engine.names
            if names.task_retrying:
                self._post_task(
                    EventKind.TASK_RETRYING, (self.execution_id, task.key, self.retries[index])
                )
            self._retry_timers[index] = self.engine.timers.call_later(
                policy.delay_s(self.retries[index]), lambda: self._on_retry_due(index)
            )
            return
        self._fail(index, error)

    def _fail(self, index: int, error: PluginError) -> None:
        task = self.plan.tasks[index]
        self.errors[index] = error.message
        self.ends[index] = time.time()
        self._params[index] = None
        self._post_task(EventKind.TASK_FAILED, (self.execution_id, task.key, error.message))
        if task.critical:
            self._settle(index, _F, propagate=False)
            self._abort(
                RunStatus.FAILED,
                PluginError(
                    error.code,
                    f"{self.engine.names.noun} '{task.key}' failed: {error.message}",
                    error.details,
                    error.plugin_id,
                    {**error.context, "step_id": task.key},
                ),
            )
            return
        self._settle(index, _F)
        self._after_settle()

    def _settle(self, index: int, state: TaskState, *, propagate: bool = True) -> None:
        """Mark a task terminal and release successors whose predecessors have all settled."""
        self.states[index] = state
        if self.step_progress:
            self.step_progress.pop(index, None)
        self.settled += 1
        if propagate:
            self._release_successors(index)

    def _release_successors(self, index: int) -> None:
        ready: list[int] = []
        for succ in self.plan.tasks[index].successors:
            self.waiting[succ] -= 1
            if self.waiting[succ] == 0:
                ready.append(succ)
        if ready:
            self._release(ready)

    def _release(self, candidates: list[int]) -> None:
        # A worklist, not recursion: skip cascades through 20,000-step chains.
        plan, tasks, states = self.plan, self.plan.tasks, self.states
        stack = list(reversed(candidates))
        while stack:
            index = stack.pop()
            if states[index] != _P:
                continue
            if should_run(plan, tasks[index], states, self.active_control[index]):
                heapq.heappush(self._ready, index)
                continue
            states[index] = _S
            self.settled += 1
            for succ in reversed(tasks[index].successors):
                self.waiting[succ] -= 1
                if self.waiting[succ] == 0:
                    stack.append(succ)

    def _after_settle(self) -> None:
        self._update_progress()
        if not self._maybe_complete():
            # A drainer or helper of this run loops to take the next task itself.
            self._spawn(1 if getattr(_taker, "run", None) is self else 0)

    def _wake_helpers(self) -> None:
        if self._helpers:
            self.lock.notify_all()

    def _capacity(self) -> int:
        return self._limit if self._step_time >= SHORT_STEP_S else 1

    def _spawn(self, self_takers: int) -> None:
        if self.status != RunStatus.RUNNING or self._stopping:
            return
        capacity = self._capacity()
        free = capacity - self._running - self._starting
        wanted = min(len(self._ready), free) - self_takers
        for _ in range(max(0, wanted)):
            self._starting += 1
            self.engine.executor.submit(self.drain)
        if self._ready:
            self._wake_helpers()
            self._watch_for_stall()

    def _watch_for_stall(self) -> None:
        if (
            self._stall_timer is None
            and self._ready
            and self._running
            and self._capacity() < self._limit
        ):
            self._stall_timer = self.engine.timers.call_later(STALL_S, self._check_stall)

    def _check_stall(self) -> None:
        """Timer thread: tasks wait behind a step running longer than a 'short' one should,
        so the steps are not short after all; lift the cap."""
        with self.lock:
            self._stall_timer = None
            if self._stopping or not self._ready or not self._running:
                return
            if self._clock() - self._last_progress >= STALL_S:
                self._step_time = max(self._step_time, SHORT_STEP_S)
            self._spawn(0)

    def _record_step_time(self, started: float) -> None:
        self._step_time += (time.perf_counter() - started - self._step_time) * 0.2
        self._last_progress = self._clock()

    def _on_step_progress(self, index: int, fraction: float, message: str) -> None:
        with self.lock:
            if self.states[index] != _R or self._stopping:
                return
            self.step_progress[index] = (fraction, message)
            self._update_progress()

    def _update_progress(self) -> None:
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

    def _maybe_complete(self) -> bool:
        if self._stopping or self.settled < len(self.plan.tasks):
            return False
        self._stopping = True
        self._cancel_workflow_timer()
        self.result = self.engine.collect_result(self)
        self._finish(RunStatus.COMPLETED, None)
        return True

    def _abort(self, final_status: str, error: PluginError) -> None:
        """Stop scheduling, cancel what runs or waits, then compensate and finish."""
        self._stopping = True
        self._cancel_workflow_timer()
        self._resumed.set()  # paused checkpoints must wake up to see the cancellation
        for timer in self._retry_timers.values():
            timer.cancel()
        self._retry_timers.clear()
        self._deadlines.clear()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._ready.clear()
        self.step_progress.clear()
        for index, state in enumerate(self.states):
            if state in (_P, _R, _T):
                context = self._contexts[index]
                if context is not None:
                    context.cancel()
                    self._contexts[index] = None
                    self._running -= 1
                self.states[index] = _X
                self.settled += 1
        for context in self.long_contexts:
            context.cancel()
        self.error = error
        self._wake_helpers()
        pending = self.engine.compensations.claim_for_run(self)
        if pending:
            self.engine.compensations.run_chain(
                pending, lambda errors: self._finish_after_rollback(final_status, error, errors)
            )
        else:
            self._finish(final_status, error)

    def _finish_after_rollback(
        self, final_status: str, error: PluginError, rollback_errors: list[str]
    ) -> None:
        with self.lock:
            self.rollback_errors.extend(rollback_errors)
            self._finish(final_status, error)

    def _finish(self, final_status: str, error: PluginError | None) -> None:
        # Timers hold the run through their callbacks: let go of it now, not at their deadline.
        for timer in (self._watchdog, self._stall_timer):
            if timer is not None:
                timer.cancel()
        self._watchdog = self._stall_timer = None
        self._deadlines.clear()
        self.status = final_status
        self.end_time = _now()
        self.current_task = ""
        self._params = [None] * len(self._params)
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
            self._wake_helpers()

    def _post_terminal(self, final_status: str, error: PluginError | None) -> None:
        if final_status == RunStatus.COMPLETED:
            self.progress = 1.0
            if self._posted_progress < 1.0:
                self._posted_progress = 1.0
                self._post_progress(1.0)
            result = dict(self.result or {})
            self._post(EventKind.WORKFLOW_COMPLETED, (self.execution_id, result), terminal=True)
        elif final_status == RunStatus.FAILED:
            assert error is not None
            self._post(EventKind.WORKFLOW_FAILED, (self.execution_id, error.message), terminal=True)
        else:
            self._post(EventKind.WORKFLOW_CANCELLED, (self.execution_id,), terminal=True)

    # --- timers (timer thread) -----------------------------------------------------------
    def _on_retry_due(self, index: int) -> None:
        with self.lock:
            self._retry_timers.pop(index, None)
            if self._stopping or self.states[index] != _T:
                return
            self.states[index] = _P
            heapq.heappush(self._ready, index)
            self._spawn(0)

    def _arm_watchdog(self, deadline: float) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watchdog_at = deadline
        self._watchdog = self.engine.timers.call_later(
            deadline - self.engine.timers.now(), self._on_watchdog
        )

    def _on_watchdog(self) -> None:
        """Timer thread: time out every attempt past its deadline, re-arm for the next."""
        with self.lock:
            self._watchdog = None
            now = self.engine.timers.now()
            expired = [i for i, (deadline, _) in self._deadlines.items() if deadline <= now]
            for index in expired:
                _, context = self._deadlines.pop(index)
                self._time_out(index, context)
            if self._deadlines and not self._stopping:
                self._arm_watchdog(min(deadline for deadline, _ in self._deadlines.values()))
            self._wake_helpers()

    def _time_out(self, index: int, context: StepContext) -> None:
        if self._contexts[index] is not context or self._stopping:
            return
        context.cancel()
        self._contexts[index] = None
        self._running -= 1  # the hung thread no longer counts against the limit
        task = self.plan.tasks[index]
        self._attempt_failed(
            index,
            PluginError(
                PluginErrorCode.Timeout,
                f"{self.engine.names.noun} '{task.key}' timed out after {task.timeout_ms} ms",
                plugin_id=task.plugin_id,
            ),
        )

    def _on_workflow_timeout(self) -> None:
        with self.lock:
            if self._stopping or self.status in RunStatus.FINAL:
                return
            self._abort(
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

    def _post_progress(self, progress: float) -> None:
        if EventKind.PROGRESS in self.engine.listened:
            self.engine.pump.post_progress(self.execution_id, progress)

    def _post(self, kind: EventKind, args: tuple[Any, ...], *, terminal: bool = False) -> None:
        self.engine.pump.post(Event(kind, args, self.execution_id, terminal))

    def _post_task(self, kind: EventKind, args: tuple[Any, ...]) -> None:
        """Step/node events, a few per task: not even built for a signal nobody has connected
        (connect before starting to see them). Workflow-level events are always queued, so a
        slot connected right after an async start still hears how the execution ends."""
        if kind in self.engine.listened:
            self.engine.pump.post(Event(kind, args, self.execution_id))


__all__ = ["Outcome", "Run", "RunStatus", "SignalNames", "WireKind", "call_plugin"]
