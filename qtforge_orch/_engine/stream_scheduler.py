"""The stream scheduler (v2 Streaming): every node is a stage that items flow through.

Each stage has a bounded inbox. An activation (the unit of work: a stage index) moves up to
``BATCH`` items through one stage and then returns its thread, so stages share a small pool
without deadlock and items cross threads in batches rather than one hop each. Where items go
and when a stage may run is ``stream_flow``'s; the activation's work itself is
``stream_activation``'s and, for a fused linear chain, ``stream_chains``'. This module decides,
under the run's lock, what runs next, and settles stages through the shell's ``transition``.
"""

from __future__ import annotations

import time
from typing import Any

from ..contract.plan import Role, TaskState, WireKind
from ..errors import PluginError, derived_error
from . import stream_activation, stream_chains
from .dataflow import collect_result
from .run_status import RunStatus
from .scheduler_protocol import SchedulerDefaults
from .shell_protocol import RunShell
from .stream_activation import BATCH, Done
from .stream_flow import StageFlow, Taken, take_items
from .stream_limit import StreamLimit
from .task_table import COMPLETED, FAILED, RUNNING
from .workers import Workers

_R = RUNNING
_C = COMPLETED
_F = FAILED

# Run linear chains (``stream_stage.link_chains``) as one activation while CPU-bound; off,
# every stage runs on its own (tests compare the two).
FUSE_CHAINS = True


