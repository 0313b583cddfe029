"""What a ``WorkflowExecution`` handle knows: one record per step, and snapshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StepRecord:
    """What a handle knows about one step (v1) or node (v2)."""

    step_id: str
    status: str = "pending"
    attempts: int = 0
    output: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    #: ``time.time()`` as its start and end events arrived; the engine's own times for a step
    #: reported from the execution's state (caught up, read after the end, ``execution(id)``).
    started_at: float | None = None
    finished_at: float | None = None
    duration_ms: float | None = None  # its own run (EventDriven: its latest run)
    items: dict[str, int] | None = None  # Streaming counters
    #: The outcome of its rollback step once it was rolled back (``completed``, ``failed``...).
    rollback: str = ""
    #: EventDriven: the runs of this node that ended, how many failed, their total time (the
    #: engine's clock; ``duration_ms`` is the latest run's).
    runs: int = 0
    failed_runs: int = 0
    total_ms: float = 0.0

    def mean_ms(self) -> float | None:
        """EventDriven: the mean time of its runs (None before the first ended)."""
        return self.total_ms / self.runs if self.runs else None

    def __copy__(self) -> StepRecord:
        # Spelled out: models copy 1,000 records at once, and the generic protocol (or
        # dataclasses.replace) costs several times a plain constructor call.
        return StepRecord(
            self.step_id,
            self.status,
            self.attempts,
            self.output,
            self.error,
            self.started_at,
            self.finished_at,
            self.duration_ms,
            self.items,
            self.rollback,
            self.runs,
            self.failed_runs,
            self.total_ms,
        )


@dataclass
class ExecutionSnapshot:
    """Everything that has happened to one execution so far (copies, safe to keep)."""

    execution_id: str
    workflow_id: str
    status: str
    progress: float
    current_step: str
    steps: dict[str, StepRecord]
    messages: list[str]
    result: dict[str, Any] | None
    error: str
    started_at: float | None
    finished_at: float | None
