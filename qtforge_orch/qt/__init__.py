"""The Qt application layer's non-widget part: ``WorkflowExecution`` handles."""

from ._execution import ExecutionSnapshot, StepRecord, WorkflowExecution

__all__ = ["ExecutionSnapshot", "StepRecord", "WorkflowExecution"]
