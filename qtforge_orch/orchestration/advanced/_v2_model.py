"""Data structures of the AdvancedPluginOrchestrator (v2): enums, nodes, connections, workflows.

The models are pydantic v2 models so that their JSON Schema documents the file format and
assignments are checked. In-place mutation of lists and dicts (``workflow.nodes.append(node)``,
as in the reference's Python snippet) bypasses pydantic, which is why validation re-checks
element types instead of trusting the models.

Two spellings: the reference names fields ``name``, ``ui_properties``, ``source_node`` and
``target_node``; QtForge's header (``plugin_orchestrator_v2.hpp``) names the same fields
``display_name``, ``position``, ``source_node_id`` and ``target_node_id``. The reference's
names are the attributes; the header's are properties and constructor keywords that read and
write the same values, and the names ``to_json`` writes (``HEADER_NAMES``). The header's own
fields (``WorkflowNode.enabled``, ``WorkflowConnection.enabled`` and ``data_transformation``)
are fields here too. The file format is in ``_v2_json``; copying derives from the fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ..._expected import Expected
from ..._jsoncopy import json_copy
from .._fast_construction import (
    FastFields,
    assigned,
    exact_bool,
    exact_str,
    fill,
    list_of,
    member_of,
    str_key_dict,
    str_list,
)
from ._v2_enums import (
    ConnectionType,
    WorkflowExecutionMode,
    WorkflowExecutionStatus,
    WorkflowNodeType,
    _ConnTypeField,
    _ModeField,
    _NodeTypeField,
    _StatusField,
)

if TYPE_CHECKING:
    import networkx

__all__ = [
    "ConnectionType",
    "PluginWorkflow",
    "WorkflowConnection",
    "WorkflowExecutionContext",
    "WorkflowExecutionMode",
    "WorkflowExecutionStatus",
    "WorkflowNode",
    "WorkflowNodeType",
]


M = TypeVar("M", bound=BaseModel)

# Validators built on first need: plain values take the fast path (see orchestration._fast_construction).
_MODEL_CONFIG = ConfigDict(validate_assignment=True, extra="forbid", defer_build=True)


def _transformation_before(value: object) -> object:
    # A bare CEL string is the short form of {"expression": "..."}.
    return {"expression": value} if isinstance(value, str) else value


_TransformationField = Annotated[dict[str, Any], BeforeValidator(_transformation_before)]


class _HeaderNames(BaseModel):
    """Accepts the header's spelling of a field wherever the reference's is accepted."""

    model_config = _MODEL_CONFIG
    # reference name -> header name
    HEADER_NAMES: ClassVar[dict[str, str]] = {}

    def __init__(self, /, **data: Any) -> None:
        fast = _FAST.get(type(self))
        if fast is not None:
            values = fast.values(data)
            if values is not None:
                fill(self, values, set(data))
                return
        super().__init__(**data)

    def __setattr__(self, name: str, value: Any) -> None:
        fast = _FAST.get(type(self))
        if fast is None or not assigned(self, fast, name, value):
            super().__setattr__(name, value)

    @model_validator(mode="before")
    @classmethod
    def _header_spelling(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not cls.HEADER_NAMES:
            return data
        renamed = dict(data)
        for field, header in cls.HEADER_NAMES.items():
            if header in renamed:
                value = renamed.pop(header)
                if field in renamed and renamed[field] != value:
                    raise ValueError(f"{field!r} and {header!r} name one field; give only one")
                renamed[field] = value
        return renamed


class WorkflowNode(_HeaderNames):
    """One node of a v2 workflow graph: a plugin plus its ports and configuration.

    ``display_name`` and ``position`` (the header's names) are ``name`` and ``ui_properties``.
    A node with ``enabled=False`` is Skipped and feeds nothing to its successors.
    """

    HEADER_NAMES: ClassVar[dict[str, str]] = {"name": "display_name", "ui_properties": "position"}

    node_id: str = Field("", description="Unique node identifier.")
    name: str = Field("", description="Human-readable name (the header's display_name).")
    description: str = Field("", description="Node description.")
    plugin_id: str = Field("", description="Id of the plugin the node calls.")
    node_type: _NodeTypeField = Field(WorkflowNodeType.Processor, description="Node type.")
    configuration: dict[str, Any] = Field(
        default_factory=dict, description="Plugin parameters and engine settings (method...)."
    )
    ui_properties: dict[str, Any] = Field(
        default_factory=dict, description="UI position and properties (the header's position)."
    )
    input_ports: list[str] = Field(default_factory=list, description="Input port names.")
    output_ports: list[str] = Field(default_factory=list, description="Output port names.")
    enabled: bool = Field(True, description="A disabled node is skipped (header field).")

    @property
    def display_name(self) -> str:
        """The header's name for ``name``."""
        return self.name

    @display_name.setter
    def display_name(self, value: str) -> None:
        self.name = value

    @property
    def position(self) -> dict[str, Any]:
        """The header's name for ``ui_properties``."""
        return self.ui_properties

    @position.setter
    def position(self, value: dict[str, Any]) -> None:
        self.ui_properties = value

    def to_json(self) -> dict[str, Any]:
        """The node as a JSON-ready dict, as QtForge's ``WorkflowNode::to_json`` writes it.

        Also has the reference's fields QtForge does not know (``description``, ``node_type``).
        """
        from ._v2_json import model_to_json

        return model_to_json(self)

    @staticmethod
    def from_json(json: object) -> Expected[WorkflowNode]:
        """Read a node in either spelling; an error ``Expected`` (InvalidWorkflowStructure)."""
        from ._v2_json import parse

        return parse(WorkflowNode, json)


class WorkflowConnection(_HeaderNames):
    """An edge between two nodes. An empty ``connection_id`` is filled in at registration.

    ``source_node_id`` and ``target_node_id`` (the header's names) are ``source_node`` and
    ``target_node``. A disabled connection is dropped when the workflow is compiled.
    ``data_transformation`` holds a CEL expression (``{"expression": "..."}``, or the bare
    string) that rewrites the data on the connection before it is delivered.
    """

    HEADER_NAMES: ClassVar[dict[str, str]] = {
        "source_node": "source_node_id",
        "target_node": "target_node_id",
    }

    connection_id: str = Field("", description="Unique connection identifier.")
    source_node: str = Field("", description="Source node id (the header's source_node_id).")
    source_port: str = Field("", description="Source output port; empty: the whole output.")
    target_node: str = Field("", description="Target node id (the header's target_node_id).")
    target_port: str = Field("", description="Target input port; empty: merged into the input.")
    connection_type: _ConnTypeField = Field(
        ConnectionType.DataFlow, description="What the connection carries."
    )
    properties: dict[str, Any] = Field(
        default_factory=dict, description="Connection properties (a Control 'condition')."
    )
    data_transformation: _TransformationField = Field(
        default_factory=dict,
        description="{'expression': CEL} applied to the data on the connection (header field).",
    )
    enabled: bool = Field(True, description="A disabled connection is ignored (header field).")

    @property
    def source_node_id(self) -> str:
        """The header's name for ``source_node``."""
        return self.source_node

    @source_node_id.setter
    def source_node_id(self, value: str) -> None:
        self.source_node = value

    @property
    def target_node_id(self) -> str:
        """The header's name for ``target_node``."""
        return self.target_node

    @target_node_id.setter
    def target_node_id(self, value: str) -> None:
        self.target_node = value

    def to_json(self) -> dict[str, Any]:
        """The connection as QtForge writes it, plus ``connection_type`` and ``properties``."""
        from ._v2_json import model_to_json

        return model_to_json(self)

    @staticmethod
    def from_json(json: object) -> Expected[WorkflowConnection]:
        """Read a connection in either spelling; an error ``Expected`` for bad input."""
        from ._v2_json import parse

        return parse(WorkflowConnection, json)


class PluginWorkflow(BaseModel):
    """A v2 workflow: nodes, the connections between them, and workflow-wide settings."""

    model_config = _MODEL_CONFIG

    def __init__(self, /, **data: Any) -> None:
        if type(self) is PluginWorkflow:
            values = _FAST[PluginWorkflow].values(data)
            if values is not None:
                fill(self, values, set(data))
                return
        super().__init__(**data)

    def __setattr__(self, name: str, value: Any) -> None:
        if type(self) is not PluginWorkflow or not assigned(
            self, _FAST[PluginWorkflow], name, value
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
        from ._v2_json import workflow_to_json

        return workflow_to_json(self)

    @staticmethod
    def from_json(json: object) -> Expected[PluginWorkflow]:
        """Read a workflow in either spelling (header or reference), any format version.

        Returns an error ``Expected`` (``InvalidWorkflowStructure``) for bad input; never
        raises.

        This checks the format only; graph rules (unique ids, existing nodes, ports, cycles) are
        checked by ``validate()`` and ``register_workflow``.
        """
        from ._v2_json import parse_workflow

        return parse_workflow(json)

    # pydantic's deprecated ``BaseModel.validate`` classmethod would answer ``wf.validate()``
    # with a TypeError; the header's instance method replaces it.
    def validate(self) -> Expected[None]:  # type: ignore[override]
        """Check the graph as ``register_workflow`` does: success or the first problem."""
        from ._v2_validation import validate_workflow

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


class WorkflowExecutionContext(BaseModel):
    """A snapshot of one execution, as returned by ``get_execution_status``."""

    # Built on first validation: get_execution_status makes these with model_construct, so
    # running a workflow never pays for building a validator it does not use.
    model_config = ConfigDict(validate_assignment=True, extra="forbid", defer_build=True)

    execution_id: str = ""
    workflow_id: str = ""
    status: _StatusField = WorkflowExecutionStatus.Pending
    start_time: datetime | None = None
    end_time: datetime | None = None
    execution_data: dict[str, Any] = Field(default_factory=dict)
    node_states: dict[str, dict[str, Any]] = Field(default_factory=dict)
    progress: float = Field(default=0.0, ge=0.0, le=1.0)
    current_node: str = ""
    error_messages: list[str] = Field(default_factory=list)

    # The header's WorkflowExecutionContext names the same facts differently (read-only).
    @property
    def global_data(self) -> dict[str, Any]:
        """The header's name for ``execution_data``."""
        return self.execution_data

    @property
    def node_outputs(self) -> dict[str, Any]:
        """Each node's output (from ``node_states``), keyed by node id."""
        return {key: state.get("output") for key, state in self.node_states.items()}

    @property
    def cancelled(self) -> bool:
        """Whether the execution was cancelled."""
        return self.status is WorkflowExecutionStatus.Cancelled

    def to_json(self) -> dict[str, Any]:
        """The context as JSON: status by name, times as ISO 8601."""
        from ._v2_json import model_to_json

        return model_to_json(self)

    @staticmethod
    def from_json(json: object) -> Expected[WorkflowExecutionContext]:
        """Read a context; an error ``Expected`` (InvalidWorkflowStructure) for bad input."""
        from ._v2_json import parse

        return parse(WorkflowExecutionContext, json)


# --------------------------------------------------------------------------------------------
# Fast construction and assignment for plain values (``orchestration._fast_construction``); subclasses and
# anything that needs coercion, a header spelling or an error go through pydantic.

_FAST: dict[type[BaseModel], FastFields] = {
    WorkflowNode: FastFields(
        WorkflowNode,
        {
            "node_id": exact_str,
            "name": exact_str,
            "description": exact_str,
            "plugin_id": exact_str,
            "node_type": member_of(WorkflowNodeType),
            "configuration": str_key_dict,
            "ui_properties": str_key_dict,
            "input_ports": str_list,
            "output_ports": str_list,
            "enabled": exact_bool,
        },
    ),
    WorkflowConnection: FastFields(
        WorkflowConnection,
        {
            "connection_id": exact_str,
            "source_node": exact_str,
            "source_port": exact_str,
            "target_node": exact_str,
            "target_port": exact_str,
            "connection_type": member_of(ConnectionType),
            "properties": str_key_dict,
            "data_transformation": str_key_dict,  # a bare CEL string: pydantic's before-hook
            "enabled": exact_bool,
        },
    ),
    PluginWorkflow: FastFields(
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
    ),
}


# --------------------------------------------------------------------------------------------
# Copies derived from the fields, that never recurse: ``model_copy(deep=True)`` goes through
# ``copy.deepcopy``, which hits the recursion limit on configuration nested a few hundred
# levels deep, and is slow.


def _field_kinds(cls: type[BaseModel]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(container fields, fields that are lists of models) of ``cls``."""
    containers: list[str] = []
    model_lists: list[str] = []
    for name, info in cls.model_fields.items():
        origin = get_origin(info.annotation)
        args = get_args(info.annotation)
        if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            model_lists.append(name)
        elif origin in (dict, list):
            containers.append(name)
    return tuple(containers), tuple(model_lists)


_KINDS: dict[type[BaseModel], tuple[tuple[str, ...], tuple[str, ...]]] = {}


def copy_model(model: M) -> M:
    """An independent copy: containers copied, leaves shared.

    List elements that are not models are kept as they are so validation can report them.
    """
    cls = type(model)
    kinds = _KINDS.get(cls)
    if kinds is None:
        kinds = _KINDS[cls] = _field_kinds(cls)
    fields = dict(model.__dict__)
    for name in kinds[0]:
        fields[name] = json_copy(fields[name])
    for name in kinds[1]:
        fields[name] = [
            copy_model(item) if isinstance(item, BaseModel) else item for item in fields[name]
        ]
    clone = object.__new__(cls)
    object.__setattr__(clone, "__dict__", fields)
    object.__setattr__(clone, "__pydantic_fields_set__", set(model.__pydantic_fields_set__))
    object.__setattr__(clone, "__pydantic_extra__", None)
    object.__setattr__(clone, "__pydantic_private__", None)
    return clone


def copy_node(node: WorkflowNode) -> WorkflowNode:
    """An independent copy of a node."""
    return copy_model(node)


def copy_connection(connection: WorkflowConnection) -> WorkflowConnection:
    """An independent copy of a connection."""
    return copy_model(connection)


def copy_workflow(workflow: PluginWorkflow) -> PluginWorkflow:
    """An independent copy of a workflow, its nodes and its connections."""
    return copy_model(workflow)
