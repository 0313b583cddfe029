"""One stage activation's work, done with the run's lock released: a source's pull, a
processor's batch, an aggregator's windows. Plugins are called only through ``invoke``.

The per-item loop is the hot path of the whole library: the command is
resolved once per activation, a ``FunctionPlugin`` command is called directly, and items are
processed in time-sized slices so a pause or cancel is seen between slices, not per item.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter, thread_time
from typing import TYPE_CHECKING, Any

from .._errors import PluginError, PluginErrorCode
from ..contract.plan import Role, TaskSpec
from . import invoke
from .dataflow import MAPPED_KEY
from .status import RunStatus
from .stream_stage import Stage
from .timers import TimerKind

if TYPE_CHECKING:
    from .run import Run

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
    simple = (
        stage.port
        and not base
        and not stage.mixed_ports
        and (task.role is Role.PLAIN or task.role is Role.SINK)
    )

    def step(chunk: list[Any]) -> None:
        if simple:
            if not stage.outgoing:
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

    done, _ = in_slices(run, batch, step)
    if done < len(batch):
        stage.inbox.extendleft(reversed(batch[done:]))
        stage.items_in -= len(batch) - done
    return produced, None


def in_slices(
    run: Run, batch: list[Any], step: Callable[[list[Any]], None], first: int = 1
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
        if _halted(run):
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


# A source's fused chain ending in a stage with no outlet keeps its activation this much
# longer than BATCH_WINDOW_S while no other stage waits (a pause or cancel is still seen
# between slices): fewer activations, each a lock round trip and a thread hand-over.
LONE_CHAIN_S = 0.006

# (stage position in the chain, why its command could not be resolved)
ChainFailure = tuple[int, PluginError]


class Chain:
    """A fused linear chain's stages for one activation (``stream_stage.link_chains``):
    values go through every stage in turn, item by item within a slice, with each stage's
    counters kept as if it had run on its own; the last two run as one loop when the last has
    no outlet. A stage whose command cannot be resolved is ``broken``: the items reaching it
    are counted in and go no further (as when it fails on its own)."""

    __slots__ = (
        "broken",
        "calls",
        "outputs",
        "pair",
        "slice",
        "stages",
        "stop_at",
        "tasks",
        "terminal",
    )

    def __init__(self, run: Run, tasks: list[TaskSpec], stages: list[Stage]) -> None:
        self.tasks = tasks
        self.stages = stages
        self.calls: list[invoke.PluginCall] = []
        self.broken: ChainFailure | None = None
        for position, (task, stage) in enumerate(zip(tasks, stages, strict=True)):
            call = command(run, task, stage)
            if isinstance(call, PluginError):
                self.broken = (position, call)
                break
            self.calls.append(call)
        self.stop_at = len(self.calls)
        last = len(stages) - 1
        self.terminal = not stages[last].outgoing  # nothing reads the last stage's outputs
        self.pair = self.broken is None and last >= 1 and self.terminal
        self.outputs: list[Any] = []  # the last stage's, counted as they are emitted
        self.slice = 1  # the next slice's size (``in_slices``), kept across rounds

    def step(self, chunk: list[Any]) -> None:
        stages, tasks, calls = self.stages, self.tasks, self.calls
        last = len(stages) - 1
        items = chunk
        for position in range(len(stages)):
            stage = stages[position]
            stage.items_in += len(items)
            if position == self.stop_at:
                return
            task, call = tasks[position], calls[position]
            if self.pair and position == last - 1:
                follower = stages[last]
                forwarded = invoke.map_values_into(
                    call,
                    stage.port,
                    stage.fuse_port,
                    stage,
                    task,
                    calls[last],
                    follower.port,
                    follower,
                    tasks[last],
                    items,
                )
                stage.items_out += forwarded
                follower.items_in += forwarded
                return
            if position == last:
                if not stage.outgoing:
                    invoke.consume_values(call, stage.port, items, stage, task)
                elif stage.fuse_port:
                    invoke.map_values_to_port(
                        call, stage.port, stage.fuse_port, items, self.outputs, stage, task
                    )
                else:
                    invoke.map_values(call, stage.port, items, self.outputs, stage, task)
                return
            passed: list[Any] = []
            invoke.map_values_to_port(call, stage.port, stage.fuse_port, items, passed, stage, task)
            stage.items_out += len(passed)
            if not passed:
                return
            items = passed


class ChainRun:
    """What a fused activation did: the last stage's outputs, how many items went into the
    chain, the items left for the next activation (a pause, or a slice cut by time), and a
    failure of the source or of a chain stage's command."""

    __slots__ = ("broken", "failure", "handed", "leftover", "produced")

    def __init__(self) -> None:
        self.produced: list[Any] = []
        self.handed = 0
        self.leftover: list[Any] = []
        self.failure: PluginError | None = None
        self.broken: ChainFailure | None = None


