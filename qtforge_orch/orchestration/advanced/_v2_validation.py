"""Structural checks for v2 workflows, run before a workflow is registered or changed.

The rules read a graph through its fields (``GraphWorkflow``); ``PluginWorkflow.validate``
and ``validate_workflow`` (in ``workflow``) decide what is a workflow to check.

Everything here is a pure function of the workflow: nothing is mutated, so the orchestrator can
validate a modified copy and keep the registered workflow untouched when the change is rejected.
Checks are linear in nodes plus connections (the cycle search included), so large generated graphs
register quickly.

The models are re-checked element by element because in-place mutation (``nodes.append``,
``configuration[...] = ...``) bypasses pydantic's assignment validation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from operator import attrgetter
from typing import Any

from ..._engine import find_cycle
from ..._limits import MAX_ID_LENGTH as MAX_ID_LENGTH  # read by _v2_frozen.plain_graph too
from ..._limits import MAX_TASKS as MAX_TASKS
from ..._limits import id_problem, short
from ...contract.plan import RESERVED_CONFIGURATION_KEYS
from ...errors import PluginError, PluginErrorCode
from ._graph_protocol import GraphWorkflow
from ._v2_settings import lookalike_setting_errors
from ._v2_transform import transformation_errors
from .enums import ConnectionType, WorkflowExecutionMode, WorkflowNodeType
from .workflow_connection import WorkflowConnection
from .workflow_node import WorkflowNode

__all__ = ["assign_connection_ids", "connection_ids", "graph_errors", "looks_valid"]

_STRUCTURE = PluginErrorCode.InvalidWorkflowStructure

# Settings the engine reads from ``global_configuration`` (besides ``timeout``); other keys
# belong to the application.
_POSITIVE_GLOBAL_KEYS = ("stream_channel_capacity", "max_concurrency")
# Node configuration keys the engine interprets (see _engine.dataflow.RESERVED_CONFIGURATION_KEYS).
_ENGINE_CONFIGURATION_KEYS = RESERVED_CONFIGURATION_KEYS  # the keys checked below


def looks_valid(workflow: GraphWorkflow) -> bool:
    """True only if ``graph_errors`` would find nothing (for an exact ``PluginWorkflow``).

    One pass over the nodes and one over the connections, each field read once (the common
    case at registration). False means "look closer", not "invalid": anything unusual (an
    id over the length limit, a reserved configuration key, a transformation, a connection
    against declaration order) goes to the full checks, which find the problem or none.
    """
    node_list, limit = workflow.nodes, MAX_ID_LENGTH
    workflow_id = workflow.workflow_id
    if not node_list or len(node_list) > MAX_TASKS or not _is_id(workflow_id):
        return False
    if len(workflow_id) > limit:
        return False
    if next(global_configuration_errors(workflow.global_configuration), None) is not None:
        return False
    streaming = workflow.execution_mode is WorkflowExecutionMode.Streaming
    nodes: dict[str, WorkflowNode] = {}
    position: dict[str, int] = {}
    for index, node in enumerate(node_list):
        if type(node) is not WorkflowNode or not _node_ok(node, nodes):
            return False
        node_id = node.node_id
        if len(node_id) > limit or len(node.plugin_id) > limit:
            return False
        for ports in (node.input_ports, node.output_ports):
            for port in ports:
                if len(port) > limit:
                    return False
        if streaming and node.enabled is False:
            return False
        nodes[node_id] = node
        position[node_id] = index
    seen: set[str] = set()
    for connection in workflow.connections:
        if type(connection) is not WorkflowConnection:
            return False
        if connection.data_transformation or not _connection_ok(connection, nodes, seen):
            return False
        source, target = connection.source_node, connection.target_node
        if position[source] >= position[target]:
            return False  # maybe a cycle: the full search decides
        connection_id = connection.connection_id
        if (
            len(connection_id) > limit
            or len(source) > limit
            or len(target) > limit
            or len(connection.source_port) > limit
            or len(connection.target_port) > limit
        ):
            return False
        if connection_id:
            seen.add(connection_id)
    return True


def graph_errors(workflow: GraphWorkflow) -> Iterator[PluginError]:
    """Every problem in ``workflow``, most fundamental first."""
    oversized = _oversized(workflow)
    if oversized is not None:
        # Nothing else is checked: every later message would repeat the oversized value.
        yield oversized
        return
    if not _is_id(workflow.workflow_id):
        yield _error(_STRUCTURE, "the workflow has an empty workflow_id; give it a unique id")
    if not workflow.nodes:
        yield _error(
            _STRUCTURE,
            f"workflow '{workflow.workflow_id}' has no nodes; add at least one WorkflowNode",
        )

    nodes: dict[str, WorkflowNode] = {}
    position: dict[str, int] = {}  # declaration index of each node in ``nodes``
    for index, node in enumerate(workflow.nodes):
        if not isinstance(node, WorkflowNode):
            yield _error(
                _STRUCTURE,
                f"nodes[{index}] is a {type(node).__name__}, not a WorkflowNode",
                index=index,
            )
            continue
        node_id = node.node_id
        if not _node_ok(node, nodes):
            yield from _node_errors(node, index, nodes)
        if _is_id(node_id) and node_id not in nodes:
            nodes[node_id] = node
            position[node_id] = index

    yield from global_configuration_errors(workflow.global_configuration)

    # Every edge from an earlier-declared node to a later one: declaration order is then a
    # topological order and there is no cycle to look for (the common case, checked for free).
    forward = True
    connection_ids: set[str] = set()
    for index, connection in enumerate(workflow.connections):
        if not isinstance(connection, WorkflowConnection):
            yield _error(
                _STRUCTURE,
                f"connections[{index}] is a {type(connection).__name__}, not a WorkflowConnection",
                index=index,
            )
            continue
        if not _connection_ok(connection, nodes, connection_ids):
            yield from _connection_errors(connection, index, nodes, connection_ids)
        elif connection.connection_id:
            connection_ids.add(connection.connection_id)
        # Every connection type orders execution (Event edges carry the trigger's data).
        if forward:
            source = position.get(connection.source_node)
            target = position.get(connection.target_node)
            if source is not None and target is not None and source >= target:
                forward = False

    yield from transformation_errors(workflow)

    cycle = None
    if not forward:
        edges = [
            (c.source_node, c.target_node)
            for c in workflow.connections
            if isinstance(c, WorkflowConnection)
            and c.source_node in nodes
            and c.target_node in nodes
        ]
        cycle = find_cycle(list(nodes), edges)
    if cycle is not None:
        if len(cycle) <= 12:
            path = " -> ".join([*cycle, cycle[0]])
        else:  # the full cycle is in context["cycle"]; a message must stay readable
            path = " -> ".join([*cycle[:6], "...", *cycle[-3:], cycle[0]])
            path += f" ({len(cycle)} nodes)"
        yield _error(
            PluginErrorCode.CircularDependency,
            f"workflow '{workflow.workflow_id}' has a cycle: {path}; remove one of these "
            "connections",
            cycle=cycle,
        )


def _oversized(workflow: GraphWorkflow) -> PluginError | None:
    """The first id over the length limit, or a node count over the limit (docs/reliability)."""
    if len(workflow.nodes) > MAX_TASKS:
        return _error(
            _STRUCTURE,
            f"workflow '{short(workflow.workflow_id)}' has {len(workflow.nodes):,} nodes; "
            f"the limit is {MAX_TASKS:,}",
        )
    limit = MAX_ID_LENGTH
    named: list[tuple[str, object]] = [("workflow_id", workflow.workflow_id)]
    # A cheap length scan first; the list of labelled values is only built when one is long.
    if _longest_in_models(workflow) <= limit and id_problem(workflow.workflow_id) is None:
        return None
    for node in workflow.nodes:
        if isinstance(node, WorkflowNode) and (
            len(node.node_id) > limit
            or len(node.plugin_id) > limit
            or any(len(str(p)) > limit for p in (*node.input_ports, *node.output_ports))
        ):
            break
    else:
        for connection in workflow.connections:
            if isinstance(connection, WorkflowConnection) and (
                len(connection.connection_id) > limit
                or len(connection.source_node) > limit
                or len(connection.source_port) > limit
                or len(connection.target_node) > limit
                or len(connection.target_port) > limit
            ):
                break
        else:
            problem = id_problem(workflow.workflow_id)
            if problem is None:
                return None
    for index, node in enumerate(workflow.nodes):
        if isinstance(node, WorkflowNode):
            named += [(f"nodes[{index}].node_id", node.node_id)]
            named += [(f"nodes[{index}].plugin_id", node.plugin_id)]
            named += [(f"nodes[{index}] port", p) for p in (*node.input_ports, *node.output_ports)]
    for index, connection in enumerate(workflow.connections):
        if isinstance(connection, WorkflowConnection):
            named += [
                (f"connections[{index}].{field}", getattr(connection, field))
                for field in (
                    "connection_id",
                    "source_node",
                    "source_port",
                    "target_node",
                    "target_port",
                )
            ]
    for field, value in named:
        if isinstance(value, str):
            problem = id_problem(value)
            if problem is not None:
                return _error(_STRUCTURE, f"{field} {short(value)!r} {problem}", field=field)
    return None


_NODE_TEXTS = (attrgetter("node_id"), attrgetter("plugin_id"))
_NODE_PORTS = (attrgetter("input_ports"), attrgetter("output_ports"))
_CONNECTION_TEXTS = tuple(
    attrgetter(name)
    for name in ("connection_id", "source_node", "source_port", "target_node", "target_port")
)


def _longest_in_models(workflow: GraphWorkflow) -> int:
    """The longest id or port of the workflow's nodes and connections.

    Measured in C-level passes (``_oversized`` is on the path of every registration);
    ``MAX_ID_LENGTH + 1`` when a list holds something other than exact nodes/connections (the
    labelled scan then decides).
    """
    nodes, connections = workflow.nodes, workflow.connections
    if not set(map(type, nodes)) <= {WorkflowNode} or not set(map(type, connections)) <= {
        WorkflowConnection
    }:
        return MAX_ID_LENGTH + 1
    longest = 0
    for get in _NODE_TEXTS:
        longest = max(longest, max(map(len, map(get, nodes)), default=0))
    for get in _NODE_PORTS:
        ports = chain.from_iterable(map(get, nodes))
        longest = max(longest, max(map(len, map(str, ports)), default=0))
    for get in _CONNECTION_TEXTS:
        longest = max(longest, max(map(len, map(get, connections)), default=0))
    return longest


def assign_connection_ids(workflow: GraphWorkflow) -> list[WorkflowConnection]:
    """The workflow's connections with every empty ``connection_id`` filled in.

    Returns a new list and never mutates ``workflow``: connections that already have an id are
    the same objects, the others are shallow copies carrying the new id. Generated ids read
    ``source:port->target:port`` (``:port`` left out when empty), with ``#2``, ``#3``... appended
    when that id is taken; explicit ids are reserved first, so the result only depends on the
    workflow and never collides with an id the user chose.
    """
    return [
        connection
        if not isinstance(connection, WorkflowConnection) or connection.connection_id == new_id
        else connection.model_copy(update={"connection_id": new_id})
        for connection, new_id in zip(workflow.connections, connection_ids(workflow), strict=True)
    ]


def connection_ids(workflow: GraphWorkflow) -> list[str]:
    """Each connection's id as ``assign_connection_ids`` gives it, without copying any.

    What registration stores; ``""`` for an element that is not a connection.
    """
    assign = IdAssigner(workflow)
    result: list[str] = []
    for connection in workflow.connections:
        if not isinstance(connection, WorkflowConnection) or connection.connection_id:
            result.append(getattr(connection, "connection_id", ""))
            continue
        result.append(
            assign.new_id(
                connection.source_node,
                connection.source_port,
                connection.target_node,
                connection.target_port,
            )
        )
    return result


class IdAssigner:
    """Generated connection ids for one workflow, in connection order.

    Explicit ids are reserved first, so a generated one never collides with an id the user
    chose.
    """

    __slots__ = ("_next_suffix", "_used")

    def __init__(self, workflow: GraphWorkflow) -> None:
        self._used = {
            c.connection_id
            for c in workflow.connections
            if isinstance(c, WorkflowConnection) and c.connection_id
        }
        self._next_suffix: dict[str, int] = {}

    def new_id(self, source: str, source_port: str, target: str, target_port: str) -> str:
        """The id of the next connection without one, from its ends."""
        base = f"{_endpoint(source, source_port)}->{_endpoint(target, target_port)}"
        used = self._used
        candidate = base
        suffix = self._next_suffix.get(base, 1)
        while candidate in used:
            suffix += 1
            candidate = f"{base}#{suffix}"
        self._next_suffix[base] = suffix
        used.add(candidate)
        return candidate


# --------------------------------------------------------------------------------------------


def _error(code: PluginErrorCode, message: str, **context: Any) -> PluginError:
    return PluginError(code, message, context=context)


def _is_id(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _endpoint(node: str, port: str) -> str:
    return f"{node}:{port}" if port else node


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Fast paths: on a valid workflow (the common case) each node and connection costs a handful of
# attribute reads; messages, labels and generators are only built for the elements that fail.


def _node_ok(node: WorkflowNode, seen: dict[str, WorkflowNode]) -> bool:
    # str fields are immutable and type-checked on assignment; only container contents can
    # have been changed behind pydantic's back.
    node_id = node.node_id
    plugin_id = node.plugin_id
    if not node_id or node_id.isspace() or node_id in seen or not plugin_id or plugin_id.isspace():
        return False
    config = node.configuration
    if not isinstance(config, dict) or not _engine_settings_ok(config):
        return False
    for ports in (node.input_ports, node.output_ports):
        for port in ports:
            if type(port) is not str or not port or port.isspace():
                return False
        if len(ports) > 1 and len(set(ports)) != len(ports):
            return False
    return True


def _connection_ok(
    connection: WorkflowConnection, nodes: dict[str, WorkflowNode], seen_ids: set[str]
) -> bool:
    source = nodes.get(connection.source_node)
    target = nodes.get(connection.target_node)
    if source is None or target is None:
        return False
    kind = connection.connection_type
    source_port = connection.source_port
    target_port = connection.target_port
    return (
        connection.connection_id not in seen_ids
        and (not source_port or source_port in source.output_ports)
        and (not target_port or target_port in target.input_ports)
        and not (
            kind is ConnectionType.DataFlow
            and (
                target.node_type is WorkflowNodeType.Source
                or source.node_type is WorkflowNodeType.Sink
            )
        )
        and not (
            kind is ConnectionType.Control
            and isinstance(connection.properties, dict)
            and "condition" in connection.properties
            and not _compiles(connection.properties["condition"])
        )
    )


def _compiles(condition: object) -> bool:
    """Whether a condition is a CEL string that compiles (compiling is cached)."""
    if not isinstance(condition, str):
        return False
    from ..._conditions import ConditionError, compile_condition

    try:
        compile_condition(condition)
    except ConditionError:
        return False
    return True


def _node_errors(
    node: WorkflowNode, index: int, seen: dict[str, WorkflowNode]
) -> Iterator[PluginError]:
    if not _is_id(node.node_id):
        yield _error(
            _STRUCTURE,
            f"nodes[{index}] has an empty node_id; give every node a unique id",
            index=index,
        )
    elif node.node_id in seen:
        yield _error(
            _STRUCTURE,
            f"node id '{node.node_id}' is used by more than one node; node ids must be unique",
            node_id=node.node_id,
            index=index,
        )
    label = f"node '{node.node_id}'" if _is_id(node.node_id) else f"nodes[{index}]"
    if not _is_id(node.plugin_id):
        yield _error(
            _STRUCTURE,
            f"{label} has an empty plugin_id; set it to the id of the plugin the node runs",
            node_id=node.node_id,
        )
    for direction, ports in (
        ("input_ports", node.input_ports),
        ("output_ports", node.output_ports),
    ):
        names: set[str] = set()
        for port in ports:
            if not _is_id(port):
                yield _error(
                    _STRUCTURE,
                    f"{label} has an invalid entry {_describe(port)} in {direction}; "
                    "port names must be non-empty strings",
                    node_id=node.node_id,
                )
            elif port in names:
                yield _error(
                    _STRUCTURE,
                    f"{label} declares port '{port}' twice in {direction}",
                    node_id=node.node_id,
                )
            else:
                names.add(port)
    yield from _node_configuration_errors(node, label)


def _positive_or_none(value: object) -> bool:
    return value is None or (_is_int(value) and value > 0)  # type: ignore[operator]


def _count(value: object) -> bool:
    return _is_int(value) and value >= 0  # type: ignore[operator]


# Engine settings in a node's configuration: key -> (check, what it must be). Spelled once
# for the fast check of valid nodes and for the messages of invalid ones.
_ENGINE_SETTINGS: dict[str, tuple[Callable[[object], bool], str]] = {
    "timeout": (_positive_or_none, "a positive integer number of milliseconds, or null for none"),
    "max_retries": (_count, "an integer >= 0"),
    "retry_delay": (_count, "an integer number of milliseconds >= 0"),
    "critical": (lambda value: isinstance(value, bool), "true or false"),
    "method": (_is_id, "a non-empty command name"),
    "window": (_count, "an integer >= 0 (items per Aggregator window; 0: the whole stream)"),
}


def _engine_settings_ok(config: dict[str, Any]) -> bool:
    """Whether every engine setting in a node's configuration has a valid value."""
    if config.keys().isdisjoint(_ENGINE_CONFIGURATION_KEYS):
        return True
    for key, (check, _) in _ENGINE_SETTINGS.items():
        if key in config and not check(config[key]):
            return False
    return True


