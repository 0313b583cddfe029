"""The workflow editor: ``VisualWorkflowEditor`` (a canvas) and ``WorkflowDesigner`` (a window).

Small modules, one job each: ``_document`` (the workflow being edited, v2 and v1),
``_canvas`` (document and drawing changed together), ``_commands`` (undo), ``_issues`` (the
library's validation, pinned to nodes), ``_items``/``_kinds``/``_scene`` (the drawing),
``_input`` (mouse and keys), ``_canvas_view`` (zoom, pan, fit), ``_clipboard``, ``_files``,
``_run_view`` (an execution on the drawing), ``_apply``; the public classes live in modules
named after them: ``visual_workflow_editor``, ``workflow_designer``, ``plugin_palette``,
``property_panel`` and ``validation_issue``.
"""

from .plugin_palette import PluginPalette
from .property_panel import PropertyPanel
from .validation_issue import ValidationIssue
from .visual_workflow_editor import VisualWorkflowEditor
from .workflow_designer import WorkflowDesigner

__all__ = [
    "PluginPalette",
    "PropertyPanel",
    "ValidationIssue",
    "VisualWorkflowEditor",
    "WorkflowDesigner",
]
