"""The workflow editor: ``VisualWorkflowEditor`` (a canvas) and ``WorkflowDesigner`` (a window).

Small modules, one job each: ``_document`` (the workflow being edited, v2 and v1),
``_canvas`` (document and drawing changed together), ``_commands`` (undo), ``_issues`` (the
library's validation, pinned to nodes), ``_items``/``_kinds``/``_scene`` (the drawing),
``_input`` (mouse and keys), ``_canvas_view`` (zoom, pan, fit), ``_clipboard``, ``_files``,
``_run_view`` (an execution on the drawing), ``_view`` (the editor), ``_palette``,
``_properties``, ``_apply`` and ``_designer``.
"""

from ._designer import WorkflowDesigner
from ._issues import ValidationIssue
from ._palette import PluginPalette
from ._properties import PropertyPanel
from ._view import VisualWorkflowEditor

__all__ = [
    "PluginPalette",
    "PropertyPanel",
    "ValidationIssue",
    "VisualWorkflowEditor",
    "WorkflowDesigner",
]
