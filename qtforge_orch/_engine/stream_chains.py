"""Fused linear chains: one activation runs a source's or a processor's items through the
stages it feeds (``stream_stage.link_chains``), item by item, with each stage's counters kept
as if it ran alone."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from ..contract.plan import TaskSpec
from ..errors import PluginError
from . import invoke
from .shell_protocol import RunShell
from .stream_activation import BATCH_WINDOW_S, Done, command, halted, in_slices, produce
from .stream_stage import Stage

# A source's fused chain ending in a stage with no outlet keeps its activation this much
# longer than BATCH_WINDOW_S while no other stage waits (a pause or cancel is still seen
# between slices): fewer activations, each a lock round trip and a thread hand-over.
LONE_CHAIN_S = 0.006


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

    def __init__(self, run: RunShell, tasks: list[TaskSpec], stages: list[Stage]) -> None:
        self.tasks = tasks
        self.stages = stages
        self.calls: list[invoke.PluginCall] = []
        self.broken: tuple[int, PluginError] | None = None  # (stage index, why)
        for task, stage in zip(tasks, stages, strict=True):
            call = command(run, task, stage)
            if isinstance(call, PluginError):
                self.broken = (task.index, call)
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


def process_chain(run: RunShell, chain: Chain, values: list[Any]) -> Done:
    """A processor's batch through the chain it heads (``chain`` starts with it)."""
    result = Done()
    result.broken = chain.broken
    done, chain.slice = in_slices(run, values, chain.step, chain.slice)
    result.handed = done
    result.leftover = values[done:]
    result.produced = chain.outputs
    return result


def source_chain(
    run: RunShell,
    task: TaskSpec,
    stage: Stage,
    chain: Chain,
    pending: list[Any],
    room: int,
    ready: list[int],
    *,
    may_pull: bool,
) -> Done:
    """A source's pull, and its items through the chain it heads, in rounds of at most
    ``room`` items: while the chain ends in a stage with no outlet, rounds go on until the
    activation has taken BATCH_WINDOW_S, or up to LONE_CHAIN_S more while no other stage is
    ready (the items in flight stay within one round; fewer, longer activations), otherwise
    one round fills the room downstream. ``ready`` is the scheduler's ready queue (other
    stages waiting). ``pending`` (items a pause or a time cut left over) go first; the source
    is pulled only when ``may_pull`` (no more are left over)."""
    result = Done()
    result.broken = chain.broken
    deadline = perf_counter() + BATCH_WINDOW_S
    values = pending
    # A round's pull starts at the run the previous round's reached (in this activation
    # only: a source measured fast moments ago), not at one item each round.
    first_run = 1
    while True:
        if not values and may_pull:
            values, result.failure = produce(run, task, stage, room, first_run)
            first_run = stage.pull_run
        if values:
            done, chain.slice = in_slices(run, values, chain.step, chain.slice)
            while result.failure is not None and done < len(values) and not halted(run):
                # The source has failed: there is no next activation to leave items to.
                more, chain.slice = in_slices(run, values[done:], chain.step, chain.slice)
                done += more
            result.handed += done
            if done < len(values):
                result.leftover = values[done:]
                break
            # In place: the caller's list of left-over items is this one, and a round's items
            # must not outlive it while the next round is pulled.
            values.clear()
        if (
            not may_pull
            or result.failure is not None
            or chain.broken is not None
            or chain.outputs
            or stage.source_state == "exhausted"
            or not chain.terminal
            or halted(run)
        ):
            break
        now = perf_counter()
        if now >= deadline and (ready or now >= deadline + LONE_CHAIN_S):
            break
    result.produced = chain.outputs
    return result
