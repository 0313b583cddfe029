"""One stage activation's work, done with the run's lock released: a source's pull, a
processor's batch, an aggregator's windows. Plugins are called only through the engine's
``PluginRoute`` and ``invoke``.

The per-item loop is the hot path of the whole library: the command is
resolved once per activation, a ``FunctionPlugin`` command is called directly, and items are
processed in time-sized slices so a pause or cancel is seen between slices, not per item.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

from ..contract.plan import Role, TaskSpec
from ..errors import PluginError, PluginErrorCode, error_from_exception
from . import invoke
from .dataflow import MAPPED_KEY
from .run_status import RunStatus
from .shell_protocol import RunShell
from .stream_stage import Stage

BATCH = 1024
CHECK_EVERY = 128  # a source's islice runs grow to this many items
# A pause or cancel is checked between slices of a batch; a slice is sized from the measured
# time per item to take about this long (at most BATCH items), so fast loops pay the check
# rarely and slow items are checked after each.
SLICE_S = 0.001
MAX_SLICE = 8 * BATCH
# How long an item may wait for company: a batch is cut by time as well as by count, so a slow
# source's first item moves on after its own production time plus this, not after 1,024 items.
BATCH_WINDOW_S = 0.002

Produced = tuple[list[Any], PluginError | None]
# outputs, a stage failure, and the items left for the next activation
Processed = tuple[list[Any], PluginError | None, list[Any]]


class Done:
    """What an activation's plugin calls came to: the outputs to deliver, the items left for
    the next activation (a pause, or a batch cut by time), how many items a source's chain
    took in, the stage's own failure, and a fused chain stage whose command could not be
    resolved (its index, and why)."""

    __slots__ = ("broken", "failure", "handed", "leftover", "produced")

    def __init__(self) -> None:
        self.produced: list[Any] = []
        self.leftover: list[Any] = []
        self.handed = 0
        self.failure: PluginError | None = None
        self.broken: tuple[int, PluginError] | None = None


def halted(run: RunShell) -> bool:
    """The run stopped or paused: an activation gives its items back at the next slice."""
    return run.stopping or run.status != RunStatus.RUNNING


def command(run: RunShell, task: TaskSpec, stage: Stage) -> invoke.PluginCall | PluginError:
    """Resolve a node's command once per activation. Each item runs on the node's executor;
    a source stays in this thread: the iterator it returns cannot cross to another process."""
    assert stage.context is not None
    return run.engine.route.resolve(task, stage.context, here=task.role is Role.SOURCE)


def call_once(
    run: RunShell, task: TaskSpec, stage: Stage, params: dict[str, Any], *, stream: bool
) -> Any:
    """One call (a source's first call, a polling call, an aggregator window): its dict, None,
    an iterator (``stream``) or a ``PluginError``."""
    call = command(run, task, stage)
    if isinstance(call, PluginError):
        return call
    merged = dict(task.call_parameters)
    merged.update(params)
    return invoke.guarded_call(task, call, merged, allow_stream=stream)


def produce(run: RunShell, task: TaskSpec, stage: Stage, room: int, first_run: int = 1) -> Produced:
    """A source's next items, at most ``room``. An iterator is pulled in runs that start at
    ``first_run`` items (``invoke.pull``); the run a next pull may start with is left in
    ``stage.pull_run``."""
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
    if halted(run):
        return produced, None
    want = room - len(produced)
    if stage.source_state == "iterating" and want > 0:
        assert stage.iterator is not None
        more, stage.pull_run = invoke.pull(
            stage.iterator,
            want,
            produced,
            BATCH_WINDOW_S,
            lambda: run.stopping,
            CHECK_EVERY,
            first_run,
        )
        if isinstance(more, BaseException):
            stage.source_state = "exhausted"
            stage.items_in += len(produced)
            return produced, error_from_exception(
                more,
                PluginErrorCode.ExecutionFailed,
                f"source '{task.key}' raised {type(more).__name__}: {more}",
                plugin_id=task.plugin_id,
                skip_frames=1,
            )
        if not more:
            stage.source_state = "exhausted"
    while stage.source_state == "polling" and len(produced) < room and not halted(run):
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


def process(run: RunShell, task: TaskSpec, stage: Stage, batch: list[Any], room: int) -> Processed:
    """A processor's (or sink's, or aggregator's) batch: its outputs, a stage failure, and
    the items it did not get to (a pause, or the batch cut by time), which go back to the
    front of its inbox. ``room`` is what its outputs may fill downstream."""
    call = command(run, task, stage)
    if isinstance(call, PluginError):
        return [], call, []
    if task.role is Role.AGGREGATOR:
        return aggregate(run, task, stage, batch), None, []
    base = task.call_parameters
    produced: list[Any] = []
    if task.role is Role.SPLITTER and stage.outgoing:
        done = split(run, task, stage, call, batch, room, produced)
    else:
        simple = (
            stage.port
            and not base
            and not stage.mixed_ports
            and (task.role is Role.PLAIN or task.role is Role.SINK)
        )

        def step(chunk: list[Any]) -> None:
            if simple:
                if not stage.outgoing and stage.kept is None:
                    invoke.consume_values(call, stage.port, chunk, stage, task)
                elif stage.fuse_port:
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

        done, next_slice = in_slices(run, batch, step)
        # What the next activation takes: about what this one could work through, so a slow
        # stage holds few items and leaves its channel's room to the stage feeding it.
        stage.take_hint = 2 * next_slice
    if done < len(batch):
        stage.items_in -= len(batch) - done
        return produced, None, batch[done:]
    return produced, None, []


def split(
    run: RunShell,
    task: TaskSpec,
    stage: Stage,
    call: invoke.PluginCall,
    batch: list[Any],
    room: int,
    produced: list[Any],
) -> int:
    """A Splitter's batch, one value at a time, stopping once its outputs fill the room
    downstream: beyond the room it holds at most one value's outputs (in its backlog).
    Returns how many values it took."""
    deadline = perf_counter() + BATCH_WINDOW_S
    done = 0
    for value in batch:
        if halted(run):
            break
        invoke.map_items(
            call,
            [value],
            stage.port,
            task.in_port,
            task.call_parameters,
            produced,
            stage,
            task,
            mixed=stage.mixed_ports,
        )
        done += 1
        if len(produced) >= room or perf_counter() >= deadline:
            break
    return done


def in_slices(
    run: RunShell, batch: list[Any], step: Callable[[list[Any]], None], first: int = 1
) -> tuple[int, int]:
    """Feed ``batch`` to ``step`` in slices, the first of ``first`` items; how many items
    were fed, and the size the next slice would have had (a caller feeding more batches in
    the same activation starts from it).

    Between slices, not per item: a pause or cancel stops the batch at the next slice
    boundary, and the loops stay as tight as a generator chain. Slices are sized from the
    measured time per item (about SLICE_S each), and the batch is cut once it has taken
    BATCH_WINDOW_S, so slow items move downstream without waiting for a full batch."""
    deadline = perf_counter() + BATCH_WINDOW_S
    start, size, total = 0, max(1, first), len(batch)
    while start < total:
        if halted(run):
            break
        chunk = batch[start : start + size] if start or size < total else batch
        began = perf_counter()
        step(chunk)
        start += len(chunk)
        now = perf_counter()
        per_item = (now - began) / len(chunk)
        size = MAX_SLICE if per_item <= 0 else int(SLICE_S / per_item)
        size = max(1, min(MAX_SLICE, size))
        if now >= deadline:
            break
        if per_item > 0:
            size = max(1, min(size, int((deadline - now) / per_item)))
    return start, size


def aggregate(run: RunShell, task: TaskSpec, stage: Stage, batch: list[Any]) -> list[Any]:
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


def _window(run: RunShell, task: TaskSpec, stage: Stage, window: list[Any]) -> list[Any]:
    """An Aggregator's plugin sees one list per window (or one for the whole stream)."""
    result = call_once(run, task, stage, {task.in_port or MAPPED_KEY: window}, stream=False)
    if isinstance(result, PluginError):
        stage.item_failed(result.message)
        return []
    return [] if result is None else [result]
