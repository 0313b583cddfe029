"""A registered v2 workflow, kept compact: one tuple per node and per connection.

A deep copy of the ``PluginWorkflow`` (pydantic models with a ``__dict__`` and a field set
each, every container copied, connections without an id copied once more to fill it in) would
cost about 1.5 KB per registered node and half of the registration time, and it would only be
read to hand
out another copy (``get_workflow``, ``_modify``) and to compile the plan, so it is kept as
tuples of the field values, with private copies of the containers (``json_copy``; empty ones
as ``None``), interned field sets and the connection ids filled in, and turned back into
models on request.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from ..._jsoncopy import json_copy
from ...contract.plan import RESERVED_CONFIGURATION_KEYS
from . import _v2_validation as checks
from ._v2_validation import IdAssigner, global_configuration_errors
from .enums import ConnectionType, WorkflowExecutionMode, WorkflowNodeType
from .workflow import PluginWorkflow
from .workflow_connection import WorkflowConnection
from .workflow_node import WorkflowNode

Record = tuple[Any, ...]

NODE_FIELDS: tuple[str, ...] = tuple(WorkflowNode.model_fields)
CONNECTION_FIELDS: tuple[str, ...] = tuple(WorkflowConnection.model_fields)
WORKFLOW_FIELDS: tuple[str, ...] = tuple(
    name for name in PluginWorkflow.model_fields if name not in ("nodes", "connections")
)

NODE_ID = NODE_FIELDS.index("node_id")
NODE_PLUGIN_ID = NODE_FIELDS.index("plugin_id")
NODE_TYPE = NODE_FIELDS.index("node_type")
NODE_CONFIGURATION = NODE_FIELDS.index("configuration")
NODE_UI_PROPERTIES = NODE_FIELDS.index("ui_properties")
NODE_INPUT_PORTS = NODE_FIELDS.index("input_ports")
NODE_OUTPUT_PORTS = NODE_FIELDS.index("output_ports")
NODE_ENABLED = NODE_FIELDS.index("enabled")

CONNECTION_ID = CONNECTION_FIELDS.index("connection_id")
SOURCE_NODE = CONNECTION_FIELDS.index("source_node")
SOURCE_PORT = CONNECTION_FIELDS.index("source_port")
TARGET_NODE = CONNECTION_FIELDS.index("target_node")
TARGET_PORT = CONNECTION_FIELDS.index("target_port")
CONNECTION_TYPE = CONNECTION_FIELDS.index("connection_type")
PROPERTIES = CONNECTION_FIELDS.index("properties")
DATA_TRANSFORMATION = CONNECTION_FIELDS.index("data_transformation")
CONNECTION_ENABLED = CONNECTION_FIELDS.index("enabled")


def _kinds(fields: tuple[str, ...], model: type[Any]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Positions of the dict fields and of the list fields."""
    dicts: list[int] = []
    lists: list[int] = []
    for index, name in enumerate(fields):
        default = model.model_fields[name].get_default(call_default_factory=True)
        if isinstance(default, dict):
            dicts.append(index)
        elif isinstance(default, list):
            lists.append(index)
    return tuple(dicts), tuple(lists)


_NODE_KINDS = _kinds(NODE_FIELDS, WorkflowNode)
_CONNECTION_KINDS = _kinds(CONNECTION_FIELDS, WorkflowConnection)
_WORKFLOW_KINDS = _kinds(WORKFLOW_FIELDS, PluginWorkflow)
_NODE_VALUES = itemgetter(*NODE_FIELDS)
_CONNECTION_VALUES = itemgetter(*CONNECTION_FIELDS)
# plain_graph converts the containers itself; it must know them all.
assert _NODE_KINDS == (
    (NODE_CONFIGURATION, NODE_UI_PROPERTIES),
    (NODE_INPUT_PORTS, NODE_OUTPUT_PORTS),
)
assert _CONNECTION_KINDS == ((PROPERTIES, DATA_TRANSFORMATION), ())

_field_sets: dict[frozenset[str], frozenset[str]] = {}


def _interned(fields: set[str] | frozenset[str]) -> frozenset[str]:
    key = frozenset(fields)
    return _field_sets.setdefault(key, key)


class _Freezer:
    """Freezes models of one class.

    Field values are read in one C call, containers copied, and the field set interned
    (consecutive models usually have equal ones, so it is compared with the last one first).
    """

    __slots__ = ("_dicts", "_get", "_last", "_lists")

    def __init__(self, fields: tuple[str, ...], kinds: tuple[tuple[int, ...], ...]) -> None:
        self._get = itemgetter(*fields)
        self._dicts, self._lists = kinds
        self._last: tuple[set[str], frozenset[str]] = (set(), _interned(frozenset()))

    def __call__(self, model: Any) -> Record:
        values = list(self._get(model.__dict__))
        for index in self._dicts:
            value = values[index]
            values[index] = json_copy(value) if value else None
        for index in self._lists:
            value = values[index]
            values[index] = tuple(value) if value else None
        fields_set = model.__pydantic_fields_set__
        last_set, interned = self._last
        if fields_set != last_set:
            interned = _interned(fields_set)
            self._last = (set(fields_set), interned)
        values.append(interned)
        return tuple(values)


