"""Shared helpers for the AdvancedPluginOrchestrator (v2) tests: graph builders and status reads.

The ``advanced`` fixture comes from conftest (``qtforge_orch.testing``'s
``advanced_orchestrator``).
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QThread

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    ConnectionType,
    Expected,
    FunctionPlugin,
    IPlugin,
    PluginErrorCode,
    PluginManager,
    PluginWorkflow,
    WorkflowConnection,
    WorkflowExecutionContext,
    WorkflowExecutionMode,
    WorkflowNode,
    WorkflowNodeType,
)
from qtforge_orch.plugins import IEventSource

Mode = WorkflowExecutionMode
NodeType = WorkflowNodeType
Kind = ConnectionType
Code = PluginErrorCode


def node(
    node_id: str,
    plugin_id: str | None = None,
    node_type: WorkflowNodeType = WorkflowNodeType.Processor,
    **fields: Any,
) -> WorkflowNode:
    return WorkflowNode(
        node_id=node_id, plugin_id=plugin_id or node_id, node_type=node_type, **fields
    )


def conn(
    source: str,
    target: str,
    kind: ConnectionType = ConnectionType.DataFlow,
    **fields: Any,
) -> WorkflowConnection:
    return WorkflowConnection(
        source_node=source, target_node=target, connection_type=kind, **fields
    )


def control(source: str, target: str, condition: str | None = None) -> WorkflowConnection:
    properties = {} if condition is None else {"condition": condition}
    return conn(source, target, ConnectionType.Control, properties=properties)


def workflow(
    workflow_id: str,
    mode: WorkflowExecutionMode,
    nodes: list[WorkflowNode],
    connections: list[WorkflowConnection] | None = None,
    **fields: Any,
) -> PluginWorkflow:
    return PluginWorkflow(
        workflow_id=workflow_id,
        execution_mode=mode,
        nodes=nodes,
        connections=connections or [],
        **fields,
    )


def register(orch: AdvancedPluginOrchestrator, wf: PluginWorkflow) -> None:
    result = orch.register_workflow(wf)
    assert result, result.error() if not result else ""


def fn(plugins: PluginManager, plugin_id: str, function: Any) -> FunctionPlugin:
    """Register ``function`` as the ``execute`` command of a new plugin."""
    plugin = FunctionPlugin.from_callable(plugin_id, function)
    registered = plugins.register_plugin(plugin)
    assert registered, registered.error()
    return plugin


def start(
    orch: AdvancedPluginOrchestrator, workflow_id: str, data: dict[str, Any] | None = None
) -> str:
    execution = orch.execute_workflow(workflow_id, data)
    assert execution, execution.error()
    return execution.value()


def status(orch: AdvancedPluginOrchestrator, execution_id: str) -> WorkflowExecutionContext:
    found = orch.get_execution_status(execution_id)
    assert found, found.error()
    return found.value()


def node_status(
    orch: AdvancedPluginOrchestrator, execution_id: str, node_id: str
) -> dict[str, Any]:
    found = orch.get_node_status(execution_id, node_id)
    assert found, found.error()
    return found.value()


def states(orch: AdvancedPluginOrchestrator, execution_id: str) -> dict[str, str]:
    return {k: v["status"] for k, v in status(orch, execution_id).node_states.items()}


def run_to_end(
    orch: AdvancedPluginOrchestrator,
    workflow_id: str,
    data: dict[str, Any] | None = None,
    timeout_ms: int = 10_000,
) -> tuple[str, WorkflowExecutionContext]:
    execution_id = start(orch, workflow_id, data)
    assert orch.wait_for_execution(execution_id, timeout_ms), "execution did not end in time"
    return execution_id, status(orch, execution_id)


def error_code(result: Expected[Any]) -> PluginErrorCode:
    assert not result, f"expected an error, got {result!r}"
    return result.error().code


class Journal:
    """Thread-safe record of (event, node) pairs, for ordering and overlap assertions."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def add(self, event: str, name: str) -> None:
        with self._lock:
            self.entries.append((event, name))

    def snapshot(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self.entries)

    def command(self, name: str, output: dict[str, Any] | None = None) -> Any:
        def run(params: dict[str, Any]) -> dict[str, Any]:
            self.add("enter", name)
            self.add("exit", name)
            return dict(output) if output is not None else {f"{name}_done": True}

        return run


class ManualTrigger(IPlugin, IEventSource):
    """An event source that never emits by itself: keeps an EventDriven execution running so
    events come from ``post_event`` (or from a test calling ``emit``)."""

    def __init__(self, plugin_id: str = "manual_trigger") -> None:
        super().__init__()
        self._id = plugin_id
        self.started = threading.Event()
        self.stopped = threading.Event()
        self.configuration: dict[str, Any] = {}
        self.emit: Any = None
        self.start_thread: Any = None

    def id(self) -> str:
        return self._id

    def available_commands(self) -> list[str]:
        return ["execute"]

    def execute_command(self, command: str, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    def start_events(self, configuration: dict[str, Any], emit: Any) -> Any:
        self.configuration = dict(configuration)
        self.emit = emit
        self.start_thread = QThread.currentThread()
        self.started.set()
        return self.stopped.set
