"""Qt widgets and item models for orchestrators: ``qtforge_orch.widgets``.

``ExecutionsModel``, ``ExecutionHistoryModel`` (the journal's executions, paged and live)
and ``StepsModel`` (any ``QTableView`` shows them; sort through a ``QSortFilterProxyModel``
with ``setSortRole(SORT_ROLE)``), ``WorkflowGraphView`` and the
ready-made ``WorkflowMonitor``; ``VisualWorkflowEditor`` (QtForge's editor) and the
``WorkflowDesigner`` window around it. Everything lives in the GUI thread and batches updates per
frame. Requires a ``QApplication``.
"""

from .editor import ValidationIssue, VisualWorkflowEditor, WorkflowDesigner
from .executions_model import ExecutionsModel
from .graph_view import WorkflowGraphView
from .history_model import EXECUTION_ID_ROLE, ExecutionHistoryModel
from .monitor import WorkflowMonitor
from .status_style import STATUS_COLORS, status_color, status_icon
from .steps_model import SORT_ROLE, STATUS_ROLE, StepsModel

__all__ = [
    "EXECUTION_ID_ROLE",
    "SORT_ROLE",
    "STATUS_COLORS",
    "STATUS_ROLE",
    "ExecutionHistoryModel",
    "ExecutionsModel",
    "StepsModel",
    "ValidationIssue",
    "VisualWorkflowEditor",
    "WorkflowDesigner",
    "WorkflowGraphView",
    "WorkflowMonitor",
    "status_color",
    "status_icon",
]
