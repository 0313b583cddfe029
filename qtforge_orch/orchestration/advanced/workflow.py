"""``PluginWorkflow``: a v2 workflow graph, its checks and its file format."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ...errors import PluginError, PluginErrorCode
from ...results import Expected, from_error, make_error, make_success
from .._fast_construction import (
    FastFields,
    assigned,
    exact_str,
    fill,
    list_of,
    member_of,
    str_key_dict,
)
from ._model_base import FAST, MODEL_CONFIG
from ._v2_json import document_to_json, parse_document
from .enums import WorkflowExecutionMode, _ModeField
from .workflow_connection import WorkflowConnection
from .workflow_node import WorkflowNode

if TYPE_CHECKING:
    import networkx


class PluginWorkflow(BaseModel):
    """A v2 workflow: nodes, the connections between them, and workflow-wide settings."""

    model_config = MODEL_CONFIG

    def __init__(self, /, **data: Any) -> None:
        if type(self) is PluginWorkflow:
            values = FAST[PluginWorkflow].values(data)
            if values is not None:
                fill(self, values, set(data))
                return
        super().__init__(**data)

    def __setattr__(self, name: str, value: Any) -> None:
        if type(self) is not PluginWorkflow or not assigned(
            self, FAST[PluginWorkflow], name, value
        ):
            super().__setattr__(name, value)

    workflow_id: str = Field("", description="Unique workflow identifier.")
    name: str = Field("", description="Workflow name.")
    description: str = Field("", description="Workflow description.")
    execution_mode: _ModeField = Field(
        WorkflowExecutionMode.Sequential, description="Execution mode (QtForge's integer)."
    )
    nodes: list[WorkflowNode] = Field(default_factory=list, description="Workflow nodes.")
    connections: list[WorkflowConnection] = Field(
        default_factory=list, description="Node connections."
    )
    global_configuration: dict[str, Any] = Field(
        default_factory=dict, description="Engine settings (timeout...) and application data."
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description="Additional metadata.")

    def to_json(self) -> dict[str, Any]:
        """The workflow as a JSON-ready dict, as QtForge's ``PluginWorkflow::to_json`` does.

        The mode is an integer and fields have the header's names; the dict also has
        ``format_version`` and the reference's extra fields.
        """
        return document_to_json(self)

    @staticmethod
    def from_json(json: object) -> Expected[PluginWorkflow]:
        """Read a workflow in either spelling (header or reference), any format version.

        Returns an error ``Expected`` (``InvalidWorkflowStructure``) for bad input; never
        raises.

        This checks the format only; graph rules (unique ids, existing nodes, ports, cycles) are
        checked by ``validate()`` and ``register_workflow``.
        """
        return parse_document(PluginWorkflow, json)

    # pydantic's deprecated ``BaseModel.validate`` classmethod would answer ``wf.validate()``
    # with a TypeError; the header's instance method replaces it.
    def validate(self) -> Expected[None]:  # type: ignore[override]
        """Check the graph as ``register_workflow`` does: success or the first problem."""
        return validate_workflow(self)

    def get_execution_order(self) -> list[str]:
        """Node ids in an order that respects every connection (ties: declaration order).

        Empty when the connections form a cycle, as in C++.
        """
        from ..._order import topological_order

        ids = [node.node_id for node in self.nodes if isinstance(node, WorkflowNode)]
        edges = [
            (c.source_node, c.target_node)
            for c in self.connections
            if isinstance(c, WorkflowConnection)
        ]
        return topological_order(ids, edges)

    def to_mermaid(self, statuses: Any = None) -> str:
        """A Mermaid flowchart of the graph; ``statuses`` labels nodes (see ``to_dot``)."""
        from ..._export import to_mermaid

        return to_mermaid(self, statuses)

    def to_dot(self, statuses: Any = None) -> str:
        """A Graphviz DOT digraph of the graph.

        ``statuses`` is an execution's status (a ``WorkflowExecutionContext`` or a mapping of
        node id to status) whose states label the nodes.
        """
        from ..._export import to_dot

        return to_dot(self, statuses)

    def to_networkx(self, statuses: Any = None) -> networkx.MultiDiGraph:
        """The workflow as a ``networkx.MultiDiGraph``.

        Nodes carry their fields (and ``status`` when ``statuses`` is given); edges carry
        their connection's fields, keyed by connection id.
        """
        from ..._export import to_networkx

        graph: networkx.MultiDiGraph = to_networkx(self, statuses)
        return graph


FAST[PluginWorkflow] = FastFields(
    PluginWorkflow,
    {
        "workflow_id": exact_str,
        "name": exact_str,
        "description": exact_str,
        "execution_mode": member_of(WorkflowExecutionMode),
        "nodes": list_of(WorkflowNode),
        "connections": list_of(WorkflowConnection),
        "global_configuration": str_key_dict,
        "metadata": str_key_dict,
    },
)


# --------------------------------------------------------------------------------------------
# Checks: the rules are in ``_v2_validation`` (they read the graph through its fields); what
# makes a value a workflow to check is decided here.


def validate_workflow(workflow: object) -> Expected[None]:
    """Success, or the first problem found (codes per DESIGN section 2).

    InvalidWorkflowStructure: not a ``PluginWorkflow``, missing ids, no nodes, duplicates, bad
    port lists, bad engine settings in ``configuration``/``global_configuration``, bad control
    conditions. NodeNotFound: a connection names a node that does not exist.
    InvalidConnection: an undeclared port, or a DataFlow edge into a Source / out of a Sink.
    CircularDependency: a cycle over connections of any type.
    """
    from ._v2_validation import graph_errors, looks_valid

    if not isinstance(workflow, PluginWorkflow):
        return make_error(
            PluginErrorCode.InvalidWorkflowStructure,
            f"expected a PluginWorkflow, got {type(workflow).__name__}",
        )
    # The one-pass check reads the fields as declared: only for the class itself.
    if type(workflow) is PluginWorkflow and looks_valid(workflow):
        return make_success(None)
    error = next(graph_errors(workflow), None)
    return make_success(None) if error is None else from_error(error)


def iter_workflow_errors(workflow: object) -> Iterator[PluginError]:
    """Every problem in ``workflow``, most fundamental first (a designer UI can list them all)."""
    from ._v2_validation import graph_errors

    if not isinstance(workflow, PluginWorkflow):
        yield PluginError(
            PluginErrorCode.InvalidWorkflowStructure,
            f"expected a PluginWorkflow, got {type(workflow).__name__}",
        )
        return
    yield from graph_errors(workflow)


__all__ = ["PluginWorkflow", "iter_workflow_errors", "validate_workflow"]