def process_chain(run: Run, chain: Chain, values: list[Any]) -> ChainRun:
    """A processor's batch through the chain it heads (``chain`` starts with it)."""
    result = ChainRun()
    result.broken = chain.broken
    done, chain.slice = in_slices(run, values, chain.step, chain.slice)
    result.handed = done
    result.leftover = values[done:]
    result.produced = chain.outputs
    return result


def source_chain(
    run: Run,
    task: TaskSpec,
    stage: Stage,
    chain: Chain,
    pending: list[Any],
    room: int,
    *,
    may_pull: bool,
) -> ChainRun:
    """A source's pull, and its items through the chain it heads, in rounds of at most
    ``room`` items: while the chain ends in a stage with no outlet, rounds go on until the
    activation has taken BATCH_WINDOW_S, or up to LONE_CHAIN_S more while no other stage is
    ready (the items in flight stay within one round; fewer, longer activations), otherwise
    one round fills the room downstream. ``pending`` (items a pause or a time cut left over)
    go first; the source is pulled only when ``may_pull`` (no more are left over)."""
    result = ChainRun()
    result.broken = chain.broken
    deadline = perf_counter() + BATCH_WINDOW_S
    values = pending
    while True:
        if not values and may_pull:
            values, result.failure = produce(run, task, stage, room)
        if values:
            done, chain.slice = in_slices(run, values, chain.step, chain.slice)
            while result.failure is not None and done < len(values) and not _halted(run):
                # The source has failed: there is no next activation to leave items to.
                more, chain.slice = in_slices(run, values[done:], chain.step, chain.slice)
                done += more
            result.handed += done
            if done < len(values):
                result.leftover = values[done:]
                break
            values = []
        if (
            not may_pull
            or result.failure is not None
            or chain.broken is not None
            or chain.outputs
            or stage.source_state == "exhausted"
            or not chain.terminal
            or _halted(run)
        ):
            break
        now = perf_counter()
        if now >= deadline and (run.ready or now >= deadline + LONE_CHAIN_S):
            break
    result.produced = chain.outputs
    return result


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


# Activations that keep their thread busy for this share of their wall time are CPU-bound
# Python: more threads only take turns at the GIL (one drainer is ~10% faster than four).
CPU_BOUND_SHARE = 0.6
# An activation lasts about BATCH_WINDOW_S; one running this long is waiting on something.
STREAM_STALL_S = 0.006
# Activations must have run this long in all before their CPU share counts as measured.
MEASURED_S = 0.0002


class StreamLimit:
    """How many stage activations of one run may run at once: one while activations are
    CPU-bound (measured with the thread's CPU clock), the run's limit once they wait (I/O,
    sleeps, remote calls); a stall guard lifts the cap when an activation blocks."""

    __slots__ = ("_clock", "_cpu_share", "_last_progress", "_run", "_seen_s", "_timer")

    def __init__(self, run: Run) -> None:
        self._run = run
        self._cpu_share = 1.0  # unknown counts as CPU-bound; the stall guard corrects it
        self._seen_s = 0.0  # wall time of the activations ended so far (up to MEASURED_S)
        self._last_progress = 0.0  # engine clock at the latest activation start or end
        self._clock = run.engine.timers.now
        self._timer: Any = None

    def capacity(self) -> int:
        return 1 if self._cpu_share >= CPU_BOUND_SHARE else self._run.limit

    def measured_cpu_bound(self) -> bool:
        """CPU-bound as measured, not as assumed before any activation has ended: what
        running linear chains fused needs (a first item that blocks must not hold its
        upstream)."""
        return self._seen_s >= MEASURED_S and self._cpu_share >= CPU_BOUND_SHARE

    def activation_started(self) -> tuple[float, float]:
        self._last_progress = self._clock()
        return perf_counter(), thread_time()

    def activation_ended(self, started: tuple[float, float]) -> None:
        self._last_progress = self._clock()
        wall = perf_counter() - started[0]
        if self._seen_s < MEASURED_S:
            self._seen_s += wall
        if wall > 0.0002:  # too short to tell
            share = min(1.0, (thread_time() - started[1]) / wall)
            self._cpu_share += (share - self._cpu_share) * 0.3

    def watch(self) -> None:
        """(lock held) Work waits while capped: check back after STREAM_STALL_S."""
        run = self._run
        if self._timer is None and run.running and self.capacity() < run.limit:
            self._timer = run.engine.timers.call_later(
                STREAM_STALL_S,
                self._check,
                kind=TimerKind.STALL_GUARD,
                execution_id=run.execution_id,
            )

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        run = self._run
        with run.lock:
            self._timer = None
            if run.stopping or not run.ready or not run.running:
                return
            if self._clock() - self._last_progress >= STREAM_STALL_S:
                # Ready stages wait behind an activation that has run this long: it blocks.
                self._cpu_share = 0.0
            run.workers.spawn(0)
