"""The event scheduler (v2 EventDriven): the execution stays running and runs a trigger plan
once per event.

Each event becomes a child run (a batch run, ``Run.new_child``) of the part of the graph
downstream of the node that produced it. The parent owns the lifecycle signals, the event queue
and the per-node record of the latest pass. Sources are plugins: they are started, pulled and
stopped through ``invoke``, never under the run's lock.
"""

from __future__ import annotations

import time
from collections import deque
from functools import partial
from typing import Any

from ..contract.context import StepContext
from ..contract.event_source import IEventSource, StopEvents
from ..contract.plan import Role, TaskSpec, TaskState
from ..errors import PluginError, PluginErrorCode, error_from_exception
from . import invoke
from .events import EventKind
from .run_status import RunStatus
from .scheduler_protocol import SchedulerDefaults
from .shell_protocol import RunShell
from .trigger_plans import WHOLE_GRAPH, trigger_plans
from .workers import Workers


class EventScheduler(SchedulerDefaults):
    """Schedules one EventDriven run's passes and sources. It hands out no units of work of
    its own (``Scheduler[None]``): each pass is a run of its own, sources are fed on the pool.
    The run's task table is the record of the latest passes, not a state machine."""

    def __init__(self, run: RunShell) -> None:
        self.run = run
        self.plan = run.plan
        self.tasks = run.plan.tasks
        self.lock = run.lock
        self.table = run.table
        self.table.mirror = True
        self.ready: list[int] = []  # never filled: passes queue as ``pending`` events
        self.running = 0
        self.current_task = ""
        self.workers: Workers[None] = Workers(run, self)
        self.trigger_plans = trigger_plans(run.plan)
        self.pending: deque[tuple[int, dict[str, Any]]] = deque()
        self.children: set[RunShell] = set()
        self._stops: list[tuple[str, StopEvents]] = []
        self._feeders: dict[int, Any] = {}  # trigger index -> iterator (None: not started)
        self._feeding: set[int] = set()
        self._endless = 0
        self.events_received = 0
        self.events_completed = 0
        self.events_failed = 0
        # Per node: the runs that ended, those that failed, and their total time (ms).
        self.runs = [0] * len(self.tasks)
        self.failed_runs = [0] * len(self.tasks)
        self.run_ms = [0.0] * len(self.tasks)
        self._failed_sources: set[int] = set()
        self._final: tuple[str, PluginError] | None = None  # set once cancelled or failed
        # With no Source node at all, events only come from post_event: run until cancelled.
        self._waits_for_posts = not any(t.role is Role.SOURCE for t in self.tasks)

    # --- the Scheduler surface (lock held) ----------------------------------------------------
    def begin(self) -> None:
        engine = self.run.engine
        for index in self.trigger_plans:
            task = self.tasks[index]
            found = engine.route.plugins.get_plugin(task.plugin_id)
            plugin = found.value() if found else None
            if isinstance(plugin, IEventSource):
                self._endless += 1
                self._start_event_source(index, plugin)
            else:
                self._feeders[index] = None
                self._feed_later(index)

    def take(self) -> None:
        return None  # passes are runs of their own; sources are fed by _feed

    def work(self, unit: None) -> None:
        raise AssertionError("an EventDriven run hands out no work of its own")

    def capacity(self) -> int:
        return self.run.limit

    def work_done(self) -> bool:
        if self._endless or self._feeders or self.pending or self.children:
            return False
        return self.run.status == RunStatus.RUNNING and not self._waits_for_posts

    def final_result(self) -> dict[str, Any]:
        self._stop_sources()
        return self.run_extras()

    def abort(self, final_status: str, error: PluginError) -> bool:
        """Stop sources and passes; the execution ends once the last pass has ended, so its
        terminal signal stays the last one. Children are cancelled right after this run's lock
        is released (their finish callbacks take it), never queued behind plugin work."""
        run = self.run
        self.pending.clear()
        self._feeders.clear()
        self._stop_sources()
        self._final = (final_status, error)
        children = list(self.children)
        if not children:
            return False
        for child in children:
            run.lock.later(child.cancel)
        return True

    def paused(self) -> None:
        for child in list(self.children):
            self.lock.later(child.pause)

    def resumed(self) -> None:
        for child in list(self.children):
            self.lock.later(child.resume)
        self._start_children()

    def task_extras(self) -> list[dict[str, Any]]:
        return [
            {"runs": runs, "failed_runs": failed, "run_ms": round(ms, 3)}
            for runs, failed, ms in zip(self.runs, self.failed_runs, self.run_ms, strict=True)
        ]

    def run_extras(self) -> dict[str, Any]:
        return {
            "events_received": self.events_received,
            "events_completed": self.events_completed,
            "events_failed": self.events_failed,
        }

    # --- events -------------------------------------------------------------------------------
    def post_event(self, trigger: int, payload: dict[str, Any]) -> PluginError | None:
        run = self.run
        with self.lock:
            if run.stopping or run.status in RunStatus.FINAL:
                return PluginError(
                    PluginErrorCode.InvalidState,
                    f"execution '{run.execution_id}' is {run.status}; it takes no more events",
                )
            self._accept(trigger, payload)
        return None

    def _accept(self, trigger: int, payload: dict[str, Any]) -> None:
        if trigger == WHOLE_GRAPH:
            event = payload
        else:
            port = self.tasks[trigger].out_port
            event = {port: payload} if port and port not in payload else payload
        self.events_received += 1
        self.pending.append((trigger, event))
        self._start_children()

    def _start_children(self) -> None:
        run = self.run
        while self.pending and len(self.children) < run.limit:
            if run.status != RunStatus.RUNNING or run.stopping:
                return
            trigger, event = self.pending.popleft()
            if trigger == WHOLE_GRAPH:
                # No Source node: the event is the input data of one pass over the graph.
                mapping = list(range(len(self.tasks)))
                child = run.new_child(self.plan, event, None)
            else:
                plan, mapping = self.trigger_plans[trigger]
                child = run.new_child(plan, {}, event)
                self.current_task = self.tasks[trigger].key
            self.children.add(child)
            child.on_finish(partial(self._child_finished, mapping=mapping))
            # Started once this run's lock is released: starting only schedules the pass's
            # first nodes, and a pass queued on the pool could start after a pause.
            self.lock.later(child.start)

    def _child_finished(self, child: RunShell, *, mapping: list[int]) -> None:
        run = self.run
        with self.lock:
            self.children.discard(child)
            # A pass that completed before a cancel reached it still counts (its signals were
            # delivered); one the cancel ended is neither completed nor failed.
            if child.status == RunStatus.COMPLETED:
                self.events_completed += 1
            elif self._final is None:
                self.events_failed += 1
                if child.error is not None:
                    run.error_messages.append(child.error.message)
            if self._final is not None:
                if not self.children and run.status not in RunStatus.FINAL:
                    run.finish(*self._final)
                return
            self._record_pass(child, mapping)
            self._start_children()
            for index, iterator in list(self._feeders.items()):
                if iterator is not None and index not in self._feeding:
                    self._feed_later(index)
            run.maybe_complete()
            self.workers.wake_helpers()

    def _record_pass(self, child: RunShell, mapping: list[int]) -> None:
        passed = child.table
        for sub_index, index in enumerate(mapping):
            if index in self._failed_sources:
                continue  # keep the source's own failure, not the pass's record of it
            state = passed.states[sub_index]
            if state in (TaskState.Completed, TaskState.Failed):
                self.runs[index] += 1
                self.failed_runs[index] += state == TaskState.Failed
                started, ended = passed.starts[sub_index], passed.ends[sub_index]
                if started and ended:
                    self.run_ms[index] += (ended - started) * 1000
            if state != TaskState.Pending:
                self.table.record_pass(index, passed, sub_index)

    # --- event sources ----------------------------------------------------------------------
    def _start_event_source(self, index: int, plugin: IEventSource) -> None:
        run = self.run
        task = self.tasks[index]

        def emit(payload: dict[str, Any]) -> None:
            if isinstance(payload, dict):
                self.post_event(index, dict(payload))
            else:
                self._note(f"source '{task.key}' emitted {type(payload).__name__}, not a dict")

        def start() -> None:
            stop = invoke.start_event_source(plugin, dict(task.call_parameters), emit)
            if isinstance(stop, PluginError):
                self._source_failed(task, stop)
                with self.lock:
                    self._endless -= 1
                    run.maybe_complete()
                return
            with self.lock:
                if not run.stopping:
                    self._stops.append((task.key, stop))
                    return
            self._run_stop(task.key, stop)

        # In the owner thread (Qt objects such as QFileSystemWatcher live there), and never
        # under this run's lock: start_events is plugin code and may call back in.
        if run.engine.in_owner_thread():
            self.lock.later(start)
        else:
            run.engine.pump.call_soon(start)

    def _stop_sources(self) -> None:
        """(lock held) Stop every event source once the lock is released."""
        stops, self._stops = self._stops, []
        for key, stop in stops:
            self.lock.later(partial(self._in_owner_thread, partial(self._run_stop, key, stop)))

    def _run_stop(self, key: str, stop: StopEvents) -> None:
        problem = invoke.stop_event_source(stop)
        if problem is not None:
            self._note(f"source '{key}': {problem}")

    def _note(self, message: str) -> None:
        with self.lock:
            self.run.error_messages.append(message)

    def _in_owner_thread(self, function: Any) -> None:
        engine = self.run.engine
        if engine.in_owner_thread():
            function()
        else:
            engine.pump.call_soon(function)

    # --- plain sources ------------------------------------------------------------------------
    def _feed_later(self, index: int) -> None:
        self._feeding.add(index)
        self.run.engine.executor.submit(partial(self._feed, index))

    def _feed(self, index: int) -> None:
        """Pull items from a plain Source node while there is room for more passes. Each item
        becomes an event as soon as it is pulled: a slow source's event never waits for
        company, and a cancel stops the pulling at the next item."""
        run = self.run
        task = self.tasks[index]
        with self.lock:
            iterator = self._feeders.get(index)
            if run.stopping or index not in self._feeders:
                self._feeding.discard(index)
                return
            context = run.new_context(task.key) if iterator is None else None
        if iterator is None:
            assert context is not None
            iterator = self._open_source(task, context)
        exhausted = iterator is None
        while not exhausted:
            item, error, exhausted = invoke.next_item(iterator)
            if error is not None:
                message = f"raised {type(error).__name__}: {error}"
                failure = error_from_exception(
                    error, PluginErrorCode.ExecutionFailed, message, skip_frames=1
                )
                self._source_failed(task, failure)
            if exhausted:
                break
            event = item if isinstance(item, dict) else {task.out_port or "value": item}
            with self.lock:
                if run.stopping:
                    self._feeding.discard(index)
                    return
                self._accept(index, event)
                if len(self.children) + len(self.pending) >= run.limit:
                    break  # resumed by _child_finished when a pass ends
        with self.lock:
            self._feeding.discard(index)
            if run.stopping:
                return
            if exhausted:
                self._feeders.pop(index, None)
            else:
                self._feeders[index] = iterator
                if len(self.children) + len(self.pending) < run.limit:
                    self._feed_later(index)
            run.maybe_complete()

    def _open_source(self, task: TaskSpec, context: StepContext) -> Any:
        """Call a plain Source node's command once; its iterator (or dict) feeds events."""
        params = dict(task.call_parameters)
        params.update(self.run.initial_data)
        # Here, whatever the node's executor: the iterator it returns cannot leave the process.
        outcome = self.run.engine.route.call_here(task, params, context, allow_stream=True)
        if not outcome.ok:
            assert outcome.error is not None
            self._source_failed(task, outcome.error)
            return None
        if outcome.output is None:
            return None
        if isinstance(outcome.output, dict):
            return iter([outcome.output])
        return iter(outcome.output)

    def _source_failed(self, task: TaskSpec, error: PluginError) -> None:
        run = self.run
        message = error.message
        with self.lock:
            self._failed_sources.add(task.index)
            self.table.record_failure(task.index, error, time.time())
            run.error_messages.append(f"source '{task.key}': {message}")
            args = (run.execution_id, task.key, message)
            run.events.post_task(EventKind.TASK_FAILED, args, error)

    # --- invariants (lock held) -------------------------------------------------------------
    def problems(self) -> list[str]:
        found: list[str] = []
        if len(self.children) > self.run.limit:
            found.append(f"{len(self.children)} passes run at once, the limit is {self.run.limit}")
        if self._final is not None and self.pending:
            found.append("events wait after the run was stopped")
        return found
