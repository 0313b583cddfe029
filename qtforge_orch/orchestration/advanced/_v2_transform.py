"""``WorkflowConnection.data_transformation`` and ``enabled``, checked and compiled.

Both are checked at registration and compiled into the plan.

A transformation is ``{"expression": "<CEL>"}``. The expression sees the data on the connection:
its keys as variables when it is an object, and the whole value as ``value``. Its result
replaces the data and is then delivered by the usual DataFlow rule. Compiled transformations
never raise inside the engine: a failure becomes a ``TransformFailed`` value, and the target
node's input check (a compiled condition) turns that into an ExecutionFailed error of the
node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..._conditions import ConditionError, compile_condition
from ...errors import PluginError, PluginErrorCode
from ._graph_protocol import GraphWorkflow
from .enums import WorkflowExecutionMode, WorkflowNodeType
from .workflow_connection import WorkflowConnection

EXPRESSION_KEY = "expression"


class TransformFailed:
    """What a failed transformation delivers instead of data (never reaches a plugin)."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"TransformFailed({self.message!r})"


def _label(connection: WorkflowConnection) -> str:
    return label_of(connection.connection_id, connection.source_node, connection.target_node)


def label_of(connection_id: str, source_node: str, target_node: str) -> str:
    """How messages name a connection."""
    ends = f"{source_node} -> {target_node}"
    return f"connection '{connection_id}' ({ends})" if connection_id else ends


def compile_transformation(connection: WorkflowConnection) -> Callable[[Any], Any] | None:
    """The wire's ``transform`` for a validated connection, or None when it has none."""
    return compile_transformation_of(connection.data_transformation, _label(connection))


def compile_transformation_of(
    data_transformation: Mapping[str, Any] | None, label: str
) -> Callable[[Any], Any] | None:
    """``compile_transformation`` from the field's value and the connection's label."""
    expression = (data_transformation or {}).get(EXPRESSION_KEY)
    if not isinstance(expression, str):
        return None
    compiled = compile_condition(expression)

    def transform(value: Any) -> Any:
        variables: dict[str, Any] = dict(value) if isinstance(value, Mapping) else {}
        variables.setdefault("value", value)
        try:
            return compiled.evaluate_value(variables)
        except Exception as exc:
            return TransformFailed(f"data_transformation of {label} failed: {exc}")

    return transform


def inputs_ok(params: dict[str, Any]) -> bool:
    """A node's input check: raises (failing the node) if a transformation failed."""
    for value in params.values():
        if isinstance(value, TransformFailed):
            raise ConditionError(value.message)
    return True


def never(params: dict[str, Any]) -> bool:
    """The condition of a disabled node: it is always Skipped."""
    return False


def transformation_errors(workflow: GraphWorkflow) -> Iterator[PluginError]:
    """Registration checks for ``data_transformation`` and for what Streaming cannot do."""
    streaming = workflow.execution_mode is WorkflowExecutionMode.Streaming
    types: dict[str, Any] | None = None  # built for the first transformation only
    for index, connection in enumerate(workflow.connections):
        if not isinstance(connection, WorkflowConnection) or not connection.data_transformation:
            continue
        if types is None:
            types = {
                node.node_id: node.node_type
                for node in workflow.nodes
                if hasattr(node, "node_type")
            }
        label = _label(connection)
        context = {"connection_id": connection.connection_id, "index": index}
        expression = connection.data_transformation.get(EXPRESSION_KEY)
        if not isinstance(expression, str):
            yield PluginError(
                PluginErrorCode.InvalidWorkflowStructure,
                f"{label}: data_transformation needs an 'expression' holding a CEL expression "
                f"over the data on the connection, e.g. {{'expression': 'value * 2'}}",
                context={**context, "field": "data_transformation"},
            )
            continue
        try:
            compile_condition(expression)
        except ConditionError as exc:
            yield PluginError(
                PluginErrorCode.InvalidWorkflowStructure,
                f"{label}: data_transformation: {exc}",
                context={**context, "field": "data_transformation.expression"},
            )
        ends = (types.get(connection.source_node), types.get(connection.target_node))
        if WorkflowNodeType.Splitter == ends[0] or WorkflowNodeType.Aggregator == ends[1]:
            yield PluginError(
                PluginErrorCode.InvalidConnection,
                f"{label}: data_transformation is not supported on connections out of a "
                f"Splitter or into an Aggregator; transform in a Processor between them",
                context=context,
            )
        if streaming and connection.enabled:
            yield PluginError(
                PluginErrorCode.ExecutionModeNotSupported,
                f"{label}: data_transformation is not supported in Streaming mode yet; "
                f"transform in a Processor node",
                context=context,
            )
    if streaming:
        for node in workflow.nodes:
            if getattr(node, "enabled", True) is False:
                yield PluginError(
                    PluginErrorCode.ExecutionModeNotSupported,
                    f"node '{node.node_id}' is disabled, which Streaming mode does not support "
                    f"yet; remove the node or its connections instead",
                    context={"node_id": node.node_id},
                )
