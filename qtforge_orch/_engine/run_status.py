"""What every part of the engine says about a run: its statuses, the errors its lifecycle
reports, and a facade's signal names."""

from __future__ import annotations

from typing import NamedTuple, Protocol

from ..errors import PluginError, PluginErrorCode
from .events import EventKind


class RunStatus:
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    FINAL = frozenset({COMPLETED, FAILED, CANCELLED})


class _Named(Protocol):
    @property
    def execution_id(self) -> str: ...

    @property
    def workflow_id(self) -> str: ...

    @property
    def status(self) -> str: ...


def cancelled_error(run: _Named) -> PluginError:
    """Why a run cancelled by request ended."""
    return PluginError(
        PluginErrorCode.OperationCancelled, f"execution '{run.execution_id}' was cancelled"
    )


def timeout_error(run: _Named, timeout_ms: int | None) -> PluginError:
    """Why a run past its workflow timeout ended."""
    return PluginError(
        PluginErrorCode.Timeout,
        f"workflow '{run.workflow_id}' exceeded its timeout of {timeout_ms} ms and was cancelled",
        context={"execution_id": run.execution_id},
    )


def state_error(run: _Named, action: str, needed: str) -> PluginError:
    """Why ``action`` (pause, resume) is refused: the run is not ``needed``."""
    return PluginError(
        PluginErrorCode.InvalidState,
        f"cannot {action} execution '{run.execution_id}': it is {run.status}, not {needed}",
        context={"execution_id": run.execution_id, "status": run.status},
    )


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
