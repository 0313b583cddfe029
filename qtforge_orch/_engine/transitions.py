"""The one table of task state changes, and what each one asks the run shell to do.

Every change of a task's state in a run goes through ``STEPS`` (built from ``TRANSITIONS``, a
``(from, to) -> function`` table in the manner of Dask distributed's scheduler). A function
updates the run's ``TaskTable`` (the state, the times, the counts) and returns the transition's
``Effect``: the task event to post, the journal record to write and whether the task's rollback
step is now owed. It touches nothing else: the shell carries the effect out (``Run.transition``),
so journaling, compensations and events are written once, for every scheduler.

A pair missing from the table is a bug in a scheduler; ``STEPS`` maps it to a step that
raises, naming the transition asked for. Effects are preallocated tuples and the lookup is a
list index, so a transition costs two calls on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..contract.plan import TaskState
from .events import EventKind
from .task_table import TaskTable

# (task event to post, journal record to write, the task's rollback step is owed)
Effect = tuple[EventKind | None, str | None, bool]
Step = Callable[[TaskTable, int, Any, float], Effect | None]

STARTED: Effect = (EventKind.TASK_STARTED, "started", False)
COMPLETED: Effect = (EventKind.TASK_COMPLETED, "completed", True)
FAILED: Effect = (EventKind.TASK_FAILED, "failed", False)
RETRYING: Effect = (EventKind.TASK_RETRYING, "retrying", False)
SKIPPED: Effect = (None, "skipped", False)
CANCELLED: Effect = (None, "cancelled", False)
# A resumed execution's task that completed before: recorded again, announced to nobody.
RESTORED: Effect = (None, "completed", True)

_P = TaskState.Pending
_R = TaskState.Running
_C = TaskState.Completed
_F = TaskState.Failed
_S = TaskState.Skipped
_X = TaskState.Cancelled
_T = TaskState.Retrying


# Each step: ``step(table, index, value, at)``; ``value`` is the output of a completion, the
# message of a failure or a retry, None otherwise; ``at`` is ``time.time()`` of the change.
def start(table: TaskTable, index: int, value: Any, at: float) -> Effect | None:
    """An attempt starts; only the first one is announced and journaled."""
    table.states[index] = _R
    if table.retries[index]:
        return None
    table.starts[index] = at
    return STARTED


def complete(table: TaskTable, index: int, output: Any, at: float) -> Effect:
    """The attempt (or a stage, with its counters as output) completed."""
    table.states[index] = _C
    table.outputs[index] = output
    table.ends[index] = at
    table.completed += 1
    table.settled += 1
    if table.step_progress:
        table.step_progress.pop(index, None)
    return COMPLETED


def fail(table: TaskTable, index: int, message: Any, at: float) -> Effect:
    """The task failed for good (no retry left, or none allowed)."""
    table.states[index] = _F
    table.errors[index] = message
    table.ends[index] = at
    table.settled += 1
    if table.step_progress:
        table.step_progress.pop(index, None)
    return FAILED


def retry(table: TaskTable, index: int, message: Any, at: float) -> Effect:
    """The attempt failed and another one is due after the retry delay."""
    table.states[index] = _T
    table.retries[index] += 1
    if table.step_progress:
        table.step_progress.pop(index, None)
    return RETRYING


def requeue(table: TaskTable, index: int, value: Any, at: float) -> None:
    """The retry delay is over: the task waits for a drainer again."""
    table.states[index] = _P


def skip(table: TaskTable, index: int, value: Any, at: float) -> Effect:
    """The join rule or the task's condition said no."""
    table.states[index] = _S
    table.settled += 1
    return SKIPPED


def cancel(table: TaskTable, index: int, value: Any, at: float) -> Effect:
    """The run stopped before the task could settle."""
    table.states[index] = _X
    table.settled += 1
    if table.step_progress:
        table.step_progress.pop(index, None)
    return CANCELLED


def restore(table: TaskTable, index: int, output: Any, at: float) -> Effect:
    """A resumed execution's task that completed before: Completed without running."""
    table.states[index] = _C
    table.outputs[index] = output
    table.starts[index] = table.ends[index] = at
    table.completed += 1
    table.settled += 1
    return RESTORED


TRANSITIONS: dict[tuple[TaskState, TaskState], Step] = {
    (_P, _R): start,
    (_P, _S): skip,
    (_P, _F): fail,  # the task's condition could not be evaluated
    (_P, _C): restore,
    (_P, _X): cancel,
    (_R, _C): complete,
    (_R, _F): fail,
    (_R, _T): retry,
    (_R, _X): cancel,
    (_T, _P): requeue,
    (_T, _X): cancel,
}

# ``STEPS`` is indexed by ``from * _WIDTH + to``: one row per TaskState.
_WIDTH = len(TaskState)


def _impossible(old: TaskState, new: TaskState) -> Step:
    def impossible(table: TaskTable, index: int, value: Any, at: float) -> None:
        raise AssertionError(f"task {index}: no transition from {old.name} to {new.name}")

    return impossible


def _steps() -> list[Step]:
    steps = [_impossible(old, new) for old in TaskState for new in TaskState]
    for (old, new), step in TRANSITIONS.items():
        steps[old * _WIDTH + new] = step
    return steps


# ``STEPS[from * len(TaskState) + to]``: the table as a list, an index instead of a hash.
STEPS: list[Step] = _steps()


def event_args(
    event: EventKind, execution_id: str, key: str, value: Any, retries: int
) -> tuple[Any, ...]:
    """A task event's arguments: the transition's ``value`` (an output, a message) or the
    retry number after the execution id and the task's key."""
    if event is EventKind.TASK_COMPLETED:
        return (execution_id, key, dict(value))
    if event is EventKind.TASK_STARTED:
        return (execution_id, key)
    if event is EventKind.TASK_RETRYING:
        return (execution_id, key, retries)
    return (execution_id, key, value)
