"""The reference's "Event-Driven Workflow", runnable: the built-in ``file_system_monitor`` watches
a temporary folder, each new ``*.csv`` file runs the graph once, and a Decision node routes it
through Control connections ("file_valid == true" / "file_valid == false").

The script writes a few files itself once the execution is running, lets the events run,
prints the results, then cancels the execution and exits.

Run: QT_QPA_PLATFORM=offscreen python examples/v2_event_driven.py
"""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

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

FILES = {
    "orders.csv": "id,amount\n1,9.50\n2,12.00\n3,7.25\n",
    "broken.csv": "this file has no header row\n",
    "readme.txt": "not a csv: the watcher's file_pattern ignores it\n",
}
EXPECTED_EVENTS = 2  # the two .csv files
DEADLINE_MS = 4000


def file_validator(params: dict[str, Any]) -> dict[str, Any]:
    """Valid: a header with an ``id`` column and at least one row."""
    with open(params["path"], newline="") as handle:
        rows = list(csv.reader(handle))
    valid = len(rows) >= 2 and "id" in rows[0]
    return {"file_valid": valid, "path": params["path"], "file_name": params["file_name"]}


def csv_processor(params: dict[str, Any]) -> dict[str, Any]:
    with open(params["path"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    total = sum(float(row["amount"]) for row in rows)
    return {"file_name": params["file_name"], "rows": len(rows), "total": total}


def error_handler(params: dict[str, Any]) -> dict[str, Any]:
    return {"file_name": params["file_name"], "quarantined": True}


def build_workflow(watch_path: str) -> PluginWorkflow:
    # Create event-driven workflow
    event_workflow = PluginWorkflow()
    event_workflow.workflow_id = "event_driven_automation"
    event_workflow.execution_mode = WorkflowExecutionMode.EventDriven

    # Event trigger node
    trigger = WorkflowNode()
    trigger.node_id = "file_watcher"
    trigger.plugin_id = "file_system_monitor"
    trigger.node_type = WorkflowNodeType.Source
    trigger.configuration = {"watch_path": watch_path, "file_pattern": "*.csv"}

    # Decision node
    decision = WorkflowNode()
    decision.node_id = "file_validator"
    decision.plugin_id = "file_validator"
    decision.node_type = WorkflowNodeType.Decision

    # Processing branches
    process_valid = WorkflowNode()
    process_valid.node_id = "process_valid_file"
    process_valid.plugin_id = "csv_processor"
    process_valid.node_type = WorkflowNodeType.Processor

    handle_invalid = WorkflowNode()
    handle_invalid.node_id = "handle_invalid_file"
    handle_invalid.plugin_id = "error_handler"
    handle_invalid.node_type = WorkflowNodeType.Processor

    event_workflow.nodes = [trigger, decision, process_valid, handle_invalid]

    # Add conditional connections
    valid_conn = WorkflowConnection()
    valid_conn.source_node = "file_validator"
    valid_conn.target_node = "process_valid_file"
    valid_conn.connection_type = ConnectionType.Control
    valid_conn.properties = {"condition": "file_valid == true"}

    invalid_conn = WorkflowConnection()
    invalid_conn.source_node = "file_validator"
    invalid_conn.target_node = "handle_invalid_file"
    invalid_conn.connection_type = ConnectionType.Control
    invalid_conn.properties = {"condition": "file_valid == false"}

    event_workflow.connections = [valid_conn, invalid_conn]
    return event_workflow


def main() -> int:
    app = QCoreApplication.instance() or QCoreApplication(sys.argv)

    plugins = PluginManager()  # file_system_monitor is built in
    plugins.register_plugin(FunctionPlugin.from_callable("file_validator", file_validator))
    plugins.register_plugin(FunctionPlugin.from_callable("csv_processor", csv_processor))
    plugins.register_plugin(FunctionPlugin.from_callable("error_handler", error_handler))
    orchestrator = AdvancedPluginOrchestrator(plugin_manager=plugins)

    # A local event loop: quitting the application itself would end the orchestrator's
    # executions too (it follows QCoreApplication.aboutToQuit).
    loop = QEventLoop()
    results: list[tuple[str, dict[str, Any]]] = []
    execution_id = ""

    def check_done() -> None:
        data = orchestrator.get_execution_status(execution_id).value().execution_data
        if data["events_completed"] + data["events_failed"] >= EXPECTED_EVENTS:
            loop.quit()
        else:
            QTimer.singleShot(10, check_done)

    def on_node_completed(execution_id: str, node_id: str, result: dict[str, Any]) -> None:
        if node_id == "file_watcher":
            print(f"Event: new file {result['file_name']}")
        elif node_id in ("process_valid_file", "handle_invalid_file"):
            results.append((node_id, result))
            print(f"Node completed: {node_id} {result}")
            if len(results) == EXPECTED_EVENTS:
                # let the event passes finish, then stop the loop
                QTimer.singleShot(0, check_done)

    def on_node_failed(execution_id: str, node_id: str, error: str) -> None:
        print(f"Node failed: {node_id}: {error}")

    orchestrator.node_completed.connect(on_node_completed)
    orchestrator.node_failed.connect(on_node_failed)
    orchestrator.workflow_cancelled.connect(lambda e: print(f"Execution cancelled: {e}"))

    with tempfile.TemporaryDirectory(prefix="qtforge_incoming_") as folder:
        registered = orchestrator.register_workflow(build_workflow(folder))
        if not registered:
            print("registration failed:", registered.error())
            return 1
        execution = orchestrator.execute_workflow("event_driven_automation")
        if not execution:
            print("could not start:", execution.error())
            return 1
        execution_id = execution.value()
        print(f"Watching {folder} for *.csv files (execution {execution_id})")

        def drop_files() -> None:
            for name, text in FILES.items():
                Path(folder, name).write_text(text)
                print(f"Wrote {name}")

        timed_out: list[bool] = []
        QTimer.singleShot(0, drop_files)
        QTimer.singleShot(DEADLINE_MS, lambda: (timed_out.append(True), loop.quit()))
        loop.exec()

        status = orchestrator.get_execution_status(execution_id).value()
        data = status.execution_data
        print(
            f"Status while running: {status.status.name}; events received "
            f"{data['events_received']}, completed {data['events_completed']}, "
            f"failed {data['events_failed']}"
        )
        for node_id in (
            "file_watcher",
            "file_validator",
            "process_valid_file",
            "handle_invalid_file",
        ):
            runs = orchestrator.get_node_status(execution_id, node_id).value()["runs"]
            print(f"  {node_id}: ran {runs} time(s)")

        orchestrator.cancel_execution(execution_id)
        orchestrator.wait_for_execution(execution_id, 5000)
        final = orchestrator.get_execution_status(execution_id).value().status.name
        print(f"Final status: {final}")
    orchestrator.shutdown()

    processed = dict(results)
    ok = (
        not timed_out
        and processed.get("process_valid_file", {}).get("rows") == 3
        and processed.get("handle_invalid_file", {}).get("quarantined") is True
        and final == "Cancelled"
    )
    if timed_out:
        print("timed out waiting for file events")
    del app
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
