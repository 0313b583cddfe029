"""What the checks read of a v2 workflow: ``PluginWorkflow``'s fields, as a protocol.

The rules (``_v2_validation``, ``_v2_transform``) read a graph through these fields only, so
they need not import ``PluginWorkflow``, whose ``validate`` calls them.
"""

from __future__ import annotations

from typing import Any, Protocol

from .enums import WorkflowExecutionMode
from .workflow_connection import WorkflowConnection
from .workflow_node import WorkflowNode


class GraphWorkflow(Protocol):
    """A graph workflow's fields, as the checks read them."""

    workflow_id: str
    execution_mode: WorkflowExecutionMode
    nodes: list[WorkflowNode]
    connections: list[WorkflowConnection]
    global_configuration: dict[str, Any]