def _node_configuration_errors(node: WorkflowNode, label: str) -> Iterator[PluginError]:
    config = node.configuration
    if not isinstance(config, dict):
        yield _error(_STRUCTURE, f"{label}: configuration must be a dict", node_id=node.node_id)
        return
    for key, (check, requirement) in _ENGINE_SETTINGS.items():
        if key in config and not check(config[key]):
            yield _error(
                _STRUCTURE,
                f"{label}: configuration['{key}'] must be {requirement}, got "
                f"{_describe(config[key])}; fix the value or remove the key",
                node_id=node.node_id,
                field=f"configuration.{key}",
            )


def global_configuration_errors(config: object) -> Iterator[PluginError]:
    if not isinstance(config, dict):
        yield _error(_STRUCTURE, "global_configuration must be a dict")
        return
    if config:
        yield from lookalike_setting_errors(config)
    if "timeout" in config:
        value = config["timeout"]
        if value is not None and not (_is_int(value) and value > 0):
            yield _error(
                _STRUCTURE,
                "global_configuration['timeout'] must be a positive integer number of "
                f"milliseconds, or null for none, got {_describe(value)}; fix the value or "
                "remove the key",
                field="global_configuration.timeout",
            )
    for key in _POSITIVE_GLOBAL_KEYS:
        if key in config:
            value = config[key]
            if not (_is_int(value) and value > 0):
                yield _error(
                    _STRUCTURE,
                    f"global_configuration['{key}'] must be a positive integer, got "
                    f"{_describe(value)}; fix the value or remove the key",
                    field=f"global_configuration.{key}",
                )