def plain_graph(workflow: PluginWorkflow) -> FrozenGraph | None:
    """Validate and freeze in one pass, for the common case; None for anything else.

    Registration reads each node and connection once this way (validating and then freezing
    read them twice, three times for the connections: 21 ms against 8 ms for 5,000 nodes).
    A result means ``validate_workflow`` succeeds and ``FrozenGraph(workflow)`` is equal to
    it; None means "look closer": the caller runs the full checks (which report the problem,
    or find none) and freezes then. tests/test_v2_model.py checks both promises.
    """
    if type(workflow) is not PluginWorkflow:
        return None
    # The limits as the full checks read them (one place to change them).
    node_list, limit = workflow.nodes, checks.MAX_ID_LENGTH
    workflow_id = workflow.workflow_id
    if type(workflow_id) is not str or not workflow_id.strip() or len(workflow_id) > limit:
        return None
    if not node_list or len(node_list) > checks.MAX_TASKS:
        return None
    if next(global_configuration_errors(workflow.global_configuration), None) is not None:
        return None
    streaming = workflow.execution_mode is WorkflowExecutionMode.Streaming
    node_fields = _NODE_VALUES
    fields_sets = _LastFieldSet()
    position: dict[str, int] = {}
    nodes: list[Record] = []
    for index, node in enumerate(node_list):
        if type(node) is not WorkflowNode:
            return None
        values = list(node_fields(node.__dict__))
        node_id, plugin_id = values[NODE_ID], values[NODE_PLUGIN_ID]
        if type(node_id) is not str or not node_id or node_id.isspace() or node_id in position:
            return None
        if type(plugin_id) is not str or not plugin_id or plugin_id.isspace():
            return None
        if len(node_id) > limit or len(plugin_id) > limit:
            return None
        config, ui = values[NODE_CONFIGURATION], values[NODE_UI_PROPERTIES]
        if type(config) is not dict or not config.keys().isdisjoint(RESERVED_CONFIGURATION_KEYS):
            return None
        if type(ui) is not dict:
            return None
        for at in (NODE_INPUT_PORTS, NODE_OUTPUT_PORTS):
            ports = values[at]
            if type(ports) is not list:
                return None
            for port in ports:
                if type(port) is not str or not port or port.isspace() or len(port) > limit:
                    return None
            if len(ports) > 1 and len(set(ports)) != len(ports):
                return None
            values[at] = tuple(ports) if ports else None
        if streaming and values[NODE_ENABLED] is False:
            return None
        values[NODE_CONFIGURATION] = json_copy(config) if config else None
        values[NODE_UI_PROPERTIES] = json_copy(ui) if ui else None
        values.append(fields_sets(node.__pydantic_fields_set__))
        nodes.append(tuple(values))
        position[node_id] = index
    connection_fields = _CONNECTION_VALUES
    fields_sets = _LastFieldSet()
    with_id: dict[frozenset[str], frozenset[str]] = {}
    assign = IdAssigner(workflow)
    seen: set[str] = set()
    connections: list[Record] = []
    for connection in workflow.connections:
        if type(connection) is not WorkflowConnection:
            return None
        values = list(connection_fields(connection.__dict__))
        source, target = values[SOURCE_NODE], values[TARGET_NODE]
        at_source, at_target = position.get(source), position.get(target)
        if at_source is None or at_target is None or at_source >= at_target:
            return None  # a missing node, or maybe a cycle: the full checks decide
        connection_id = values[CONNECTION_ID]
        source_port, target_port = values[SOURCE_PORT], values[TARGET_PORT]
        for text in (connection_id, source_port, target_port):
            if type(text) is not str or len(text) > limit:
                return None
        if connection_id in seen:
            return None
        if source_port and source_port not in (nodes[at_source][NODE_OUTPUT_PORTS] or ()):
            return None
        if target_port and target_port not in (nodes[at_target][NODE_INPUT_PORTS] or ()):
            return None
        kind, properties = values[CONNECTION_TYPE], values[PROPERTIES]
        if kind is ConnectionType.DataFlow and (
            nodes[at_target][NODE_TYPE] is WorkflowNodeType.Source
            or nodes[at_source][NODE_TYPE] is WorkflowNodeType.Sink
        ):
            return None
        if type(properties) is not dict or values[DATA_TRANSFORMATION]:
            return None
        if kind is ConnectionType.Control and "condition" in properties:
            return None
        values[PROPERTIES] = json_copy(properties) if properties else None
        values[DATA_TRANSFORMATION] = None
        fields_set = fields_sets(connection.__pydantic_fields_set__)
        if connection_id:
            seen.add(connection_id)
        else:  # filled in as _WithIds does
            values[CONNECTION_ID] = assign.new_id(source, source_port, target, target_port)
            with_set = with_id.get(fields_set)
            if with_set is None:
                with_set = with_id[fields_set] = _interned(fields_set | {"connection_id"})
            fields_set = with_set
        values.append(fields_set)
        connections.append(tuple(values))
    return FrozenGraph(workflow, tuple(nodes), tuple(connections))


