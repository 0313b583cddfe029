"""Streaming mode: the same ``Run`` scheduler, with stage activations as the unit of work.

Each node is a stage with a bounded inbox. An activation moves up to ``BATCH`` items through one
stage and then returns its thread, so stages share a small pool without deadlock and items cross
threads in batches rather than one hop each. Before taking items a stage reserves room in every
downstream inbox, which is what makes the bound exact (backpressure): a fast source stops when
the slowest consumer's inbox is full.

The per-item loop is the hot path of the whole library (issue #4, B4): plugins are resolved once
per activation, a ``FunctionPlugin`` command is called directly, and inboxes hold bare values
(``(port, value)`` pairs only when a stage's inputs land on different ports).
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Iterator
from itertools import islice
from time import perf_counter
from typing import Any

from .._errors import PluginError, PluginErrorCode
from .._expected import Expected
from ..plugins._interface import plugin_accepts_context
from .context import StepContext
from .dataflow import MAPPED_KEY
from .dataflow import RESERVED_CONFIGURATION_KEYS as _RESERVED
from .events import EventKind
from .invoke import normalise_result
from .plan import Role, TaskSpec, TaskState, Wire, WireKind
from .run import Run, RunStatus

BATCH = 1024
CHECK_EVERY = 128  # at most this many items between pause/cancel checks inside a batch
# How long an item may wait for company: a batch is cut by time as well as by count, so a slow
# source's first item moves on after its own production time plus this, not after 1,024 items.
BATCH_WINDOW_S = 0.002
MAX_ERRORS_KEPT = 20

_R = TaskState.Running
_C = TaskState.Completed
_F = TaskState.Failed


class _Stage:
    __slots__ = (
        "active",
        "backlog",
        "context",
        "errors",
        "finished",
        "fuse_port",
        "inbox",
        "items_dropped",
        "items_failed",
        "items_in",
        "items_out",
        "iterator",
        "mixed_ports",
        "open_upstream",
        "order_blockers",
        "outgoing",
        "peak_inbox",
        "port",
        "reserved",
        "scheduled",
        "source_state",
        "started",
        "window",
    )

    def __init__(self) -> None:
        self.inbox: deque[Any] = deque()
        # Outputs beyond the room downstream (a Splitter's fan-out): held here, not pushed
        # past a channel's capacity; the stage takes no new input until they have moved on.
        self.backlog: deque[Any] = deque()
        self.context: StepContext | None = None
        self.peak_inbox = 0
        self.port = ""  # where inbox values land when all inputs share one port
        self.mixed_ports = False  # inbox holds (port, value) pairs instead
        # Set when the stage's only outlet is a DataFlow from this port: outputs are projected
        # to that port inside the per-item loop instead of in a second pass.
        self.fuse_port = ""
        self.reserved = 0
        self.outgoing: list[tuple[int, Wire]] = []
        self.open_upstream = 0
        self.order_blockers = 0
        self.active = False
        self.scheduled = False
        self.started = False
        self.finished = False
        self.iterator: Iterator[Any] | None = None
        self.source_state = "new"  # new, iterating, polling, exhausted
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
            stage = self.stages[task.index]
            ports: set[str] = set()
            sources_seen: set[int] = set()
            for wire in task.incoming:
                if wire.kind is WireKind.ORDER:
                    stage.order_blockers += 1
                    continue
                self.stages[wire.source].outgoing.append((task.index, wire))
                ports.add(wire.target_port or task.in_port)
                if wire.source not in sources_seen:
                    sources_seen.add(wire.source)
                    stage.open_upstream += 1
            stage.mixed_ports = len(ports) > 1
            stage.port = next(iter(ports)) if len(ports) == 1 else ""
        for task in tasks:
            stage = self.stages[task.index]
            if task.role is Role.PLAIN and len(stage.outgoing) == 1:
                target, wire = stage.outgoing[0]
                if (
                    wire.kind is WireKind.DATA
                    and wire.source_port
                    and not self.stages[target].mixed_ports
                ):
                    stage.fuse_port = wire.source_port
        # Ready stages run deepest first: draining before producing keeps inboxes short and
        # lets a single thread make progress without spinning on a full source.
        depth = _depths(tasks)
        self._by_rank = sorted(range(len(tasks)), key=lambda i: (-depth[i], i))
        self._rank = [0] * len(tasks)
        for rank, index in enumerate(self._by_rank):
            self._rank[index] = rank

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
        heapq.heappush(self._ready, self._rank[index])

    def _take(self) -> Any:
        if self._stopping or self.status != RunStatus.RUNNING or not self._ready:
            return None
        if self._running >= self._limit:
            return None
        index = self._by_rank[heapq.heappop(self._ready)]
        stage = self.stages[index]
        stage.scheduled = False
        stage.active = True
        self._running += 1
        return index

    def _capacity(self) -> int:
        # Stage activations are already batched; adaptive concurrency is for tiny tasks.
        return self._limit

    def _room(self, stage: _Stage) -> int:
        if stage.backlog:
            return 0
        room = BATCH
        for target, _wire in stage.outgoing:
            downstream = self.stages[target]
            if not downstream.finished:
                room = min(room, self.capacity - len(downstream.inbox) - downstream.reserved)
        return max(0, room)

    # --- one activation -----------------------------------------------------------------
    def _work(self, taken: Any) -> None:
        index: int = taken
        task = self.plan.tasks[index]
        stage = self.stages[index]
        is_source = self.is_source[index]
        with self.lock:
            if stage.context is None:
                stage.context = self.new_context(task.key)
            if not stage.started:
                stage.started = True
                self.states[index] = _R
                self.starts[index] = time.time()
                self._post_task(EventKind.TASK_STARTED, (self.execution_id, task.key))
            self.current_task = task.key
            room = self._room(stage)
            batch: list[Any] = []
            if not is_source:
                take = min(room, len(stage.inbox)) if stage.outgoing else len(stage.inbox)
                take = min(take, BATCH)
                inbox = stage.inbox
                if take == len(inbox):
                    batch = list(inbox)
                    inbox.clear()
                else:
                    popleft = inbox.popleft
                    batch = [popleft() for _ in range(take)]
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
                self._wake_helpers()
                return
            self._emit_items(index, stage, produced, from_source=is_source)
            if failure is not None:
                self._stage_failed(index, failure)
            else:
                self._reschedule(index, is_source)
            self._spawn(1)
            self._wake_helpers()

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
        if self._stopping or self.status != RunStatus.RUNNING:
            return produced, None
        want = room - len(produced)
        if stage.source_state == "iterating" and want > 0:
            assert stage.iterator is not None
            try:
                if not self._pull(stage.iterator, want, produced):
                    stage.source_state = "exhausted"
            except BaseException as exc:
                stage.source_state = "exhausted"
                stage.items_in += len(produced)
                return produced, PluginError(
                    PluginErrorCode.ExecutionFailed,
                    f"source '{task.key}' raised {type(exc).__name__}: {exc}",
                    plugin_id=task.plugin_id,
                )
        while stage.source_state == "polling" and len(produced) < room:
            if self._stopping or self.status != RunStatus.RUNNING:
                break
            item = self._call(task, self.initial_data, allow_stream=True)
            if isinstance(item, PluginError):
                stage.source_state = "exhausted"
                stage.items_in += len(produced)
                return produced, item
            if item is None:
                stage.source_state = "exhausted"
            else:
                produced.append(item)
        stage.items_in += len(produced)
        return produced, None

    def _pull(self, iterator: Iterator[Any], want: int, produced: list[Any]) -> bool:
        """Pull up to ``want`` items, cutting the batch after ``BATCH_WINDOW_S``; False once
        the iterator is exhausted. Items pulled before an exception stay in ``produced``."""
        deadline = perf_counter() + BATCH_WINDOW_S
        # Doubling runs of C-speed islice keep a fast source's cost per item low, while the
        # first run of one item lets a slow source's first item go at once.
        run = 1
        while want > 0:
            before = len(produced)
            produced.extend(islice(iterator, min(run, want)))
            pulled = len(produced) - before
            if pulled < min(run, want):
                return False
            want -= pulled
            if self._stopping or perf_counter() >= deadline:
                return True
            run = min(run * 2, CHECK_EVERY)
        return True

    def _command(
        self, task: TaskSpec, stage: _Stage
    ) -> Callable[[dict[str, Any]], Any] | PluginError:
        """Resolve a node's command once per activation."""
        if task.executor != "thread" and task.role is not Role.SOURCE:
            # Each item runs on the node's executor. Sources stay in this thread: the
            # iterator they return cannot cross to another process.
            assert stage.context is not None
            return self.engine.executors.command(task, stage.context)
        found = self.engine.plugins.get_plugin(task.plugin_id)
        if not found:
            return found.error()
        plugin = found.value()
        try:
            if task.command not in plugin.available_commands():
                return PluginError(
                    PluginErrorCode.CommandNotFound,
                    f"plugin '{task.plugin_id}' has no command '{task.command}'",
                    plugin_id=task.plugin_id,
                )
            context = stage.context
            assert context is not None
            resolve = getattr(plugin, "resolve_command", None)
            if resolve is not None:
                direct: Callable[[dict[str, Any]], Any] | None = resolve(task.command, context)
                if direct is not None:
                    return direct
            execute = plugin.execute_command
            command = task.command
            if plugin_accepts_context(plugin):
                return lambda params: execute(command, params, context=context)
            return lambda params: execute(command, params)
        except BaseException as exc:
            return PluginError(PluginErrorCode.ExecutionFailed, repr(exc))

    def _process(
        self, task: TaskSpec, stage: _Stage, batch: list[Any]
    ) -> tuple[list[Any], PluginError | None]:
        call = self._command(task, stage)
        if isinstance(call, PluginError):
            return [], call
        if task.role is Role.AGGREGATOR:
            return self._aggregate(task, stage, batch), None
        base = {k: v for k, v in task.parameters.items() if k not in _RESERVED}
        produced: list[Any] = []
        simple = stage.port and not base and not stage.mixed_ports and task.role is Role.PLAIN
        deadline = perf_counter() + BATCH_WINDOW_S
        start, size, total = 0, 1, len(batch)
        while start < total:
            # Between slices, not per item: a pause or cancel stops the batch at the next
            # slice boundary, and the loops below stay as tight as a generator chain. Slices
            # are sized from the measured time per item, and the batch is cut once it has
            # taken BATCH_WINDOW_S, so slow items move downstream without waiting for a full
            # batch.
            if self._stopping or self.status != RunStatus.RUNNING:
                break
            chunk = batch[start : start + size]
            began = perf_counter()
            if simple:
                if stage.fuse_port:
                    self._process_fused(task, stage, call, stage.port, chunk, produced)
                else:
                    self._process_simple(task, stage, call, stage.port, chunk, produced)
            else:
                self._process_general(task, stage, call, base, chunk, produced)
            start += len(chunk)
            now = perf_counter()
            if now >= deadline:
                break
            per_item = (now - began) / len(chunk)
            size = CHECK_EVERY if per_item <= 0 else int((deadline - now) / per_item)
            size = max(1, min(CHECK_EVERY, size))
        if start < total:
            stage.inbox.extendleft(reversed(batch[start:]))
            stage.items_in -= total - start
        return produced, None

    def _process_simple(
        self,
        task: TaskSpec,
        stage: _Stage,
        call: Callable[[dict[str, Any]], Any],
        key: str,
        chunk: list[Any],
        produced: list[Any],
    ) -> None:
        """The common case: one input port, no extra configuration, a plain processor."""
        append = produced.append
        for value in chunk:
            try:
                out = call({key: value})
            except BaseException as exc:
                self._item_failed(stage, f"{type(exc).__name__}: {exc}")
                continue
            if type(out) is dict:
                append(out)
            elif out is None:
                stage.items_dropped += 1
            else:
                self._unusual_result(task, stage, out, produced)

    def _process_fused(
        self,
        task: TaskSpec,
        stage: _Stage,
        call: Callable[[dict[str, Any]], Any],
        key: str,
        chunk: list[Any],
        produced: list[Any],
    ) -> None:
        """``_process_simple`` plus the projection to the one outgoing port, in one pass."""
        append = produced.append
        port = stage.fuse_port
        for value in chunk:
            try:
                out = call({key: value})
            except BaseException as exc:
                self._item_failed(stage, f"{type(exc).__name__}: {exc}")
                continue
            if type(out) is dict:
                if port in out:
                    append(out[port])
                else:
                    stage.items_out += 1  # an output without the port: counted, not forwarded
            elif out is None:
                stage.items_dropped += 1
            else:
                unusual: list[Any] = []
                self._unusual_result(task, stage, out, unusual)
                for item in unusual:
                    if port in item:
                        append(item[port])
                    else:
                        stage.items_out += 1

    def _process_general(
        self,
        task: TaskSpec,
        stage: _Stage,
        call: Callable[[dict[str, Any]], Any],
        base: dict[str, Any],
        chunk: list[Any],
        produced: list[Any],
    ) -> None:
        port = stage.port
        mixed = stage.mixed_ports
        splitter = task.role is Role.SPLITTER
        for value in chunk:
            if mixed:
                item_port, value = value
                key = item_port or task.in_port
            else:
                key = port
            if key:
                params = {**base, key: value} if base else {key: value}
            elif type(value) is dict:
                params = {**base, **value} if base else dict(value)
            else:
                params = {**base, "value": value} if base else {"value": value}
            try:
                out = call(params)
            except BaseException as exc:
                self._item_failed(stage, f"{type(exc).__name__}: {exc}")
                continue
            if type(out) is dict and not splitter:
                produced.append(out)
            elif out is None:
                stage.items_dropped += 1
            else:
                self._unusual_result(task, stage, out, produced)

    def _unusual_result(self, task: TaskSpec, stage: _Stage, out: Any, produced: list[Any]) -> None:
        """Expected results, a Splitter's list, or a bad return value."""
        outcome = normalise_result(task.plugin_id, task.command, out)
        if not outcome.ok:
            assert outcome.error is not None
            self._item_failed(stage, outcome.error.message)
            return
        if task.role is Role.SPLITTER:
            items = outcome.output.get(task.out_port or MAPPED_KEY)
            if isinstance(items, list):
                produced.extend({task.out_port: i} if task.out_port else i for i in items)
                return
        produced.append(outcome.output)

    def _aggregate(self, task: TaskSpec, stage: _Stage, batch: list[Any]) -> list[Any]:
        window_size = int(task.parameters.get("window", 0) or 0)
        produced: list[Any] = []
        for value in batch:
            stage.window.append(value[1] if stage.mixed_ports else value)
            if window_size and len(stage.window) >= window_size:
                window, stage.window = stage.window, []
                produced.extend(self._process_window(task, stage, window))
        # Read without the lock on purpose: once every upstream stage has finished, neither
        # value can change any more, so "True" is final.
        if stage.window and stage.open_upstream == 0 and not stage.inbox:
            window, stage.window = stage.window, []
            produced.extend(self._process_window(task, stage, window))
        return produced

    def _process_window(self, task: TaskSpec, stage: _Stage, window: list[Any]) -> list[Any]:
        """An Aggregator's plugin sees one list per window (or one for the whole stream)."""
        result = self._call(task, {task.in_port or MAPPED_KEY: window}, allow_stream=False)
        if isinstance(result, PluginError):
            self._item_failed(stage, result.message)
            return []
        return [] if result is None else [result]

    def _call(self, task: TaskSpec, params: dict[str, Any], *, allow_stream: bool) -> Any:
        """One guarded call (a source's first call, a polling call, an aggregator window)."""
        call = self._command(task, self.stages[task.index])
        if isinstance(call, PluginError):
            return call
        merged = {k: v for k, v in task.parameters.items() if k not in _RESERVED}
        merged.update(params)
        try:
            raw = call(merged)
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
    def _emit_items(
        self, index: int, stage: _Stage, produced: list[Any], *, from_source: bool
    ) -> None:
        if not produced:
            return
        stage.items_out += len(produced)
        if not stage.outgoing:
            return
        if stage.backlog or len(produced) > self._free(stage):
            stage.backlog.extend(produced)
            self._flush_backlog(index)
            return
        self._deliver(index, stage, produced, from_source=from_source)

    def _free(self, stage: _Stage) -> int:
        """Room left in the fullest downstream channel, counting others' reservations."""
        free = BATCH * 64
        for target, _wire in stage.outgoing:
            downstream = self.stages[target]
            if not downstream.finished:
                free = min(free, self.capacity - len(downstream.inbox) - downstream.reserved)
        return max(0, free)

    def _flush_backlog(self, index: int) -> None:
        """Move held outputs on as far as every downstream channel has room (lock held)."""
        stage = self.stages[index]
        free = self._free(stage)
        if not free or not stage.backlog:
            return
        backlog = stage.backlog
        if free >= len(backlog):
            items = list(backlog)
            backlog.clear()
        else:
            popleft = backlog.popleft
            items = [popleft() for _ in range(free)]
        self._deliver(index, stage, items, from_source=self.is_source[index])

    def _deliver(
        self, index: int, stage: _Stage, produced: list[Any], *, from_source: bool
    ) -> None:
        for target, wire in stage.outgoing:
            downstream = self.stages[target]
            if downstream.finished:
                continue
            if wire.kind is WireKind.CONTROL and wire.condition is not None:
                items = self._passing(index, stage, wire, produced, from_source)
            else:
                items = produced
            port = wire.source_port
            if port and not from_source and not stage.fuse_port:
                # A processor's output dict is keyed by its output ports (no port: the whole
                # dict); a source's items already are the value of its first output port.
                try:
                    values = [item[port] for item in items]
                except (KeyError, TypeError):  # some item lacks the port: it is not forwarded
                    values = [item[port] for item in items if type(item) is dict and port in item]
            else:
                values = items
            if downstream.mixed_ports:
                target_port = wire.target_port
                downstream.inbox.extend((target_port, value) for value in values)
            else:
                downstream.inbox.extend(values)
            if len(downstream.inbox) > downstream.peak_inbox:
                downstream.peak_inbox = len(downstream.inbox)
            self._schedule(target)

    def _passing(
        self, index: int, stage: _Stage, wire: Wire, produced: list[Any], from_source: bool
    ) -> list[Any]:
        """The items a Control connection lets through: its condition sees the item as the
        node's output (a source's item under its first output port)."""
        condition = wire.condition
        assert condition is not None
        out_port = self.plan.tasks[index].out_port if from_source else ""
        passing: list[Any] = []
        for item in produced:
            view = _as_output(item, out_port)
            try:
                if condition(view):
                    passing.append(item)
            except BaseException as exc:
                self._item_failed(stage, f"condition '{wire.condition_text}': {exc}")
        return passing

    def _reschedule(self, index: int, was_source: bool) -> None:
        stage = self.stages[index]
        task = self.plan.tasks[index]
        if stage.backlog:
            pass  # moves on, and the stage continues, as its consumers drain
        elif (was_source and stage.source_state != "exhausted") or stage.inbox:
            # Without room downstream, the consumer reschedules this stage when it drains.
            if self._room(stage) > 0 or not stage.outgoing:
                self._schedule(index)
        elif stage.open_upstream == 0:
            if task.role is Role.AGGREGATOR and stage.window:
                # The final window runs in an activation of its own, never under the lock.
                self._schedule(index)
            else:
                self._finish_stage(index)
        # Space may have opened in this stage's inbox: upstream producers with work continue.
        for wire in task.incoming:
            upstream = self.stages[wire.source]
            if upstream.finished:
                continue
            if upstream.backlog:
                self._flush_backlog(wire.source)
                if not upstream.backlog and not (upstream.active or upstream.scheduled):
                    self._reschedule(wire.source, self.is_source[wire.source])
                continue
            if self._room(upstream) == 0:
                continue
            if upstream.inbox or (
                self.is_source[wire.source] and upstream.source_state != "exhausted"
            ):
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
        self._post_task(EventKind.TASK_COMPLETED, (self.execution_id, task.key, counters))
        self.settled += 1
        self._release_downstream(index)
        self._update_progress()
        self._maybe_complete()

    def _release_downstream(self, index: int) -> None:
        """A finished (or failed) stage no longer feeds its targets nor blocks its dependents."""
        stage = self.stages[index]
        seen: set[int] = set()
        for target, _wire in stage.outgoing:
            if target not in seen:
                seen.add(target)
                self.stages[target].open_upstream -= 1
            self._maybe_finish_idle(target)
        for succ in self.plan.tasks[index].successors:
            succ_stage = self.stages[succ]
            for wire in self.plan.tasks[succ].incoming:
                if wire.source == index and wire.kind is WireKind.ORDER:
                    succ_stage.order_blockers -= 1
            if succ_stage.order_blockers == 0:
                if self.is_source[succ]:
                    self._schedule(succ)
                self._maybe_finish_idle(succ)

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
        self._post_task(EventKind.TASK_FAILED, (self.execution_id, task.key, error.message))
        if task.critical:
            self._abort(
                RunStatus.FAILED,
                PluginError(error.code, f"node '{task.key}' failed: {error.message}"),
            )
            return
        self._release_downstream(index)
        self._update_progress()
        self._maybe_complete()

    def task_extras(self) -> list[dict[str, Any]]:
        return [self.node_counters(index) for index in range(len(self.stages))]

    def node_counters(self, index: int) -> dict[str, Any]:
        stage = self.stages[index]
        return {
            **stage.counters(),
            "items_queued": len(stage.inbox),
            "items_queued_peak": stage.peak_inbox,
            "item_errors": list(stage.errors),
        }


def _depths(tasks: list[TaskSpec]) -> list[int]:
    """Longest path from a stream source to each node (the plan is acyclic)."""
    depth = [0] * len(tasks)
    waiting = [len({w.source for w in t.incoming}) for t in tasks]
    ready = [t.index for t in tasks if not waiting[t.index]]
    while ready:
        index = ready.pop()
        for succ in tasks[index].successors:
            depth[succ] = max(depth[succ], depth[index] + 1)
            waiting[succ] -= 1
            if not waiting[succ]:
                ready.append(succ)
    return depth


def _as_output(item: Any, out_port: str) -> dict[str, Any]:
    """How a Control condition sees one item: as the node's output dict."""
    if out_port:
        return {out_port: item}
    return item if type(item) is dict else {"value": item}
