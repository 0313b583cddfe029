"""The batch scheduler: every task once, in dependency order, with retries and timeouts.

Every v1 mode, v2's Sequential, Parallel and Conditional modes and each EventDriven pass. Its
unit of work is one task attempt; it owns the ready heap, the count of attempts running,
inputs, attempt contexts and the dependency bookkeeping (``batch_release``). Task states change
only through the transition table, with the run's lock held.
"""

from __future__ import annotations

import heapq
import time
from functools import partial
from typing import Any

from .._jsoncopy import json_copy
from ..contract.context import StepContext
from ..contract.plan import DataPolicy, Role, TaskSpec, TaskState
from ..contract.retry import RetryPolicy
from ..contract.timer_kind import TimerKind
from ..errors import PluginError
from .attempt_limits import AdaptiveLimit, Deadlines, attempt_problems
from .batch_callbacks import BatchCallbacks
from .batch_parking import Attempt, Landed, Parking
from .batch_release import Release
from .dataflow import build_params, collect_result, fan_out_items
from .events import EventKind
from .executors import THREAD
from .late_outcomes import abandon, returned
from .plugin_route import PARKED
from .run_status import RunStatus
from .scheduler_protocol import SchedulerDefaults
from .shared_data import SharedData
from .shell_protocol import RunShell
from .task_gates import (
    call_mapped,
    check_condition,
    critical_failure,
    retry_verdict,
    splitter_error,
)
from .task_table import COMPLETED, FAILED, PENDING, RETRYING, RUNNING, SKIPPED
from .transitions import STEPS, WIDTH
from .workers import Workers

_GOING = RunStatus.RUNNING
_PROGRESS = 1 << EventKind.PROGRESS  # its bit in ListenedKinds.kinds


