"""B16, ours v1: import, register and run a 10-step Sequential chain, then exit."""

from __future__ import annotations

import sys
from typing import Any

from qtforge_orch import (
    ExecutionMode,
    FunctionPlugin,
    PluginManager,
    PluginOrchestrator,
    Workflow,
    WorkflowStep,
)

STEPS = 10


def noop(params: Any = None, *_: Any) -> dict[str, Any]:
    return {}


def main() -> int:
    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin.from_callable("noop", noop))
    orchestrator = PluginOrchestrator(plugin_manager=plugins)
    workflow = Workflow("cold", "cold")
    workflow.set_execution_mode(ExecutionMode.Sequential)
    for index in range(STEPS):
        step = WorkflowStep(f"s{index}", "noop", "execute")
        if index:
            step.dependencies = [f"s{index - 1}"]
        workflow.add_step(step)
    if not orchestrator.register_workflow(workflow):
        return 1
    ok = bool(orchestrator.execute_workflow("cold"))
    orchestrator.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
