"""A past execution read back from the journal, shaped like a live run for status calls.

A new orchestrator on the same journal answers ``get_execution_status`` and
``get_step_results`` for executions of earlier processes: the facades build those reports from
a run's state, so the journal's records are turned into the same state (per-task lists,
timestamps, result, error) around the plan of the definition the execution ran.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from .._engine import RunStatus
from .._errors import PluginError, PluginErrorCode
from ..contract.plan import Plan, ScheduleKind, TaskState

_TASK_STATES = {
    "completed": TaskState.Completed,
    "failed": TaskState.Failed,
    "skipped": TaskState.Skipped,
    "cancelled": TaskState.Cancelled,
    "retrying": TaskState.Retrying,
    "started": TaskState.Running,
}

INTERRUPTED = "interrupted"


def _when(stamp: float | None) -> datetime | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC)


class RecordedRun:
    """The attributes of ``_engine.run.Run`` that status calls read, filled from the journal."""

    def __init__(self, plan: Plan, record: Any, tasks: list[Any]) -> None:
        self.plan = plan
        self.execution_id: str = record.execution_id
        self.workflow_id: str = record.workflow_id
        self.transaction_id: str | None = None
        self.initial_data: dict[str, Any] = (
            record.initial_data if isinstance(record.initial_data, dict) else {}
        )
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.done.set()
        self.report_cache: list[Any] | None = None
        n = len(plan.tasks)
        self.states: list[int] = [TaskState.Pending] * n
        self.outputs: list[dict[str, Any] | None] = [None] * n
        self.errors: list[str] = [""] * n
        self.retries: list[int] = [0] * n
        self.starts: list[float] = [0.0] * n
        self.ends: list[float] = [0.0] * n
        ended_here = record.status != "running"
        index_of = {task.key: task.index for task in plan.tasks}
        for task in tasks:
            index = index_of.get(task.task_key)
            if index is None:
                continue
            state = _TASK_STATES.get(task.state, TaskState.Pending)
            if ended_here and state in (TaskState.Running, TaskState.Retrying):
                state = TaskState.Cancelled  # it was running when its process ended
            self.states[index] = state
            self.outputs[index] = task.output if isinstance(task.output, dict) else None
            self.errors[index] = task.error or ""
            self.retries[index] = max(0, task.attempts - 1)
            self.starts[index] = task.started_at or 0.0
            self.ends[index] = task.ended_at or 0.0
        self.completed = sum(1 for s in self.states if s == TaskState.Completed)
        settled = sum(1 for s in self.states if s not in (TaskState.Pending, TaskState.Running))
        self.progress = settled / n if n else 1.0
        self.current_task = ""
        self.step_progress: dict[int, tuple[float, str]] = {}
        self.compensations: list[Any] = []
        self.rollback_errors: list[str] = []
        self.error_messages: list[str] = list(record.error_messages or [])
        self.overlaps: dict[str, list[int]] = {}
        self.start_time = _when(record.started_at)
        self.end_time = _when(record.ended_at) if ended_here else None
        self.result: dict[str, Any] | None = (
            record.result if isinstance(record.result, dict) else None
        )
        self.recorded_status: str = record.status
        if record.status == INTERRUPTED:
            # Not a RunStatus: shown as failed, with why, so every status field stays valid.
            self.status = RunStatus.FAILED
            message = record.error or "interrupted: the process running it ended"
        else:
            self.status = record.status if record.status in RunStatus.FINAL else (RunStatus.RUNNING)
            message = record.error or ""
        self.error: PluginError | None = (
            PluginError(
                PluginErrorCode.ExecutionFailed,
                message,
                context={"execution_id": self.execution_id, "journal_status": record.status},
            )
            if message
            else None
        )

    # A past execution cannot be changed: the control calls a facade makes on a run say so.
    scheduler = None
    kind = ScheduleKind.BATCH
    stopping = True  # nothing runs: its progress is the recorded one

    def cancel(self) -> bool:
        return False

    def is_done(self) -> bool:
        return True

    def pause(self) -> PluginError:
        return self._ended("pause")

    def resume(self) -> PluginError:
        return self._ended("resume")

    def _ended(self, action: str) -> PluginError:
        return PluginError(
            PluginErrorCode.InvalidState,
            f"cannot {action} execution '{self.execution_id}': it is a past execution read "
            f"from the journal ({self.recorded_status})",
            context={"execution_id": self.execution_id, "status": self.recorded_status},
        )

    def task_extras(self) -> list[dict[str, Any]] | None:
        return None

    def run_extras(self) -> dict[str, Any]:
        return {}
