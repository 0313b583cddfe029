"""Compiles a validated ``PluginWorkflow`` into the engine's ``Plan`` (DESIGN section 5)."""

from __future__ import annotations

from typing import Any

from ..._conditions import compile_condition
from ..._engine.executors import EXECUTOR_KEY, THREAD, check_executor
from ..._engine.plan import (
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
from ..._engine.retry import POLICY_KEY, RetryPolicy
from ._v2_model import ConnectionType, PluginWorkflow, WorkflowExecutionMode, WorkflowNodeType
from ._v2_transform import compile_transformation, inputs_ok, never

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


def _wire(source: int, connection: Any) -> Wire:
    kind = _WIRE_KINDS[ConnectionType(connection.connection_type)]
    condition = connection.properties.get("condition") if kind is WireKind.CONTROL else None
    return Wire(
        source=source,
        kind=kind,
        source_port=connection.source_port,
        target_port=connection.target_port,
        condition=compile_condition(condition).evaluate if isinstance(condition, str) else None,
        condition_text=condition if isinstance(condition, str) else "",
        transform=compile_transformation(connection),
    )


def compile_plugin_workflow(workflow: PluginWorkflow, default_executor: str = THREAD) -> Plan:
    """Assumes ``validate_workflow`` succeeded."""
    # A node's executor is its configuration's "executor", else the workflow's
    # global_configuration["executor"], else default_executor (the orchestrator's); an unknown
    # name raises UnknownExecutor.
    settings = workflow.global_configuration
    if EXECUTOR_KEY in settings:
        default_executor = check_executor(settings[EXECUTOR_KEY], "global_configuration")
    position = {node.node_id: index for index, node in enumerate(workflow.nodes)}
    incoming: list[list[Wire]] = [[] for _ in workflow.nodes]
    for connection in workflow.connections:
        if not connection.enabled:
            continue  # a disabled connection does not exist for the run
        source = position[connection.source_node]
        incoming[position[connection.target_node]].append(_wire(source, connection))
    roles = [_ROLES.get(WorkflowNodeType(node.node_type), Role.PLAIN) for node in workflow.nodes]
    tasks: list[TaskSpec] = []
    for index, node in enumerate(workflow.nodes):
        config = node.configuration
        role = roles[index]
        wires = tuple(incoming[index])
        fan_out = None
        if role is not Role.AGGREGATOR:
            fan_out = next(
                (w for w in wires if w.kind is WireKind.DATA and roles[w.source] is Role.SPLITTER),
                None,
            )
        timeout = config.get("timeout")
        retry = RetryPolicy.build(
            int(config.get("max_retries", 0)),
            int(config.get("retry_delay", DEFAULT_RETRY_DELAY_MS)),
            config.get(POLICY_KEY),
        )
        # A disabled node is Skipped (and so feeds nothing); a node fed by a transformation
        # checks its input first, so a failed transformation fails the node.
        condition = None
        if not node.enabled:
            condition = never
        elif any(w.transform is not None for w in wires):
            condition = inputs_ok
        tasks.append(
            TaskSpec(
                key=node.node_id,
                index=index,
                plugin_id=node.plugin_id,
                command=config.get("method") or "execute",
                parameters=dict(config),
                timeout_ms=int(timeout) if timeout else None,
                max_retries=retry.max_retries,
                retry_delay_ms=retry.retry_delay,
                retry=retry,
                critical=bool(config.get("critical", True)),
                condition=condition,
                incoming=wires,
                role=role,
                in_port=node.input_ports[0] if node.input_ports else "",
                out_port=node.output_ports[0] if node.output_ports else "",
                fan_out=fan_out,
                executor=check_executor(config[EXECUTOR_KEY], f"node '{node.node_id}'")
                if EXECUTOR_KEY in config
                else default_executor,
            )
        )
    link_successors(tasks)
    mode = WorkflowExecutionMode(workflow.execution_mode)
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