class BatchScheduler(BatchCallbacks, SchedulerDefaults):
    """Schedules one run's task attempts (``scheduler_protocol.Scheduler[Attempt]``)."""

    def __init__(self, run: RunShell, seed: dict[str, Any] | None = None) -> None:
        self.run = run
        plan = run.plan
        self.plan = plan
        self.tasks = plan.tasks
        self.total = len(plan.tasks)
        self.lock = run.lock
        self.table = run.table
        self.states = run.table.states
        self.progress = run.progress
        self.transition = run.transition
        self.ready: list[int] = []  # heap of task indices: declaration order among the ready
        self.running = 0  # attempts taken and not given back (conditions being checked too)
        self.checking = 0  # tasks taken whose condition is being checked
        self.current_task = ""
        n = len(plan.tasks)
        self.contexts: list[StepContext | None] = [None] * n
        self.params: list[dict[str, Any] | None] = [None] * n
        self.data = SharedData(run.initial_data, plan.merge_rank)
        self.deps = Release(run, self.ready, self.data)
        self.retry_timers: dict[int, Any] = {}
        engine = run.engine
        self.clock = engine.timers.now
        self.listened = engine.listened
        self.noun = engine.names.noun
        self.call = engine.route.call
        self.invoke = engine.route.invoke
        self.deadlines = Deadlines(run, engine.timers, self._on_deadlines)
        self.deadline_met = self.deadlines.pending.pop  # an attempt ended in time
        self.limit = AdaptiveLimit(run, self, self._stalled)
        self.workers: Workers[Attempt] = Workers(run, self)
        # Built when an attempt first parks. (Instances keep under 30 attributes: from 30 on,
        # CPython 3.11 gives up the class-shared attribute keys, and with them the fastest
        # attribute and method reads of the hot path; tests/test_hot_path_layout.py.)
        self.parking: Parking | None = None
        # An EventDriven pass: the trigger (task 0) starts Completed with the event.
        self.seed = seed

    # --- the Scheduler surface (lock held unless said otherwise) ----------------------------
    def begin(self) -> None:
        seed = self.seed
        if seed is None:
            self.deps.release(list(self.plan.roots))
            return
        self.transition(0, RUNNING, None, time.time())
        self.complete(0, seed)
        self.deps.release([t.index for t in self.tasks[1:] if not t.incoming])

    def capacity(self) -> int:
        return self.limit.capacity()

    def spawned(self) -> None:
        self.limit.watch()

    def work_done(self) -> bool:
        return self.table.settled >= self.total

    def final_result(self) -> dict[str, Any]:
        return collect_result(self.plan, self.data.values, self.table.outputs, self.states)

    def overlaps(self) -> dict[str, list[int]]:
        return self.data.overlaps

    def abort(self, final_status: str, error: PluginError) -> bool:
        self.ready.clear()
        for timer in self.retry_timers.values():
            timer.cancel()
        self.retry_timers.clear()
        self.deadlines.clear()
        contexts = self.contexts
        for index, context in enumerate(contexts):
            if context is not None:
                context.cancel()
                contexts[index] = None
                self.running -= 1
                abandon(self.run, index, context)  # its call may still return: late_outcomes
                self.transition(index, TaskState.Cancelled)
        if self.parking is not None:
            self.parking.abandon_landed()
        self.run.cancel_unsettled()
        return False

    def finished(self) -> None:
        # Timers hold the run through their callbacks: let go of it now, not at their deadline.
        self.deadlines.clear()
        self.limit.stop()
        self.params = [None] * len(self.params)

    # --- taking work ---------------------------------------------------------------------
    def take(self) -> Attempt | None:
        """Pop a ready task. Tasks without a condition to check leave already prepared, so
        the common path costs one lock round trip before the plugin call (and the drainer's
        next task is taken in the same lock hold that records this one's outcome)."""
        run = self.run
        parking = self.parking
        if parking is not None and parking.landed and not run.stopping:
            # Recorded even while paused, as an attempt a thread ran is.
            return parking.landed.popleft()
        if run.stopping or run.status != _GOING or not self.ready or self.running >= self.limit.cap:
            return None
        index = heapq.heappop(self.ready)
        self.running += 1
        if self.tasks[index].condition is None or self.table.retries[index]:
            return self._begin_attempt(index)
        self.checking += 1
        return index, None, None, 0.0

    def _params_for(self, index: int) -> dict[str, Any]:
        """The task's input, kept while a condition is checked or attempts may repeat."""
        params = self.params[index]
        if params is None:
            params = self.params[index] = self._input(self.tasks[index])
        return params

    def _input(self, task: TaskSpec) -> dict[str, Any]:
        data = self.data.values
        deps = self.deps.active_control
        return build_params(self.plan, data, self.run.initial_data, self.table.outputs, deps, task)

    def _begin_attempt(self, index: int) -> Attempt:
        run = self.run
        task = self.tasks[index]
        if task.max_retries:
            # The cached input stays pristine: each attempt gets its own (deep) copy to change.
            params = json_copy(self._params_for(index))
        else:
            params = self.params[index]
            if params is None:
                params = self._input(task)
        context = StepContext(
            run.execution_id,
            task.key,
            self.table.retries[index] + 1,
            run.pause_gate,
            self._on_step_progress,
            index,
        )
        self.contexts[index] = context
        self.current_task = task.key
        limit = self.limit
        limit.events += 1
        if self.ready and limit.stall_timer is None:
            limit.watch()
        started = time.time()
        table = self.table  # run.transition, inlined: the start of every attempt
        effect = STEPS[table.states[index] * WIDTH + RUNNING](table, index, None, started)
        if effect & (run.wanted | self.listened.effects):
            run.carry_out(index, effect, None)
        if task.timeout_ms:  # the attempt's deadline (every v1 step has one)
            clock = self.clock
            deadline = clock() + task.timeout_ms / 1000.0
            deadlines = self.deadlines
            deadlines.pending[index] = deadline
            if deadline < deadlines.armed_for:
                deadlines.arm(deadline, index)
        return index, params, context, started

    # --- doing work (no lock) ---------------------------------------------------------------
    def work(self, unit: Attempt) -> Attempt | None:
        """Run one attempt; returns the calling drainer's next unit of work, taken while the
        lock is held to record this one (None: take again, or nothing is left)."""
        index, params, context, started = unit
        task = self.tasks[index]
        lock = self.lock
        if context is None:
            return self._check_condition(index)
        assert params is not None
        if isinstance(params, Landed):
            value, ended = params.value, params.ended
        else:
            if task.fan_out is not None:
                with lock:
                    items = fan_out_items(task, self.table.outputs)
                outcome = call_mapped(self.invoke, task, params, context, items)
                value = outcome.output if outcome.error is None else outcome.error
            elif task.executor == THREAD:
                call = self.call
                value = call(task, params, context)
            else:
                start = self.run.engine.route.start
                value = start(task, params, context, self._landing(index, context, started))
                if value is PARKED:
                    with lock:
                        return self.take()
            ended = time.time()
        verdict = None  # whether a failed attempt is retried, when user code must say (no lock)
        if value.__class__ is not dict and isinstance(value, PluginError):
            verdict = retry_verdict(task, value, self.table.retries[index])
        with lock:
            if self.contexts[index] is not context:
                # Timed out or cancelled meanwhile: not this attempt's result any more, but
                # a late outcome (recorded; a late success may be undone).
                returned(self.run, index, context, value, ended)
                return None
            self.limit.attempt_ended(ended - started)
            self.contexts[index] = None
            self.running -= 1
            if task.timeout_ms:
                met = self.deadline_met
                met(index, None)
            if isinstance(value, PluginError):
                self._attempt_failed(index, value, taker=True, verdict=verdict)
            else:
                self.complete(index, value, ended, True)
            if self.workers.helpers:
                self.workers.wake_helpers()
            return self.take()

    def _check_condition(self, index: int) -> Attempt | None:
        """A taken task with a condition: run it if it holds (the attempt this drainer does
        next), skip it if not."""
        task = self.tasks[index]
        with self.lock:
            params = self._params_for(index)
        run = self.run
        verdict = check_condition(task, params, lambda: run.stopping)
        with self.lock:
            self.checking -= 1
            self.running -= 1
            if self.states[index] != PENDING or self.run.stopping:
                self.workers.wake_helpers()
                return None
            if verdict is not True:
                if verdict is False:
                    self.transition(index, SKIPPED)
                    self.deps.settled(index)
                    self._after_settle(True)
                else:
                    self._fail(index, verdict, True)
                self.workers.wake_helpers()
                return None
            self.running += 1
            return self._begin_attempt(index)

    # --- outcomes (lock held) ------------------------------------------------------------
    def complete(
        self, index: int, output: dict[str, Any], ended: float = 0.0, taker: bool | None = None
    ) -> None:
        task = self.tasks[index]
        failure = splitter_error(task, output) if task.role is Role.SPLITTER else None
        if failure is None and self.plan.control_out:
            failure = self.deps.route(index, output)
        if failure is not None:
            self._attempt_failed(index, failure, retry=False, taker=taker)
            return
        if output and self.plan.data is DataPolicy.SHARED:
            self.data.merge(index, output)
        self.params[index] = None
        table = self.table  # run.transition, inlined: the end of every completed attempt
        effect = STEPS[table.states[index] * WIDTH + COMPLETED](
            table, index, output, ended or time.time()
        )
        if effect & (self.run.wanted | self.listened.effects):
            self.run.carry_out(index, effect, output)
        if task.successors:
            self.deps.settled(index)
        self._after_settle(taker)

    def _attempt_failed(
        self,
        index: int,
        error: PluginError,
        *,
        retry: bool = True,
        taker: bool | None = None,
        verdict: bool | None = None,
    ) -> None:
        """``verdict``: the retry policy's answer, asked with no lock held when it has a
        predicate (None: asked here, by code and exception class only)."""
        task = self.tasks[index]
        policy = task.retry or RetryPolicy(task.max_retries, task.retry_delay_ms)
        retries = self.table.retries
        if (
            retry
            and retries[index] < policy.max_retries
            and not self.run.stopping
            and (policy.retries(error, ask=False) if verdict is None else verdict)
        ):
            self.transition(index, RETRYING, error)
            self.retry_timers[index] = self.run.engine.timers.call_later(
                policy.delay_s(retries[index]),
                partial(self._on_retry_due, index),
                kind=TimerKind.RETRY,
                execution_id=self.run.execution_id,
                step_id=task.key,
            )
            return
        self._fail(index, error, taker)

    def _fail(self, index: int, error: PluginError, taker: bool | None = None) -> None:
        task = self.tasks[index]
        self.params[index] = None
        self.transition(index, FAILED, error, time.time())
        if task.critical:
            self.run.abort(RunStatus.FAILED, critical_failure(self.noun, task, error))
            return
        self.deps.settled(index)
        self._after_settle(taker)

    def _after_settle(self, taker: bool | None = None) -> None:
        """``taker``: the caller is this run's drainer or helper and takes the next task
        itself (None: find out)."""
        table = self.table
        if (table.settled >= self.progress.due or table.step_progress) and (
            self.listened.kinds & _PROGRESS
        ):
            # Status reads compute progress themselves: only a connected slot needs it now.
            self.run.update_progress()
        if table.settled >= self.total and self.run.maybe_complete():
            return
        workers = self.workers
        if taker is None:
            taker = workers.is_taker()
        elif not self.running and self.limit.cap == 1 and not workers.helpers:
            # The one attempt allowed is the calling drainer's next: nobody to start or wake.
            return
        workers.spawn(1 if taker else 0)

    # --- invariants (lock held) -----------------------------------------------------------
    def problems(self) -> list[str]:
        return self.deps.problems() + attempt_problems(
            self.states, self.contexts, self.running, self.checking, seeded=self.seed is not None
        )
