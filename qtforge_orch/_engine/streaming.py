"""Streaming mode: the same ``Run`` scheduler, with stage activations as the unit of work.

Each node is a stage with a bounded inbox. An activation moves up to ``BATCH`` items through one
stage and then returns its thread, so three stages share a two-thread pool without deadlock and
items cross threads in batches rather than one hop each. Before taking items a stage reserves
room in every downstream inbox, which is what makes the bound exact (backpressure): a fast
source stops when the slowest consumer's inbox is full.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from .._errors import PluginError, PluginErrorCode
from .._expected import Expected
from ..plugins._interface import plugin_accepts_context
from .context import StepContext
from .dataflow import MAPPED_KEY
from .invoke import normalise_result
from .plan import Role, TaskSpec, TaskState, WireKind
from .run import Run, RunStatus

BATCH = 256
MAX_ERRORS_KEPT = 20

_R = TaskState.Running
_C = TaskState.Completed
_F = TaskState.Failed


class _Stage:
    __slots__ = (
        "active",
        "emits",
        "errors",
        "finished",
        "inbox",
        "items_dropped",
        "items_failed",
        "items_in",
        "items_out",
        "iterator",
        "open_upstream",
        "order_blockers",
        "outgoing",
        "reserved",
        "scheduled",
        "source_state",
        "started",
        "window",
    )

    def __init__(self) -> None:
        self.inbox: deque[tuple[str, Any]] = deque()
        self.reserved = 0
        self.outgoing: list[tuple[int, Any]] = []  # (target stage, wire)
        self.open_upstream = 0
        self.order_blockers = 0
        self.active = False
        self.scheduled = False
        self.started = False
        self.finished = False
        self.iterator: Iterator[Any] | None = None
        self.source_state = "new"  # new, iterating, polling, exhausted
        self.emits = 0
        self.items_in = 0
        self.items_out = 0
        self.items_dropped = 0
        self.items_failed = 0
        self.errors: list[str] = []
        self.window: list[Any] = []

    def counters(self) -> dict[str, Any]:
        return {
            "items_in": self.items_in,
            "items_out": self.items_out,
            "items_dropped": self.items_dropped,
            "items_failed": self.items_failed,
        }


class StreamRun(Run):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tasks = self.plan.tasks
        self.capacity = max(1, self.plan.stream_capacity)
        self.stages = [_Stage() for _ in tasks]
        # Nodes without data inputs produce the stream (Source nodes and any other root).
        self.is_source = [all(w.kind is WireKind.ORDER for w in t.incoming) for t in tasks]
        for task in tasks:
            sources_seen: set[int] = set()
            for wire in task.incoming:
                if wire.kind is WireKind.ORDER:
                    self.stages[task.index].order_blockers += 1
                    continue
                self.stages[wire.source].outgoing.append((task.index, wire))
                if wire.source not in sources_seen:
                    sources_seen.add(wire.source)
                    self.stages[task.index].open_upstream += 1

    # --- scheduling (lock held) ---------------------------------------------------------
    def _begin(self) -> None:
        for index, is_source in enumerate(self.is_source):
            if is_source:
                self._schedule(index)

    def _schedule(self, index: int) -> None:
        stage = self.stages[index]
        if stage.scheduled or stage.active or stage.finished or stage.order_blockers:
            return
        stage.scheduled = True
        heapq.heappush(self._ready, index)

    def _take(self) -> Any:
        if self._stopping or self.status != RunStatus.RUNNING or not self._ready:
            return None
        if self._running >= self._limit:
            return None
        index = heapq.heappop(self._ready)
        stage = self.stages[index]
        stage.scheduled = False
        stage.active = True
        self._running += 1
        return index

    def _room(self, stage: _Stage) -> int:
        room = BATCH
        for target, _wire in stage.outgoing:
            downstream = self.stages[target]
            if downstream.finished:
                continue
            room = min(room, self.capacity - len(downstream.inbox) - downstream.reserved)
        return max(0, room)

    # --- one activation -----------------------------------------------------------------
    def _work(self, taken: Any) -> None:
        index: int = taken
        task = self.plan.tasks[index]
        stage = self.stages[index]
        with self.lock:
            if not stage.started:
                stage.started = True
                self.states[index] = _R
                self.starts[index] = time.time()
                self._post(self.engine.names.task_started, (self.execution_id, task.key))
            self.current_task = task.key
            room = self._room(stage)
            is_source = self.is_source[index]
            batch: list[tuple[str, Any]] = []
            if not is_source:
                take = min(room, len(stage.inbox)) if stage.outgoing else len(stage.inbox)
                take = min(take, BATCH)
                for _ in range(take):
                    batch.append(stage.inbox.popleft())
                stage.items_in += take
            for target, _wire in stage.outgoing:
                self.stages[target].reserved += room
        try:
            if is_source:
                produced, failure = self._produce(task, stage, room)
            else:
                produced, failure = self._process(task, stage, batch)
        except BaseException as exc:  # defensive: user code is already guarded per item
            produced, failure = [], PluginError(PluginErrorCode.ExecutionFailed, repr(exc))
        with self.lock:
            for target, _wire in stage.outgoing:
                self.stages[target].reserved -= room
            stage.active = False
            self._running -= 1
            if self._stopping:
                self.lock.notify_all()
                return
            self._emit_items(index, stage, produced)
            if failure is not None:
                self._stage_failed(index, failure)
            else:
                self._reschedule(index, is_source)
            self._spawn(1)
            self.lock.notify_all()

    def _produce(
        self, task: TaskSpec, stage: _Stage, room: int
    ) -> tuple[list[Any], PluginError | None]:
        produced: list[Any] = []
        if stage.source_state == "new":
            first = self._call(task, self.initial_data, allow_stream=True)
            if isinstance(first, PluginError):
                stage.source_state = "exhausted"
                return produced, first
            if first is None:
                stage.source_state = "exhausted"
            elif isinstance(first, dict):
                stage.source_state = "polling"
                produced.append(first)
            else:
                stage.iterator = iter(first)
                stage.source_state = "iterating"
        while len(produced) < room and stage.source_state in ("iterating", "polling"):
            if self._stopping or self.status != RunStatus.RUNNING:
                break
            if stage.source_state == "iterating":
                assert stage.iterator is not None
                try:
                    produced.append(next(stage.iterator))
                except StopIteration:
                    stage.source_state = "exhausted"
                except BaseException as exc:
                    stage.source_state = "exhausted"
                    return produced, PluginError(
                        PluginErrorCode.ExecutionFailed,
                        f"source '{task.key}' raised {type(exc).__name__}: {exc}",
                        plugin_id=task.plugin_id,
                    )
            else:
                item = self._call(task, self.initial_data, allow_stream=True)
                if isinstance(item, PluginError):
                    stage.source_state = "exhausted"
                    return produced, item
                if item is None:
                    stage.source_state = "exhausted"
                else:
                    produced.append(item)
        stage.items_in += len(produced)
        return [self._source_value(task, item) for item in produced], None

    @staticmethod
    def _source_value(task: TaskSpec, item: Any) -> Any:
        # A source's item is the value of its first output port; wrap it so wires can pick it.
        return {task.out_port: item} if task.out_port else item

    def _process(
        self, task: TaskSpec, stage: _Stage, batch: list[tuple[str, Any]]
    ) -> tuple[list[Any], PluginError | None]:
        found = self.engine.plugins.get_plugin(task.plugin_id)
        if not found:
            return [], found.error()
        plugin = found.value()
        try:
            if task.command not in plugin.available_commands():
                return [], PluginError(
                    PluginErrorCode.CommandNotFound,
                    f"plugin '{task.plugin_id}' has no command '{task.command}'",
                )
        except BaseException as exc:
            return [], PluginError(PluginErrorCode.ExecutionFailed, repr(exc))
        execute = plugin.execute_command
        context = (
            StepContext(self.execution_id, task.key, 1, self._resumed)
            if plugin_accepts_context(plugin)
            else None
        )
        base = {k: v for k, v in task.parameters.items() if k not in _RESERVED}
        default_port = task.in_port
        aggregate = task.role is Role.AGGREGATOR
        window_size = int(task.parameters.get("window", 0) or 0)
        produced: list[Any] = []
        for port, value in batch:
            if self._stopping:
                break
            if aggregate:
                stage.window.append(value)
                if window_size and len(stage.window) >= window_size:
                    window, stage.window = stage.window, []
                    produced.extend(self._process_window(task, stage, window))
                continue
            params = dict(base)
            key = port or default_port
            if key:
                params[key] = value
            elif isinstance(value, dict):
                params.update(value)
            else:
                params["value"] = value
            try:
                raw = (
                    execute(task.command, params, context=context)
                    if context is not None
                    else execute(task.command, params)
                )
            except BaseException as exc:
                self._item_failed(stage, f"{type(exc).__name__}: {exc}")
                continue
            if raw is None:
                stage.items_dropped += 1
                continue
            outcome = normalise_result(task.plugin_id, task.command, raw)
            if not outcome.ok:
                assert outcome.error is not None
                self._item_failed(stage, outcome.error.message)
                continue
            if task.role is Role.SPLITTER:
                items = outcome.output.get(task.out_port or MAPPED_KEY)
                if isinstance(items, list):
                    produced.extend({task.out_port: i} if task.out_port else i for i in items)
                    continue
            produced.append(outcome.output)
        return produced, None

    def _process_window(self, task: TaskSpec, stage: _Stage, window: list[Any]) -> list[Any]:
        """An Aggregator's plugin sees one list per window (or one for the whole stream)."""
        result = self._call(task, {task.in_port or MAPPED_KEY: window}, allow_stream=False)
        if isinstance(result, PluginError):
            self._item_failed(stage, result.message)
            return []
        return [] if result is None else [result]

    def _call(self, task: TaskSpec, params: dict[str, Any], *, allow_stream: bool) -> Any:
        found = self.engine.plugins.get_plugin(task.plugin_id)
        if not found:
            return found.error()
        plugin = found.value()
        merged = {k: v for k, v in task.parameters.items() if k not in _RESERVED}
        merged.update(params)
        context = StepContext(self.execution_id, task.key, 1, self._resumed)
        try:
            if task.command not in plugin.available_commands():
                return PluginError(
                    PluginErrorCode.CommandNotFound,
                    f"plugin '{task.plugin_id}' has no command '{task.command}'",
                )
            raw = (
                plugin.execute_command(task.command, merged, context=context)
                if plugin_accepts_context(plugin)
                else plugin.execute_command(task.command, merged)
            )
        except PluginError as error:
            return error
        except BaseException as exc:
            return PluginError(
                PluginErrorCode.ExecutionFailed,
                f"plugin '{task.plugin_id}' raised {type(exc).__name__}: {exc}",
                plugin_id=task.plugin_id,
            )
        if isinstance(raw, Expected):
            if not raw:
                return raw.error()
            raw = raw.value()
        if raw is None or isinstance(raw, dict):
            return raw
        outcome = normalise_result(task.plugin_id, task.command, raw, allow_stream=allow_stream)
        return outcome.output if outcome.ok else outcome.error

    def _item_failed(self, stage: _Stage, message: str) -> None:
        stage.items_failed += 1
        if len(stage.errors) < MAX_ERRORS_KEPT:
            stage.errors.append(message)

    # --- after an activation (lock held) -------------------------------------------------
    def _emit_items(self, index: int, stage: _Stage, produced: list[Any]) -> None:
        if not produced:
            return
        stage.items_out += len(produced)
        for target, wire in stage.outgoing:
            downstream = self.stages[target]
            if downstream.finished:
                continue
            port = wire.source_port or self.plan.tasks[index].out_port
            for item in produced:
                value = item.get(port) if port and isinstance(item, dict) else item
                if port and isinstance(item, dict) and port not in item:
                    continue
                if wire.kind is WireKind.CONTROL and wire.condition is not None:
                    try:
                        if not wire.condition(item if isinstance(item, dict) else {}):
                            continue
                    except BaseException as exc:
                        self._item_failed(stage, f"condition '{wire.condition_text}': {exc}")
                        continue
                downstream.inbox.append((wire.target_port, value))
            self._schedule(target)

    def _reschedule(self, index: int, was_source: bool) -> None:
        stage = self.stages[index]
        task = self.plan.tasks[index]
        upstream_done = stage.open_upstream == 0
        if (was_source and stage.source_state != "exhausted") or stage.inbox:
            self._schedule(index)
        elif upstream_done and (not was_source or stage.source_state == "exhausted"):
            if task.role is Role.AGGREGATOR and stage.window:
                # Final partial window; runs under the lock, once per stream.
                window, stage.window = stage.window, []
                self._emit_items(index, stage, self._process_window(task, stage, window))
            self._finish_stage(index)
        # Space may have opened in this stage's inbox: upstream producers can continue.
        for wire in task.incoming:
            upstream = self.stages[wire.source]
            if not upstream.finished:
                self._schedule(wire.source)

    def _finish_stage(self, index: int) -> None:
        stage = self.stages[index]
        if stage.finished:
            return
        stage.finished = True
        task = self.plan.tasks[index]
        counters = stage.counters()
        self.outputs[index] = counters
        self.ends[index] = time.time()
        self.states[index] = _C
        self.completed += 1
        self.completion_order.append(index)
        self._post(self.engine.names.task_completed, (self.execution_id, task.key, counters))
        self.settled += 1
        for target, wire in stage.outgoing:
            downstream = self.stages[target]
            downstream.open_upstream -= 1 if self._last_wire_from(index, target, wire) else 0
            self._maybe_finish_idle(target)
        for succ in task.successors:
            succ_stage = self.stages[succ]
            for wire in self.plan.tasks[succ].incoming:
                if wire.source == index and wire.kind is WireKind.ORDER:
                    succ_stage.order_blockers -= 1
            if succ_stage.order_blockers == 0:
                if self.is_source[succ]:
                    self._schedule(succ)
                self._maybe_finish_idle(succ)
        self._update_progress()
        self._maybe_complete()

    def _last_wire_from(self, source: int, target: int, wire: Any) -> bool:
        # open_upstream counts distinct sources, so only the first wire per source counts.
        for target_index, other in self.stages[source].outgoing:
            if target_index == target:
                return other is wire
        return False

    def _maybe_finish_idle(self, index: int) -> None:
        stage = self.stages[index]
        if stage.finished or stage.active or stage.scheduled or stage.order_blockers:
            return
        if self.is_source[index]:
            return
        if stage.open_upstream == 0 and not stage.inbox:
            self._schedule(index)  # one last activation flushes windows and finishes it

    def _stage_failed(self, index: int, error: PluginError) -> None:
        stage = self.stages[index]
        task = self.plan.tasks[index]
        stage.finished = True
        self.states[index] = _F
        self.errors[index] = error.message
        self.ends[index] = time.time()
        self.settled += 1
        self._post(self.engine.names.task_failed, (self.execution_id, task.key, error.message))
        if task.critical:
            self._abort(
                RunStatus.FAILED,
                PluginError(error.code, f"node '{task.key}' failed: {error.message}"),
            )
            return
        for target, wire in stage.outgoing:
            if self._last_wire_from(index, target, wire):
                self.stages[target].open_upstream -= 1
            self._maybe_finish_idle(target)
        self._update_progress()
        self._maybe_complete()

    def node_counters(self, index: int) -> dict[str, Any]:
        stage = self.stages[index]
        return {**stage.counters(), "item_errors": list(stage.errors)}


_RESERVED = frozenset({"method", "timeout", "max_retries", "retry_delay", "critical", "window"})