class StreamScheduler(SchedulerDefaults):
    """Schedules one Streaming run's stage activations (``Scheduler[int]``: a stage index)."""

    def __init__(self, run: RunShell) -> None:
        self.run = run
        self.plan = run.plan
        self.tasks = run.plan.tasks
        self.lock = run.lock
        self.transition = run.transition
        self.limit = StreamLimit(run, self)
        self.flow = StageFlow(self.plan, self._fusing)
        self.stages, self.is_source = self.flow.stages, self.flow.is_source
        self.ready = self.flow.ready
        self.running = 0  # activations in progress
        self.current_task = ""
        self.workers: Workers[int] = Workers(run, self)

    # --- the Scheduler surface (lock held) ----------------------------------------------------
    def begin(self) -> None:
        for index, is_source in enumerate(self.is_source):
            if is_source:
                self.flow.schedule(index)

    def capacity(self) -> int:
        return self.limit.capacity()

    def spawned(self) -> None:
        self.limit.watch()

    def finished(self) -> None:
        self.limit.stop()

    def work_done(self) -> bool:
        return self.run.table.settled >= len(self.tasks)

    def final_result(self) -> dict[str, Any]:
        table = self.run.table
        return collect_result(self.plan, self.run.initial_data, table.outputs, table.states)

    def abort(self, final_status: str, error: PluginError) -> bool:
        self.ready.clear()
        for stage in self.stages:
            stage.scheduled = False
        self.run.cancel_unsettled()  # stage contexts are the run's long contexts, cancelled
        return False

    def task_extras(self) -> list[dict[str, Any]]:
        return [stage.report() for stage in self.stages]

    def take(self) -> int | None:
        run = self.run
        if run.stopping or run.status != RunStatus.RUNNING or not self.ready:
            return None
        if self.running >= self.limit.capacity():
            return None
        index = self.flow.pop()
        stage = self.stages[index]
        stage.scheduled = False
        stage.active = True
        self.running += 1
        if self.ready:
            self.limit.watch()  # others wait behind this activation while the cap is one
        return index

    # --- one activation (no lock, except to take and give back) ------------------------------
    def work(self, unit: int) -> None:
        with self.lock:
            if self.run.stopping:
                # Cancelled (or failed) since ``take``, in another lock hold: the stage was
                # cancelled with the run and is never started.
                self._give_back(unit)
                return None
            taken = self._take(unit)
        started = self.limit.activation_started()
        done = self._run_activation(taken)
        self.limit.activation_ended(started)
        with self.lock:
            self._settle(taken, done)
            # The items are in the inboxes they went to (or consumed): no reference to them
            # outlives the lock, so what the channels count is what is alive.
            done.produced = []
        return None

    def _take(self, index: int) -> Taken:
        """(lock held) Claim the chain this activation runs, reserve room after it, and take
        the items it works on. Items taken from an inbox stay counted against its capacity
        (``in_hand``) until the activation ends: they are alive until then."""
        flow = self.flow
        stage = self.stages[index]
        is_source = self.is_source[index]
        self._start(index)
        self.current_task = self.tasks[index].key
        chain = self._claim_chain(index)
        out_stage = self.stages[chain[-1]] if chain else stage
        room = 0 if stage.backlog else flow.room(out_stage)
        per_round = room
        if chain and is_source:
            # Each round holds at most what the channels it replaces could (and what fits
            # downstream of the chain, if anything is).
            per_round = flow.capacity * len(chain)
            if out_stage.outgoing:
                per_round = min(room, per_round)
        batch: list[Any] = []
        if stage.inbox:  # a processor's input, or a source's items a pause left over
            if is_source:
                batch = take_items(stage, min(per_round, len(stage.inbox)))
            elif stage.outgoing:
                batch = take_items(stage, min(room, len(stage.inbox), BATCH, stage.take_hint))
            else:
                batch = take_items(stage, min(len(stage.inbox), BATCH, stage.take_hint))
            if not is_source:
                stage.in_hand = len(batch)
                if not chain:
                    stage.items_in += len(batch)
        for target, _wire in out_stage.outgoing:
            self.stages[target].reserved += room
        # A source pulls only once the items it left over have gone on, in order.
        return Taken(index, chain, out_stage, room, per_round, batch, may_pull=not stage.inbox)

    def _give_back(self, index: int) -> None:
        """(lock held) Undo ``take`` for an activation that will not run."""
        self.stages[index].active = False
        self.running -= 1
        self.workers.wake_helpers()

    def _run_activation(self, taken: Taken) -> Done:
        """(no lock) The plugin calls: a source's pull, a processor's batch, or a chain."""
        run = self.run
        index, chain, batch = taken.index, taken.chain, taken.batch
        taken.batch = []  # the items are the callee's now (leftovers go back to the inbox)
        task = self.tasks[index]
        stage = self.stages[index]
        if chain:
            members = chain if self.is_source[index] else [index, *chain]
            links = stream_chains.Chain(
                run,
                [self.tasks[member] for member in members],
                [self.stages[member] for member in members],
            )
            if self.is_source[index]:
                return stream_chains.source_chain(
                    run,
                    task,
                    stage,
                    links,
                    batch,
                    taken.per_round,
                    self.ready,
                    may_pull=taken.may_pull,
                )
            return stream_chains.process_chain(run, links, batch)
        done = Done()
        if self.is_source[index]:
            produced: list[Any] = []
            if taken.may_pull:
                produced, done.failure = stream_activation.produce(
                    run, task, stage, taken.room - len(batch)
                )
            if batch:
                batch.extend(produced)
                produced = batch
            done.produced = produced
        else:
            done.produced, done.failure, done.leftover = stream_activation.process(
                run, task, stage, batch, taken.room
            )
        return done

    def _settle(self, taken: Taken, done: Done) -> None:
        """(lock held) Give back the reservations, deliver the outputs, and decide what runs
        next."""
        run = self.run
        flow = self.flow
        index, chain, out_stage = taken.index, taken.chain, taken.out_stage
        stage = self.stages[index]
        is_source = self.is_source[index]
        for target, _wire in out_stage.outgoing:
            self.stages[target].reserved -= taken.room
        stage.active = False
        stage.in_hand = 0
        for member in chain:
            self.stages[member].active = False
        self.running -= 1
        if done.leftover:  # a pause, or a slice cut by time: the rest waits here
            stage.inbox.extendleft(reversed(done.leftover))
            done.leftover = []
        if chain and is_source:
            stage.items_out += done.handed
        if run.stopping:
            self.workers.wake_helpers()
            return
        if chain:
            flow.emit(chain[-1], out_stage, done.produced, from_source=False)
        else:
            flow.emit(index, stage, done.produced, from_source=is_source)
        if done.broken is not None:
            self._stage_failed(*done.broken)
        if done.failure is not None:
            self._stage_failed(index, done.failure)
        elif not stage.finished and not run.stopping:
            self._reschedule(index, is_source)
        self.workers.spawn(1)
        self.workers.wake_helpers()

    def _start(self, index: int) -> None:
        """(lock held) A stage's first activation, or the first it runs inside of, starts it."""
        stage = self.stages[index]
        if stage.context is None:
            stage.context = self.run.new_context(self.tasks[index].key)
        if not stage.started:
            stage.started = True
            self.transition(index, _R, None, time.time())

    # --- fused chains (lock held) -------------------------------------------------------------
    def _fusing(self) -> bool:
        """Chains run fused while activations are CPU-bound (one runs at a time anyway);
        once they wait, each stage runs on its own so waits overlap."""
        return FUSE_CHAINS and self.limit.measured_cpu_bound()

    def _claim_chain(self, index: int) -> list[int]:
        """The stages this activation runs inline after its own (see
        ``stream_stage.link_chains``), marked active and started."""
        chain: list[int] = []
        follower = self.stages[index].fuse_next
        if follower < 0 or not self._fusing():
            return chain
        while follower >= 0 and self.flow.claimable(follower):
            chain.append(follower)
            self.stages[follower].active = True
            self._start(follower)
            follower = self.stages[follower].fuse_next
        return chain

    # --- what runs next (lock held) -----------------------------------------------------------
    def _reschedule(self, index: int, was_source: bool) -> None:
        flow = self.flow
        stage = self.stages[index]
        task = self.tasks[index]
        if stage.backlog:
            pass  # moves on, and the stage continues, as its consumers drain
        elif (was_source and stage.source_state != "exhausted") or stage.inbox:
            # Without room downstream, the consumer reschedules this stage when it drains.
            if flow.chain_room(index) > 0 or not stage.outgoing:
                flow.schedule(index)
        elif stage.open_upstream == 0:
            if task.role is Role.AGGREGATOR and stage.window:
                # The final window runs in an activation of its own, never under the lock.
                flow.schedule(index)
            else:
                self._finish_stage(index)
        # Space may have opened in this stage's inbox: upstream producers with work continue.
        for wire in task.incoming:
            upstream = self.stages[wire.source]
            if upstream.finished:
                continue
            if upstream.backlog:
                flow.flush_backlog(wire.source)
                if not upstream.backlog and not (upstream.active or upstream.scheduled):
                    self._reschedule(wire.source, self.is_source[wire.source])
                continue
            if flow.chain_room(wire.source) == 0:
                continue
            if upstream.inbox or (
                self.is_source[wire.source] and upstream.source_state != "exhausted"
            ):
                flow.schedule(wire.source)
            else:
                flow.wake_feeder(wire.source)

    # --- stage ends (lock held) -------------------------------------------------------------
    def _finish_stage(self, index: int) -> None:
        stage = self.stages[index]
        if stage.finished:
            return
        stage.finished = True
        run = self.run
        self.transition(index, _C, stage.counters(), time.time())
        self._release_downstream(index)
        run.update_progress()
        run.maybe_complete()

    def _stage_failed(self, index: int, error: PluginError) -> None:
        stage = self.stages[index]
        run = self.run
        task = self.tasks[index]
        stage.finished = True
        self.transition(index, _F, error, time.time())
        if task.critical:
            run.abort(
                RunStatus.FAILED,
                derived_error(error, f"node '{task.key}' failed: {error.message}"),
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
                    self.flow.schedule(succ)
                self._maybe_finish_idle(succ)

    def _maybe_finish_idle(self, index: int) -> None:
        stage = self.stages[index]
        if stage.finished or stage.active or stage.scheduled or stage.order_blockers:
            return
        if self.is_source[index]:
            return
        if stage.open_upstream == 0 and not stage.inbox:
            self.flow.schedule(index)  # one last activation flushes windows and finishes it

    # --- invariants (lock held) ---------------------------------------------------------------
    def problems(self) -> list[str]:
        found = self.flow.problems()
        states = self.run.table.states
        active = 0
        for index, stage in enumerate(self.stages):
            state = states[index]
            if stage.active:
                active += 1
                if stage.finished:
                    found.append(f"stage {index} is active but finished")
            if stage.started and state == TaskState.Pending:
                found.append(f"stage {index} started but is Pending")
            if stage.finished != (state in (_C, _F)) and not self.run.stopping:
                found.append(f"stage {index} is {TaskState(state).name}, finished={stage.finished}")
        if not 0 <= self.running <= active:
            found.append(f"{self.running} activations counted, {active} stages active")
        return found
