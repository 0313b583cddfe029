"""The document of a v2 ``PluginWorkflow``: nodes, connections, ports, types."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from ..._jsoncopy import json_copy
from ...errors import PluginError, PluginErrorCode
from ...orchestration.advanced._model_base import copy_model
from ...orchestration.advanced._v2_validation import IdAssigner, connection_ids
from ...orchestration.advanced.enums import ConnectionType, _choices, _parse_enum
from ...orchestration.advanced.workflow import (
    PluginWorkflow,
    iter_workflow_errors,
    validate_workflow,
)
from ...orchestration.advanced.workflow_connection import WorkflowConnection
from ...orchestration.advanced.workflow_node import WorkflowNode
from ...results import Expected, from_error, make_error, make_success
from ._document import (
    EdgeInfo,
    GraphDocument,
    NodeInfo,
    Removed,
    canonical,
    missing_end,
    position_from,
    write_position,
)

NODE_FIELDS = (
    "name",
    "description",
    "plugin_id",
    "command",
    "node_type",
    "enabled",
    "configuration",
    "input_ports",
    "output_ports",
)
CONNECTION_FIELDS = ("connection_type", "condition", "data_transformation", "enabled")
WORKFLOW_FIELDS = (
    "workflow_id",
    "name",
    "description",
    "execution_mode",
    "global_configuration",
    "metadata",
)
_BAD = PluginErrorCode.InvalidArgument


def _text(value: Any, name: str) -> Expected[str]:
    if not isinstance(value, str):
        return make_error(_BAD, f"{name} must be text, got {type(value).__name__}")
    return make_success(value)


def _ports(value: Any, name: str) -> Expected[list[str]]:
    """A list of port names, or their comma-separated text."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(p, str) for p in value):
        return make_error(_BAD, f"{name} must be a list of port names")
    ports = [p.strip() for p in value]
    if any(not p for p in ports) or len(set(ports)) != len(ports):
        return make_error(_BAD, f"{name} must be distinct, non-empty port names")
    return make_success(ports)


