"""Compiles a registered ``PluginWorkflow`` into the engine's ``Plan`` (DESIGN section 5).

It reads the frozen form the orchestrator keeps (``_v2_frozen``).
"""

from __future__ import annotations

from typing import Any

from ..._conditions import compile_condition
from ..._engine import EXECUTOR_KEY, THREAD, check_executor
from ...contract.plan import (
    DataPolicy,
    JoinPolicy,
    Plan,
    Role,
    ScheduleKind,
    TaskSpec,
    Wire,
    WireKind,
    link_successors,
)
from ...contract.retry import POLICY_KEY, RetryPolicy
from . import _v2_frozen as f
from ._v2_frozen import FrozenGraph, Record
from ._v2_transform import compile_transformation_of, inputs_ok, label_of, never
from .enums import ConnectionType, WorkflowExecutionMode, WorkflowNodeType

_SCHEDULES = {
    WorkflowExecutionMode.Streaming: ScheduleKind.STREAM,
    WorkflowExecutionMode.EventDriven: ScheduleKind.EVENT,
}

DEFAULT_STREAM_CAPACITY = 1024
DEFAULT_RETRY_DELAY_MS = 1000

_ROLES = {
    WorkflowNodeType.Source: Role.SOURCE,
    WorkflowNodeType.Sink: Role.SINK,
    WorkflowNodeType.Decision: Role.DECISION,
    WorkflowNodeType.Splitter: Role.SPLITTER,
    WorkflowNodeType.Aggregator: Role.AGGREGATOR,
}

_WIRE_KINDS = {
    ConnectionType.DataFlow: WireKind.DATA,
    ConnectionType.Event: WireKind.DATA,
    ConnectionType.Control: WireKind.CONTROL,
    ConnectionType.Dependency: WireKind.ORDER,
}


def _wire(source: int, connection: Record) -> Wire:
    kind = _WIRE_KINDS[connection[f.CONNECTION_TYPE]]  # a ConnectionType (validated field)
    transformation = connection[f.DATA_TRANSFORMATION]
    if kind is not WireKind.CONTROL and transformation is None:  # the common case
        return Wire(source, kind, connection[f.SOURCE_PORT], connection[f.TARGET_PORT])
    properties = connection[f.PROPERTIES] or {}
    condition = properties.get("condition") if kind is WireKind.CONTROL else None
    return Wire(
        source=source,
        kind=kind,
        source_port=connection[f.SOURCE_PORT],
        target_port=connection[f.TARGET_PORT],
        condition=compile_condition(condition).evaluate if isinstance(condition, str) else None,
        condition_text=condition if isinstance(condition, str) else "",
        transform=None
        if transformation is None
        else compile_transformation_of(
            transformation,
            label_of(
                connection[f.CONNECTION_ID], connection[f.SOURCE_NODE], connection[f.TARGET_NODE]
            ),
        ),
    )


def _retry_policy(config: dict[str, Any]) -> RetryPolicy:
    """``RetryPolicy.build`` from a node's configuration; plain nodes share one (frozen)."""
    max_retries = config.get("max_retries", 0)
    retry_delay = config.get("retry_delay", DEFAULT_RETRY_DELAY_MS)
    policy_config = config.get(POLICY_KEY)
    if policy_config is not None:
        return RetryPolicy.build(int(max_retries), int(retry_delay), policy_config)
    key = (int(max_retries), int(retry_delay))
    policy = _POLICIES.get(key)
    if policy is None:
        policy = _POLICIES.setdefault(key, RetryPolicy.build(*key))
    return policy


_POLICIES: dict[tuple[int, int], RetryPolicy] = {}


