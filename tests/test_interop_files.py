"""File compatibility with QtForge (issue 13): golden files built by hand from the C++ code.

``tests/golden/*_written_by_qtforge.json`` are what QtForge's ``to_json`` writes (keys sorted,
as QJsonDocument writes them); ``tests/qtforge_cpp.py`` is QtForge's ``from_json`` ported, to
check that what ``to_json`` writes here is what QtForge reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import (
    ExecutionMode,
    PluginErrorCode,
    PluginWorkflow,
    Workflow,
    WorkflowConnection,
    WorkflowExecutionMode,
    WorkflowNode,
    WorkflowStep,
)

from . import qtforge_cpp as cpp

GOLDEN = Path(__file__).parent / "golden"
Code = PluginErrorCode


def golden(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text())


def qtforge_workflow() -> Workflow:
    """The workflow ``v1_written_by_qtforge.json`` describes, built in Python."""
    workflow = Workflow("data_processing", "Data Processing Pipeline")
    workflow.set_description("Complete data processing pipeline").set_execution_mode("Parallel")
    workflow.set_timeout(120000)
    workflow.add_step(
        WorkflowStep("load", "data_loader", "load_csv", parameters={"file_path": "/data/input.csv"})
    )
    workflow.add_step(
        WorkflowStep(
            "validate",
            "data_validator",
            "validate",
            name="Validate",
            description="Check the rows",
            dependencies=["load"],
            max_retries=2,
            retry_delay=50,
            critical=False,
            metadata={"tags": ["qa"]},
        )
    )
    workflow.add_step(
        WorkflowStep(
            "save",
            "data_saver",
            "save_csv",
            dependencies=["validate"],
            timeout=1234,
            parameters={"output_path": "/data/output.csv"},
        )
    )
    workflow.add_rollback_step("load", WorkflowStep(plugin_id="data_loader", method_name="unload"))
    return workflow


# --------------------------------------------------------------------------------------------
# v1


def test_v1_reads_what_qtforge_writes() -> None:
    loaded = Workflow.from_json(golden("v1_written_by_qtforge.json"))
    assert loaded, loaded.error()
    workflow = loaded.value()
    assert workflow.execution_mode() is ExecutionMode.Parallel
    assert workflow.timeout() == 120000
    assert {step.id for step in workflow.steps()} == {"load", "validate", "save"}
    assert workflow.get_step("validate") == qtforge_workflow().get_step("validate")
    assert workflow.rollback_steps() == qtforge_workflow().rollback_steps()
    assert workflow.validate()
    assert workflow.get_execution_order() == ["load", "validate", "save"]


def test_v1_writes_what_qtforge_reads() -> None:
    """QtForge reading our file gets exactly what QtForge reading its own file gets."""
    ours = qtforge_workflow().to_json()
    assert cpp.v1_workflow_from_json(ours) == cpp.v1_workflow_from_json(
        golden("v1_written_by_qtforge.json")
    )


def test_v1_qtforge_file_round_trips_through_both() -> None:
    document = golden("v1_written_by_qtforge.json")
    once = Workflow.from_json(document).value().to_json()
    assert cpp.v1_workflow_from_json(once) == cpp.v1_workflow_from_json(document)
    assert Workflow.from_json(once).value().to_json() == once


def test_v1_written_here_golden() -> None:
    """The exact document written here (format version 2), frozen."""
    workflow = qtforge_workflow()
    workflow.get_step("validate").condition = "row_count > 0"  # type: ignore[union-attr]
    workflow.set_global_condition("dry_run == false")
    assert workflow.to_json() == golden("v1_written_here.json")


def test_v1_fields_qtforge_cannot_hold_survive_our_round_trip() -> None:
    workflow = qtforge_workflow().set_global_condition("x == 1")
    workflow.add_rollback_step("save", WorkflowStep("undo", "p", "undo", max_retries=3))
    data = workflow.to_json()
    assert data["rollback_steps"]["save"] == {
        "id": "undo",
        "plugin_id": "p",
        "method_name": "undo",
        "parameters": {},
        "max_retries": 3,
    }
    assert Workflow.from_json(data).value() == workflow


def test_v1_unknown_keys_are_ignored_like_cpp_but_near_misses_are_reported() -> None:
    document = golden("v1_written_by_qtforge.json")
    document["editor_layout"] = {"zoom": 2}
    document["steps"]["load"]["x_color"] = "red"
    assert Workflow.from_json(document)
    document["step"] = {}
    result = Workflow.from_json(document)
    assert not result and "did you mean 'steps'" in result.error().message


def test_v1_format_1_files_still_load() -> None:
    """Files written by qtforge_orch 0.1: step array, mode name, no timeout meant none."""
    loaded = Workflow.from_json(golden("v1_format1_qtforge_orch_0_1.json"))
    assert loaded, loaded.error()
    workflow = loaded.value()
    assert workflow.execution_mode() is ExecutionMode.Pipeline
    assert workflow.timeout() is None
    assert [step.id for step in workflow.steps()] == ["a", "b"]
    assert workflow.get_step("a").condition == "k == 1"  # type: ignore[union-attr]
    assert workflow.rollback_steps()["a"].max_retries == 1
    upgraded = workflow.to_json()
    assert upgraded["format_version"] == 2 and upgraded["timeout"] is None
    assert Workflow.from_json(upgraded).value() == workflow


@pytest.mark.parametrize(
    ("document", "timeout"),
    [
        ({"id": "w"}, None),  # format 1, hand-written: no limit
        ({"id": "w", "execution_mode": 0}, 300000),  # QtForge's shape: its default
        ({"id": "w", "steps": {}}, 300000),
        ({"id": "w", "format_version": 2}, 300000),
        ({"id": "w", "format_version": 2, "timeout": None}, None),
    ],
)
def test_v1_missing_timeout_by_version(document: dict[str, Any], timeout: int | None) -> None:
    assert Workflow.from_json(document).value().timeout() == timeout


@pytest.mark.parametrize("version", [3, 0, "2", True, None])
def test_v1_bad_or_newer_format_version(version: Any) -> None:
    result = Workflow.from_json({"id": "w", "format_version": version})
    assert not result and result.error().code == Code.InvalidConfiguration
    assert "format_version" in result.error().message


# --------------------------------------------------------------------------------------------
# v2


def test_v2_reads_what_qtforge_writes() -> None:
    loaded = PluginWorkflow.from_json(golden("v2_written_by_qtforge.json"))
    assert loaded, loaded.error()
    workflow = loaded.value()
    assert workflow.execution_mode is WorkflowExecutionMode.Parallel
    source, _, _, audit = workflow.nodes
    assert source.name == source.display_name == "Data source"
    assert source.ui_properties == source.position == {"x": 0, "y": 0}
    assert audit.enabled is False
    first, second, third = workflow.connections
    assert (first.source_node, first.target_node) == ("source", "filter")
    assert first.source_node_id == "source" and first.target_node_id == "filter"
    assert second.data_transformation == {"expression": "{'kept': value.filter(x, x > 1)}"}
    assert third.enabled is False
    assert workflow.validate(), workflow.validate().error()
    assert workflow.get_execution_order() == ["source", "filter", "sink", "audit"]


def test_v2_writes_what_qtforge_reads() -> None:
    document = golden("v2_written_by_qtforge.json")
    ours = PluginWorkflow.from_json(document).value().to_json()
    assert ours["execution_mode"] == 1
    assert cpp.v2_workflow_from_json(ours) == cpp.v2_workflow_from_json(document)
    assert PluginWorkflow.from_json(ours).value().to_json() == ours


def test_v2_written_here_golden() -> None:
    workflow = PluginWorkflow.from_json(golden("v2_written_by_qtforge.json")).value()
    assert workflow.to_json() == golden("v2_written_here.json")


def _reference_spelling(document: dict[str, Any]) -> dict[str, Any]:
    renamed = json.loads(json.dumps(document))
    for node in renamed["nodes"]:
        node["name"] = node.pop("display_name")
        node["ui_properties"] = node.pop("position")
    for connection in renamed["connections"]:
        connection["source_node"] = connection.pop("source_node_id")
        connection["target_node"] = connection.pop("target_node_id")
    renamed["execution_mode"] = "Parallel"
    return renamed


def test_v2_both_spellings_load_the_same_workflow() -> None:
    header = golden("v2_written_by_qtforge.json")
    by_header = PluginWorkflow.from_json(header).value()
    by_reference = PluginWorkflow.from_json(_reference_spelling(header)).value()
    assert by_header == by_reference
    # Both spellings at once must agree.
    both = {**header, "nodes": [{**header["nodes"][0], "name": "Data source"}]}
    assert PluginWorkflow.from_json(both)
    clash = {**header, "nodes": [{**header["nodes"][0], "name": "Other"}]}
    result = PluginWorkflow.from_json(clash)
    assert not result and result.error().code == Code.InvalidWorkflowStructure
    assert "display_name" in result.error().message


def test_v2_python_accepts_both_spellings() -> None:
    node = WorkflowNode(node_id="n", display_name="Shown", position={"x": 1})
    assert (node.name, node.ui_properties) == ("Shown", {"x": 1})
    node.display_name = "Renamed"
    assert node.name == "Renamed"
    connection = WorkflowConnection(source_node_id="a", target_node_id="b")
    assert (connection.source_node, connection.target_node) == ("a", "b")
    connection.target_node_id = "c"
    assert connection.target_node == "c"
    assert WorkflowConnection(data_transformation="value + 1").data_transformation == {
        "expression": "value + 1"
    }


def test_v2_format_1_files_still_load() -> None:
    loaded = PluginWorkflow.from_json(golden("v2_format1_qtforge_orch_0_1.json"))
    assert loaded, loaded.error()
    workflow = loaded.value()
    assert workflow.execution_mode is WorkflowExecutionMode.Conditional
    assert workflow.nodes[0].name == "Check" and workflow.nodes[0].ui_properties == {"x": 1}
    assert workflow.connections[0].properties == {"condition": "valid == true"}
    upgraded = workflow.to_json()
    assert upgraded["format_version"] == 2
    assert PluginWorkflow.from_json(upgraded).value() == workflow


@pytest.mark.parametrize("version", [3, 0, "x"])
def test_v2_bad_or_newer_format_version(version: Any) -> None:
    result = PluginWorkflow.from_json({"workflow_id": "w", "format_version": version})
    assert not result and result.error().code == Code.InvalidWorkflowStructure
    assert "format_version" in result.error().message


def test_v2_validate_is_an_instance_method_returning_expected() -> None:
    workflow = PluginWorkflow(workflow_id="w")
    result = workflow.validate()
    assert not result and result.error().code == Code.InvalidWorkflowStructure
    workflow.nodes.append(WorkflowNode(node_id="a", plugin_id="p"))
    assert workflow.validate()