class _LastFieldSet:
    """Interns field sets, comparing with the previous model's first (usually equal)."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: tuple[set[str], frozenset[str]] = (set(), _interned(frozenset()))

    def __call__(self, fields_set: set[str]) -> frozenset[str]:
        last_set, interned = self._last
        if fields_set != last_set:
            interned = _interned(fields_set)
            self._last = (set(fields_set), interned)
        return interned


def _thaw(
    cls: type[Any], record: Record, fields: tuple[str, ...], kinds: tuple[tuple[int, ...], ...]
) -> Any:
    state = dict(zip(fields, record, strict=False))
    dicts, lists = kinds
    for index in dicts:
        value = record[index]
        state[fields[index]] = {} if value is None else json_copy(value)
    for index in lists:
        value = record[index]
        state[fields[index]] = [] if value is None else list(value)
    model = object.__new__(cls)
    object.__setattr__(model, "__dict__", state)
    object.__setattr__(model, "__pydantic_fields_set__", set(record[len(fields)]))
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


class _WithIds:
    """Connection records with their generated ids filled in."""

    __slots__ = ("_assign", "_with_id")

    def __init__(self, workflow: PluginWorkflow) -> None:
        self._assign = IdAssigner(workflow)
        self._with_id: dict[frozenset[str], frozenset[str]] = {}

    def __call__(self, record: Record) -> Record:
        if record[CONNECTION_ID]:
            return record
        ends = (record[SOURCE_NODE], record[SOURCE_PORT])
        new_id = self._assign.new_id(*ends, record[TARGET_NODE], record[TARGET_PORT])
        # What assign_connection_ids' model_copy(update=...) gives: the id, and the field
        # counted as set.
        fields_set = self._with_id.get(record[-1])
        if fields_set is None:
            fields_set = self._with_id[record[-1]] = _interned(record[-1] | {"connection_id"})
        values = list(record)
        values[CONNECTION_ID] = new_id
        values[-1] = fields_set
        return tuple(values)


class FrozenGraph:
    """What ``register_workflow`` keeps of a validated ``PluginWorkflow`` besides its plan."""

    __slots__ = ("connections", "mode", "nodes", "workflow", "workflow_id")

    def __init__(
        self,
        workflow: PluginWorkflow,
        nodes: tuple[Record, ...] | None = None,
        connections: tuple[Record, ...] | None = None,
    ) -> None:
        """Freeze ``workflow``.

        ``nodes``/``connections`` are its records when already built (``plain_graph``:
        connection ids filled in).
        """
        self.workflow_id: str = workflow.workflow_id
        self.mode = WorkflowExecutionMode(workflow.execution_mode)
        self.workflow = _Freezer(WORKFLOW_FIELDS, _WORKFLOW_KINDS)(workflow)
        if nodes is None:
            nodes = tuple(map(_Freezer(NODE_FIELDS, _NODE_KINDS), workflow.nodes))
        self.nodes: tuple[Record, ...] = nodes
        if connections is None:
            freeze = _Freezer(CONNECTION_FIELDS, _CONNECTION_KINDS)
            with_ids = _WithIds(workflow)
            connections = tuple([with_ids(freeze(c)) for c in workflow.connections])
        self.connections: tuple[Record, ...] = connections

    @property
    def global_configuration(self) -> dict[str, Any]:
        """The frozen ``global_configuration`` (read-only)."""
        value: dict[str, Any] | None = self.workflow[WORKFLOW_FIELDS.index("global_configuration")]
        return {} if value is None else value

    def thaw(self) -> PluginWorkflow:
        """A new, independent ``PluginWorkflow`` equal to the registered one.

        Connection ids are filled in.
        """
        workflow: PluginWorkflow = _thaw(
            PluginWorkflow, self.workflow, WORKFLOW_FIELDS, _WORKFLOW_KINDS
        )
        state = workflow.__dict__
        state["nodes"] = [_thaw(WorkflowNode, r, NODE_FIELDS, _NODE_KINDS) for r in self.nodes]
        state["connections"] = [
            _thaw(WorkflowConnection, r, CONNECTION_FIELDS, _CONNECTION_KINDS)
            for r in self.connections
        ]
        # The registered copy had its connections assigned (ids filled in), which counts the
        # field as set.
        workflow.__pydantic_fields_set__.add("connections")
        # Keep the declared field order of __dict__ (as pydantic builds it).
        object.__setattr__(
            workflow, "__dict__", {name: state[name] for name in PluginWorkflow.model_fields}
        )
        return workflow
