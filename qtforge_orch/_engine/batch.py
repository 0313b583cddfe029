"""The batch scheduler: every task once, in dependency order, with retries and timeouts.

Used by every v1 mode and v2's Sequential, Parallel and Conditional modes, and for each pass of
an EventDriven execution. The unit of work is one task attempt; state lives in the shell's flat
per-task lists, changed only with the run's lock held.
"""

from __future__ import annotations

import heapq
import time
from functools import partial
from typing import TYPE_CHECKING, Any

from .._errors import PluginError, PluginErrorCode
from .._jsoncopy import json_copy
from ..contract.context import StepContext
from ..contract.plan import Role, TaskSpec, TaskState
from ..contract.retry import RetryPolicy
from .attempts import AdaptiveLimit, Deadlines
from .dataflow import (
    build_params,
    collect_result,
    fan_out_items,
    merge_shared,
    should_run,
)
from .events import EventKind
from .gates import call_mapped, check_condition, route_control
from .invoke import call_value
from .resumed import restore_task
from .scheduler_base import SchedulerDefaults
from .status import RunStatus
from .timers import TimerKind

if TYPE_CHECKING:
    from .run import Run

_P = TaskState.Pending
_R = TaskState.Running
_C = TaskState.Completed
_S = TaskState.Skipped
_T = TaskState.Retrying
_F = TaskState.Failed
_RUNNING = RunStatus.RUNNING
_TASK_STARTED = EventKind.TASK_STARTED
_TASK_COMPLETED = EventKind.TASK_COMPLETED
_PROGRESS = EventKind.PROGRESS


def _default_policy(task: TaskSpec) -> RetryPolicy:
    return RetryPolicy(task.max_retries, task.retry_delay_ms)


