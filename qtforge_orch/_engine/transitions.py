"""The one table of task state changes, and what each one asks the run shell to do.

Every change of a task's state in a run goes through ``STEPS`` (built from ``TRANSITIONS``, a
``(from, to) -> function`` table in the manner of Dask distributed's scheduler). A function
updates the run's ``TaskTable`` (the state, the times, the counts) and returns the transition's
effect: the task event to post, the journal record to write and whether the task's rollback
step is now owed, as one of the bits below. It touches nothing else: the shell carries the
effect out (``Run.carry_out``), so journaling, compensations and events are written once, for
every scheduler.

Cheap on the hot path by construction: the table is a list indexed by ``from * 7 + to``, an
effect is an int, and a run keeps the mask of effects it must carry out at all (``wanted``:
journal records if journaled, rollback steps if its plan has any, events somebody listens to),
so a tiny step's two transitions cost two calls and two ``&``. A pair missing from the table
is a bug in a scheduler; ``STEPS`` maps it to a step that raises, naming the transition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..contract.plan import TaskState
from . import task_table as state
from .events import EventKind
from .task_table import TaskTable

# Effects, one bit each (0: nothing to carry out).
STARTED = 1  # the first attempt started: "started" record, task_started event
COMPLETED = 2  # "completed" record (the output), task_completed event, rollback step owed
FAILED = 4  # "failed" record (the message), task_failed event
RETRYING = 8  # "retrying" record (the message), task_retrying event
SKIPPED = 16  # "skipped" record
CANCELLED = 32  # "cancelled" record
RESTORED = 64  # a resumed run's task that completed before: "completed" record, rollback owed
# An abandoned attempt (cancelled with its run, timed out) returned anyway: a "late" record,
# its rollback step owed now (the task did not complete: ``LATE_OWED``) or once the task
# settles (a retry is due or running: ``LATE_PARKED``). No event: the run may have ended.
LATE = 128
LATE_OWED = 256
LATE_PARKED = 512

RECORDED = STARTED | COMPLETED | FAILED | RETRYING | SKIPPED | CANCELLED | RESTORED
OWED = COMPLETED | RESTORED
# The effects that settle a task: a late success parked on it is then decided.
SETTLES = COMPLETED | FAILED | CANCELLED
RECORD_OF = {
    STARTED: "started",
    COMPLETED: "completed",
    FAILED: "failed",
    RETRYING: "retrying",
    SKIPPED: "skipped",
    CANCELLED: "cancelled",
    RESTORED: "completed",
}
EVENT_OF = {
    STARTED: EventKind.TASK_STARTED,
    COMPLETED: EventKind.TASK_COMPLETED,
    FAILED: EventKind.TASK_FAILED,
    RETRYING: EventKind.TASK_RETRYING,
}
EFFECT_OF_EVENT = {kind: effect for effect, kind in EVENT_OF.items()}

Step = Callable[[TaskTable, int, Any, float], int]

# The states the steps write, as the table's plain ints.
_PENDING = state.PENDING
_RUNNING = state.RUNNING
_COMPLETED = state.COMPLETED
_FAILED = state.FAILED
_SKIPPED = state.SKIPPED
_CANCELLED = state.CANCELLED
_RETRYING = state.RETRYING

_P = TaskState.Pending
_R = TaskState.Running
_C = TaskState.Completed
_F = TaskState.Failed
_S = TaskState.Skipped
_X = TaskState.Cancelled
_T = TaskState.Retrying


# Each step: ``step(table, index, value, at)``; ``value`` is the output of a completion, the
# ``PluginError`` of a failure or a retry, the ``(LateOutcome, output or error)`` of a late
# outcome, None otherwise; ``at`` is ``time.time()`` of the change.
def start(table: TaskTable, index: int, value: Any, at: float) -> int:
    """An attempt starts; only the first one is announced and journaled."""
    table.states[index] = _RUNNING
    if table.retries[index]:
        return 0
    table.starts[index] = at
    return STARTED


def complete(table: TaskTable, index: int, output: Any, at: float) -> int:
    """The attempt (or a stage, with its counters as output) completed."""
    table.states[index] = _COMPLETED
    table.outputs[index] = output
    table.ends[index] = at
    table.completed += 1
    table.settled += 1
    if table.step_progress:
        table.step_progress.pop(index, None)
    return COMPLETED


def fail(table: TaskTable, index: int, error: Any, at: float) -> int:
    """The task failed for good (no retry left, or none allowed) with ``error``."""
    table.states[index] = _FAILED
    table.errors[index] = error.message
    table.failures[index] = error
    table.ends[index] = at
    table.settled += 1
    if table.step_progress:
        table.step_progress.pop(index, None)
    return FAILED


def retry(table: TaskTable, index: int, error: Any, at: float) -> int:
    """The attempt failed with ``error`` and another one is due after the retry delay."""
    table.states[index] = _RETRYING
    table.retries[index] += 1
    if table.step_progress:
        table.step_progress.pop(index, None)
    return RETRYING


def requeue(table: TaskTable, index: int, value: Any, at: float) -> int:
    """The retry delay is over: the task waits for a drainer again."""
    table.states[index] = _PENDING
    return 0


def skip(table: TaskTable, index: int, value: Any, at: float) -> int:
    """The join rule or the task's condition said no."""
    table.states[index] = _SKIPPED
    table.settled += 1
    return SKIPPED


