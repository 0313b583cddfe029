"""EventDriven mode: an execution that stays running and runs a trigger plan once per event.

Each event becomes a child ``Run`` (the same scheduler as every other mode) of the part of the
graph downstream of the node that produced it. The parent owns the lifecycle signals, the event
queue, and the per-node record of the latest pass.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from .._errors import PluginError, PluginErrorCode
from ..plugins._event_source import IEventSource, StopEvents
from .context import StepContext
from .dataflow import RESERVED_CONFIGURATION_KEYS
from .events import EventKind
from .graph import descendants
from .invoke import call_plugin
from .plan import Plan, Role, TaskSpec, TaskState, Wire, WireKind, link_successors
from .run import Run, RunStatus

if TYPE_CHECKING:
    from .core import Engine


# post_event's trigger for a workflow without Source nodes: the whole graph, event as input.
WHOLE_GRAPH = -1


def trigger_plan(plan: Plan, trigger: int) -> tuple[Plan, list[int]]:
    """The sub-plan one event from ``trigger`` runs, and its index -> ``plan`` index map.

    Downstream means reachable along connections. A trigger with no outgoing connections (the
    reference's file-watcher example) feeds every node that is not a Source: the graph's other
    roots receive the event as their input.
    """
    tasks = plan.tasks
    keys = [t.key for t in tasks]
    edges = [(keys[w.source], t.key) for t in tasks for w in t.incoming]
    implicit = not tasks[trigger].successors
    if implicit:
        chosen = [t.index for t in tasks if t.index == trigger or t.role is not Role.SOURCE]
    else:
        reachable = descendants(keys, edges, keys[trigger])
        chosen = [t.index for t in tasks if t.index == trigger or t.key in reachable]
    position = {old: new for new, old in enumerate(chosen)}
    sub: list[TaskSpec] = []
    for new, old in enumerate(chosen):
        task = tasks[old]
        wires = tuple(
            replace(w, source=position[w.source]) for w in task.incoming if w.source in position
        )
        if implicit and old != trigger and not task.incoming:
            wires = (Wire(position[trigger], WireKind.DATA),)
        fan_out = None
        if task.fan_out is not None and task.fan_out.source in position:
            fan_out = next(w for w in wires if w.source == position[task.fan_out.source])
        sub.append(
            replace(task, index=new, incoming=() if old == trigger else wires, fan_out=fan_out)
        )
    link_successors(sub)
    return (
        Plan(
            workflow_id=plan.workflow_id,
            tasks=sub,
            data=plan.data,
            join=plan.join,
            max_concurrency=plan.max_concurrency,
        ),
        chosen,
    )


class TriggeredRun(Run):
    """One event's pass: the trigger node starts Completed with the event as its output."""

    def __init__(self, engine: Engine, plan: Plan, execution_id: str, event: dict[str, Any]):
        super().__init__(engine, plan, execution_id, {})
        self.is_child = True
        self._event = event

    def _begin(self) -> None:
        trigger = self.plan.tasks[0]  # trigger_plan keeps the trigger first (lowest index)
        self.states[0] = TaskState.Running
        self.starts[0] = time.time()
        self._post_task(EventKind.TASK_STARTED, (self.execution_id, trigger.key))
        self._complete(0, self._event)
        self._release([t.index for t in self.plan.tasks[1:] if not t.incoming])


class EventRun(Run):
    def __init__(
        self,
        engine: Engine,
        plan: Plan,
        execution_id: str,
        initial_data: dict[str, Any],
        trigger_plans: dict[int, tuple[Plan, list[int]]],
        max_concurrency: int | None = None,
    ) -> None:
        super().__init__(engine, plan, execution_id, initial_data, max_concurrency=max_concurrency)
        self._trigger_plans = trigger_plans
        self._pending: deque[tuple[int, dict[str, Any]]] = deque()
        self._children: set[Run] = set()
        self._stops: list[tuple[str, StopEvents]] = []
        self._feeders: dict[int, Any] = {}  # trigger index -> iterator (None: not started)
        self._feeding: set[int] = set()
        self._endless = 0
        self.events_received = 0
        self.events_completed = 0
        self.events_failed = 0
        self.runs = [0] * len(plan.tasks)
        self._failed_sources: set[int] = set()
        self._final: tuple[str, PluginError] | None = None  # set once cancelled or failed

    # --- lifecycle --------------------------------------------------------------------
    def _begin(self) -> None:
        for index in self._trigger_plans:
            task = self.plan.tasks[index]
            if task.role is not Role.SOURCE:
                continue
            found = self.engine.plugins.get_plugin(task.plugin_id)
            plugin = found.value() if found else None
            if isinstance(plugin, IEventSource):
                self._endless += 1
                self._start_event_source(index, plugin)
            else:
                self._feeders[index] = None
                self._feed_later(index)

    def _maybe_complete(self) -> bool:
        if self._stopping or self._endless or self._feeders:
            return False
        if self._pending or self._children:
            return False
        if self.status != RunStatus.RUNNING or self._waits_for_posts():
            return False
        self._stopping = True
        self._cancel_workflow_timer()
        self.result = {
            "events_received": self.events_received,
            "events_completed": self.events_completed,
            "events_failed": self.events_failed,
        }
        self._stop_sources()
        self._finish(RunStatus.COMPLETED, None)
        return True

    def _waits_for_posts(self) -> bool:
        # With no Source node at all, events only come from post_event: run until cancelled.
        return not any(t.role is Role.SOURCE for t in self.plan.tasks)

    def _abort(self, final_status: str, error: PluginError) -> None:
        """Stop sources and passes; the execution ends once the last pass has ended, so its
        terminal signal stays the last one. Children are cancelled right after this run's
        lock is released (their finish callbacks take it), never queued behind plugin work."""
        self._stopping = True
        self._cancel_workflow_timer()
        self._resumed.set()
        self._pending.clear()
        self._feeders.clear()
        for context in self.long_contexts:
            context.cancel()
        self._stop_sources()
        self.error = error
        self._final = (final_status, error)
        children = list(self._children)
        if not children:
            self._finish(final_status, error)
            return
        for child in children:
            self.lock.later(child.cancel)

    def pause(self) -> PluginError | None:
        error = super().pause()
        if error is None:
            for child in list(self._children):
                child.pause()
        return error

    def resume(self) -> PluginError | None:
        error = super().resume()
        if error is None:
            with self.lock:
                children = list(self._children)
                self._start_children()
            for child in children:
                child.resume()
        return error

    # --- events -----------------------------------------------------------------------
    def post_event(self, trigger: int, payload: dict[str, Any]) -> PluginError | None:
        with self.lock:
            if self._stopping or self.status in RunStatus.FINAL:
                return PluginError(
                    PluginErrorCode.InvalidState,
                    f"execution '{self.execution_id}' is {self.status}; it takes no more events",
                )
            self._accept(trigger, payload)
        return None

    def _accept(self, trigger: int, payload: dict[str, Any]) -> None:
        if trigger == WHOLE_GRAPH:
            event = payload
        else:
            port = self.plan.tasks[trigger].out_port
            event = {port: payload} if port and port not in payload else payload
        self.events_received += 1
        self._pending.append((trigger, event))
        self._start_children()

    def _start_children(self) -> None:
        while self._pending and len(self._children) < self._limit:
            if self.status != RunStatus.RUNNING or self._stopping:
                return
            trigger, event = self._pending.popleft()
            child: Run
            if trigger == WHOLE_GRAPH:
                # No Source node: the event is the input data of one pass over the graph.
                mapping = list(range(len(self.plan.tasks)))
                child = Run(self.engine, self.plan, self.execution_id, event)
                child.is_child = True
            else:
                plan, mapping = self._trigger_plans[trigger]
                child = TriggeredRun(self.engine, plan, self.execution_id, event)
                self.current_task = self.plan.tasks[trigger].key
            child.parent = self
            self._children.add(child)
            child.on_finish(partial(self._child_finished, mapping=mapping))
            # Started once this run's lock is released: starting only schedules the pass's
            # first nodes, and a pass queued on the pool could start after a pause.
            self.lock.later(child.start)

    def _child_finished(self, child: Run, *, mapping: list[int]) -> None:
        with self.lock:
            self._children.discard(child)
            # A pass that completed before a cancel reached it still counts (its signals
            # were delivered); one the cancel ended is neither completed nor failed.
            if child.status == RunStatus.COMPLETED:
                self.events_completed += 1
            elif self._final is None:
                self.events_failed += 1
                if child.error is not None:
                    self.error_messages.append(child.error.message)
            if self._final is not None:
                if not self._children and self.status not in RunStatus.FINAL:
                    self._finish(*self._final)
                return
            for sub_index, index in enumerate(mapping):
                if index in self._failed_sources:
                    continue  # keep the source's own failure, not the pass's record of it
                state = child.states[sub_index]
                if state in (TaskState.Completed, TaskState.Failed):
                    self.runs[index] += 1
                if state != TaskState.Pending:
                    self.states[index] = state
                    self.outputs[index] = child.outputs[sub_index]
                    self.errors[index] = child.errors[sub_index]
                    self.starts[index] = child.starts[sub_index]
                    self.ends[index] = child.ends[sub_index]
                    self.retries[index] = child.retries[sub_index]
            self._start_children()
            for index, iterator in list(self._feeders.items()):
                if iterator is not None and index not in self._feeding:
                    self._feed_later(index)
            self._maybe_complete()
            self._wake_helpers()

    # --- sources ----------------------------------------------------------------------
    def _start_event_source(self, index: int, plugin: IEventSource) -> None:
        task = self.plan.tasks[index]
        configuration = {
            k: v for k, v in task.parameters.items() if k not in RESERVED_CONFIGURATION_KEYS
        }

        def emit(payload: dict[str, Any]) -> None:
            if isinstance(payload, dict):
                self.post_event(index, dict(payload))
            else:
                self._note(f"source '{task.key}' emitted {type(payload).__name__}, not a dict")

        def start() -> None:
            problem = ""
            try:
                stop = plugin.start_events(configuration, emit)
            except BaseException as exc:
                problem = f"could not start: {type(exc).__name__}: {exc}"
            else:
                if not callable(stop):
                    problem = (
                        f"start_events returned {type(stop).__name__}; it must return a "
                        "callable that stops the events"
                    )
            if problem:
                self._source_failed(task, problem)
                with self.lock:
                    self._endless -= 1
                    self._maybe_complete()
                return
            with self.lock:
                if not self._stopping:
                    self._stops.append((task.key, stop))
                    return
            self._run_stop(task.key, stop)

        # In the owner thread (Qt objects such as QFileSystemWatcher live there), and never
        # under this run's lock: start_events is plugin code and may call back in.
        if self.engine.in_owner_thread():
            self.lock.later(start)
        else:
            self.engine.pump.call_soon(start)

    def _stop_sources(self) -> None:
        """(lock held) Stop every event source once the lock is released."""
        stops, self._stops = self._stops, []
        for key, stop in stops:
            self.lock.later(partial(self._in_owner_thread, partial(self._run_stop, key, stop)))

    def _run_stop(self, key: str, stop: StopEvents) -> None:
        try:
            stop()
        except BaseException as exc:
            self._note(f"source '{key}': stopping it raised {type(exc).__name__}: {exc}")

    def _note(self, message: str) -> None:
        with self.lock:
            self.error_messages.append(message)

    def _in_owner_thread(self, function: Any) -> None:
        if self.engine.in_owner_thread():
            function()
        else:
            self.engine.pump.call_soon(function)

    def _feed_later(self, index: int) -> None:
        self._feeding.add(index)
        self.engine.executor.submit(lambda: self._feed(index))

    def _feed(self, index: int) -> None:
        """Pull items from a plain Source node while there is room for more passes. Each
        item becomes an event as soon as it is pulled: a slow source's event never waits for
        company, and a cancel stops the pulling at the next item."""
        task = self.plan.tasks[index]
        with self.lock:
            iterator = self._feeders.get(index)
            if self._stopping or index not in self._feeders:
                self._feeding.discard(index)
                return
            context = self.new_context(task.key) if iterator is None else None
        if iterator is None:
            assert context is not None
            iterator = self._open_source(task, context)
        exhausted = iterator is None
        while not exhausted:
            try:
                item = next(iterator)
            except StopIteration:
                exhausted = True
                break
            except BaseException as exc:
                exhausted = True
                self._source_failed(task, f"raised {type(exc).__name__}: {exc}")
                break
            event = item if isinstance(item, dict) else {task.out_port or "value": item}
            with self.lock:
                if self._stopping:
                    self._feeding.discard(index)
                    return
                self._accept(index, event)
                if len(self._children) + len(self._pending) >= self._limit:
                    break  # resumed by _child_finished when a pass ends
        with self.lock:
            self._feeding.discard(index)
            if self._stopping:
                return
            if exhausted:
                self._feeders.pop(index, None)
            else:
                self._feeders[index] = iterator
                if len(self._children) + len(self._pending) < self._limit:
                    self._feed_later(index)
            self._maybe_complete()

    def _open_source(self, task: TaskSpec, context: StepContext) -> Any:
        """Call a plain Source node's command once; its iterator (or dict) feeds events."""
        params = {k: v for k, v in task.parameters.items() if k not in RESERVED_CONFIGURATION_KEYS}
        params.update(self.initial_data)
        outcome = call_plugin(
            self.engine.plugins, task.plugin_id, task.command, params, context, allow_stream=True
        )
        if not outcome.ok:
            assert outcome.error is not None
            self._source_failed(task, outcome.error.message)
            return None
        if outcome.output is None:
            return None
        if isinstance(outcome.output, dict):
            return iter([outcome.output])
        return iter(outcome.output)

    def _source_failed(self, task: TaskSpec, message: str) -> None:
        with self.lock:
            self._failed_sources.add(task.index)
            self.states[task.index] = TaskState.Failed
            self.errors[task.index] = message
            self.ends[task.index] = time.time()
            self.error_messages.append(f"source '{task.key}': {message}")
            self._post_task(EventKind.TASK_FAILED, (self.execution_id, task.key, message))

    def node_runs(self, index: int) -> int:
        return self.runs[index]

    def task_extras(self) -> list[dict[str, Any]]:
        return [{"runs": runs} for runs in self.runs]

    def run_extras(self) -> dict[str, Any]:
        return {
            "events_received": self.events_received,
            "events_completed": self.events_completed,
            "events_failed": self.events_failed,
        }
