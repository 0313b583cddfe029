"""``qtforge_orch.orchestration``: the namespace the reference calls ``qtforge.orchestration``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._lazy import load as _load

if TYPE_CHECKING:
    from .._engine.context import StepContext
    from .._engine.futures import ExecutionFuture
    from .._engine.retry import NON_TRANSIENT_CODES, RetryPolicy
    from .._errors import PluginError, PluginErrorCode
    from .._expected import Expected, expected, make_error, make_success
    from ..orchestration._v1_model import (
        ExecutionMode,
        StepResult,
        StepStatus,
        Workflow,
        WorkflowContext,
        WorkflowStep,
    )
    from ..orchestration.advanced._v2_model import (
        ConnectionType,
        PluginWorkflow,
        WorkflowConnection,
        WorkflowExecutionContext,
        WorkflowExecutionMode,
        WorkflowExecutionStatus,
        WorkflowNode,
        WorkflowNodeType,
    )
    from ..orchestration.advanced.plugin_orchestrator_v2 import AdvancedPluginOrchestrator
    from ..orchestration.plugin_orchestrator import PluginOrchestrator
    from ..plugins import (
        FileSystemMonitorPlugin,
        FunctionPlugin,
        IEventSource,
        IPlugin,
        PluginManager,
        PluginMetadata,
        PluginState,
        default_plugin_manager,
    )

__all__ = [
    "NON_TRANSIENT_CODES",
    "AdvancedPluginOrchestrator",
    "ConnectionType",
    "ExecutionFuture",
    "ExecutionMode",
    "Expected",
    "FileSystemMonitorPlugin",
    "FunctionPlugin",
    "IEventSource",
    "IPlugin",
    "PluginError",
    "PluginErrorCode",
    "PluginManager",
    "PluginMetadata",
    "PluginOrchestrator",
    "PluginState",
    "PluginWorkflow",
    "RetryPolicy",
    "StepContext",
    "StepResult",
    "StepStatus",
    "Workflow",
    "WorkflowConnection",
    "WorkflowContext",
    "WorkflowExecutionContext",
    "WorkflowExecutionMode",
    "WorkflowExecutionStatus",
    "WorkflowNode",
    "WorkflowNodeType",
    "WorkflowStep",
    "default_plugin_manager",
    "expected",
    "make_error",
    "make_success",
]


def __getattr__(name: str) -> Any:
    return _load(globals(), name)


def __dir__() -> list[str]:
    return sorted(__all__)
