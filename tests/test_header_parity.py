"""Every name of QtForge's two headers and of the two API references exists, with its arity.

Sources: ``plugin_orchestrator.hpp`` (v3.1.0) and ``plugin_orchestrator_v2.hpp`` (v3.2.0, from
QtForge's history), and ``reference/plugin-orchestrator.md`` and
``advanced-plugin-orchestrator.md``. Methods are listed with the number of arguments C++
accepts (min, max: default arguments make a range); signals with their parameter count.
The header's ``VisualWorkflowEditor`` (a QGraphicsView, stubbed in QtForge) is here for real:
``qtforge_orch.VisualWorkflowEditor``.

Also QtForge's composition header (``qtplugin/workflow/composition.hpp``, v3.1.0), except the
members this library's ``IPlugin`` does not have (``capabilities``, ``priority``,
``is_initialized``) and ``handle_event``/``get_supported_events`` (stubs in QtForge that accept
every event and list none).
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import qtforge_orch
from qtforge_orch import (
    AdvancedPluginOrchestrator,
    CompositePlugin,
    CompositionBinding,
    CompositionManager,
    CompositionStrategy,
    ConnectionType,
    ExecutionMode,
    PluginComposition,
    PluginOrchestrator,
    PluginRole,
    PluginWorkflow,
    StepResult,
    StepStatus,
    VisualWorkflowEditor,
    Workflow,
    WorkflowConnection,
    WorkflowContext,
    WorkflowExecutionContext,
    WorkflowExecutionMode,
    WorkflowExecutionStatus,
    WorkflowNode,
    WorkflowNodeType,
    WorkflowStep,
)

ENUMS: dict[Any, list[str]] = {
    StepStatus: ["Pending", "Running", "Completed", "Failed", "Skipped", "Cancelled", "Retrying"],
    ExecutionMode: ["Sequential", "Parallel", "Conditional", "Pipeline"],
    WorkflowExecutionMode: ["Sequential", "Parallel", "Conditional", "EventDriven", "Streaming"],
    WorkflowNodeType: [
        "Source", "Processor", "Sink", "Decision", "Aggregator", "Splitter", "Custom"
    ],
    ConnectionType: ["DataFlow", "Control", "Event", "Dependency"],
    WorkflowExecutionStatus: ["Pending", "Running", "Paused", "Completed", "Failed", "Cancelled"],
    CompositionStrategy: [
        "Aggregation", "Pipeline", "Facade", "Decorator", "Proxy", "Adapter", "Bridge"
    ],
    PluginRole: ["Primary", "Secondary", "Auxiliary", "Decorator", "Adapter", "Bridge"],
}  # fmt: skip

FIELDS: dict[Any, list[str]] = {
    WorkflowStep: [
        "id", "name", "description", "plugin_id", "service_name", "method_name", "parameters",
        "dependencies", "condition", "timeout", "max_retries", "retry_delay", "critical",
        "metadata",
    ],
    StepResult: [
        "step_id", "status", "result_data", "error_message", "retry_count", "start_time",
        "end_time",
    ],
    WorkflowContext: [
        "workflow_id", "execution_id", "initial_data", "shared_data", "step_results",
        "start_time", "cancelled", "transaction_id",
    ],
    # reference + header (display_name, position, enabled)
    WorkflowNode: [
        "node_id", "name", "description", "plugin_id", "node_type", "configuration",
        "ui_properties", "input_ports", "output_ports", "display_name", "position", "enabled",
    ],
    WorkflowConnection: [
        "connection_id", "source_node", "source_port", "target_node", "target_port",
        "connection_type", "properties", "source_node_id", "target_node_id",
        "data_transformation", "enabled",
    ],
    PluginWorkflow: [
        "workflow_id", "name", "description", "execution_mode", "nodes", "connections",
        "global_configuration", "metadata",
    ],
    # reference + header (node_outputs, global_data, cancelled)
    WorkflowExecutionContext: [
        "execution_id", "workflow_id", "status", "start_time", "end_time", "execution_data",
        "node_states", "progress", "current_node", "error_messages", "node_outputs",
        "global_data", "cancelled",
    ],
    # header + the CompositePlugin API Reference's names
    CompositionBinding: [
        "source_plugin_id", "source_method", "target_plugin_id", "target_method",
        "parameter_mapping", "transformer", "bidirectional", "priority", "source_plugin",
        "source_port", "target_plugin", "target_port", "transformation",
    ],
}  # fmt: skip

# (owner, method, min args, max args) -- arguments besides self; static methods marked below.
METHODS: list[tuple[Any, str, int, int]] = [
    (WorkflowStep, "__init__", 0, 3),
    (StepResult, "execution_time", 0, 0),
    (WorkflowContext, "__init__", 0, 2),
    (Workflow, "__init__", 0, 2),
    (Workflow, "set_description", 1, 1),
    (Workflow, "set_execution_mode", 1, 1),
    (Workflow, "set_timeout", 1, 1),
    (Workflow, "add_step", 1, 1),
    (Workflow, "add_rollback_step", 2, 2),
    (Workflow, "set_global_condition", 1, 1),
    (Workflow, "id", 0, 0),
    (Workflow, "name", 0, 0),
    (Workflow, "description", 0, 0),
    (Workflow, "execution_mode", 0, 0),
    (Workflow, "timeout", 0, 0),
    (Workflow, "steps", 0, 0),
    (Workflow, "rollback_steps", 0, 0),
    (Workflow, "has_step", 1, 1),
    (Workflow, "get_step", 1, 1),
    (Workflow, "validate", 0, 0),
    (Workflow, "get_execution_order", 0, 0),
    (Workflow, "to_json", 0, 0),
    (Workflow, "from_json", 1, 1),
    (PluginOrchestrator, "__init__", 0, 1),
    (PluginOrchestrator, "create", 0, 0),
    (PluginOrchestrator, "register_workflow", 1, 1),
    (PluginOrchestrator, "unregister_workflow", 1, 1),
    (PluginOrchestrator, "get_workflow", 1, 1),
    (PluginOrchestrator, "list_workflows", 0, 0),
    (PluginOrchestrator, "execute_workflow", 1, 3),
    (PluginOrchestrator, "execute_workflow_async", 1, 2),
    (PluginOrchestrator, "cancel_workflow", 1, 1),
    (PluginOrchestrator, "get_execution_status", 1, 1),
    (PluginOrchestrator, "list_active_executions", 0, 0),
    (PluginOrchestrator, "get_step_results", 1, 1),
    (PluginOrchestrator, "begin_transaction", 1, 1),
    (PluginOrchestrator, "commit_transaction", 1, 1),
    (PluginOrchestrator, "rollback_transaction", 1, 1),
    (WorkflowNode, "to_json", 0, 0),
    (WorkflowNode, "from_json", 1, 1),
    (WorkflowConnection, "to_json", 0, 0),
    (WorkflowConnection, "from_json", 1, 1),
    (PluginWorkflow, "to_json", 0, 0),
    (PluginWorkflow, "from_json", 1, 1),
    (PluginWorkflow, "validate", 0, 0),
    (PluginWorkflow, "get_execution_order", 0, 0),
    (WorkflowExecutionContext, "to_json", 0, 0),
    (AdvancedPluginOrchestrator, "__init__", 0, 1),
    (AdvancedPluginOrchestrator, "register_workflow", 1, 1),
    (AdvancedPluginOrchestrator, "unregister_workflow", 1, 1),
    (AdvancedPluginOrchestrator, "get_workflow", 1, 1),
    (AdvancedPluginOrchestrator, "get_registered_workflows", 0, 0),
    (AdvancedPluginOrchestrator, "execute_workflow", 1, 2),
    (AdvancedPluginOrchestrator, "cancel_execution", 1, 1),
    (AdvancedPluginOrchestrator, "pause_execution", 1, 1),
    (AdvancedPluginOrchestrator, "resume_execution", 1, 1),
    (AdvancedPluginOrchestrator, "get_execution_status", 1, 1),
    (AdvancedPluginOrchestrator, "get_active_executions", 0, 0),
    (AdvancedPluginOrchestrator, "get_node_status", 2, 2),
    (AdvancedPluginOrchestrator, "add_node_to_workflow", 2, 2),
    (AdvancedPluginOrchestrator, "remove_node_from_workflow", 2, 2),
    (AdvancedPluginOrchestrator, "add_connection_to_workflow", 2, 2),
    (AdvancedPluginOrchestrator, "create_workflow_from_composition", 1, 1),
    (AdvancedPluginOrchestrator, "optimize_workflow", 1, 1),
    (VisualWorkflowEditor, "__init__", 0, 1),
    (VisualWorkflowEditor, "load_workflow", 1, 1),
    (VisualWorkflowEditor, "get_workflow", 0, 0),
    (VisualWorkflowEditor, "clear", 0, 0),
    (VisualWorkflowEditor, "add_plugin_node", 2, 2),
    (VisualWorkflowEditor, "remove_node", 1, 1),
    (VisualWorkflowEditor, "connect_nodes", 4, 4),
    (VisualWorkflowEditor, "remove_connection", 1, 1),
    (VisualWorkflowEditor, "mousePressEvent", 1, 1),
    (VisualWorkflowEditor, "mouseMoveEvent", 1, 1),
    (VisualWorkflowEditor, "mouseReleaseEvent", 1, 1),
    (VisualWorkflowEditor, "keyPressEvent", 1, 1),
    (CompositionBinding, "__init__", 0, 4),
    (PluginComposition, "__init__", 0, 2),
    (PluginComposition, "set_description", 1, 1),
    (PluginComposition, "set_strategy", 1, 1),
    (PluginComposition, "add_plugin", 1, 2),
    (PluginComposition, "set_primary_plugin", 1, 1),
    (PluginComposition, "add_binding", 1, 1),
    (PluginComposition, "set_configuration", 1, 1),
    (PluginComposition, "id", 0, 0),
    (PluginComposition, "name", 0, 0),
    (PluginComposition, "description", 0, 0),
    (PluginComposition, "strategy", 0, 0),
    (PluginComposition, "primary_plugin_id", 0, 0),
    (PluginComposition, "plugins", 0, 0),
    (PluginComposition, "bindings", 0, 0),
    (PluginComposition, "configuration", 0, 0),
    (PluginComposition, "get_plugins_by_role", 1, 1),
    (PluginComposition, "validate", 0, 0),
    (PluginComposition, "to_json", 0, 0),
    (PluginComposition, "from_json", 1, 1),
    (CompositePlugin, "__init__", 1, 1),
    (CompositePlugin, "initialize", 0, 0),
    (CompositePlugin, "shutdown", 0, 0),
    (CompositePlugin, "metadata", 0, 0),
    (CompositePlugin, "state", 0, 0),
    (CompositePlugin, "execute_command", 1, 2),
    (CompositePlugin, "available_commands", 0, 0),
    (CompositePlugin, "configure", 1, 1),
    (CompositePlugin, "get_configuration", 0, 0),
    (CompositePlugin, "composition", 0, 0),
    (CompositePlugin, "add_plugin", 2, 2),
    (CompositePlugin, "remove_plugin", 1, 1),
    (CompositePlugin, "get_component_plugins", 0, 0),
    (CompositePlugin, "get_component_plugin", 1, 1),
    (CompositePlugin, "bind_plugins", 1, 1),
    (CompositePlugin, "unbind_plugins", 2, 2),
    (CompositionManager, "instance", 0, 0),
    (CompositionManager, "register_composition", 1, 1),
    (CompositionManager, "unregister_composition", 1, 1),
    (CompositionManager, "get_composition", 1, 1),
    (CompositionManager, "list_compositions", 0, 0),
    (CompositionManager, "create_composite_plugin", 1, 1),
    (CompositionManager, "destroy_composite_plugin", 1, 1),
    (CompositionManager, "list_composite_plugins", 0, 0),
    (CompositionManager, "get_composite_plugin", 1, 1),
]

SIGNALS: list[tuple[Any, str, int]] = [
    (PluginOrchestrator, "workflow_started", 2),
    (PluginOrchestrator, "workflow_completed", 2),
    (PluginOrchestrator, "workflow_failed", 2),
    (PluginOrchestrator, "workflow_cancelled", 1),
    (PluginOrchestrator, "step_started", 2),
    (PluginOrchestrator, "step_completed", 3),
    (PluginOrchestrator, "step_failed", 3),
    (AdvancedPluginOrchestrator, "workflow_started", 2),
    (AdvancedPluginOrchestrator, "workflow_completed", 2),
    (AdvancedPluginOrchestrator, "workflow_failed", 2),
    (AdvancedPluginOrchestrator, "workflow_paused", 1),
    (AdvancedPluginOrchestrator, "workflow_resumed", 1),
    (AdvancedPluginOrchestrator, "node_started", 2),
    (AdvancedPluginOrchestrator, "node_completed", 3),
    (AdvancedPluginOrchestrator, "node_failed", 3),
    (AdvancedPluginOrchestrator, "execution_progress_updated", 2),
    (AdvancedPluginOrchestrator, "workflow_execution_started", 2),
    (AdvancedPluginOrchestrator, "workflow_execution_completed", 2),
    (AdvancedPluginOrchestrator, "workflow_execution_failed", 2),
    (AdvancedPluginOrchestrator, "workflow_execution_cancelled", 1),
    (AdvancedPluginOrchestrator, "node_execution_completed", 3),
    (VisualWorkflowEditor, "workflow_modified", 0),
    (VisualWorkflowEditor, "node_selected", 1),
    (VisualWorkflowEditor, "connection_selected", 1),
    (CompositePlugin, "component_plugin_added", 1),
    (CompositePlugin, "component_plugin_removed", 1),
    (CompositePlugin, "binding_created", 2),
    (CompositePlugin, "binding_removed", 2),
    (CompositionManager, "composition_registered", 1),
    (CompositionManager, "composition_unregistered", 1),
    (CompositionManager, "composite_plugin_created", 1),
    (CompositionManager, "composite_plugin_destroyed", 1),
]


@pytest.mark.parametrize(("enum", "names"), list(ENUMS.items()), ids=lambda x: str(x)[:30])
def test_enum_members_in_cpp_order(enum: Any, names: list[str]) -> None:
    assert [m.name for m in enum] == names
    assert [m.value for m in enum] == list(range(len(names)))


@pytest.mark.parametrize(("struct", "names"), list(FIELDS.items()), ids=lambda x: str(x)[:30])
def test_struct_fields_exist(struct: Any, names: list[str]) -> None:
    instance = struct()
    for name in names:
        assert hasattr(instance, name), f"{struct.__name__}.{name}"


def _positional_range(function: Any) -> tuple[int, int]:
    parameters = [
        p
        for p in inspect.signature(function).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in ("self", "cls")
    ]
    required = sum(1 for p in parameters if p.default is p.empty)
    return required, len(parameters)


@pytest.mark.parametrize(
    ("owner", "name", "low", "high"), METHODS, ids=[f"{o.__name__}.{n}" for o, n, _, _ in METHODS]
)
def test_methods_exist_with_their_arity(owner: Any, name: str, low: int, high: int) -> None:
    method = getattr(owner, name)
    required, accepted = _positional_range(method)
    assert required <= low and high <= accepted, (name, required, accepted)


@pytest.mark.parametrize(
    ("owner", "name", "arity"), SIGNALS, ids=[f"{o.__name__}.{n}" for o, n, _ in SIGNALS]
)
def test_signals_exist_with_their_arity(owner: Any, name: str, arity: int) -> None:
    meta = owner.staticMetaObject
    found = [
        meta.method(i)
        for i in range(meta.methodCount())
        if bytes(meta.method(i).name().data()).decode() == name
    ]
    assert found, name
    assert found[0].parameterCount() == arity


def test_every_public_name_is_exported() -> None:
    for name in ("WorkflowContext", "Workflow", "PluginWorkflow", "AdvancedPluginOrchestrator"):
        assert name in qtforge_orch.__all__
        assert getattr(qtforge_orch.orchestration, name) is getattr(qtforge_orch, name)
    from qtforge_orch import widgets

    assert "VisualWorkflowEditor" in qtforge_orch.__all__
    assert qtforge_orch.VisualWorkflowEditor is widgets.VisualWorkflowEditor
    for name in ("PluginComposition", "CompositePlugin", "CompositionManager"):
        assert getattr(qtforge_orch.composition, name) is getattr(qtforge_orch, name)


def test_header_defaults() -> None:
    assert Workflow("wf").name() == "wf"
    assert Workflow("wf").timeout() == 300000  # m_timeout{300000}
    assert WorkflowStep().timeout == 60000 and WorkflowStep().retry_delay == 1000
    assert WorkflowNode().enabled and WorkflowConnection().enabled
    assert PluginWorkflow().execution_mode is WorkflowExecutionMode.Sequential
    composition = PluginComposition("c")
    assert composition.name() == "c" and composition.strategy() is CompositionStrategy.Aggregation
    assert PluginComposition("c").add_plugin("p").plugins() == {"p": PluginRole.Secondary}
    binding = CompositionBinding()
    assert (binding.bidirectional, binding.priority, binding.parameter_mapping) == (False, 0, {})
