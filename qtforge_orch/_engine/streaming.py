"""The stream scheduler (v2 Streaming): every node is a stage that items flow through.

Each stage has a bounded inbox. An activation moves up to ``BATCH`` items through one stage
and then returns its thread, so stages share a small pool without deadlock and items cross
threads in batches rather than one hop each. Before taking items a stage reserves room in
every downstream inbox, which is what makes the bound exact (backpressure): a fast source
stops when the slowest consumer's inbox is full. The activation's work itself is in
``stream_work``; this module decides, under the run's lock, what runs next and where items go.
"""

from __future__ import annotations

import heapq
import time
from typing import TYPE_CHECKING, Any

from .._errors import PluginError
from ..contract.plan import Role, TaskState, Wire, WireKind
from . import stream_work
from .dataflow import collect_result
from .events import EventKind
from .invoke import filter_items
from .scheduler_base import SchedulerDefaults
from .status import RunStatus
from .stream_stage import Stage, as_output, build_stages, deepest_first
from .stream_work import BATCH, StreamLimit

if TYPE_CHECKING:
    from .run import Run

_R = TaskState.Running
_C = TaskState.Completed
_F = TaskState.Failed

# Run linear chains (``stream_stage.link_chains``) as one activation while CPU-bound; off,
# every stage runs on its own (tests compare the two).
FUSE_CHAINS = True


