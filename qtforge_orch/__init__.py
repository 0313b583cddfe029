"""qtforge_orch: QtForge's plugin orchestrators, real and Qt-native, for PySide6 apps.

Everything public is importable from here; names load on first use to keep import cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._lazy import PUBLIC_NAMES
from ._lazy import load as _load
from ._version import __version__ as __version__

if TYPE_CHECKING:
    # Explicit re-exports (``X as X``) for type checkers: ``__all__`` below is built at run time.
    from .composition import CompositePlugin as CompositePlugin
    from .composition import CompositionBinding as CompositionBinding
    from .composition import CompositionManager as CompositionManager
    from .composition import CompositionStrategy as CompositionStrategy
    from .composition import PluginComposition as PluginComposition
    from .composition import PluginRole as PluginRole
    from .contract.context import StepContext as StepContext
    from .contract.execution_future import ExecutionFuture as ExecutionFuture
    from .contract.retry import NON_TRANSIENT_CODES as NON_TRANSIENT_CODES
    from .contract.retry import RetryPolicy as RetryPolicy
    from .errors import PluginError as PluginError
    from .errors import PluginErrorCode as PluginErrorCode
    from .events import EventKind as EventKind
    from .events import ExecutionEvent as ExecutionEvent
    from .events import Subscription as Subscription
    from .journal import ExecutionJournal as ExecutionJournal
    from .journal import RetentionPolicy as RetentionPolicy
    from .orchestration._nesting import MAX_NESTING_DEPTH as MAX_NESTING_DEPTH
    from .orchestration.advanced.enums import ConnectionType as ConnectionType
    from .orchestration.advanced.enums import WorkflowExecutionMode as WorkflowExecutionMode
    from .orchestration.advanced.enums import WorkflowExecutionStatus as WorkflowExecutionStatus
    from .orchestration.advanced.enums import WorkflowNodeType as WorkflowNodeType
    from .orchestration.advanced.execution_context import (
        WorkflowExecutionContext as WorkflowExecutionContext,
    )
    from .orchestration.advanced.plugin_orchestrator_v2 import (
        AdvancedPluginOrchestrator as AdvancedPluginOrchestrator,
    )
    from .orchestration.advanced.workflow import PluginWorkflow as PluginWorkflow
    from .orchestration.advanced.workflow_connection import WorkflowConnection as WorkflowConnection
    from .orchestration.advanced.workflow_node import WorkflowNode as WorkflowNode
    from .orchestration.execution_mode import ExecutionMode as ExecutionMode
    from .orchestration.plugin_orchestrator import PluginOrchestrator as PluginOrchestrator
    from .orchestration.step_result import StepResult as StepResult
    from .orchestration.step_result import StepStatus as StepStatus
    from .orchestration.workflow import Workflow as Workflow
    from .orchestration.workflow_context import WorkflowContext as WorkflowContext
    from .orchestration.workflow_plugin import WorkflowPlugin as WorkflowPlugin
    from .orchestration.workflow_step import WorkflowStep as WorkflowStep
    from .plugins import FileSystemMonitorPlugin as FileSystemMonitorPlugin
    from .plugins import FunctionPlugin as FunctionPlugin
    from .plugins import IEventSource as IEventSource
    from .plugins import IPlugin as IPlugin
    from .plugins import PluginManager as PluginManager
    from .plugins import PluginMetadata as PluginMetadata
    from .plugins import PluginState as PluginState
    from .plugins import default_plugin_manager as default_plugin_manager
    from .qt.execution import WorkflowExecution as WorkflowExecution
    from .qt.records import ExecutionSnapshot as ExecutionSnapshot
    from .qt.records import StepRecord as StepRecord
    from .results import Expected as Expected
    from .results import expected as expected
    from .results import make_error as make_error
    from .results import make_success as make_success
    from .widgets import VisualWorkflowEditor as VisualWorkflowEditor

# Derived from the one list in ``_lazy``; tests/test_public_surface.py checks that the
# TYPE_CHECKING imports above name the same objects.
__all__ = sorted(PUBLIC_NAMES)


def __getattr__(name: str) -> Any:
    return _load(globals(), name)


def __dir__() -> list[str]:
    return sorted(__all__)
