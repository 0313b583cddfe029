"""A run's per-task record: what each task's state, output, error, attempts and times are.

Flat lists indexed like the plan's tasks (cheap to copy for a status snapshot, cheap to write on
the hot path), plus the counts the status and completion checks read. Only the transitions in
``transitions`` change a task's state here, each keeping the counts current; the record of an
EventDriven execution is the one exception, a copy of its latest passes (``record_pass``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..contract.plan import TERMINAL_STATES, TaskState
from ..errors import PluginError, PluginErrorCode

if TYPE_CHECKING:
    from .compensation import Compensation

# The TaskState values as plain ints: the table holds these (int comparisons and arithmetic
# are the interpreter's fast ones; an IntEnum member goes the generic way).
PENDING = int(TaskState.Pending)
RUNNING = int(TaskState.Running)
COMPLETED = int(TaskState.Completed)
FAILED = int(TaskState.Failed)
SKIPPED = int(TaskState.Skipped)
CANCELLED = int(TaskState.Cancelled)
RETRYING = int(TaskState.Retrying)


@dataclass(slots=True, eq=False)
class LateOutcome:
    """One abandoned attempt: ``pending`` until its call returns, then its output or error,
    and what became of a late success (``rollback_state``)."""

    index: int  # the task's
    attempt: int  # 1-based
    pending: bool = True
    output: dict[str, Any] | None = None
    error: PluginError | None = None
    at: float = 0.0  # time.time() it returned
    # none: nothing to undo (a failure, or no rollback step); deferred: decided when the task
    # settles; kept: another attempt completed the task. Once owed, ``compensation`` says.
    rollback: str = "none"
    compensation: Compensation | None = None

    @property
    def outcome(self) -> str:
        """``pending``, ``completed``, ``failed``, or ``cancelled`` (it stopped as asked)."""
        if self.pending:
            return "pending"
        if self.error is None:
            return "completed"
        return "cancelled" if self.error.code == PluginErrorCode.OperationCancelled else "failed"

    def rollback_state(self) -> str:
        """``""`` while the attempt is out (nothing is decided), then ``none``, ``deferred``,
        ``kept``, or the owed rollback step's ``pending``, ``completed`` or ``failed``."""
        if self.pending:
            return ""
        if self.compensation is not None:
            return self.compensation.status
        return self.rollback


class TaskTable:
    """One run's per-task lists and counts; guarded by the run's lock."""

    __slots__ = (
        "completed",
        "ends",
        "errors",
        "failures",
        "late",
        "mirror",
        "outputs",
        "owner",
        "retries",
        "settled",
        "starts",
        "states",
        "step_progress",
    )

    def __init__(self, size: int) -> None:
        self.states: list[int] = [PENDING] * size
        self.outputs: list[dict[str, Any] | None] = [None] * size
        self.errors: list[str] = [""] * size
        # The PluginError of each Failed task (sparse): its code, traceback, exception.
        self.failures: dict[int, PluginError] = {}
        # Attempts abandoned (run cancelled, timed out) and what came of them, in the order
        # they were abandoned (``late_outcomes``).
        self.late: list[LateOutcome] = []
        self.retries: list[int] = [0] * size  # attempts after the first
        self.starts: list[float] = [0.0] * size  # time.time() of the first attempt
        self.ends: list[float] = [0.0] * size
        # What a running step reported through its StepContext: index -> (fraction, note)
        self.step_progress: dict[int, tuple[float, str]] = {}
        self.settled = 0  # tasks in a terminal state
        self.completed = 0
        # An EventDriven execution's record of its passes, not a state machine of its own.
        self.mirror = False
        # The run this table belongs to (weakly: no cycle), for the suite's transition checks.
        self.owner: Callable[[], Any] | None = None

    def record_pass(self, index: int, states: TaskTable, sub_index: int) -> None:
        """(EventDriven) Task ``index`` as a pass left its ``sub_index``."""
        self.states[index] = states.states[sub_index]
        self.outputs[index] = states.outputs[sub_index]
        self.errors[index] = states.errors[sub_index]
        failure = states.failures.get(sub_index)
        if failure is not None:
            self.failures[index] = failure
        else:
            self.failures.pop(index, None)
        self.starts[index] = states.starts[sub_index]
        self.ends[index] = states.ends[sub_index]
        self.retries[index] = states.retries[sub_index]

    def record_failure(self, index: int, error: PluginError, at: float) -> None:
        """(EventDriven) Task ``index`` failed outside any pass (a source that broke)."""
        self.states[index] = FAILED
        self.errors[index] = error.message
        self.failures[index] = error
        self.ends[index] = at

    def problems(self) -> list[str]:
        """What is inconsistent in the record (empty when nothing is): the counts against
        the states, and the times and attempts against each task's state."""
        if self.mirror:
            return []
        found: list[str] = []
        states = self.states
        settled = sum(1 for state in states if state in TERMINAL_STATES)
        if settled != self.settled:
            found.append(f"settled count {self.settled}, {settled} tasks in a terminal state")
        completed = sum(1 for state in states if state == TaskState.Completed)
        if completed != self.completed:
            found.append(f"completed count {self.completed}, {completed} tasks Completed")
        for index, state in enumerate(states):
            if state == TaskState.Completed and self.outputs[index] is None:
                found.append(f"task {index} is Completed without an output")
            if state == TaskState.Failed and not self.errors[index]:
                found.append(f"task {index} is Failed without an error")
            if state == TaskState.Pending and self.retries[index] == 0 and self.starts[index]:
                found.append(f"task {index} is Pending but has started")
            if self.retries[index] and state == TaskState.Pending and not self.starts[index]:
                found.append(f"task {index} waits for a retry but never started")
        for index in self.failures:
            if states[index] != TaskState.Failed:
                found.append(f"task {index} keeps a failure but is not Failed")
        for index in self.step_progress:
            if states[index] != TaskState.Running:
                found.append(f"task {index} reports progress but is not Running")
        return found