class BatchScheduler(SchedulerDefaults):
    """Schedules one run's task attempts (see ``run.Scheduler`` for the contract)."""

    def __init__(self, run: Run, seed: dict[str, Any] | None = None) -> None:
        self.run = run
        plan = run.plan
        self.plan = plan
        self.tasks = plan.tasks
        self.total = len(plan.tasks)
        self.lock = run.lock
        self.states = run.states
        self.ready = run.ready
        n = len(plan.tasks)
        self.waiting: list[int] = list(plan.dependency_counts)
        self.active_control: list[set[int] | None] = [None] * n
        self.contexts: list[StepContext | None] = [None] * n
        self.params: list[dict[str, Any] | None] = [None] * n
        self.writers: dict[Any, int] = {}  # shared key -> task that wrote it (merge_rank)
        self.retry_timers: dict[int, Any] = {}
        self.deadlines = Deadlines(run, run.engine.timers, self._on_deadlines)
        self.limit = AdaptiveLimit(run, self._stalled)
        self.invoke = run.engine.invoke
        self.find = run.engine.find
        # An EventDriven pass: the trigger (task 0) starts Completed with the event.
        self.seed = seed
        # A resumed execution: tasks that completed before start Completed with their output.
        resume = run.resume_seed
        self.restored = resume.outputs if resume is not None else None
        self.rollbacks_done = resume.rollbacks_done if resume is not None else set()

    # --- the Scheduler surface (lock held unless said otherwise) ----------------------------
    def begin(self) -> None:
        seed = self.seed
        if seed is None:
            self.release(list(self.plan.roots))
            return
        run = self.run
        self.states[0] = _R
        run.starts[0] = time.time()
        run.post_task(EventKind.TASK_STARTED, (run.execution_id, self.tasks[0].key))
        self.complete(0, seed)
        self.release([t.index for t in self.tasks[1:] if not t.incoming])

    def capacity(self) -> int:
        return self.limit.capacity()

    def spawned(self) -> None:
        self.limit.watch()

    def work_done(self) -> bool:
        return self.run.settled >= self.total

    def final_result(self) -> dict[str, Any]:
        run = self.run
        return collect_result(self.plan, run.shared, run.outputs, self.states)

    def abort(self, final_status: str, error: PluginError) -> bool:
        for timer in self.retry_timers.values():
            timer.cancel()
        self.retry_timers.clear()
        self.deadlines.clear()
        run = self.run
        contexts = self.contexts
        for index, context in enumerate(contexts):
            if context is not None:
                context.cancel()
                contexts[index] = None
                run.running -= 1
        run.cancel_unsettled()
        return False

    def finished(self) -> None:
        # Timers hold the run through their callbacks: let go of it now, not at their deadline.
        self.deadlines.clear()
        self.limit.stop()
        self.params = [None] * len(self.params)

    # --- taking work ---------------------------------------------------------------------
    def take(self) -> Any:
        """Pop a ready task. Tasks without a condition to check leave already prepared, so
        the common path costs one lock round trip before the plugin call (and the drainer's
        next task is taken in the same lock hold that records this one's outcome)."""
        run = self.run
        if (
            run.stopping
            or run.status != _RUNNING
            or not self.ready
            or run.running >= self.limit.cap
        ):
            return None
        index = heapq.heappop(self.ready)
        run.running += 1
        self.states[index] = _R
        if self.tasks[index].condition is None or run.retries[index]:
            return self._begin_attempt(index)
        return index, None, None, 0.0

    def _params_for(self, index: int) -> dict[str, Any]:
        """The task's input, kept while a condition is checked or attempts may repeat."""
        params = self.params[index]
        if params is None:
            params = self.params[index] = self._build_params(index)
        return params

    def _build_params(self, index: int) -> dict[str, Any]:
        run = self.run
        return build_params(
            self.plan,
            self.tasks[index],
            run.shared,
            run.initial_data,
            run.outputs,
            self.active_control,
        )

    def _begin_attempt(self, index: int) -> tuple[int, dict[str, Any], StepContext, float]:
        run = self.run
        task = self.tasks[index]
        if task.max_retries:
            # The cached input stays pristine: each attempt gets its own (deep) copy to change.
            params = json_copy(self._params_for(index))
        else:
            params = self.params[index]
            if params is None:
                params = self._build_params(index)
        retries = run.retries[index]
        context = StepContext(
            run.execution_id,
            task.key,
            retries + 1,
            run.resumed_event,
            self._on_step_progress,
            index,
        )
        self.contexts[index] = context
        run.current_task = task.key
        limit = self.limit
        limit.events += 1
        if self.ready and limit.stall_timer is None:
            limit.watch()
        started = time.time()
        if not retries:
            run.starts[index] = started
            if run.journal is not None:
                run.note(index, "started")
            if _TASK_STARTED in run.engine.listened:
                run.post_task(_TASK_STARTED, (run.execution_id, task.key))
        if task.timeout_ms:
            self.deadlines.add(index, task.timeout_ms / 1000.0)
        return index, params, context, started

    # --- doing work (no lock) ---------------------------------------------------------------
    def work(self, taken: Any) -> Any:
        """Run one attempt; returns the calling drainer's next unit of work, taken while the
        lock is held to record this one (None: take again, or nothing is left)."""
        index, params, context, started = taken
        task = self.tasks[index]
        run = self.run
        lock = self.lock
        if context is None:
            with lock:
                params = self._params_for(index)
            verdict = check_condition(task, params, lambda: run.stopping)
            with lock:
                if self.states[index] != _R or run.stopping:
                    run.running -= 1
                    run.workers.wake_helpers()
                    return None
                if verdict is not True:
                    run.running -= 1
                    if verdict is False:
                        if run.journal is not None:
                            run.note(index, "skipped")
                        self.settle(index, _S)
                        self._after_settle(True)
                    else:
                        self._fail(index, verdict, True)
                    run.workers.wake_helpers()
                    return None
                index, params, context, started = self._begin_attempt(index)
        plugin = None
        if task.fan_out is None:
            find = self.find
            if find is not None and task.executor == "thread":
                plugin = find(task.plugin_id)
        if plugin is not None:
            # The common case without the engine's general path: no Expected, no Outcome.
            value = call_value(plugin, task.plugin_id, task.command, params, context)
        else:
            if task.fan_out is None:
                outcome = self.invoke(task, params, context)
            else:
                with lock:
                    items = fan_out_items(task, run.outputs)
                outcome = call_mapped(self.invoke, task, params, context, items)
            value = outcome.output if outcome.error is None else outcome.error
        ended = time.time()
        with lock:
            if self.contexts[index] is not context:
                return None  # timed out or cancelled meanwhile: the late result is discarded
            self.limit.attempt_ended(ended - started)
            self.contexts[index] = None
            run.running -= 1
            if task.timeout_ms:
                self.deadlines.remove(index)
            if isinstance(value, PluginError):
                self._attempt_failed(index, value, taker=True)
            else:
                self.complete(index, value, ended, True)
            if run.workers.helpers:
                run.workers.wake_helpers()
            return self.take()

    # --- transitions (lock held) ------------------------------------------------------------
    def complete(
        self, index: int, output: dict[str, Any], ended: float = 0.0, taker: bool | None = None
    ) -> None:
        run = self.run
        task = self.tasks[index]
        if task.role is Role.SPLITTER:
            port = task.out_port or "items"
            if not isinstance(output.get(port), list):
                error = PluginError(
                    PluginErrorCode.InvalidParameters,
                    f"splitter '{task.key}' must return a list under '{port}'",
                )
                self._attempt_failed(index, error, retry=False, taker=taker)
                return
        control = self.plan.control_out.get(index)
        if control:
            failure = route_control(self.tasks, index, output, control, self.active_control)
            if failure is not None:
                self._attempt_failed(index, failure, retry=False, taker=taker)
                return
        run.outputs[index] = output
        if output and self.plan.data == 0:  # DataPolicy.SHARED
            if self.plan.merge_rank is None:
                run.shared.update(output)
            else:
                merge_shared(self.plan, run.shared, self.writers, run.overlaps, index, output)
        run.ends[index] = ended or time.time()
        self.params[index] = None
        run.completed += 1
        if task.rollback is not None:
            run.engine.compensations.record(run, index)
        if run.journal is not None:
            run.note(index, "completed", output=output)
        if _TASK_COMPLETED in run.engine.listened:
            run.post_task(_TASK_COMPLETED, (run.execution_id, task.key, dict(output)))
        self.settle(index, _C)
        self._after_settle(taker)

    def _attempt_failed(
        self, index: int, error: PluginError, *, retry: bool = True, taker: bool | None = None
    ) -> None:
        run = self.run
        task = self.tasks[index]
        run.step_progress.pop(index, None)
        policy = task.retry or _default_policy(task)
        if (
            retry
            and run.retries[index] < policy.max_retries
            and not run.stopping
            and policy.retryable(error.code)
        ):
            run.retries[index] += 1
            self.states[index] = _T
            if run.journal is not None:
                run.note(index, "retrying", error=error.message)
            if run.engine.names.task_retrying:
                run.post_task(
                    EventKind.TASK_RETRYING, (run.execution_id, task.key, run.retries[index])
                )
            self.retry_timers[index] = run.engine.timers.call_later(
                policy.delay_s(run.retries[index]),
                partial(self._on_retry_due, index),
                kind=TimerKind.RETRY,
                execution_id=run.execution_id,
                step_id=task.key,
            )
            return
        self._fail(index, error, taker)

    def _fail(self, index: int, error: PluginError, taker: bool | None = None) -> None:
        run = self.run
        task = self.tasks[index]
        run.errors[index] = error.message
        run.ends[index] = time.time()
        self.params[index] = None
        if run.journal is not None:
            run.note(index, "failed", error=error.message)
        run.post_task(EventKind.TASK_FAILED, (run.execution_id, task.key, error.message))
        if task.critical:
            self.settle(index, _F, propagate=False)
            run.abort(
                RunStatus.FAILED,
                PluginError(
                    error.code,
                    f"{run.engine.names.noun} '{task.key}' failed: {error.message}",
                    error.details,
                    error.plugin_id,
                    {**error.context, "step_id": task.key},
                ),
            )
            return
        self.settle(index, _F)
        self._after_settle(taker)

    def settle(self, index: int, state: TaskState, *, propagate: bool = True) -> None:
        """Mark a task terminal and release successors whose predecessors have all settled."""
        run = self.run
        self.states[index] = state
        if run.step_progress:
            run.step_progress.pop(index, None)
        run.settled += 1
        if propagate:
            ready: list[int] | None = None
            waiting = self.waiting
            for succ in self.tasks[index].successors:
                left = waiting[succ] = waiting[succ] - 1
                if not left:
                    if ready is None:
                        ready = [succ]
                    else:
                        ready.append(succ)
            if ready is not None:
                self.release(ready)

    def release(self, candidates: list[int]) -> None:
        # A worklist, not recursion: skip cascades through 20,000-step chains.
        plan, tasks, states, waiting = self.plan, self.tasks, self.states, self.waiting
        candidates.reverse()
        stack = candidates
        while stack:
            index = stack.pop()
            if states[index] != _P:
                continue
            if should_run(plan, tasks[index], states, self.active_control[index]):
                if self.restored is not None and index in self.restored:
                    restore_task(self, index, stack)
                    continue
                heapq.heappush(self.ready, index)
                continue
            states[index] = _S
            self.run.settled += 1
            if self.run.journal is not None:
                self.run.note(index, "skipped")
            for succ in reversed(tasks[index].successors):
                waiting[succ] -= 1
                if waiting[succ] == 0:
                    stack.append(succ)

    def _after_settle(self, taker: bool | None = None) -> None:
        """``taker``: the caller is this run's drainer or helper and takes the next task
        itself (None: find out)."""
        run = self.run
        if (run.settled >= run.progress_due or run.step_progress) and (
            _PROGRESS in run.engine.listened
        ):
            # Status reads compute progress themselves: only a connected slot needs it now.
            run.update_progress()
        if run.settled >= self.total and run.maybe_complete():
            return
        if taker is None:
            taker = run.workers.is_taker()
        elif not run.running and self.limit.cap == 1 and not run.workers.helpers:
            # The one attempt allowed is the calling drainer's next: nobody to start or wake.
            return
        run.workers.spawn(1 if taker else 0)

    def _on_step_progress(self, index: int, fraction: float, message: str) -> None:
        """A running step's ``StepContext.report_progress`` (its worker thread)."""
        run = self.run
        with self.lock:
            if self.states[index] != _R or run.stopping:
                return
            run.step_progress[index] = (fraction, message)
            run.update_progress()

    # --- timers (timer thread) ---------------------------------------------------------------
    def _on_retry_due(self, index: int) -> None:
        run = self.run
        with self.lock:
            self.retry_timers.pop(index, None)
            if run.stopping or self.states[index] != _T:
                return
            self.states[index] = _P
            heapq.heappush(self.ready, index)
            run.workers.spawn(0)

    def _stalled(self) -> None:
        self.run.workers.spawn(0)

    def _on_deadlines(self, expired: list[int]) -> None:
        """(lock held, timer thread) Time out every attempt past its deadline."""
        run = self.run
        for index in expired:
            context = self.contexts[index]
            if context is None or run.stopping:
                continue
            context.cancel()
            self.contexts[index] = None
            run.running -= 1  # the hung thread no longer counts against the limit
            task = self.tasks[index]
            self._attempt_failed(
                index,
                PluginError(
                    PluginErrorCode.Timeout,
                    f"{run.engine.names.noun} '{task.key}' timed out after {task.timeout_ms} ms",
                    plugin_id=task.plugin_id,
                ),
            )
        run.workers.wake_helpers()
