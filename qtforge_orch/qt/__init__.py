"""The Qt application layer's non-widget part: ``WorkflowExecution`` handles."""

from .execution import ExecutionSnapshot, StepRecord, WorkflowExecution

__all__ = ["ExecutionSnapshot", "StepRecord", "WorkflowExecution"]
