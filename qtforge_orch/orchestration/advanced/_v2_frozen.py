"""A registered v2 workflow, kept compact: one tuple per node and per connection.

``register_workflow`` used to keep a deep copy of the ``PluginWorkflow`` (pydantic models with
a ``__dict__`` and a field set each, every container copied) next to the compiled plan, and
copied every connection without an id once more to fill it in: about 1.5 KB of the 2.2 KB a
registered node cost (B5), and half of the registration time. The copy is only read to hand
out another copy (``get_workflow``, ``_modify``) and to compile the plan, so it is kept as
tuples of the field values, with private copies of the containers (``json_copy``; empty ones
as ``None``), interned field sets and the connection ids filled in, and turned back into
models on request.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from ..._jsoncopy import json_copy
from ._v2_model import PluginWorkflow, WorkflowConnection, WorkflowExecutionMode, WorkflowNode
from ._v2_validation import IdAssigner

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


class FrozenGraph:
    """What ``register_workflow`` keeps of a validated ``PluginWorkflow`` besides its plan."""

    __slots__ = ("connections", "mode", "nodes", "workflow", "workflow_id")

    def __init__(self, workflow: PluginWorkflow) -> None:
        self.workflow_id: str = workflow.workflow_id
        self.mode = WorkflowExecutionMode(workflow.execution_mode)
        self.workflow = _Freezer(WORKFLOW_FIELDS, _WORKFLOW_KINDS)(workflow)
        self.nodes: tuple[Record, ...] = tuple(
            map(_Freezer(NODE_FIELDS, _NODE_KINDS), workflow.nodes)
        )
        freeze = _Freezer(CONNECTION_FIELDS, _CONNECTION_KINDS)
        with_id: dict[frozenset[str], frozenset[str]] = {}
        records: list[Record] = []
        assign = IdAssigner(workflow)
        for connection in workflow.connections:
            record = freeze(connection)
            if not record[CONNECTION_ID]:
                ends = (record[SOURCE_NODE], record[SOURCE_PORT])
                new_id = assign.new_id(*ends, record[TARGET_NODE], record[TARGET_PORT])
                # What assign_connection_ids' model_copy(update=...) gives: the id, and the
                # field counted as set.
                fields_set = with_id.get(record[-1])
                if fields_set is None:
                    fields_set = with_id[record[-1]] = _interned(record[-1] | {"connection_id"})
                values = list(record)
                values[CONNECTION_ID] = new_id
                values[-1] = fields_set
                record = tuple(values)
            records.append(record)
        self.connections: tuple[Record, ...] = tuple(records)

    @property
    def global_configuration(self) -> dict[str, Any]:
        """The frozen ``global_configuration`` (read-only)."""
        value: dict[str, Any] | None = self.workflow[
            WORKFLOW_FIELDS.index("global_configuration")
        ]
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