class StreamScheduler(SchedulerDefaults):
    """Schedules one Streaming run's stage activations (see ``run.Scheduler``)."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.plan = run.plan
        self.tasks = run.plan.tasks
        self.lock = run.lock
        self.ready = run.ready
        self.capacity_per_channel = max(1, self.plan.stream_capacity)
        self.stages, self.is_source = build_stages(self.plan)
        self.by_rank, self.rank = deepest_first(self.tasks)
        self.limit = StreamLimit(run)

    # --- the Scheduler surface (lock held) ----------------------------------------------------
    def begin(self) -> None:
        for index, is_source in enumerate(self.is_source):
            if is_source:
                self._schedule(index)

    def capacity(self) -> int:
        return self.limit.capacity()

    def spawned(self) -> None:
        self.limit.watch()

    def finished(self) -> None:
        self.limit.stop()

    def work_done(self) -> bool:
        return self.run.settled >= len(self.tasks)

    def final_result(self) -> dict[str, Any]:
        run = self.run
        return collect_result(self.plan, run.shared, run.outputs, run.states)

    def abort(self, final_status: str, error: PluginError) -> bool:
        self.run.cancel_unsettled()  # stage contexts are the run's long contexts, cancelled
        return False

    def task_extras(self) -> list[dict[str, Any]]:
        return [stage.report() for stage in self.stages]

    def take(self) -> Any:
        run = self.run
        if run.stopping or run.status != RunStatus.RUNNING or not self.ready:
            return None
        if run.running >= self.limit.capacity():
            return None
        index = self.by_rank[heapq.heappop(self.ready)]
        stage = self.stages[index]
        stage.scheduled = False
        stage.active = True
        run.running += 1
        if self.ready:
            self.limit.watch()  # others wait behind this activation while the cap is one
        return index

    # --- one activation (no lock, except to take and give back) ------------------------------
    def work(self, taken: Any) -> None:
        index: int = taken
        run = self.run
        task = self.tasks[index]
        stage = self.stages[index]
        is_source = self.is_source[index]
        with self.lock:
            self._start(index)
            run.current_task = task.key
            chain = self._claim_chain(index)
            out_stage = self.stages[chain[-1]] if chain else stage
            room = 0 if stage.backlog else self._room(out_stage)
            per_round = room
            if chain and is_source:
                # Each round holds at most what the channels it replaces could (and what
                # fits downstream of the chain, if anything is).
                per_round = self.capacity_per_channel * len(chain)
                if out_stage.outgoing:
                    per_round = min(room, per_round)
            batch: list[Any] = []
            if stage.inbox:  # a processor's input, or a source's items a pause left over
                if is_source:
                    batch = _take_items(stage, min(per_round, len(stage.inbox)))
                elif stage.outgoing:
                    batch = _take_items(stage, min(room, len(stage.inbox), BATCH))
                else:
                    batch = _take_items(stage, min(len(stage.inbox), BATCH))
                if not is_source and not chain:
                    stage.items_in += len(batch)
            # A source pulls only once the items it left over have gone on, in order.
            may_pull = not stage.inbox
            for target, _wire in out_stage.outgoing:
                self.stages[target].reserved += room
        started = self.limit.activation_started()
        failure: PluginError | None = None
        fused: stream_work.ChainRun | None = None
        members: list[int] = []
        if chain:
            members = chain if is_source else [index, *chain]
            links = stream_work.Chain(
                run,
                [self.tasks[member] for member in members],
                [self.stages[member] for member in members],
            )
            if is_source:
                fused = stream_work.source_chain(
                    run, task, stage, links, batch, per_round, may_pull=may_pull
                )
            else:
                fused = stream_work.process_chain(run, links, batch)
            produced, failure = fused.produced, fused.failure
        elif is_source:
            produced = []
            if may_pull:
                produced, failure = stream_work.produce(run, task, stage, room - len(batch))
            if batch:
                batch.extend(produced)
                produced = batch
        else:
            produced, failure = stream_work.process(run, task, stage, batch)
        self.limit.activation_ended(started)
        with self.lock:
            for target, _wire in out_stage.outgoing:
                self.stages[target].reserved -= room
            stage.active = False
            for member in chain:
                self.stages[member].active = False
            run.running -= 1
            if fused is not None:
                if fused.leftover:  # a pause, or a slice cut by time: the rest waits here
                    stage.inbox.extendleft(reversed(fused.leftover))
                if is_source:
                    stage.items_out += fused.handed
            if run.stopping:
                run.workers.wake_helpers()
                return
            if chain:
                self._emit(chain[-1], out_stage, produced, from_source=False)
            else:
                self._emit(index, stage, produced, from_source=is_source)
            if fused is not None and fused.broken is not None:
                position, error = fused.broken
                self._stage_failed(members[position], error)
            if failure is not None:
                self._stage_failed(index, failure)
            elif not stage.finished and not run.stopping:
                self._reschedule(index, is_source)
            run.workers.spawn(1)
            run.workers.wake_helpers()

    def _start(self, index: int) -> None:
        """(lock held) A stage's first activation, or the first it runs inside of, starts it."""
        stage = self.stages[index]
        run = self.run
        if stage.context is None:
            stage.context = run.new_context(self.tasks[index].key)
        if not stage.started:
            stage.started = True
            run.states[index] = _R
            run.starts[index] = time.time()
            if run.journal is not None:
                run.note(index, "started")
            run.post_task(EventKind.TASK_STARTED, (run.execution_id, self.tasks[index].key))

    # --- fused chains (lock held) -------------------------------------------------------------
    def _fusing(self) -> bool:
        """Chains run fused while activations are CPU-bound (one runs at a time anyway);
        once they wait, each stage runs on its own so waits overlap."""
        return FUSE_CHAINS and self.limit.measured_cpu_bound()

    def _claimable(self, index: int) -> bool:
        """Whether the stage may run inside its feeder's activation now: nothing waits for
        it and it is not running or queued on its own, so items keep their order."""
        stage = self.stages[index]
        return not (
            stage.active or stage.scheduled or stage.finished or stage.inbox or stage.backlog
        )

    def _claim_chain(self, index: int) -> list[int]:
        """The stages this activation runs inline after its own (see
        ``stream_stage.link_chains``), marked active and started."""
        chain: list[int] = []
        follower = self.stages[index].fuse_next
        if follower < 0 or not self._fusing():
            return chain
        while follower >= 0 and self._claimable(follower):
            chain.append(follower)
            self.stages[follower].active = True
            self._start(follower)
            follower = self.stages[follower].fuse_next
        return chain

    def _chain_room(self, index: int) -> int:
        """``_room`` for what an activation of the stage would produce: the room after the
        chain it would run (itself alone when none)."""
        stage = self.stages[index]
        if stage.backlog:
            return 0
        end = stage
        follower = stage.fuse_next
        if follower >= 0 and self._fusing():
            while follower >= 0 and self._claimable(follower):
                end = self.stages[follower]
                follower = end.fuse_next
        return self._room(end)

    def _wake_feeder(self, index: int) -> None:
        """The stage has room again and nothing to do: the nearest stage up its chain with
        work may go on (it runs this one inline)."""
        feeder = self.stages[index].feeder
        while feeder >= 0:
            upstream = self.stages[feeder]
            if upstream.finished or upstream.backlog:
                return
            if upstream.inbox or (self.is_source[feeder] and upstream.source_state != "exhausted"):
                if self._chain_room(feeder) > 0:
                    self._schedule(feeder)
                return
            feeder = upstream.feeder

    # --- scheduling and delivery (lock held) ----------------------------------------------------
    def _schedule(self, index: int) -> None:
        stage = self.stages[index]
        if stage.scheduled or stage.active or stage.finished or stage.order_blockers:
            return
        stage.scheduled = True
        heapq.heappush(self.ready, self.rank[index])

    def _room(self, stage: Stage) -> int:
        """How many items an activation may produce: the room in the fullest channel."""
        if stage.backlog:
            return 0
        return min(BATCH, self._free(stage))

    def _free(self, stage: Stage) -> int:
        """Room left in the fullest downstream channel, counting others' reservations."""
        free = BATCH * 64
        for target, _wire in stage.outgoing:
            downstream = self.stages[target]
            if not downstream.finished:
                free = min(
                    free, self.capacity_per_channel - len(downstream.inbox) - downstream.reserved
                )
        return max(0, free)

    def _emit(self, index: int, stage: Stage, produced: list[Any], *, from_source: bool) -> None:
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

    def _flush_backlog(self, index: int) -> None:
        """Move held outputs on as far as every downstream channel has room."""
        stage = self.stages[index]
        free = self._free(stage)
        if free and stage.backlog:
            items = _take_items(stage, free, backlog=True)
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
        self, index: int, stage: Stage, wire: Wire, produced: list[Any], from_source: bool
    ) -> list[Any]:
        """The items a Control connection lets through: its condition sees the item as the
        node's output (a source's item under its first output port)."""
        assert wire.condition is not None
        out_port = self.tasks[index].out_port if from_source else ""
        return filter_items(
            wire.condition,
            produced,
            lambda item: as_output(item, out_port),
            stage,
            wire.condition_text,
        )

    def _reschedule(self, index: int, was_source: bool) -> None:
        stage = self.stages[index]
        task = self.tasks[index]
        if stage.backlog:
            pass  # moves on, and the stage continues, as its consumers drain
        elif (was_source and stage.source_state != "exhausted") or stage.inbox:
            # Without room downstream, the consumer reschedules this stage when it drains.
            if self._chain_room(index) > 0 or not stage.outgoing:
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
            if self._chain_room(wire.source) == 0:
                continue
            if upstream.inbox or (
                self.is_source[wire.source] and upstream.source_state != "exhausted"
            ):
                self._schedule(wire.source)
            else:
                self._wake_feeder(wire.source)

    # --- stage ends (lock held) -------------------------------------------------------------
    def _finish_stage(self, index: int) -> None:
        stage = self.stages[index]
        if stage.finished:
            return
        stage.finished = True
        run = self.run
        counters = stage.counters()
        run.outputs[index] = counters
        run.ends[index] = time.time()
        run.states[index] = _C
        run.completed += 1
        if run.journal is not None:
            run.note(index, "completed", output=counters)
        run.post_task(EventKind.TASK_COMPLETED, (run.execution_id, self.tasks[index].key, counters))
        run.settled += 1
        self._release_downstream(index)
        run.update_progress()
        run.maybe_complete()

    def _stage_failed(self, index: int, error: PluginError) -> None:
        stage = self.stages[index]
        run = self.run
        task = self.tasks[index]
        stage.finished = True
        run.states[index] = _F
        run.errors[index] = error.message
        run.ends[index] = time.time()
        run.settled += 1
        if run.journal is not None:
            run.note(index, "failed", error=error.message)
        run.post_task(EventKind.TASK_FAILED, (run.execution_id, task.key, error.message))
        if task.critical:
            run.abort(
                RunStatus.FAILED,
                PluginError(error.code, f"node '{task.key}' failed: {error.message}"),
            )
            return
        self._release_downstream(index)
        run.update_progress()
        run.maybe_complete()

    def _release_downstream(self, index: int) -> None:
        """A finished (or failed) stage no longer feeds its targets nor blocks its dependents."""
        stage = self.stages[index]
        seen: set[int] = set()
        for target, _wire in stage.outgoing:
            if target not in seen:
                seen.add(target)
                self.stages[target].open_upstream -= 1
            self._maybe_finish_idle(target)
        for succ in self.tasks[index].successors:
            succ_stage = self.stages[succ]
            for wire in self.tasks[succ].incoming:
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


def _take_items(stage: Stage, count: int, *, backlog: bool = False) -> list[Any]:
    queue = stage.backlog if backlog else stage.inbox
    if count >= len(queue):
        items = list(queue)
        queue.clear()
        return items
    popleft = queue.popleft
    return [popleft() for _ in range(count)]
