"""Resuming a journaled execution: tasks that completed before a crash are not run again.

Their recorded outputs feed their successors exactly as if they had just completed, their
rollback steps are recorded again (unless the journal says the rollback already ran, so it
runs at most once overall), and the new execution journals them as completed, so it can be
resumed in turn. No step signals are emitted for them: nothing ran.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..contract.plan import TaskState
from .dataflow import merge_shared
from .gates import route_control

if TYPE_CHECKING:
    from .batch import BatchScheduler


def restore_task(scheduler: BatchScheduler, index: int, stack: list[int]) -> None:
    """A resumed execution's task that completed before: Completed with its recorded
    output, without running; its successors go on the worklist (no recursion)."""
    run = scheduler.run
    assert scheduler.restored is not None
    output = scheduler.restored[index]
    task = scheduler.tasks[index]
    control = scheduler.plan.control_out.get(index)
    if control:
        route_control(scheduler.tasks, index, output, control, scheduler.active_control)
    run.outputs[index] = output
    if scheduler.plan.data == 0:  # DataPolicy.SHARED
        if scheduler.plan.merge_rank is None:
            run.shared.update(output)
        else:
            merge_shared(scheduler.plan, run.shared, scheduler.writers, run.overlaps, index, output)
    run.starts[index] = run.ends[index] = time.time()
    scheduler.states[index] = TaskState.Completed
    run.completed += 1
    run.settled += 1
    if task.rollback is not None and index not in scheduler.rollbacks_done:
        run.engine.compensations.record(run, index)
    if run.journal is not None:
        run.note(index, "completed", output=output)
    waiting = scheduler.waiting
    for succ in reversed(task.successors):
        waiting[succ] -= 1
        if waiting[succ] == 0:
            stack.append(succ)