def cancel(table: TaskTable, index: int, value: Any, at: float) -> int:
    """The run stopped before the task could settle."""
    table.states[index] = _CANCELLED
    table.settled += 1
    if table.step_progress:
        table.step_progress.pop(index, None)
    return CANCELLED


def restore(table: TaskTable, index: int, output: Any, at: float) -> int:
    """A resumed execution's task that completed before: Completed without running."""
    table.states[index] = _COMPLETED
    table.outputs[index] = output
    table.starts[index] = table.ends[index] = at
    table.completed += 1
    table.settled += 1
    return RESTORED


def late(table: TaskTable, index: int, value: Any, at: float) -> int:
    """An abandoned attempt returned: its outcome is recorded; the task keeps its state.

    A late success is undone (its rollback step owed) when the task did not complete; kept
    when another attempt completed it; decided when the task settles while a retry is due or
    running. A late failure is only recorded.
    """
    record, outcome = value
    record.at = at
    record.pending = False
    if isinstance(outcome, dict):
        record.output = outcome
        state = table.states[index]
        if state == _COMPLETED:
            record.rollback = "kept"
            return LATE
        if state in (_FAILED, _CANCELLED):
            return LATE | LATE_OWED
        record.rollback = "deferred"
        return LATE | LATE_PARKED
    record.error = outcome
    return LATE


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
    # Late outcomes: records, not state changes (``late``); any state an abandoned attempt's
    # task can be in when the attempt returns, after the run's end included.
    **{(state, state): late for state in (_P, _R, _C, _F, _X, _T)},
}

# ``STEPS`` is indexed by ``from * WIDTH + to``: one row per TaskState.
WIDTH = len(TaskState)


def _impossible(old: TaskState, new: TaskState) -> Step:
    def impossible(table: TaskTable, index: int, value: Any, at: float) -> int:
        raise AssertionError(f"task {index}: no transition from {old.name} to {new.name}")

    return impossible


def _steps() -> list[Step]:
    steps = [_impossible(old, new) for old in TaskState for new in TaskState]
    for (old, new), step in TRANSITIONS.items():
        steps[old * WIDTH + new] = step
    return steps


# ``STEPS[from * WIDTH + to]``: the table as a list, an index instead of a hash. Swapped entry
# by entry, in place, by ``transition_checks``: every caller reads this one list.
STEPS: list[Step] = _steps()
# Whether new runs name themselves on their task table (``TaskTable.owner``): only the
# transition checks need it.
owners_wanted = False


class ListenedKinds(set[EventKind]):
    """The event kinds somebody receives (a facade adds a kind when a slot connects), and the
    task effects whose event is among them, kept as a mask for ``Run.wanted`` checks."""

    # Slots, read on every transition: the task effects whose event is received, and one bit
    # per received kind (``1 << kind``), for hot paths that must not test membership.
    __slots__ = ("effects", "kinds")

    def __init__(self) -> None:
        super().__init__()
        self.effects = 0
        self.kinds = 0

    def add(self, kind: EventKind) -> None:
        super().add(kind)
        self.effects |= EFFECT_OF_EVENT.get(kind, 0)
        self.kinds |= 1 << kind

    def update(self, *kinds: Iterable[EventKind]) -> None:
        for group in kinds:
            for kind in group:
                self.add(kind)

    def retain(self, wanted: Iterable[EventKind]) -> None:
        """Keep only the ``wanted`` kinds (the pump, when subscriptions end). A kind still
        wanted is never missing, not even for a moment: too many events, never too few."""
        self.intersection_update(wanted)
        effects = kinds = 0
        for kind in self:
            effects |= EFFECT_OF_EVENT.get(kind, 0)
            kinds |= 1 << kind
        self.effects = effects
        self.kinds = kinds
