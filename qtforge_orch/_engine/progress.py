"""A run's progress: settled tasks plus what running steps report, posted in 1 % steps.

Computed only when it can have moved a posting step (``due``) and someone listens, or when a
status call reads it; an aborted run keeps the value it stopped at.
"""

from __future__ import annotations

import math

from ..contract.plan import TaskState
from .task_table import TaskTable

PROGRESS_STEP = 0.01

_R = TaskState.Running


class Progress:
    """Where a run's progress stands and when it is next worth computing (run lock held)."""

    __slots__ = ("due", "posted", "total", "value")

    def __init__(self, total: int) -> None:
        self.total = total
        self.value = 0.0  # the highest value reached: never reported lower
        self.posted = 0.0  # the last value posted to listeners
        # Settled tasks at which progress next moves by a posting step: below it, a settle
        # has nothing to report and skips the computation.
        self.due = 0

    def current(self, table: TaskTable) -> float:
        """Settled tasks plus what running steps reported, as a fraction; never below what was
        already reported."""
        total = self.total
        step_progress = table.step_progress
        partial_work = (
            sum(fraction for i, (fraction, _) in step_progress.items() if table.states[i] == _R)
            if step_progress
            else 0.0
        )
        progress = (table.settled + partial_work) / total if total else 1.0
        return max(progress, self.value)

    def advance(self, table: TaskTable) -> float | None:
        """Recompute; the value to post when it moved by a posting step, else None."""
        progress = self.current(table)
        posting: float | None = None
        if progress > self.value:
            self.value = progress
            # Signals are coalesced anyway; posting every 1% keeps big runs cheap.
            if progress >= self.posted + PROGRESS_STEP:
                self.posted = posting = progress
        self.due = max(
            table.settled + 1, math.ceil((self.posted + PROGRESS_STEP) * self.total - 1e-9)
        )
        return posting

    def never_due(self) -> None:
        """A pass of an EventDriven execution: its progress is never posted."""
        self.due = self.total + 1

    def finish(self) -> bool:
        """The run completed: 1.0, and whether that still needs posting."""
        self.value = 1.0
        if self.posted < 1.0:
            self.posted = 1.0
            return True
        return False