def _connection_errors(
    connection: WorkflowConnection,
    index: int,
    nodes: dict[str, WorkflowNode],
    seen_ids: set[str],
) -> Iterator[PluginError]:
    cid = connection.connection_id
    label = (
        f"connection '{cid}'"
        if cid
        else f"connections[{index}] ({connection.source_node} -> {connection.target_node})"
    )
    context: dict[str, Any] = {"connection_id": cid, "index": index}

    if cid:
        if cid in seen_ids:
            yield _error(
                _STRUCTURE,
                f"connection id '{cid}' is used by more than one connection; "
                "connection ids must be unique (or empty, to have one assigned)",
                **context,
            )
        seen_ids.add(cid)

    source = nodes.get(connection.source_node)
    target = nodes.get(connection.target_node)
    for role, node_id, node in (
        ("source_node", connection.source_node, source),
        ("target_node", connection.target_node, target),
    ):
        if node is None:
            known = _preview(nodes)
            yield _error(
                PluginErrorCode.NodeNotFound,
                f"{label}: {role} '{node_id}' is not a node of this workflow "
                f"(nodes: {known}); add the node first or fix the id",
                node_id=node_id,
                **context,
            )
    if source is None or target is None:
        return

    yield from _port_errors(label, context, source, connection.source_port, "output_ports")
    yield from _port_errors(label, context, target, connection.target_port, "input_ports")

    if connection.connection_type is ConnectionType.DataFlow:
        if target.node_type is WorkflowNodeType.Source:
            yield _error(
                PluginErrorCode.InvalidConnection,
                f"{label}: Source node '{target.node_id}' cannot receive data; connect the data "
                "into a Processor, or use a Control/Dependency connection to order it",
                node_id=target.node_id,
                **context,
            )
        if source.node_type is WorkflowNodeType.Sink:
            yield _error(
                PluginErrorCode.InvalidConnection,
                f"{label}: Sink node '{source.node_id}' produces no data; take the data from "
                "a node upstream of it, or use a Control/Dependency connection to order it",
                node_id=source.node_id,
                **context,
            )

    if connection.connection_type is ConnectionType.Control:
        yield from _condition_errors(label, context, connection.properties)


