"""Where a Streaming run's items go: the stages' ready queue, room downstream, delivery.

Every channel (a stage's inbox) is bounded by the stream capacity, counting the items queued,
the room upstream activations have reserved, and the items its own running activation has
taken (they are alive until it ends): an activation reserves room in each downstream channel
before it takes items, and outputs beyond the room wait in the stage's backlog, which is what
makes the bound exact (backpressure). Ready stages are ordered by depth, deepest first, so
draining wins over producing. Everything here runs with the run's lock held.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

from ..contract.plan import Plan, Wire, WireKind
from .invoke import filter_items
from .stream_activation import BATCH
from .stream_stage import Stage, as_output, build_stages, deepest_first


class Taken:
    """What one activation took under the lock: its stage, the chain it runs inline, the
    room it reserved after the chain's last stage (``out_stage``), a source chain's round
    size, its items, and whether a source may pull."""

    __slots__ = ("batch", "chain", "index", "may_pull", "out_stage", "per_round", "room")

    def __init__(
        self,
        index: int,
        chain: list[int],
        out_stage: Stage,
        room: int,
        per_round: int,
        batch: list[Any],
        *,
        may_pull: bool,
    ) -> None:
        self.index = index
        self.chain = chain
        self.out_stage = out_stage
        self.room = room
        self.per_round = per_round
        self.batch = batch
        self.may_pull = may_pull


class StageFlow:
    """One Streaming run's stages, their ready queue and the moves of items between them."""

    __slots__ = ("by_rank", "capacity", "fusing", "is_source", "plan", "rank", "ready", "stages")

    def __init__(self, plan: Plan, fusing: Callable[[], bool]) -> None:
        self.plan = plan
        self.capacity = max(1, plan.stream_capacity)  # per channel (inbox)
        self.stages, self.is_source = build_stages(plan)
        self.by_rank, self.rank = deepest_first(plan.tasks)
        self.ready: list[int] = []  # heap of ranks: the deepest ready stage first
        self.fusing = fusing  # whether linear chains run fused now

    def schedule(self, index: int) -> None:
        stage = self.stages[index]
        if stage.scheduled or stage.active or stage.finished or stage.order_blockers:
            return
        stage.scheduled = True
        heapq.heappush(self.ready, self.rank[index])

    def pop(self) -> int:
        """The ready stage to activate next."""
        return self.by_rank[heapq.heappop(self.ready)]

    # --- room downstream ----------------------------------------------------------------------
    def room(self, stage: Stage) -> int:
        """How many items an activation may produce: the room in the fullest channel."""
        if stage.backlog:
            return 0
        return min(BATCH, self.free(stage))

    def free(self, stage: Stage) -> int:
        """Room left in the fullest downstream channel: its capacity less the items queued,
        reserved by others and taken by its running activation."""
        free = BATCH * 64
        capacity = self.capacity
        for target, _wire in stage.outgoing:
            downstream = self.stages[target]
            if not downstream.finished:
                held = len(downstream.inbox) + downstream.reserved + downstream.in_hand
                free = min(free, capacity - held)
        return max(0, free)

    # --- fused chains ---------------------------------------------------------------------------
    def claimable(self, index: int) -> bool:
        """Whether the stage may run inside its feeder's activation now: nothing waits for
        it and it is not running or queued on its own, so items keep their order."""
        stage = self.stages[index]
        return not (
            stage.active or stage.scheduled or stage.finished or stage.inbox or stage.backlog
        )

    def chain_room(self, index: int) -> int:
        """``room`` for what an activation of the stage would produce: the room after the
        chain it would run (itself alone when none)."""
        stage = self.stages[index]
        if stage.backlog:
            return 0
        end = stage
        follower = stage.fuse_next
        if follower >= 0 and self.fusing():
            while follower >= 0 and self.claimable(follower):
                end = self.stages[follower]
                follower = end.fuse_next
        return self.room(end)

    def wake_feeder(self, index: int) -> None:
        """The stage has room again and nothing to do: the nearest stage up its chain with
        work may go on (it runs this one inline)."""
        feeder = self.stages[index].feeder
        while feeder >= 0:
            upstream = self.stages[feeder]
            if upstream.finished or upstream.backlog:
                return
            if upstream.inbox or (self.is_source[feeder] and upstream.source_state != "exhausted"):
                if self.chain_room(feeder) > 0:
                    self.schedule(feeder)
                return
            feeder = upstream.feeder

    # --- delivery -------------------------------------------------------------------------------
    def emit(self, index: int, stage: Stage, produced: list[Any], *, from_source: bool) -> None:
        if not produced:
            return
        stage.items_out += len(produced)
        if stage.kept is not None:
            stage.kept.extend(produced)
        if not stage.outgoing:
            return
        if stage.backlog or len(produced) > self.free(stage):
            stage.backlog.extend(produced)
            self.flush_backlog(index)
            return
        self._deliver(index, stage, produced, from_source=from_source)

    def flush_backlog(self, index: int) -> None:
        """Move held outputs on as far as every downstream channel has room."""
        stage = self.stages[index]
        free = self.free(stage)
        if free and stage.backlog:
            items = take_items(stage, free, backlog=True)
            self._deliver(index, stage, items, from_source=self.is_source[index])

    def _deliver(self, index: int, stage: Stage, produced: list[Any], *, from_source: bool) -> None:
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
                except Exception:  # some item lacks the port, or cannot be searched for it
                    values = [item[port] for item in items if _holds(item, port)]
            else:
                values = items
            if downstream.mixed_ports:
                target_port = wire.target_port
                downstream.inbox.extend((target_port, value) for value in values)
            else:
                downstream.inbox.extend(values)
            if len(downstream.inbox) > downstream.peak_inbox:
                downstream.peak_inbox = len(downstream.inbox)
            self.schedule(target)

    def _passing(
        self, index: int, stage: Stage, wire: Wire, produced: list[Any], from_source: bool
    ) -> list[Any]:
        """The items a Control connection lets through: its condition sees the item as the
        node's output (a source's item under its first output port)."""
        assert wire.condition is not None
        out_port = self.plan.tasks[index].out_port if from_source else ""
        return filter_items(
            wire.condition,
            produced,
            lambda item: as_output(item, out_port),
            stage,
            wire.condition_text,
        )

    # --- invariants -----------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """What is inconsistent in the queue (empty: nothing)."""
        found: list[str] = []
        queued = [self.by_rank[rank] for rank in self.ready]
        if len(set(queued)) != len(queued):
            found.append("a stage is queued twice")
        for index in queued:
            stage = self.stages[index]
            if not stage.scheduled or stage.finished:
                found.append(f"stage {index} is queued but not schedulable")
        for index, stage in enumerate(self.stages):
            held = len(stage.inbox) + stage.reserved + stage.in_hand
            if held > self.capacity and not self.is_source[index]:
                found.append(f"stage {index}'s channel holds {held} (capacity {self.capacity})")
        scheduled = sum(1 for stage in self.stages if stage.scheduled)
        if scheduled != len(queued):
            found.append(f"{scheduled} stages marked scheduled, {len(queued)} queued")
        return found


def _holds(item: Any, port: str) -> bool:
    """Whether an output is a dict holding ``port``; an output that cannot be searched (a key
    whose ``__eq__`` raises) holds none: it is not forwarded."""
    try:
        return type(item) is dict and port in item
    except Exception:
        return False


def take_items(stage: Stage, count: int, *, backlog: bool = False) -> list[Any]:
    queue = stage.backlog if backlog else stage.inbox
    if count >= len(queue):
        items = list(queue)
        queue.clear()
        return items
    popleft = queue.popleft
    return [popleft() for _ in range(count)]
