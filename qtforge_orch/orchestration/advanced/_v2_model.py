"""Data structures of the AdvancedPluginOrchestrator (v2): enums, nodes, connections, workflows.

The models are pydantic v2 models so that ``PluginWorkflow.model_json_schema()`` documents the
file format, assignments are checked, and ``model_copy(deep=True)`` gives the orchestrator its
private snapshot. In-place mutation of lists and dicts (``workflow.nodes.append(node)``, as in the
reference's Python snippet) bypasses pydantic, which is why ``validate_workflow`` re-checks element
types instead of trusting the models.

JSON format (what ``to_json`` writes and ``from_json`` reads): one key per field, named exactly as
the field. Enums are written as member names (``"Streaming"``) and read from a name
(case-insensitive; ``_``, ``-`` and spaces ignored, so ``"event_driven"`` works) or from QtForge's
integer. Datetimes are written as ISO 8601 strings and read from ISO 8601 strings or milliseconds
since the Unix epoch (QDateTime's ``toMSecsSinceEpoch``). Missing keys and ``null`` take the field's
default; unknown keys are ignored so files from newer versions still load.

``from_json`` returns ``Expected`` instead of the struct the C++ reference returns: a file is user
input, and the library's rule is that public methods report bad input through ``Expected``
(``InvalidWorkflowStructure``, with the offending field in the message and in
``error().context["field"]``) rather than raise. This matches v1's ``Workflow.from_json``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ..._errors import PluginErrorCode
from ..._expected import Expected, make_error
from ..._jsoncopy import MAX_JSON_DEPTH, deeper_than, json_copy, json_type

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


# --------------------------------------------------------------------------------------------
# Enums: member order and values follow the C++ declaration (values start at 0), so QtForge's
# integer encoding reads back as the same member.


class WorkflowExecutionMode(IntEnum):
    Sequential = 0
    Parallel = 1
    Conditional = 2
    EventDriven = 3
    Streaming = 4


class WorkflowNodeType(IntEnum):
    Source = 0
    Processor = 1
    Sink = 2
    Decision = 3
    Aggregator = 4
    Splitter = 5
    Custom = 6


class ConnectionType(IntEnum):
    DataFlow = 0
    Control = 1
    Event = 2
    Dependency = 3


class WorkflowExecutionStatus(IntEnum):
    Pending = 0
    Running = 1
    Paused = 2
    Completed = 3
    Failed = 4
    Cancelled = 5


E = TypeVar("E", bound=IntEnum)
M = TypeVar("M", bound=BaseModel)


def _normalise_name(text: str) -> str:
    return text.replace("_", "").replace("-", "").replace(" ", "").casefold()


def _enum_lookup(enum_cls: type[E]) -> dict[str, E]:
    return {_normalise_name(member.name): member for member in enum_cls}


_ENUM_NAMES: dict[type[IntEnum], dict[str, Any]] = {
    cls: _enum_lookup(cls)
    for cls in (WorkflowExecutionMode, WorkflowNodeType, ConnectionType, WorkflowExecutionStatus)
}


def _parse_enum(enum_cls: type[E], value: object) -> E | None:
    """The member named or numbered by ``value``; None when it names none."""
    # bool is an int subclass; ``True`` meaning ``Processor`` would only ever be an accident.
    if isinstance(value, bool):
        return None
    if isinstance(value, enum_cls):
        return value
    if isinstance(value, int):
        try:
            return enum_cls(value)
        except ValueError:
            return None
    if isinstance(value, str):
        found: E | None = _ENUM_NAMES[enum_cls].get(_normalise_name(value))
        return found
    return None


def _enum_before(enum_cls: type[E]) -> Callable[[object], object]:
    def coerce(value: object) -> object:
        if isinstance(value, bool):
            raise ValueError(f"a bool is not a {enum_cls.__name__}")
        if isinstance(value, str):
            member = _parse_enum(enum_cls, value)
            if member is None:
                raise ValueError(f"{value!r} is not a {enum_cls.__name__}: {_choices(enum_cls)}")
            return member
        return value

    return coerce


def _choices(enum_cls: type[IntEnum]) -> str:
    names = ", ".join(member.name for member in enum_cls)
    return f"expected one of {names} (or 0-{len(enum_cls) - 1})"


# Assignments such as ``node.node_type = "sink"`` go through the same name rules as JSON.
_ModeField = Annotated[WorkflowExecutionMode, BeforeValidator(_enum_before(WorkflowExecutionMode))]
_NodeTypeField = Annotated[WorkflowNodeType, BeforeValidator(_enum_before(WorkflowNodeType))]
_ConnTypeField = Annotated[ConnectionType, BeforeValidator(_enum_before(ConnectionType))]
_StatusField = Annotated[
    WorkflowExecutionStatus, BeforeValidator(_enum_before(WorkflowExecutionStatus))
]

_MODEL_CONFIG = ConfigDict(validate_assignment=True, extra="forbid")


# --------------------------------------------------------------------------------------------
# JSON reading. Every reader raises ``_FieldError`` naming the dotted field path; the public
# ``from_json`` methods turn it into an ``Expected`` error, so nothing escapes to the caller.


class _FieldError(Exception):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


_kind = json_type


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _object(value: object, path: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        hint = " (parse JSON text with json.loads first)" if isinstance(value, str) else ""
        raise _FieldError(
            path or "<root>", f"{what} must be a JSON object, got {_kind(value)}{hint}"
        )
    return value


def _present(obj: dict[str, Any], key: str) -> bool:
    # ``null`` counts as absent: hand-written files often spell "no value" that way.
    return obj.get(key) is not None


def _str(obj: dict[str, Any], key: str, path: str) -> str:
    if not _present(obj, key):
        return ""
    value = obj[key]
    if not isinstance(value, str):
        raise _FieldError(_join(path, key), f"must be a string, got {_kind(value)} {_show(value)}")
    return value


def _str_list(obj: dict[str, Any], key: str, path: str) -> list[str]:
    if not _present(obj, key):
        return []
    value = obj[key]
    if not isinstance(value, list):
        raise _FieldError(_join(path, key), f"must be an array of strings, got {_kind(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _FieldError(
                f"{_join(path, key)}[{index}]", f"must be a string, got {_kind(item)} {_show(item)}"
            )
    return list(value)


def _json_object(obj: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    if not _present(obj, key):
        return {}
    value = obj[key]
    if not isinstance(value, dict):
        raise _FieldError(_join(path, key), f"must be a JSON object, got {_kind(value)}")
    for inner in value:
        if not isinstance(inner, str):
            raise _FieldError(_join(path, key), f"has a non-string key {_show(inner)}")
    # Deep copy: the model must not alias the caller's (possibly reused) JSON document.
    return _copy_json(value)


def _enum(obj: dict[str, Any], key: str, path: str, enum_cls: type[E], default: E) -> E:
    if not _present(obj, key):
        return default
    value = obj[key]
    member = _parse_enum(enum_cls, value)
    if member is None:
        raise _FieldError(
            _join(path, key), f"{_choices(enum_cls)}, got {_kind(value)} {_show(value)}"
        )
    return member


def _datetime(obj: dict[str, Any], key: str, path: str) -> datetime | None:
    if not _present(obj, key):
        return None
    value = obj[key]
    field = _join(path, key)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise _FieldError(field, f"is not an ISO 8601 date-time: {_show(value)}") from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            if not math.isfinite(value):
                raise ValueError
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)
        except (OverflowError, ValueError):
            raise _FieldError(field, f"is out of range as milliseconds: {_show(value)}") from None
    raise _FieldError(
        field, f"must be an ISO 8601 string or milliseconds since the epoch, got {_kind(value)}"
    )


def _progress(obj: dict[str, Any], key: str, path: str) -> float:
    if not _present(obj, key):
        return 0.0
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _FieldError(_join(path, key), f"must be a number, got {_kind(value)}")
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if not 0.0 <= result <= 1.0:
        raise _FieldError(_join(path, key), f"must be between 0.0 and 1.0, got {_show(value)}")
    return result


def _node_states(obj: dict[str, Any], key: str, path: str) -> dict[str, dict[str, Any]]:
    states = _json_object(obj, key, path)
    for node_id, state in states.items():
        if not isinstance(state, dict):
            raise _FieldError(
                f"{_join(path, key)}[{node_id!r}]", f"must be a JSON object, got {_kind(state)}"
            )
    return states


def _model_list(
    obj: dict[str, Any], key: str, path: str, read: Callable[[object, str], M]
) -> list[M]:
    if not _present(obj, key):
        return []
    value = obj[key]
    if not isinstance(value, list):
        raise _FieldError(_join(path, key), f"must be an array, got {_kind(value)}")
    return [read(item, f"{_join(path, key)}[{index}]") for index, item in enumerate(value)]


def _build(cls: type[M], path: str, fields: dict[str, Any]) -> M:
    try:
        return cls(**fields)
    except ValidationError as exc:
        # The readers check types first, so this is a safety net for model-level constraints.
        first = exc.errors()[0]
        loc = ".".join(str(part) for part in first["loc"])
        raise _FieldError(_join(path, loc) or "<root>", first["msg"]) from None


def _parse(cls: type[M], read: Callable[[object, str], M], json: object) -> Expected[M]:
    if deeper_than(json):
        return make_error(
            PluginErrorCode.InvalidWorkflowStructure,
            f"{cls.__name__} JSON is nested more than {MAX_JSON_DEPTH} levels deep",
        )
    try:
        return Expected(read(json, ""))
    except _FieldError as exc:
        where = "" if exc.field == "<root>" else f"field '{exc.field}': "
        return make_error(
            PluginErrorCode.InvalidWorkflowStructure,
            f"{cls.__name__}.from_json: {where}{exc.problem}",
            context={"field": exc.field},
        )
    except RecursionError:
        return make_error(
            PluginErrorCode.InvalidWorkflowStructure,
            f"{cls.__name__}.from_json: the JSON value is nested too deeply",
            context={"field": "<root>"},
        )


def _copy_json(value: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json_copy(value)
    return copied


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# --------------------------------------------------------------------------------------------
# Models


class WorkflowNode(BaseModel):
    """One node of a v2 workflow graph: a plugin plus its ports and configuration."""

    model_config = _MODEL_CONFIG

    node_id: str = ""
    name: str = ""
    description: str = ""
    plugin_id: str = ""
    node_type: _NodeTypeField = WorkflowNodeType.Processor
    configuration: dict[str, Any] = Field(default_factory=dict)
    ui_properties: dict[str, Any] = Field(default_factory=dict)
    input_ports: list[str] = Field(default_factory=list)
    output_ports: list[str] = Field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "name": self.name,
            "description": self.description,
            "plugin_id": self.plugin_id,
            "node_type": self.node_type.name,
            "configuration": _copy_json(self.configuration),
            "ui_properties": _copy_json(self.ui_properties),
            "input_ports": list(self.input_ports),
            "output_ports": list(self.output_ports),
        }

    @staticmethod
    def from_json(json: object) -> Expected[WorkflowNode]:
        """Read a node; an error ``Expected`` (InvalidWorkflowStructure) for bad input."""
        return _parse(WorkflowNode, _read_node, json)


class WorkflowConnection(BaseModel):
    """An edge between two nodes. An empty ``connection_id`` is filled in at registration."""

    model_config = _MODEL_CONFIG

    connection_id: str = ""
    source_node: str = ""
    source_port: str = ""
    target_node: str = ""
    target_port: str = ""
    connection_type: _ConnTypeField = ConnectionType.DataFlow
    properties: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "source_node": self.source_node,
            "source_port": self.source_port,
            "target_node": self.target_node,
            "target_port": self.target_port,
            "connection_type": self.connection_type.name,
            "properties": _copy_json(self.properties),
        }

    @staticmethod
    def from_json(json: object) -> Expected[WorkflowConnection]:
        """Read a connection; an error ``Expected`` (InvalidWorkflowStructure) for bad input."""
        return _parse(WorkflowConnection, _read_connection, json)


class PluginWorkflow(BaseModel):
    """A v2 workflow: nodes, the connections between them, and workflow-wide settings."""

    model_config = _MODEL_CONFIG

    workflow_id: str = ""
    name: str = ""
    description: str = ""
    execution_mode: _ModeField = WorkflowExecutionMode.Sequential
    nodes: list[WorkflowNode] = Field(default_factory=list)
    connections: list[WorkflowConnection] = Field(default_factory=list)
    global_configuration: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow_id": self.workflow_id,
            "name": self.name,
            "description": self.description,
            "execution_mode": self.execution_mode.name,
            "nodes": [node.to_json() for node in self.nodes],
            "connections": [connection.to_json() for connection in self.connections],
            "global_configuration": _copy_json(self.global_configuration),
            "metadata": _copy_json(self.metadata),
        }

    @staticmethod
    def from_json(json: object) -> Expected[PluginWorkflow]:
        """Read a workflow; an error ``Expected`` (InvalidWorkflowStructure) for bad input.

        This checks the format only; graph rules (unique ids, existing nodes, ports, cycles) are
        checked by ``register_workflow``.
        """
        return _parse(PluginWorkflow, _read_workflow, json)


class WorkflowExecutionContext(BaseModel):
    """A snapshot of one execution, as returned by ``get_execution_status``."""

    model_config = _MODEL_CONFIG

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

    def to_json(self) -> dict[str, Any]:
        return {
            "execution_id": self.execution_id,
            "workflow_id": self.workflow_id,
            "status": self.status.name,
            "start_time": _iso(self.start_time),
            "end_time": _iso(self.end_time),
            "execution_data": _copy_json(self.execution_data),
            "node_states": {key: _copy_json(state) for key, state in self.node_states.items()},
            "progress": self.progress,
            "current_node": self.current_node,
            "error_messages": list(self.error_messages),
        }

    @staticmethod
    def from_json(json: object) -> Expected[WorkflowExecutionContext]:
        """Read a context; an error ``Expected`` (InvalidWorkflowStructure) for bad input."""
        return _parse(WorkflowExecutionContext, _read_context, json)


def _read_node(value: object, path: str) -> WorkflowNode:
    obj = _object(value, path, "a workflow node")
    return _build(
        WorkflowNode,
        path,
        {
            "node_id": _str(obj, "node_id", path),
            "name": _str(obj, "name", path),
            "description": _str(obj, "description", path),
            "plugin_id": _str(obj, "plugin_id", path),
            "node_type": _enum(
                obj, "node_type", path, WorkflowNodeType, WorkflowNodeType.Processor
            ),
            "configuration": _json_object(obj, "configuration", path),
            "ui_properties": _json_object(obj, "ui_properties", path),
            "input_ports": _str_list(obj, "input_ports", path),
            "output_ports": _str_list(obj, "output_ports", path),
        },
    )


def _read_connection(value: object, path: str) -> WorkflowConnection:
    obj = _object(value, path, "a workflow connection")
    return _build(
        WorkflowConnection,
        path,
        {
            "connection_id": _str(obj, "connection_id", path),
            "source_node": _str(obj, "source_node", path),
            "source_port": _str(obj, "source_port", path),
            "target_node": _str(obj, "target_node", path),
            "target_port": _str(obj, "target_port", path),
            "connection_type": _enum(
                obj, "connection_type", path, ConnectionType, ConnectionType.DataFlow
            ),
            "properties": _json_object(obj, "properties", path),
        },
    )


def _read_workflow(value: object, path: str) -> PluginWorkflow:
    obj = _object(value, path, "a workflow")
    return _build(
        PluginWorkflow,
        path,
        {
            "workflow_id": _str(obj, "workflow_id", path),
            "name": _str(obj, "name", path),
            "description": _str(obj, "description", path),
            "execution_mode": _enum(
                obj,
                "execution_mode",
                path,
                WorkflowExecutionMode,
                WorkflowExecutionMode.Sequential,
            ),
            "nodes": _model_list(obj, "nodes", path, _read_node),
            "connections": _model_list(obj, "connections", path, _read_connection),
            "global_configuration": _json_object(obj, "global_configuration", path),
            "metadata": _json_object(obj, "metadata", path),
        },
    )


def _read_context(value: object, path: str) -> WorkflowExecutionContext:
    obj = _object(value, path, "an execution context")
    return _build(
        WorkflowExecutionContext,
        path,
        {
            "execution_id": _str(obj, "execution_id", path),
            "workflow_id": _str(obj, "workflow_id", path),
            "status": _enum(
                obj, "status", path, WorkflowExecutionStatus, WorkflowExecutionStatus.Pending
            ),
            "start_time": _datetime(obj, "start_time", path),
            "end_time": _datetime(obj, "end_time", path),
            "execution_data": _json_object(obj, "execution_data", path),
            "node_states": _node_states(obj, "node_states", path),
            "progress": _progress(obj, "progress", path),
            "current_node": _str(obj, "current_node", path),
            "error_messages": _str_list(obj, "error_messages", path),
        },
    )


# --------------------------------------------------------------------------------------------
# Copies that never recurse: ``model_copy(deep=True)`` goes through ``copy.deepcopy``, which
# hits the recursion limit on configuration nested a few hundred levels deep, and is slow.


def copy_node(node: WorkflowNode) -> WorkflowNode:
    return WorkflowNode.model_construct(
        node_id=node.node_id,
        name=node.name,
        description=node.description,
        plugin_id=node.plugin_id,
        node_type=node.node_type,
        configuration=json_copy(node.configuration),
        ui_properties=json_copy(node.ui_properties),
        input_ports=list(node.input_ports),
        output_ports=list(node.output_ports),
    )


def copy_connection(connection: WorkflowConnection) -> WorkflowConnection:
    return WorkflowConnection.model_construct(
        connection_id=connection.connection_id,
        source_node=connection.source_node,
        source_port=connection.source_port,
        target_node=connection.target_node,
        target_port=connection.target_port,
        connection_type=connection.connection_type,
        properties=json_copy(connection.properties),
    )


def copy_workflow(workflow: PluginWorkflow) -> PluginWorkflow:
    """An independent copy (containers copied, leaves shared); objects that are not nodes or
    connections are kept as they are so validation can report them."""
    return PluginWorkflow.model_construct(
        workflow_id=workflow.workflow_id,
        name=workflow.name,
        description=workflow.description,
        execution_mode=workflow.execution_mode,
        nodes=[copy_node(n) if isinstance(n, WorkflowNode) else n for n in workflow.nodes],
        connections=[
            copy_connection(c) if isinstance(c, WorkflowConnection) else c
            for c in workflow.connections
        ],
        global_configuration=json_copy(workflow.global_configuration),
        metadata=json_copy(workflow.metadata),
    )