def _preview(nodes: dict[str, WorkflowNode]) -> str:
    ids = list(nodes)
    if not ids:
        return "none"
    shown = ", ".join(f"'{node_id}'" for node_id in ids[:8])
    return shown if len(ids) <= 8 else f"{shown}, ... ({len(ids)} in all)"


def _port_errors(
    label: str, context: dict[str, Any], node: WorkflowNode, port: str, direction: str
) -> Iterator[PluginError]:
    if not port:
        return
    declared: Sequence[str] = node.output_ports if direction == "output_ports" else node.input_ports
    if port in declared:
        return
    kind = "output" if direction == "output_ports" else "input"
    listing = ", ".join(f"'{p}'" for p in declared) if declared else "none"
    yield _error(
        PluginErrorCode.InvalidConnection,
        f"{label}: node '{node.node_id}' has no {kind} port '{port}' (declared {kind} ports: "
        f"{listing}); add it to {direction} or leave the port empty to pass the whole output",
        node_id=node.node_id,
        port=port,
        **context,
    )


def _condition_errors(
    label: str, context: dict[str, Any], properties: object
) -> Iterator[PluginError]:
    if not isinstance(properties, dict) or "condition" not in properties:
        return
    condition = properties["condition"]
    if not isinstance(condition, str):
        yield _error(
            _STRUCTURE,
            f"{label}: properties['condition'] must be a CEL expression string, got "
            f"{_describe(condition)}; remove the key for an unconditional connection",
            field="properties.condition",
            **context,
        )
        return
    # Lazy: celpy is only needed by workflows that actually use conditions.
    from ..._conditions import ConditionError, compile_condition

    try:
        compile_condition(condition)
    except ConditionError as exc:
        yield _error(
            _STRUCTURE,
            f"{label}: properties['condition']: {exc}; write a CEL expression over the "
            "source node's output, like `file_valid == true`",
            field="properties.condition",
            **context,
        )
