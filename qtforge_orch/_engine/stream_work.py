"""One stage activation's work, done with the run's lock released: a source's pull, a
processor's batch, an aggregator's windows. Plugins are called only through ``invoke``.

The per-item loop is the hot path of the whole library (issue #4, B4): the command is
resolved once per activation, a ``FunctionPlugin`` command is called directly, and items are
processed in time-sized slices so a pause or cancel is seen between slices, not per item.
"""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING, Any

from .._errors import PluginError, PluginErrorCode
from . import invoke
from .dataflow import MAPPED_KEY
from .plan import Role, TaskSpec
from .status import RunStatus
from .stream_stage import Stage

if TYPE_CHECKING:
    from .run import Run

BATCH = 1024
CHECK_EVERY = 128  # at most this many items between pause/cancel checks inside a batch
# How long an item may wait for company: a batch is cut by time as well as by count, so a slow
# source's first item moves on after its own production time plus this, not after 1,024 items.
BATCH_WINDOW_S = 0.002

Produced = tuple[list[Any], PluginError | None]


def _halted(run: Run) -> bool:
    return run.stopping or run.status != RunStatus.RUNNING


def command(run: Run, task: TaskSpec, stage: Stage) -> invoke.PluginCall | PluginError:
    """Resolve a node's command once per activation."""
    assert stage.context is not None
    if task.executor != "thread" and task.role is not Role.SOURCE:
        # Each item runs on the node's executor. Sources stay in this thread: the iterator
        # they return cannot cross to another process.
        return run.engine.executors.command(task, stage.context)
    return invoke.resolve_call(run.engine.plugins, task, stage.context)


def call_once(
    run: Run, task: TaskSpec, stage: Stage, params: dict[str, Any], *, stream: bool
) -> Any:
    """One call (a source's first call, a polling call, an aggregator window): its dict, None,
    an iterator (``stream``) or a ``PluginError``."""
    call = command(run, task, stage)
    if isinstance(call, PluginError):
        return call
    merged = dict(task.call_parameters)
    merged.update(params)
    return invoke.guarded_call(task, call, merged, allow_stream=stream)


def produce(run: Run, task: TaskSpec, stage: Stage, room: int) -> Produced:
    produced: list[Any] = []
    if stage.source_state == "new":
        first = call_once(run, task, stage, run.initial_data, stream=True)
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
    if _halted(run):
        return produced, None
    want = room - len(produced)
    if stage.source_state == "iterating" and want > 0:
        assert stage.iterator is not None
        more = invoke.pull(
            stage.iterator, want, produced, BATCH_WINDOW_S, lambda: run.stopping, CHECK_EVERY
        )
        if isinstance(more, BaseException):
            stage.source_state = "exhausted"
            stage.items_in += len(produced)
            return produced, PluginError(
                PluginErrorCode.ExecutionFailed,
                f"source '{task.key}' raised {type(more).__name__}: {more}",
                plugin_id=task.plugin_id,
            )
        if not more:
            stage.source_state = "exhausted"
    while stage.source_state == "polling" and len(produced) < room and not _halted(run):
        item = call_once(run, task, stage, run.initial_data, stream=True)
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


def process(run: Run, task: TaskSpec, stage: Stage, batch: list[Any]) -> Produced:
    call = command(run, task, stage)
    if isinstance(call, PluginError):
        return [], call
    if task.role is Role.AGGREGATOR:
        return aggregate(run, task, stage, batch), None
    base = task.call_parameters
    produced: list[Any] = []
    simple = stage.port and not base and not stage.mixed_ports and task.role is Role.PLAIN
    deadline = perf_counter() + BATCH_WINDOW_S
    start, size, total = 0, 1, len(batch)
    while start < total:
        # Between slices, not per item: a pause or cancel stops the batch at the next slice
        # boundary, and the loops stay as tight as a generator chain. Slices are sized from
        # the measured time per item, and the batch is cut once it has taken BATCH_WINDOW_S,
        # so slow items move downstream without waiting for a full batch.
        if _halted(run):
            break
        chunk = batch[start : start + size]
        began = perf_counter()
        if simple:
            if stage.fuse_port:
                invoke.map_values_to_port(
                    call, stage.port, stage.fuse_port, chunk, produced, stage, task
                )
            else:
                invoke.map_values(call, stage.port, chunk, produced, stage, task)
        else:
            invoke.map_items(
                call,
                chunk,
                stage.port,
                task.in_port,
                base,
                produced,
                stage,
                task,
                mixed=stage.mixed_ports,
            )
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


def aggregate(run: Run, task: TaskSpec, stage: Stage, batch: list[Any]) -> list[Any]:
    window_size = int(task.parameters.get("window", 0) or 0)
    produced: list[Any] = []
    for value in batch:
        stage.window.append(value[1] if stage.mixed_ports else value)
        if window_size and len(stage.window) >= window_size:
            window, stage.window = stage.window, []
            produced.extend(_window(run, task, stage, window))
    # Read without the lock on purpose: once every upstream stage has finished, neither value
    # can change any more, so "True" is final.
    if stage.window and stage.open_upstream == 0 and not stage.inbox:
        window, stage.window = stage.window, []
        produced.extend(_window(run, task, stage, window))
    return produced


def _window(run: Run, task: TaskSpec, stage: Stage, window: list[Any]) -> list[Any]:
    """An Aggregator's plugin sees one list per window (or one for the whole stream)."""
    result = call_once(run, task, stage, {task.in_port or MAPPED_KEY: window}, stream=False)
    if isinstance(result, PluginError):
        stage.item_failed(result.message)
        return []
    return [] if result is None else [result]
