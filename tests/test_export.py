"""Graph export (issue 13): Mermaid, DOT and networkx for both workflow kinds, with statuses."""

from __future__ import annotations

import json
from pathlib import Path

import networkx

from qtforge_orch import (
    PluginOrchestrator,
    PluginWorkflow,
    StepResult,
    StepStatus,
    Workflow,
    WorkflowExecutionContext,
    WorkflowExecutionStatus,
    WorkflowStep,
)

from .v2_helpers import fn

GOLDEN = Path(__file__).parent / "golden"


def v1() -> Workflow:
    workflow = Workflow("wf")
    workflow.add_step(WorkflowStep("load", "loader", "load"))
    workflow.add_step(WorkflowStep("check", "checker", dependencies=["load"], condition="n > 0"))
    workflow.add_step(WorkflowStep("save", "saver", dependencies=["check", "load"]))
    return workflow


def v2() -> PluginWorkflow:
    return PluginWorkflow.from_json(
        json.loads((GOLDEN / "v2_written_by_qtforge.json").read_text())
    ).value()


def test_v1_mermaid_and_dot() -> None:
    mermaid = v1().to_mermaid()
    assert mermaid.splitlines()[0] == "flowchart TD"
    assert '{"check<br/>checker"}' in mermaid  # a conditional step is a decision
    assert mermaid.count("-->") == 3
    dot = v1().to_dot()
    assert dot.startswith('digraph "wf" {') and dot.rstrip().endswith("}")
    assert '"load" -> "check";' in dot and '"load" -> "save";' in dot


def test_v2_exports_carry_ports_conditions_transformations_and_disabled_parts() -> None:
    mermaid = v2().to_mermaid()
    assert "raw_data -> input" in mermaid
    assert "= {'kept': value.filter(x, x > 1)}" in mermaid
    assert "-.->" in mermaid and "(disabled)" in mermaid
    dot = v2().to_dot()
    assert "style=dashed" in dot and 'label="Audit log\\naudit_writer\\n(disabled)"' in dot


def test_statuses_label_and_colour_nodes() -> None:
    results = [
        StepResult(step_id="load", status=StepStatus.Completed),
        StepResult(step_id="check", status=StepStatus.Failed),
    ]
    mermaid = v1().to_mermaid(results)
    assert "(completed)" in mermaid and "(failed)" in mermaid
    assert "classDef failed fill:#ef9a9a" in mermaid
    assert 'fillcolor="#a5d6a7"' in v1().to_dot({"load": "completed"})
    context = WorkflowExecutionContext(
        status=WorkflowExecutionStatus.Completed,
        node_states={"source": {"status": "completed"}, "audit": {"status": "skipped"}},
    )
    graph = v2().to_networkx(context)
    assert graph.nodes["source"]["status"] == "completed"
    assert graph.nodes["audit"]["status"] == "skipped"


def test_networkx_graphs() -> None:
    graph = v1().to_networkx()
    assert isinstance(graph, networkx.DiGraph)
    assert list(networkx.topological_sort(graph)) == ["load", "check", "save"]
    assert graph.nodes["check"]["condition"] == "n > 0"
    multi = v2().to_networkx()
    assert isinstance(multi, networkx.MultiDiGraph)
    assert multi.has_edge("filter", "sink", key="c2")
    assert multi.edges["filter", "audit", "c3"]["enabled"] is False


def test_status_of_a_real_execution(orchestrator: PluginOrchestrator, plugins: object) -> None:
    for plugin_id in ("loader", "checker", "saver"):
        fn(plugins, plugin_id, lambda params: {"n": 0})  # type: ignore[arg-type]
    workflow = v1()
    for step in workflow.steps():
        step.method_name = "execute"
    assert orchestrator.register_workflow(workflow)
    execution = orchestrator.execute_workflow("wf")
    status = orchestrator.get_execution_status(execution.value())
    dot = workflow.to_dot(status)
    assert "(completed)" in dot and "(skipped)" in dot
