"""AdvancedPluginOrchestrator.create_workflow_from_composition: a valid PluginWorkflow per
strategy, whose run gives what CompositePlugin.execute_command gives on the same input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    CompositePlugin,
    CompositionBinding,
    CompositionStrategy,
    ConnectionType,
    FunctionPlugin,
    PluginComposition,
    PluginErrorCode,
    PluginManager,
    PluginWorkflow,
    WorkflowExecutionMode,
    WorkflowExecutionStatus,
    WorkflowNodeType,
)
from qtforge_orch.composition.workflow_builder import build_workflow_document

from .composition_helpers import register
from .composition_scenarios import SCENARIOS
from .v2_helpers import run_to_end

Code = PluginErrorCode
S = CompositionStrategy


def code_of(result: Any) -> PluginErrorCode:
    assert not result, f"expected an error, got {result!r}"
    return result.error().code  # type: ignore[no-any-return]


def built(
    advanced: AdvancedPluginOrchestrator, composition: PluginComposition, command: str
) -> PluginWorkflow:
    result = advanced.create_workflow_from_composition(composition, command=command)
    assert result, result.error() if not result else ""
    workflow = result.value()
    assert workflow.validate(), workflow.validate().error()
    return workflow


@pytest.mark.parametrize("strategy", list(CompositionStrategy), ids=lambda s: s.name)
def test_the_workflow_gives_what_the_composite_gives(
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    tmp_path: Path,
    strategy: CompositionStrategy,
) -> None:
    scenario = SCENARIOS[strategy]
    composition = scenario.build(plugins, tmp_path)
    composite = CompositePlugin(composition, plugins)
    register(plugins, composite)
    workflow = built(advanced, composition, scenario.command)
    result_node = workflow.metadata["composition"]["result_node"]
    assert workflow.metadata["composition"] == {
        "id": composition.id(),
        "strategy": strategy.name,
        "command": scenario.command,
        "result_node": result_node,
    }
    assert advanced.register_workflow(workflow)
    for params in scenario.inputs(tmp_path):
        expected = composite.execute_command(scenario.command, params)
        assert expected, expected.error() if not expected else ""
        _, status = run_to_end(advanced, workflow.workflow_id, params)
        assert status.status is WorkflowExecutionStatus.Completed, status.error_messages
        assert status.execution_data["result"] == {result_node: expected.value()}
    for params, code, phrase in scenario.failing(tmp_path):
        refused = composite.execute_command(scenario.command, params)
        assert code_of(refused) is code and phrase in refused.error().message
        _, status = run_to_end(advanced, workflow.workflow_id, params)
        assert status.status is WorkflowExecutionStatus.Failed
        assert any(phrase in message for message in status.error_messages), status.error_messages


def test_a_pipeline_is_a_chain_along_its_bindings(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, tmp_path: Path
) -> None:
    workflow = built(advanced, SCENARIOS[S.Pipeline].build(plugins, tmp_path), "process")
    assert workflow.execution_mode is WorkflowExecutionMode.Sequential
    assert [n.node_id for n in workflow.nodes] == [
        "csv_reader",
        "data_cleaner",
        "data_transformer",
        "data_validator",
        "json_writer",
    ]
    assert all(n.configuration == {"method": "process"} for n in workflow.nodes)
    edges = [
        (c.source_node, c.source_port, c.target_node, c.target_port) for c in workflow.connections
    ]
    assert edges == [
        ("csv_reader", "data", "data_cleaner", "input"),
        ("data_cleaner", "cleaned_data", "data_transformer", "input"),
        ("data_transformer", "transformed_data", "data_validator", "input"),
        ("data_validator", "validated_data", "json_writer", "input"),
        ("csv_reader", "output_file", "json_writer", "output_file"),  # the parameter mapping
    ]
    reader = workflow.nodes[0]
    assert reader.output_ports == ["data", "output_file"] and workflow.nodes[4].input_ports == [
        "input",
        "output_file",
    ]
    assert workflow.metadata["composition"]["result_node"] == "json_writer"


def test_a_cel_transformer_becomes_the_connections_data_transformation(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    register(
        plugins,
        FunctionPlugin("a", run=lambda p: {"xs": [1, 2]}),
        FunctionPlugin("b", run=lambda p: dict(p)),
    )
    composition = PluginComposition("t").set_strategy("Pipeline").add_plugin("a").add_plugin("b")
    composition.add_binding(
        CompositionBinding("a", "xs", "b", "ys", transformer="value.map(x, x + 1)")
    )
    workflow = built(advanced, composition, "run")
    assert workflow.connections[0].data_transformation == {"expression": "value.map(x, x + 1)"}
    assert advanced.register_workflow(workflow)
    _, status = run_to_end(advanced, "t")
    assert status.execution_data["result"] == {"b": {"ys": [2, 3]}}


def test_an_aggregation_fans_out_into_an_aggregator(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, tmp_path: Path
) -> None:
    workflow = built(advanced, SCENARIOS[S.Aggregation].build(plugins, tmp_path), "get_status")
    assert workflow.execution_mode is WorkflowExecutionMode.Conditional
    monitors = ["cpu_monitor", "memory_monitor", "disk_monitor", "network_monitor"]
    tags = [f"system_monitor.tag.{m}" for m in monitors]
    assert [n.node_id for n in workflow.nodes] == [
        "system_monitor.input",
        *monitors,
        "system_monitor.aggregate",
        *tags,
    ]
    assert "logger" not in {n.plugin_id for n in workflow.nodes}  # it has no get_status
    assert all(n.configuration.get("critical") is False for n in workflow.nodes[1:5])
    collector = workflow.nodes[5]
    assert collector.node_type is WorkflowNodeType.Aggregator
    assert collector.plugin_id == "qtforge_orch.composition"
    assert collector.input_ports == ["items"]
    into = [c.source_node for c in workflow.connections if c.target_node == collector.node_id]
    assert into == ["system_monitor.input", *tags]  # the input first: the list's order
    assert {(c.source_node, c.target_node) for c in workflow.connections} >= {
        ("system_monitor.input", m) for m in monitors
    } | {(m, t) for m, t in zip(monitors, tags, strict=True)}


def test_a_facade_is_a_decision_that_routes_by_command(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, tmp_path: Path
) -> None:
    composition = SCENARIOS[S.Facade].build(plugins, tmp_path)
    workflow = built(advanced, composition, "process")
    route = workflow.nodes[0]
    assert route.node_type is WorkflowNodeType.Decision and route.output_ports == ["params"]
    control = [c for c in workflow.connections if c.connection_type is ConnectionType.Control]
    assert [(c.target_node, c.properties["condition"]) for c in control] == [
        ("image_processor", 'route == "image_processor"'),
        ("video_processor", 'route == "video_processor"'),
        ("audio_processor", 'route == "audio_processor"'),
    ]
    # The only component with extract_metadata is the one branch of that command's workflow.
    other = built(advanced, composition, "extract_metadata")
    assert [n.node_id for n in other.nodes] == ["media_facade.route", "metadata_extractor"]


def test_the_helper_plugin_is_registered_once(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, tmp_path: Path
) -> None:
    composition = SCENARIOS[S.Aggregation].build(plugins, tmp_path)
    assert not plugins.has_plugin("qtforge_orch.composition")
    built(advanced, composition, "get_status")
    helper = plugins.get_plugin("qtforge_orch.composition").value()
    built(advanced, composition, "get_status")
    assert plugins.get_plugin("qtforge_orch.composition").value() is helper


def test_the_built_workflow_is_plain_data(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, tmp_path: Path
) -> None:
    workflow = built(advanced, SCENARIOS[S.Facade].build(plugins, tmp_path), "process")
    assert PluginWorkflow.from_json(workflow.to_json()).value() == workflow


def test_the_header_call_with_one_argument_builds_the_execute_command(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    register(plugins, FunctionPlugin("only", execute=lambda p: {"ok": True}))
    workflow = advanced.create_workflow_from_composition(
        PluginComposition("one").add_plugin("only")
    ).value()
    assert workflow.metadata["composition"]["command"] == "execute"


@pytest.mark.parametrize(
    ("make", "command", "code", "text"),
    [
        (lambda: "not a composition", "run", Code.InvalidArgument, "needs a PluginComposition"),
        (
            lambda: PluginComposition(""),
            "run",
            Code.InvalidConfiguration,
            "Composition ID cannot be empty",
        ),
        (
            lambda: PluginComposition("c").add_plugin("ghost"),
            "run",
            Code.PluginNotFound,
            "component 'ghost'",
        ),
        (
            lambda: PluginComposition("c").add_plugin("a"),
            "fly",
            Code.CommandNotFound,
            "pass command= one of run",
        ),
        (
            lambda: PluginComposition("c").add_plugin("a"),
            "",
            Code.InvalidArgument,
            "non-empty string",
        ),
        (
            lambda: (
                PluginComposition("c")
                .set_strategy("Pipeline")
                .add_plugin("a")
                .add_plugin("b")
                .add_binding(CompositionBinding("a", "x", "b", "y", transformer=lambda v: v))
            ),
            "run",
            Code.NotSupported,
            "write it as a CEL expression",
        ),
        (
            lambda: (
                PluginComposition("c")
                .set_strategy("Proxy")
                .add_plugin("a")
                .set_configuration({"allowed_commands": ["walk"]})
            ),
            "run",
            Code.PermissionDenied,
            "does not allow command 'run'",
        ),
        (
            lambda: (
                PluginComposition("c")
                .set_strategy("Adapter")
                .add_plugin("a")
                .set_configuration({"command_map": {"go": "run"}})
            ),
            "run",
            Code.CommandNotFound,
            "exposed as 'go'",
        ),
        (
            lambda: (
                PluginComposition("c")
                .set_strategy("Decorator")
                .set_primary_plugin("a")
                .add_plugin("b", "Decorator")
            ),
            "run",
            Code.InvalidConfiguration,
            "offers neither 'before' nor 'after'",
        ),
        (
            lambda: PluginComposition("c").set_strategy("Bridge").add_plugin("b"),
            "go",
            Code.CommandNotFound,
            "has no command 'go'",
        ),
    ],
)
def test_what_cannot_be_built_is_a_clear_error(
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    make: Any,
    command: str,
    code: PluginErrorCode,
    text: str,
) -> None:
    register(plugins, FunctionPlugin("a", run=lambda p: {}), FunctionPlugin("b", run=lambda p: {}))
    result = advanced.create_workflow_from_composition(make(), command=command)
    assert code_of(result) is code and text in result.error().message
    assert not plugins.has_plugin("qtforge_orch.composition")


def test_a_taken_helper_id_is_reported(plugins: PluginManager, tmp_path: Path) -> None:
    register(plugins, FunctionPlugin("qtforge_orch.composition", run=lambda p: {}))
    result = build_workflow_document(
        SCENARIOS[S.Aggregation].build(plugins, tmp_path), plugins, "get_status"
    )
    assert (
        code_of(result) is Code.AlreadyExists
        and "needs it for its helper nodes" in result.error().message
    )


def test_a_proxy_workflow_enforces_the_rate_limit(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    register(plugins, FunctionPlugin("store", read=lambda p: {"v": 1}))
    composition = (
        PluginComposition("slow")
        .set_strategy("Proxy")
        .add_plugin("store")
        .set_configuration({"rate_limit": {"max_calls": 1, "per_ms": 60_000}})
    )
    assert advanced.register_workflow(built(advanced, composition, "read"))
    assert run_to_end(advanced, "slow")[1].status is WorkflowExecutionStatus.Completed
    _, refused = run_to_end(advanced, "slow")
    assert refused.status is WorkflowExecutionStatus.Failed
    assert any("rate limit of 1 call(s) per 60000 ms reached" in m for m in refused.error_messages)
