"""B18: a nested one-step workflow against one plain step (issue #20).

Two workflows per orchestrator over one plugin manager: ``plain`` has one no-op step (node);
``nested`` has one step (node) whose plugin is ``orchestrator.as_plugin("leaf")``, a registered
one-step workflow of the same no-op. Each sample is a batch of whole executions (synchronous
``execute_workflow`` in the GUI thread; v2 also waits with ``wait_for_execution``), timed
interleaved; the figure is the nested/plain ratio of the wall time per execution.
"""

from __future__ import annotations

from typing import Any

from ._common import Context, Figure, checked, interleaved, noop, plugins_with

TARGET_RATIO = 2.0
BATCH = 200


def _v1(workflow_id: str, plugin_id: str) -> Any:
    from qtforge_orch import Workflow, WorkflowStep

    return Workflow(workflow_id).add_step(WorkflowStep("s", plugin_id, "execute"))


def _v2(workflow_id: str, plugin_id: str) -> Any:
    from qtforge_orch import PluginWorkflow, WorkflowNode

    workflow = PluginWorkflow(workflow_id=workflow_id)
    workflow.nodes.append(WorkflowNode(node_id="n", plugin_id=plugin_id))
    return workflow


def _figure(kind: str, per_run: dict[str, float], reps: int, extra: dict[str, Any]) -> Figure:
    ratio = per_run["nested"] / per_run["plain"]
    return Figure(
        f"B18.{kind}",
        f"B18 {kind}: one nested one-step workflow vs one plain step, per execution",
        "us/execution",
        per_run["nested"],
        peer=per_run["plain"],
        peer_name="one plain step",
        ratio=ratio,
        ratio_of="nested/plain",
        target=f"<= {TARGET_RATIO}",
        met=ratio <= TARGET_RATIO,
        method=(
            f"median of {reps} interleaved samples after 1 warm-up each, a sample being "
            f"{BATCH} synchronous executions in the GUI thread (v2: execute_workflow then "
            "wait_for_execution); the nested step's plugin is as_plugin of a one-step "
            "workflow of the same no-op"
        ),
        extra=extra,
    )


def b18_nested(ctx: Context) -> list[Figure]:
    from qtforge_orch import AdvancedPluginOrchestrator, PluginOrchestrator

    plugins = plugins_with(noop=noop)
    v1 = PluginOrchestrator(plugin_manager=plugins)
    v2 = AdvancedPluginOrchestrator(plugin_manager=plugins)
    figures: list[Figure] = []
    reps = ctx.reps(9, 3)
    try:
        for kind, orchestrator, build in (("v1", v1, _v1), ("v2", v2, _v2)):
            checked(orchestrator.register_workflow(build("leaf", "noop")), "register leaf")
            plugin = checked(orchestrator.as_plugin("leaf", f"{kind}:leaf"), "as_plugin")
            checked(plugins.register_plugin(plugin), "register plugin")
            checked(orchestrator.register_workflow(build("plain", "noop")), "register plain")
            checked(orchestrator.register_workflow(build("nested", plugin.id())), "register")

            def batch(workflow_id: str, orchestrator: Any = orchestrator, kind: str = kind) -> bool:
                for _ in range(BATCH):
                    execution = orchestrator.execute_workflow(workflow_id)
                    if not execution:
                        return False
                    if kind == "v2":
                        orchestrator.wait_for_execution(execution.value(), 10_000)
                return True

            times = interleaved(
                {"plain": lambda: batch("plain"), "nested": lambda: batch("nested")}, reps
            )
            per_run = {name: s.median / BATCH * 1e6 for name, s in times.items()}
            # Process CPU (all threads) per execution: steadier than wall on a shared machine.
            cpu = {name: s.cpu_median / BATCH * 1e6 for name, s in times.items()}
            extra = {name: s.to_json() for name, s in times.items()} | {
                "per_run_us": per_run,
                "cpu_per_run_us": cpu,
                "cpu_ratio": cpu["nested"] / cpu["plain"],
            }
            figures.append(_figure(kind, per_run, reps, extra))
    finally:
        v1.shutdown()
        v2.shutdown()
    return figures
