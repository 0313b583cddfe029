"""The one list of public names, and lazy attribute loading for the flat namespaces.

``PUBLIC_NAMES`` is the single source of ``qtforge_orch.__all__`` and (less the Qt application
layer) of ``qtforge_orch.orchestration.__all__``. Each namespace repeats the names only in its
``if TYPE_CHECKING:`` imports, which type checkers need and ``tests/test_public_surface.py``
checks against this list.

``import qtforge_orch`` only pays for what is used: the orchestrators, pydantic models,
networkx and CEL load on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

PUBLIC_NAMES: dict[str, str] = {
    # results and errors
    "PluginError": "qtforge_orch.errors",
    "PluginErrorCode": "qtforge_orch.errors",
    "Expected": "qtforge_orch.results",
    "expected": "qtforge_orch.results",
    "make_success": "qtforge_orch.results",
    "make_error": "qtforge_orch.results",
    # plugins
    "IPlugin": "qtforge_orch.plugins",
    "PluginState": "qtforge_orch.plugins",
    "PluginMetadata": "qtforge_orch.plugins",
    "FunctionPlugin": "qtforge_orch.plugins",
    "PluginManager": "qtforge_orch.plugins",
    "default_plugin_manager": "qtforge_orch.plugins",
    "IEventSource": "qtforge_orch.plugins",
    "FileSystemMonitorPlugin": "qtforge_orch.plugins",
    "StepContext": "qtforge_orch.contract.context",
    "ExecutionFuture": "qtforge_orch.contract.execution_future",
    "RetryPolicy": "qtforge_orch.contract.retry",
    "NON_TRANSIENT_CODES": "qtforge_orch.contract.retry",
    # composition (qtforge_orch.composition)
    "PluginComposition": "qtforge_orch.composition",
    "CompositionBinding": "qtforge_orch.composition",
    "CompositionStrategy": "qtforge_orch.composition",
    "PluginRole": "qtforge_orch.composition",
    "CompositePlugin": "qtforge_orch.composition",
    "CompositionManager": "qtforge_orch.composition",
    # following executions
    "EventKind": "qtforge_orch.events",
    "ExecutionEvent": "qtforge_orch.events",
    "Subscription": "qtforge_orch.events",
    # durable executions
    "ExecutionJournal": "qtforge_orch.journal",
    "RetentionPolicy": "qtforge_orch.journal",
    # Qt application layer (the other widgets are in qtforge_orch.widgets)
    "WorkflowExecution": "qtforge_orch.qt.execution",
    "ExecutionSnapshot": "qtforge_orch.qt.records",
    "StepRecord": "qtforge_orch.qt.records",
    "VisualWorkflowEditor": "qtforge_orch.widgets",
    # v1
    "PluginOrchestrator": "qtforge_orch.orchestration.plugin_orchestrator",
    "Workflow": "qtforge_orch.orchestration.workflow",
    "WorkflowContext": "qtforge_orch.orchestration.workflow_context",
    "WorkflowStep": "qtforge_orch.orchestration.workflow_step",
    "StepResult": "qtforge_orch.orchestration.step_result",
    "StepStatus": "qtforge_orch.orchestration.step_result",
    "ExecutionMode": "qtforge_orch.orchestration.execution_mode",
    # v2
    "AdvancedPluginOrchestrator": "qtforge_orch.orchestration.advanced.plugin_orchestrator_v2",
    "PluginWorkflow": "qtforge_orch.orchestration.advanced.workflow",
    "WorkflowNode": "qtforge_orch.orchestration.advanced.workflow_node",
    "WorkflowConnection": "qtforge_orch.orchestration.advanced.workflow_connection",
    "WorkflowExecutionContext": "qtforge_orch.orchestration.advanced.execution_context",
    "WorkflowExecutionMode": "qtforge_orch.orchestration.advanced.enums",
    "WorkflowNodeType": "qtforge_orch.orchestration.advanced.enums",
    "ConnectionType": "qtforge_orch.orchestration.advanced.enums",
    "WorkflowExecutionStatus": "qtforge_orch.orchestration.advanced.enums",
    # nested workflows (orchestrator.as_plugin)
    "WorkflowPlugin": "qtforge_orch.orchestration.workflow_plugin",
    "MAX_NESTING_DEPTH": "qtforge_orch.orchestration._nesting",
}


# ``qtforge_orch.orchestration`` is the reference's ``qtforge.orchestration``: everything but the
# Qt application layer (``qtforge_orch.qt``, ``qtforge_orch.widgets``), which the reference does
# not have, and composition, which QtForge keeps in a namespace of its own
# (``qtforge_orch.composition``).
ORCHESTRATION_NAMES: frozenset[str] = frozenset(
    name
    for name, module in PUBLIC_NAMES.items()
    if not module.startswith(
        ("qtforge_orch.qt.", "qtforge_orch.widgets", "qtforge_orch.composition")
    )
)

SUBPACKAGES = frozenset({"composition", "orchestration", "plugins"})


def load(module_globals: dict[str, Any], name: str) -> Any:
    """Import ``name`` for a namespace's module ``__getattr__`` and cache it in its globals."""
    if name in SUBPACKAGES and module_globals["__name__"] == "qtforge_orch":
        # ``import qtforge_orch as qtforge; qtforge.orchestration.X`` as in the reference.
        return importlib.import_module(f"qtforge_orch.{name}")
    module_name = PUBLIC_NAMES.get(name)
    if module_name is None:
        raise AttributeError(f"module {module_globals['__name__']!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    module_globals[name] = value  # later lookups skip __getattr__
    return value
