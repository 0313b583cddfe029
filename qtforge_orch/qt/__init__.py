"""The Qt application layer's non-widget part: ``WorkflowExecution`` handles."""

from .execution import WorkflowExecution
from .records import ExecutionSnapshot, StepRecord

__all__ = ["ExecutionSnapshot", "StepRecord", "WorkflowExecution"]
