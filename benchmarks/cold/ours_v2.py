"""B16, ours v2: import, register and run a 10-node Sequential chain, then exit."""

from __future__ import annotations

import sys
from typing import Any

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    FunctionPlugin,
    PluginManager,
    PluginWorkflow,
    WorkflowConnection,
    WorkflowExecutionMode,
    WorkflowExecutionStatus,
    WorkflowNode,
)

STEPS = 10


def noop(params: Any = None, *_: Any) -> dict[str, Any]:
    return {}


def main() -> int:
    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin.from_callable("noop", noop))
    orchestrator = AdvancedPluginOrchestrator(plugin_manager=plugins)
    workflow = PluginWorkflow(
        workflow_id="cold",
        execution_mode=WorkflowExecutionMode.Sequential,
        nodes=[WorkflowNode(node_id=f"s{index}", plugin_id="noop") for index in range(STEPS)],
        connections=[
            WorkflowConnection(source_node=f"s{index - 1}", target_node=f"s{index}")
            for index in range(1, STEPS)
        ],
    )
    if not orchestrator.register_workflow(workflow):
        return 1
    execution = orchestrator.execute_workflow("cold")
    if not execution or not orchestrator.wait_for_execution(execution.value(), 60_000):
        return 1
    status = orchestrator.get_execution_status(execution.value())
    ok = bool(status) and status.value().status == WorkflowExecutionStatus.Completed
    orchestrator.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
