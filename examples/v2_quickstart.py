"""AdvancedPluginOrchestrator quick start: the reference's "Advanced Data Pipeline".

input (Source) -> process (Processor) -> output (Sink), in Streaming mode: the source yields
readings one by one, the processor converts each, the sink stores them.

Run: QT_QPA_PLATFORM=offscreen python examples/v2_quickstart.py
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import QCoreApplication

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    ConnectionType,
    FunctionPlugin,
    PluginManager,
    PluginWorkflow,
    WorkflowConnection,
    WorkflowExecutionMode,
    WorkflowNode,
    WorkflowNodeType,
)

READINGS = [("Oslo", 4), ("Lisbon", 19), ("Cairo", 31), ("Quito", 14), ("Nuuk", -3)]


def data_source(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yields one record per reading: a streaming source."""
    return ({"city": city, "temp_c": temp} for city, temp in READINGS)


def data_processor(params: dict[str, Any]) -> dict[str, Any]:
    return {**params, "temp_f": round(params["temp_c"] * 9 / 5 + 32, 1)}


class MemorySink:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.rows.append(dict(params))
        return {"stored": True}


def main() -> int:
    app = QCoreApplication.instance() or QCoreApplication(sys.argv)

    sink = MemorySink()
    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin.from_callable("data_source", data_source))
    plugins.register_plugin(FunctionPlugin.from_callable("data_processor", data_processor))
    plugins.register_plugin(FunctionPlugin.from_callable("data_sink", sink))

    # Create advanced orchestrator
    orchestrator = AdvancedPluginOrchestrator(plugin_manager=plugins)
    orchestrator.node_started.connect(lambda e, node_id: print(f"  node started:   {node_id}"))
    orchestrator.node_completed.connect(
        lambda e, node_id, result: print(f"  node completed: {node_id} {result}")
    )

    # Create workflow with nodes and connections
    workflow = PluginWorkflow()
    workflow.workflow_id = "advanced_pipeline"
    workflow.name = "Advanced Data Pipeline"
    workflow.execution_mode = WorkflowExecutionMode.Streaming

    # Add workflow nodes
    input_node = WorkflowNode()
    input_node.node_id = "input"
    input_node.plugin_id = "data_source"
    input_node.node_type = WorkflowNodeType.Source

    process_node = WorkflowNode()
    process_node.node_id = "process"
    process_node.plugin_id = "data_processor"
    process_node.node_type = WorkflowNodeType.Processor

    output_node = WorkflowNode()
    output_node.node_id = "output"
    output_node.plugin_id = "data_sink"
    output_node.node_type = WorkflowNodeType.Sink

    workflow.nodes = [input_node, process_node, output_node]

    # Add connections
    conn1 = WorkflowConnection()
    conn1.source_node = "input"
    conn1.target_node = "process"
    conn1.connection_type = ConnectionType.DataFlow

    conn2 = WorkflowConnection()
    conn2.source_node = "process"
    conn2.target_node = "output"
    conn2.connection_type = ConnectionType.DataFlow

    workflow.connections = [conn1, conn2]

    # Register and execute
    result = orchestrator.register_workflow(workflow)
    if not result:
        print("registration failed:", result.error())
        return 1
    print("Registered workflow 'advanced_pipeline'")
    execution = orchestrator.execute_workflow("advanced_pipeline")
    if not execution:
        print("execution failed to start:", execution.error())
        return 1
    execution_id = execution.value()
    print(f"Started execution {execution_id}")

    if not orchestrator.wait_for_execution(execution_id, 5000):
        print("the pipeline did not finish in time")
        orchestrator.shutdown()
        return 1
    status = orchestrator.get_execution_status(execution_id).value()
    print(f"Status: {status.status.name}, progress {status.progress:.0%}")
    for node_id in ("input", "process", "output"):
        node = orchestrator.get_node_status(execution_id, node_id).value()
        print(f"  {node_id}: items_in={node['items_in']} items_out={node['items_out']}")
    for row in sink.rows:
        print(f"Stored: {row['city']} {row['temp_c']} C = {row['temp_f']} F")
    print(f"Stored {len(sink.rows)} rows")
    ok = status.status.name == "Completed" and len(sink.rows) == len(READINGS)
    orchestrator.shutdown()
    del app
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