def compile_plugin_workflow(workflow: FrozenGraph, default_executor: str = THREAD) -> Plan:
    """Assumes the workflow it was frozen from passed ``validate_workflow``."""
    # A node's executor is its configuration's "executor", else the workflow's
    # global_configuration["executor"], else default_executor (the orchestrator's); an unknown
    # name raises UnknownExecutor.
    settings = workflow.global_configuration
    if EXECUTOR_KEY in settings:
        default_executor = check_executor(settings[EXECUTOR_KEY], "global_configuration")
    nodes = workflow.nodes
    # One int object per position, shared by the task's index and the wires naming it.
    indexes = list(range(len(nodes)))
    position = {node[f.NODE_ID]: index for index, node in zip(indexes, nodes, strict=True)}
    incoming: dict[int, list[Wire]] = {}  # target index -> its wires, for targets that have any
    transformed: set[int] = set()  # targets of wires with a transformation
    for connection in workflow.connections:
        if not connection[f.CONNECTION_ENABLED]:
            continue  # a disabled connection does not exist for the run
        source = position[connection[f.SOURCE_NODE]]
        target = position[connection[f.TARGET_NODE]]
        wire = _wire(source, connection)
        wires_in = incoming.get(target)
        if wires_in is None:
            incoming[target] = [wire]
        else:
            wires_in.append(wire)
        if wire.transform is not None:
            transformed.add(target)
    roles = [_ROLES.get(node[f.NODE_TYPE], Role.PLAIN) for node in nodes]  # WorkflowNodeTypes
    splitters = Role.SPLITTER in roles
    default_retry = _retry_policy({})
    # Nodes without configuration share one empty parameters dict; the others share the
    # frozen configuration, which the engine only reads (it leaves out the reserved keys).
    no_parameters: dict[str, Any] = {}
    tasks: list[TaskSpec] = []
    for index, node in zip(indexes, nodes, strict=True):
        config: dict[str, Any] = node[f.NODE_CONFIGURATION] or no_parameters
        role = roles[index]
        wires_in = incoming.get(index)
        wires = () if wires_in is None else tuple(wires_in)
        fan_out = None
        if splitters and role is not Role.AGGREGATOR:
            fan_out = next(
                (w for w in wires if w.kind is WireKind.DATA and roles[w.source] is Role.SPLITTER),
                None,
            )
        timeout = config.get("timeout") if config else None
        retry = _retry_policy(config) if config else default_retry
        # A disabled node is Skipped (and so feeds nothing); a node fed by a transformation
        # checks its input first, so a failed transformation fails the node.
        condition = None
        if not node[f.NODE_ENABLED]:
            condition = never
        elif index in transformed:
            condition = inputs_ok
        task = TaskSpec(
            key=node[f.NODE_ID],
            index=index,
            plugin_id=node[f.NODE_PLUGIN_ID],
            command=(config.get("method") or "execute") if config else "execute",
            parameters=config,
            timeout_ms=int(timeout) if timeout else None,
            max_retries=retry.max_retries,
            retry_delay_ms=retry.retry_delay,
            retry=retry,
            condition=condition,
            incoming=wires,
        )
        # Fields left at their defaults are not passed (a registration builds one per node).
        if config and not config.get("critical", True):
            task.critical = False
        if role is not Role.PLAIN:
            task.role = role
        input_ports = node[f.NODE_INPUT_PORTS]
        if input_ports:
            task.in_port = input_ports[0]
        output_ports = node[f.NODE_OUTPUT_PORTS]
        if output_ports:
            task.out_port = output_ports[0]
        if fan_out is not None:
            task.fan_out = fan_out
        if EXECUTOR_KEY in config:
            task.executor = check_executor(config[EXECUTOR_KEY], f"node '{node[f.NODE_ID]}'")
        elif default_executor != THREAD:
            task.executor = default_executor
        tasks.append(task)
    link_successors(tasks)
    mode = workflow.mode
    timeout = settings.get("timeout")
    return Plan(
        workflow_id=workflow.workflow_id,
        tasks=tasks,
        data=DataPolicy.PORTS,
        join=JoinPolicy.GATED_OR if mode is WorkflowExecutionMode.Conditional else JoinPolicy.GATED,
        max_concurrency=1
        if mode is WorkflowExecutionMode.Sequential
        else settings.get("max_concurrency"),
        timeout_ms=int(timeout) if isinstance(timeout, int) and timeout > 0 else None,
        stream_capacity=int(settings.get("stream_channel_capacity", DEFAULT_STREAM_CAPACITY)),
        schedule=_SCHEDULES.get(mode, ScheduleKind.BATCH),
    )
