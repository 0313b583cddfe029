"""The reference's "Python Bindings" snippet, run as written (with ``qtforge_orch`` as
``qtforge``).

The snippet builds its orchestrator without arguments, so it uses the process-wide plugin
manager; the setup below puts a ``data_source`` plugin there first. After the snippet, the
script waits for the execution and prints what happened.

Run: QT_QPA_PLATFORM=offscreen python examples/reference_python_snippet.py
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import QCoreApplication

import qtforge_orch as qtforge


def data_source(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A streaming source: five sensor readings."""
    return ({"sensor": "s1", "reading": i * 1.5} for i in range(5))


def main() -> int:
    app = QCoreApplication.instance() or QCoreApplication(sys.argv)

    # --- setup: a plugin manager holding a data_source plugin (the default manager, which
    # an orchestrator built without arguments uses)
    plugins = qtforge.default_plugin_manager()
    if plugins.get_plugin("data_source"):
        plugins.unregister_plugin("data_source")
    plugins.register_plugin(qtforge.FunctionPlugin.from_callable("data_source", data_source))

    # --- the reference's snippet, as written ---------------------------------------------
    # Create advanced orchestrator
    orchestrator = qtforge.orchestration.AdvancedPluginOrchestrator()

    # Create workflow with visual nodes
    workflow = qtforge.orchestration.PluginWorkflow()
    workflow.workflow_id = "python_pipeline"
    workflow.execution_mode = qtforge.orchestration.WorkflowExecutionMode.Streaming

    # Add nodes
    source_node = qtforge.orchestration.WorkflowNode()
    source_node.node_id = "source"
    source_node.plugin_id = "data_source"
    source_node.node_type = qtforge.orchestration.WorkflowNodeType.Source

    workflow.nodes.append(source_node)

    # Register and execute
    orchestrator.register_workflow(workflow)
    execution_id = orchestrator.execute_workflow("python_pipeline")
    # --- end of the snippet ----------------------------------------------------------------

    print(f"Registered workflows: {orchestrator.get_registered_workflows()}")
    if not execution_id:
        print("execute_workflow failed:", execution_id.error())
        return 1
    print(f"Execution started: {execution_id.value()}")
    if not orchestrator.wait_for_execution(execution_id.value(), 5000):
        print("the execution did not finish in time")
        orchestrator.shutdown()
        return 1
    status = orchestrator.get_execution_status(execution_id.value()).value()
    source = orchestrator.get_node_status(execution_id.value(), "source").value()
    print(f"Status: {status.status.name}")
    print(f"Source node: {source['status']}, items produced: {source['items_out']}")
    ok = status.status.name == "Completed" and source["items_out"] == 5
    orchestrator.shutdown()
    del app
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
