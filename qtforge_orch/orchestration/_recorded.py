"""A past execution read back from the journal: the engine's ``RunView`` for status calls.

A new orchestrator on the same journal answers ``get_execution_status`` and
``get_step_results`` for executions of earlier processes. The facades build those reports from
a ``RunView`` (what a live ``Run`` offers too), so the journal's records are turned into the
same snapshot (per-task lists, timestamps, result, error) around the plan of the definition
the execution ran. A past execution cannot be changed: the control calls say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from .._engine import LateView, RunSnapshot, RunStatus
from ..contract.plan import Plan, ScheduleKind, TaskState
from ..errors import PluginError, PluginErrorCode, error_from_info

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
    """A past execution as status calls read it (``_engine.RunView``), from its records."""

    def __init__(
        self,
        plan: Plan,
        record: Any,
        tasks: list[Any],
        late: Sequence[Any] = (),
        rollbacks: Sequence[Any] = (),
    ) -> None:
        self.plan = plan
        self.execution_id: str = record.execution_id
        self.workflow_id: str = record.workflow_id
        self.transaction_id: str | None = None
        self.initial_data: dict[str, Any] = (
            record.initial_data if isinstance(record.initial_data, dict) else {}
        )
        self.kind = ScheduleKind.BATCH
        self.report_cache: Any = None
        self.recorded_status: str = record.status
        # Nested workflows, as the journal links them (filled by the durable facade part).
        self.recorded_parent: str | None = None
        self.recorded_children: dict[str, str] = {}
        n = len(plan.tasks)
        states: list[int] = [TaskState.Pending] * n
        outputs: list[dict[str, Any] | None] = [None] * n
        errors: list[str] = [""] * n
        retries: list[int] = [0] * n
        starts: list[float] = [0.0] * n
        ends: list[float] = [0.0] * n
        failures: dict[int, PluginError] = {}
        ended_here = record.status != "running"
        index_of = {task.key: task.index for task in plan.tasks}
        for task in tasks:
            index = index_of.get(task.task_key)
            if index is None:
                continue
            state = _TASK_STATES.get(task.state, TaskState.Pending)
            if ended_here and state in (TaskState.Running, TaskState.Retrying):
                state = TaskState.Cancelled  # it was running when its process ended
            states[index] = state
            outputs[index] = task.output if isinstance(task.output, dict) else None
            errors[index] = task.error or ""
            if state == TaskState.Failed:
                info = getattr(task, "error_info", None)
                failures[index] = (
                    error_from_info(info)
                    if info
                    else PluginError(PluginErrorCode.ExecutionFailed, errors[index])
                )
            retries[index] = max(0, task.attempts - 1)
            starts[index] = task.started_at or 0.0
            ends[index] = task.ended_at or 0.0
        settled = sum(1 for s in states if s not in (TaskState.Pending, TaskState.Running))
        if record.status == INTERRUPTED:
            # Not a RunStatus: shown as failed, with why, so every status field stays valid.
            self.status: str = RunStatus.FAILED
            message = record.error or "interrupted: the process running it ended"
        else:
            self.status = record.status if record.status in RunStatus.FINAL else RunStatus.RUNNING
            message = record.error or ""
        error = (
            PluginError(
                PluginErrorCode.ExecutionFailed,
                message,
                context={"execution_id": self.execution_id, "journal_status": record.status},
            )
            if message
            else None
        )
        # Nothing runs any more: the record is the one snapshot every status call reads.
        self._snapshot = RunSnapshot(
            status=self.status,
            progress=settled / n if n else 1.0,
            current_task="",
            completed=sum(1 for s in states if s == TaskState.Completed),
            start_time=_when(record.started_at),
            end_time=_when(record.ended_at) if ended_here else None,
            error=error,
            result=record.result if isinstance(record.result, dict) else None,
            states=states,
            outputs=outputs,
            errors=errors,
            retries=retries,
            starts=starts,
            ends=ends,
            step_progress={},
            rollbacks=[
                (index_of[r.task_key], "completed" if r.ok else "failed", r.error or "", r.late)
                for r in rollbacks
                if r.task_key in index_of
            ],
            error_messages=list(record.error_messages or []),
            rollback_errors=[],
            task_extras=None,
            run_extras={},
            overlaps={},
            failures=failures,
            late=_late_views(plan, states, index_of, late, rollbacks),
            late_keys=[task.key for task in plan.tasks] if late else [],
        )

    def wait_late(self, timeout: float | None = None) -> bool:
        """Nothing of a past execution is still out here."""
        return True

    def snapshot(self) -> RunSnapshot:
        """The execution as the journal recorded it (lists shared: read them only)."""
        return self._snapshot

    def is_done(self) -> bool:
        return True

    # A past execution cannot be changed: the control calls a facade makes on a run say so.
    def cancel(self) -> bool:
        return False

    def pause(self) -> PluginError:
        return self._ended("pause")

    def resume(self) -> PluginError:
        return self._ended("resume")

    def post_event(self, trigger: int, payload: dict[str, Any]) -> PluginError:
        return self._ended("post an event to")

    def _ended(self, action: str) -> PluginError:
        return PluginError(
            PluginErrorCode.InvalidState,
            f"cannot {action} execution '{self.execution_id}': it is a past execution read "
            f"from the journal ({self.recorded_status})",
            context={"execution_id": self.execution_id, "status": self.recorded_status},
        )


def _late_views(
    plan: Plan,
    states: list[int],
    index_of: dict[str, int],
    late: Sequence[Any],
    rollbacks: Sequence[Any],
) -> list[LateView]:
    """The recorded late outcomes as a live run reports them.

    A late success's rollback is the late rollback recorded for its task after it (in order),
    else ``kept`` (the task completed), ``due`` (it has a rollback step that never ran: the
    process ended first) or ``none``.
    """
    undone: dict[str, list[Any]] = {}
    for rollback in rollbacks:
        if rollback.late:
            undone.setdefault(rollback.task_key, []).append(rollback)
    views: list[LateView] = []
    for outcome in late:
        index = index_of.get(outcome.task_key)
        if index is None:
            continue
        error = None
        state, rollback_error = "none", ""
        if not outcome.ok:
            info = outcome.error_info
            error = (
                error_from_info(info)
                if info
                else PluginError(PluginErrorCode.ExecutionFailed, outcome.error or "")
            )
            what = "cancelled" if error.code == PluginErrorCode.OperationCancelled else "failed"
        else:
            what = "completed"
            ran = undone.get(outcome.task_key)
            if ran:
                first = ran.pop(0)
                state, rollback_error = ("completed" if first.ok else "failed"), first.error or ""
            elif states[index] == TaskState.Completed:
                state = "kept"
            elif plan.tasks[index].rollback is not None:
                state = "due"
        views.append(
            LateView(index, outcome.attempt, what, error, outcome.at, state, rollback_error)
        )
    return views
