"""The reference's "Streaming Data Pipeline" integration example, in Python.

kafka_consumer -> data_filter -> data_transformer -> database_writer, with the reference's node
ids and ports. The plugins are small FunctionPlugins: a generator stands in for the Kafka
consumer, the filter drops malformed and out-of-range readings (returning None drops an item),
the transformer converts units, and the writer inserts into an in-memory SQLite database.

Run: QT_QPA_PLATFORM=offscreen python examples/v2_streaming_pipeline.py
"""

from __future__ import annotations

import random
import sqlite3
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

MESSAGES = 2000


def kafka_consumer(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Messages from a (simulated) topic; every 10th one is malformed."""
    rng = random.Random(params.get("seed", 7))

    def messages() -> Iterator[dict[str, Any]]:
        for offset in range(params.get("messages", MESSAGES)):
            if offset % 10 == 9:
                yield {"offset": offset, "payload": None}  # malformed
            else:
                celsius = rng.uniform(-30, 60)
                yield {"offset": offset, "sensor": f"s{offset % 4}", "celsius": celsius}

    return messages()


def data_filter(params: dict[str, Any]) -> dict[str, Any] | None:
    message = params["input"]
    if "celsius" not in message or not -20 <= message["celsius"] <= 50:
        return None  # drop the item
    return {"filtered_data": message}


def data_transformer(params: dict[str, Any]) -> dict[str, Any]:
    message = params["input"]
    return {
        "transformed_data": {
            "offset": message["offset"],
            "sensor": message["sensor"],
            "kelvin": round(message["celsius"] + 273.15, 2),
        }
    }


class DatabaseWriter:
    """Inserts rows into SQLite; called from pool threads, hence the lock."""

    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute("CREATE TABLE readings (offset INTEGER, sensor TEXT, kelvin REAL)")
        self._lock = threading.Lock()

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        row = params["data"]
        with self._lock:
            self.db.execute(
                "INSERT INTO readings VALUES (?, ?, ?)",
                (row["offset"], row["sensor"], row["kelvin"]),
            )
        return {"written": row["offset"]}

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self.db.execute(sql))


class StreamingPipeline:
    def __init__(self, plugins: PluginManager) -> None:
        self.orchestrator = AdvancedPluginOrchestrator(plugin_manager=plugins)
        self.finished = False

    def setup_streaming_workflow(self) -> bool:
        # Connect to orchestrator signals
        self.orchestrator.node_completed.connect(self.on_node_completed)

        # Create streaming workflow
        workflow = PluginWorkflow()
        workflow.workflow_id = "real_time_processing"
        workflow.name = "Real-time Data Processing"
        workflow.execution_mode = WorkflowExecutionMode.Streaming

        # Data source node
        source = WorkflowNode()
        source.node_id = "data_source"
        source.plugin_id = "kafka_consumer"
        source.node_type = WorkflowNodeType.Source
        source.output_ports = ["raw_data"]

        # Processing nodes
        filter_node = WorkflowNode()
        filter_node.node_id = "filter"
        filter_node.plugin_id = "data_filter"
        filter_node.node_type = WorkflowNodeType.Processor
        filter_node.input_ports = ["input"]
        filter_node.output_ports = ["filtered_data"]

        transform = WorkflowNode()
        transform.node_id = "transform"
        transform.plugin_id = "data_transformer"
        transform.node_type = WorkflowNodeType.Processor
        transform.input_ports = ["input"]
        transform.output_ports = ["transformed_data"]

        # Sink node
        sink = WorkflowNode()
        sink.node_id = "output"
        sink.plugin_id = "database_writer"
        sink.node_type = WorkflowNodeType.Sink
        sink.input_ports = ["data"]

        workflow.nodes = [source, filter_node, transform, sink]

        # Create connections
        conn1 = WorkflowConnection()
        conn1.source_node = "data_source"
        conn1.source_port = "raw_data"
        conn1.target_node = "filter"
        conn1.target_port = "input"
        conn1.connection_type = ConnectionType.DataFlow

        conn2 = WorkflowConnection()
        conn2.source_node = "filter"
        conn2.source_port = "filtered_data"
        conn2.target_node = "transform"
        conn2.target_port = "input"
        conn2.connection_type = ConnectionType.DataFlow

        conn3 = WorkflowConnection()
        conn3.source_node = "transform"
        conn3.source_port = "transformed_data"
        conn3.target_node = "output"
        conn3.target_port = "data"
        conn3.connection_type = ConnectionType.DataFlow

        workflow.connections = [conn1, conn2, conn3]

        # Register workflow
        result = self.orchestrator.register_workflow(workflow)
        if not result:
            print("registration failed:", result.error())
        return bool(result)

    def start_processing(self) -> str | None:
        execution_id = self.orchestrator.execute_workflow("real_time_processing")
        if not execution_id:
            print("could not start:", execution_id.error())
            return None
        print(f"Started streaming pipeline: {execution_id.value()}")
        return execution_id.value()

    def on_node_completed(self, execution_id: str, node_id: str, result: dict[str, Any]) -> None:
        print(f"Node completed: {node_id} in execution: {execution_id} {result}")


def main() -> int:
    app = QCoreApplication.instance() or QCoreApplication(sys.argv)

    writer = DatabaseWriter()
    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin.from_callable("kafka_consumer", kafka_consumer))
    plugins.register_plugin(FunctionPlugin.from_callable("data_filter", data_filter))
    plugins.register_plugin(FunctionPlugin.from_callable("data_transformer", data_transformer))
    plugins.register_plugin(FunctionPlugin.from_callable("database_writer", writer))

    pipeline = StreamingPipeline(plugins)
    if not pipeline.setup_streaming_workflow():
        return 1
    execution_id = pipeline.start_processing()
    if execution_id is None:
        return 1
    orchestrator = pipeline.orchestrator
    if not orchestrator.wait_for_execution(execution_id, 10_000):
        print("the pipeline did not finish in time")
        orchestrator.shutdown()
        return 1

    status = orchestrator.get_execution_status(execution_id).value()
    print(f"Status: {status.status.name}")
    for node_id in ("data_source", "filter", "transform", "output"):
        node = orchestrator.get_node_status(execution_id, node_id).value()
        print(
            f"  {node_id:<12} in={node['items_in']:<5} out={node['items_out']:<5} "
            f"dropped={node['items_dropped']:<4} failed={node['items_failed']}"
        )
    (rows,) = writer.query("SELECT COUNT(*) FROM readings")[0]
    print(f"Rows in database: {rows}")
    for sensor, count, average in writer.query(
        "SELECT sensor, COUNT(*), ROUND(AVG(kelvin), 1) FROM readings GROUP BY sensor"
    ):
        print(f"  sensor {sensor}: {count} readings, average {average} K")
    dropped = orchestrator.get_node_status(execution_id, "filter").value()["items_dropped"]
    ok = status.status.name == "Completed" and rows + dropped == MESSAGES
    orchestrator.shutdown()
    del app
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
