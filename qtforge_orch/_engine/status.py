"""Names every part of the engine shares: a run's statuses and a facade's signal names."""

from __future__ import annotations

from typing import NamedTuple

from .events import EventKind


class RunStatus:
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    FINAL = frozenset({COMPLETED, FAILED, CANCELLED})


class SignalNames(NamedTuple):
    """An orchestrator's signal name for each event kind (None: it has no such signal)."""

    workflow_started: str
    workflow_completed: str
    workflow_failed: str
    workflow_cancelled: str
    task_started: str
    task_completed: str
    task_failed: str
    task_retrying: str | None
    progress: str
    paused: str | None = None
    resumed: str | None = None
    noun: str = "step"  # how messages name a task: v1 steps, v2 nodes

    def by_kind(self) -> dict[EventKind, str]:
        """Each event kind the orchestrator has, with its signal's name."""
        named = {
            EventKind.WORKFLOW_STARTED: self.workflow_started,
            EventKind.WORKFLOW_COMPLETED: self.workflow_completed,
            EventKind.WORKFLOW_FAILED: self.workflow_failed,
            EventKind.WORKFLOW_CANCELLED: self.workflow_cancelled,
            EventKind.TASK_STARTED: self.task_started,
            EventKind.TASK_COMPLETED: self.task_completed,
            EventKind.TASK_FAILED: self.task_failed,
            EventKind.TASK_RETRYING: self.task_retrying,
            EventKind.PROGRESS: self.progress,
            EventKind.PAUSED: self.paused,
            EventKind.RESUMED: self.resumed,
        }
        return {kind: name for kind, name in named.items() if name}