class V2Document(GraphDocument):
    """A ``PluginWorkflow`` being edited (its own copy, changed in place)."""

    kind = "v2"

    def __init__(self, workflow: PluginWorkflow, owned: bool = False) -> None:
        # ``owned``: the caller hands the workflow over (just read from a file), no copy.
        self._wf = workflow if owned else copy_model(workflow)
        # Connections without an id get the one registration would give them: the editor
        # addresses every connection by id.
        ids = connection_ids(self._wf)
        for connection, new_id in zip(self._wf.connections, ids, strict=True):
            if isinstance(connection, WorkflowConnection) and not connection.connection_id:
                connection.connection_id = new_id
        self._nodes: dict[str, WorkflowNode] = {}
        for node in self._wf.nodes:
            if isinstance(node, WorkflowNode):
                self._nodes.setdefault(node.node_id, node)
        self._edges: dict[str, WorkflowConnection] = {}
        for connection in self._wf.connections:
            if isinstance(connection, WorkflowConnection):
                self._edges.setdefault(connection.connection_id, connection)

    # --- reading ------------------------------------------------------------------------
    def node_ids(self) -> list[str]:
        return list(self._nodes)

    def has_node(self, node_id: str) -> bool:
        return node_id in self._nodes

    def node_info(self, node_id: str) -> NodeInfo:
        node = self._nodes[node_id]
        method = node.configuration.get("method", "")
        return NodeInfo(
            node_id,
            node.name or node_id,
            node.node_type.name,
            node.plugin_id,
            method if isinstance(method, str) else "",
            node.enabled,
            tuple(node.input_ports),
            tuple(node.output_ports),
        )

    def node_model(self, node_id: str) -> WorkflowNode:
        return self._nodes[node_id]

    def position(self, node_id: str) -> tuple[float, float] | None:
        return position_from(self._nodes[node_id].ui_properties)

    def model_position(self, model: Any) -> tuple[float, float] | None:
        return position_from(model.ui_properties)

    def edge_ids(self) -> list[str]:
        return list(self._edges)

    def has_edge(self, edge_id: str) -> bool:
        return edge_id in self._edges

    def edge_info(self, edge_id: str) -> EdgeInfo:
        c = self._edges[edge_id]
        condition = c.properties.get("condition", "") if isinstance(c.properties, dict) else ""
        return EdgeInfo(
            edge_id,
            c.source_node,
            c.source_port,
            c.target_node,
            c.target_port,
            c.connection_type.name,
            c.enabled,
            condition if isinstance(condition, str) else "",
        )

    def edges_of(self, node_ids: Iterable[str]) -> list[str]:
        wanted = set(node_ids)
        return [
            edge_id
            for edge_id, c in self._edges.items()
            if c.source_node in wanted or c.target_node in wanted
        ]

    def workflow(self) -> PluginWorkflow:
        return copy_model(self._wf)

    def model(self) -> PluginWorkflow:
        """The edited workflow itself (not a copy: read it, never change it)."""
        return self._wf

    def edge_ends(self) -> list[tuple[str, str]]:
        return [(c.source_node, c.target_node) for c in self._edges.values()]

    def errors(self) -> list[PluginError]:
        # The one-pass check registration uses first: a valid graph (the usual case while
        # editing) costs one look at each node and connection.
        if validate_workflow(self._wf):
            return []
        return list(iter_workflow_errors(self._wf))

    def target_of(self, error: PluginError) -> str:
        context = error.context
        connection_id = context.get("connection_id")
        if isinstance(connection_id, str) and connection_id in self._edges:
            return connection_id
        cycle = context.get("cycle")
        if isinstance(cycle, list) and cycle:
            # The connection that closes the cycle: removing it is the fix.
            closing = (cycle[-1], cycle[0])
            for edge_id, c in self._edges.items():
                if (c.source_node, c.target_node) == closing:
                    return edge_id
        node_id = context.get("node_id")
        if isinstance(node_id, str) and node_id in self._nodes:
            return node_id
        index = context.get("index")
        connections = self._wf.connections
        if "connection_id" in context and isinstance(index, int) and 0 <= index < len(connections):
            return str(getattr(connections[index], "connection_id", ""))
        return ""

    # --- scoped validation --------------------------------------------------------------
    def calls_model(self, node_ids: set[str] | None = None) -> PluginWorkflow:
        if node_ids is None:
            return self._wf
        nodes = [node for node_id, node in self._nodes.items() if node_id in node_ids]
        return PluginWorkflow(workflow_id="scoped", nodes=nodes)

    def structure_is_plain(self) -> bool:
        wf = self._wf
        return (
            bool(self._nodes)
            and len(self._nodes) == len(wf.nodes)
            and len(self._edges) == len(wf.connections)
            and "" not in self._nodes
            and "" not in self._edges
            and all(
                c.source_node in self._nodes and c.target_node in self._nodes
                for c in self._edges.values()
            )
        )

    def closes_cycle(self, edge_ids: set[str]) -> bool:
        # A new connection source -> target closes a cycle when target reaches source.
        following: dict[str, list[str]] = {}
        for connection in self._edges.values():
            following.setdefault(connection.source_node, []).append(connection.target_node)
        for edge_id in edge_ids:
            added = self._edges.get(edge_id)
            if added is None:
                continue
            goal, seen = added.source_node, {added.target_node}
            stack = [added.target_node]
            while stack:
                node = stack.pop()
                if node == goal:
                    return True
                for successor in following.get(node, ()):
                    if successor not in seen:
                        seen.add(successor)
                        stack.append(successor)
        return False

    def scoped_errors(self, node_ids: set[str], edge_ids: set[str]) -> list[PluginError] | None:
        edges = [self._edges[e] for e in edge_ids if e in self._edges]
        ends = {n for c in edges for n in (c.source_node, c.target_node)}
        nodes = [node for node_id, node in self._nodes.items() if node_id in node_ids | ends]
        # The touched elements in a workflow of their own: the same mode (Streaming has
        # rules of its own), a valid id and no settings (the workflow's own fields are not
        # touched, and their problems are not the elements').
        alone = PluginWorkflow(
            workflow_id="scoped",
            execution_mode=self._wf.execution_mode,
            nodes=nodes,
            connections=edges,
        )
        return list(iter_workflow_errors(alone))

    # --- changing -----------------------------------------------------------------------
    def new_node(self, node_id: str, plugin_id: str, command: str) -> WorkflowNode:
        return WorkflowNode(
            node_id=node_id,
            plugin_id=plugin_id,
            configuration={"method": command} if command else {},
        )

    def node_from_json(self, json: object) -> Expected[WorkflowNode]:
        return WorkflowNode.from_json(json)

    def node_id_of(self, model: Any) -> str:
        return str(model.node_id)

    def node_json(self, node_id: str) -> dict[str, Any]:
        return self._nodes[node_id].to_json()

    def renamed(self, model: Any, node_id: str) -> WorkflowNode:
        node: WorkflowNode = copy_model(model)
        node.node_id = node_id
        return node

    def add_nodes(self, models: list[Any]) -> list[str]:
        for node in models:
            self._wf.nodes.append(node)
            self._nodes[node.node_id] = node
        return [node.node_id for node in models]

    def edge_batch(self) -> IdAssigner:
        return IdAssigner(self._wf)

    def new_edge(
        self,
        source: str,
        source_port: str,
        target: str,
        target_port: str,
        kind: str,
        batch: Any = None,
    ) -> Expected[WorkflowConnection]:
        member = _parse_enum(ConnectionType, kind)
        if member is None:
            return make_error(_BAD, f"connection_type {kind!r}: {_choices(ConnectionType)}")
        connection = WorkflowConnection(
            source_node=source,
            source_port=source_port,
            target_node=target,
            target_port=target_port,
            connection_type=member,
        )
        assigner = batch if isinstance(batch, IdAssigner) else IdAssigner(self._wf)
        connection.connection_id = assigner.new_id(source, source_port, target, target_port)
        return make_success(connection)

    def edge_json(self, edge_id: str) -> dict[str, Any]:
        return self._edges[edge_id].to_json()

    def edge_from_json(
        self, json: object, rename: Mapping[str, str], batch: Any
    ) -> Expected[WorkflowConnection]:
        bad = missing_end(json, rename)
        if bad is not None:
            return bad
        read = WorkflowConnection.from_json(json)
        if not read:
            return from_error(read.error())
        old = read.value()
        made = self.new_edge(
            rename[old.source_node],
            old.source_port,
            rename[old.target_node],
            old.target_port,
            old.connection_type.name,
            batch,
        )
        if made:
            connection = made.value()
            connection.properties = old.properties
            connection.data_transformation = old.data_transformation
            connection.enabled = old.enabled
        return made

    def edge_id_of(self, edge: Any) -> str:
        return str(edge.connection_id)

    def add_edges(self, edges: list[Any]) -> list[str]:
        for connection in edges:
            self._wf.connections.append(connection)
            self._edges[connection.connection_id] = connection
        return [c.connection_id for c in edges]

    def drop_last(self, node_ids: list[str], edge_ids: list[str]) -> None:
        connections, nodes = self._wf.connections, self._wf.nodes
        tail = connections[len(connections) - len(edge_ids) :] if edge_ids else []
        heads = nodes[len(nodes) - len(node_ids) :] if node_ids else []
        if [c.connection_id for c in tail] != edge_ids or [n.node_id for n in heads] != node_ids:
            self.remove(node_ids, edge_ids)  # not the last ones added: the general way
            return
        del connections[len(connections) - len(edge_ids) :]
        del nodes[len(nodes) - len(node_ids) :]
        for edge_id in edge_ids:
            del self._edges[edge_id]
        for node_id in node_ids:
            del self._nodes[node_id]

    def remove(self, node_ids: Iterable[str], edge_ids: Iterable[str]) -> Removed:
        nodes = {n for n in node_ids if n in self._nodes}
        edges = {e for e in edge_ids if e in self._edges}
        edges.update(self.edges_of(nodes))
        removed = Removed(
            node_ids=[n for n in self._nodes if n in nodes],
            edge_ids=[e for e in self._edges if e in edges],
        )
        kept_connections = []
        for index, c in enumerate(self._wf.connections):
            if isinstance(c, WorkflowConnection) and c.connection_id in edges:
                removed.parts.append(("connection", index, c))
                del self._edges[c.connection_id]
            else:
                kept_connections.append(c)
        kept_nodes = []
        for index, node in enumerate(self._wf.nodes):
            if isinstance(node, WorkflowNode) and node.node_id in nodes:
                removed.parts.append(("node", index, node))
                del self._nodes[node.node_id]
            else:
                kept_nodes.append(node)
        # In place: the lists are the workflow's own (pydantic is not involved).
        self._wf.connections[:] = kept_connections
        self._wf.nodes[:] = kept_nodes
        return removed

    def restore(self, removed: Removed) -> None:
        for what, index, item in removed.parts:  # ascending indexes per list
            if what == "connection":
                self._wf.connections.insert(index, item)
                self._edges[item.connection_id] = item
            else:
                self._wf.nodes.insert(index, item)
                self._nodes[item.node_id] = item
        # Dictionaries keep declaration order, as the lists do.
        self._nodes = {n.node_id: n for n in self._wf.nodes if isinstance(n, WorkflowNode)}
        self._edges = {
            c.connection_id: c for c in self._wf.connections if isinstance(c, WorkflowConnection)
        }

    def set_position(self, node_id: str, x: float, y: float) -> Any:
        node = self._nodes[node_id]
        previous = node.ui_properties
        node.ui_properties = write_position(previous, x, y)
        return previous

    def restore_position(self, node_id: str, previous: Any) -> None:
        self._nodes[node_id].ui_properties = previous

    # --- fields -------------------------------------------------------------------------
    def fields(self, target_id: str) -> tuple[str, ...]:
        if not target_id:
            return WORKFLOW_FIELDS
        if target_id in self._nodes:
            return NODE_FIELDS
        if target_id in self._edges:
            return CONNECTION_FIELDS
        return ()

    def _target(self, target_id: str) -> Any:
        if not target_id:
            return self._wf
        return self._nodes.get(target_id) or self._edges.get(target_id)

    def get_field(self, target_id: str, name: str) -> Any:
        name = canonical(name)
        target = self._target(target_id)
        if name == "command":
            method = target.configuration.get("method", "")
            return method if isinstance(method, str) else ""
        if name == "condition":
            return target.properties.get("condition", "")
        if name == "data_transformation":
            return target.data_transformation.get("expression", "")
        value = getattr(target, name)
        return json_copy(value) if isinstance(value, dict | list) else value

    def set_field(self, target_id: str, name: str, value: Any) -> Expected[tuple[str, Any]]:
        target = self._target(target_id)
        if target is None:
            return self.unknown_target(target_id)
        name = canonical(name)
        allowed = self.fields(target_id)
        if name not in allowed:
            what = "the workflow" if not target_id else f"'{target_id}'"
            return make_error(
                _BAD,
                f"{what} has no editable field {name!r}; fields: {', '.join(allowed)}",
                context={"target_id": target_id},
            )
        prepared = self._prepare(target, name, value)
        if not prepared:
            return from_error(prepared.error())
        attribute, new_value = prepared.value()
        previous = getattr(target, attribute)
        try:
            setattr(target, attribute, new_value)
        except ValidationError as exc:
            return make_error(
                _BAD, f"{name}: {exc.errors()[0]['msg']}", context={"target_id": target_id}
            )
        return make_success((attribute, previous))

    def _prepare(self, target: Any, name: str, value: Any) -> Expected[tuple[str, Any]]:
        """(attribute, value to assign) for a field, or why the value is malformed."""
        if name in ("name", "description", "plugin_id", "workflow_id"):
            text = _text(value, name)
            return make_success((name, value)) if text else from_error(text.error())
        if name == "command":
            text = _text(value, name)
            if not text:
                return from_error(text.error())
            configuration = json_copy(target.configuration)
            if value:
                configuration["method"] = value
            else:
                configuration.pop("method", None)
            return make_success(("configuration", configuration))
        if name == "enabled":
            if not isinstance(value, bool):
                return make_error(_BAD, f"enabled must be true or false, got {value!r}")
            return make_success((name, value))
        if name in ("configuration", "global_configuration", "metadata"):
            if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                return make_error(_BAD, f"{name} must be a JSON object")
            return make_success((name, json_copy(value)))
        if name in ("input_ports", "output_ports"):
            ports = _ports(value, name)
            return make_success((name, ports.value())) if ports else from_error(ports.error())
        if name == "condition":
            properties = json_copy(target.properties)
            if value is None or value == "":
                properties.pop("condition", None)
            elif isinstance(value, str):
                properties["condition"] = value
            else:
                return make_error(_BAD, "condition must be a CEL expression (text)")
            return make_success(("properties", properties))
        if name == "data_transformation":
            if value is None or value == "":
                return make_success((name, {}))
            if isinstance(value, str):
                return make_success((name, {"expression": value}))
            if isinstance(value, dict):
                return make_success((name, json_copy(value)))
            return make_error(_BAD, "data_transformation must be a CEL expression (text)")
        # node_type, connection_type, execution_mode: the model's own parsing (names,
        # integers) on assignment.
        return make_success((name, value))

    def restore_field(self, target_id: str, attribute: str, previous: Any) -> None:
        setattr(self._target(target_id), attribute, previous)
