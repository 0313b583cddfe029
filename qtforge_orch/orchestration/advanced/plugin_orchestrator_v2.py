"""``AdvancedPluginOrchestrator``: QtForge's graph orchestrator (``plugin_orchestrator_v2.hpp``).

A facade over the same engine as ``PluginOrchestrator``: graphs are validated and compiled at
registration (and on every change), and each mode picks a run type of that engine: the plain
scheduler for Sequential/Parallel/Conditional, stage activations for Streaming, and per-event
passes for EventDriven.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Pure-Python modules first (the models, pydantic, the compile step, the plugin registry):
# once PySide6 is imported, its feature hook reads the source of every module imported after
# it (shibokensupport's ``feature_imported``, ~0.15 ms a module), so a script that imports
# this package before Qt starts faster this way. See docs/performance.md, "Cold start".
from ..._engine import (
    WHOLE_GRAPH,
    PluginLookup,
    RunSnapshot,
    RunView,
    Timers,
    UnknownExecutor,
    cached_reports,
    debug_fields,
    gc_paused_for,
    iso_utc,
    late_reports,
    refusal_at_registration,
    take_snapshot,
)
from ...contract.plan import Plan, Role, ScheduleKind, TaskState
from ...errors import PluginError, PluginErrorCode
from ...plugins import PluginManager
from ...plugins._builtins import WithBuiltins
from ...results import Expected, from_error, make_error, make_success
from .. import _nesting
from .._filled_on_read import FilledOnRead
from .._registry import Registered
from ._model_base import copy_model
from ._v2_compile import compile_plugin_workflow
from ._v2_frozen import FrozenGraph, plain_graph
from .enums import (
    ConnectionType,
    WorkflowExecutionMode,
    WorkflowExecutionStatus,
    WorkflowNodeType,
)
from .execution_context import WorkflowExecutionContext
from .workflow import PluginWorkflow, validate_workflow
from .workflow_connection import WorkflowConnection
from .workflow_node import WorkflowNode

# isort: split
from PySide6.QtCore import QObject, QThreadPool, Signal

from ..._engine import DEFAULT_HISTORY_LIMIT, Run, RunStatus, SignalNames
from .._facade_core import FacadeCore
from .._orchestrator_base import OrchestratorBase
from ._header_signals import add_header_aliases

if TYPE_CHECKING:
    import os

    from ...contract.execution_future import ExecutionFuture
    from ...journal import ExecutionJournal
    from ...qt._status import ExecutionState

__all__ = [
    "AdvancedPluginOrchestrator",
    "ConnectionType",
    "PluginWorkflow",
    "WorkflowConnection",
    "WorkflowExecutionContext",
    "WorkflowExecutionMode",
    "WorkflowExecutionStatus",
    "WorkflowNode",
    "WorkflowNodeType",
]

_NAMES = SignalNames(
    workflow_started="workflow_started",
    workflow_completed="workflow_completed",
    workflow_failed="workflow_failed",
    workflow_cancelled="workflow_cancelled",
    task_started="node_started",
    task_completed="node_completed",
    task_failed="node_failed",
    task_retrying=None,
    progress="execution_progress_updated",
    paused="workflow_paused",
    resumed="workflow_resumed",
    noun="node",
)

_STATUS = {
    RunStatus.PENDING: WorkflowExecutionStatus.Pending,
    RunStatus.RUNNING: WorkflowExecutionStatus.Running,
    RunStatus.PAUSED: WorkflowExecutionStatus.Paused,
    RunStatus.COMPLETED: WorkflowExecutionStatus.Completed,
    RunStatus.FAILED: WorkflowExecutionStatus.Failed,
    RunStatus.CANCELLED: WorkflowExecutionStatus.Cancelled,
}

_STRUCTURE = PluginErrorCode.InvalidWorkflowStructure


def status_context(run: RunView) -> WorkflowExecutionContext:
    """``get_execution_status``'s context for a run (a live one or one read from the journal)."""
    snap = take_snapshot(run)
    tasks = run.plan.tasks
    children = _nesting.children(run)  # a copy, as of this call
    nested = dict(children)

    def build(view: RunView, state: RunSnapshot, indices: list[int]) -> list[dict[str, Any]]:
        return _node_reports(view, state, indices, nested)

    def node_states() -> dict[str, Any]:
        reports = cached_reports(run, snap, build, _SETTLED)
        return {task.key: reports[task.index] for task in tasks}

    messages = [snap.error.message] if snap.error and snap.error.message else []
    messages += [f"{tasks[i].key}: {error}" for i, error in enumerate(snap.errors) if error]
    messages += snap.error_messages + snap.rollback_errors
    data: dict[str, Any] = {"input": dict(run.initial_data)}
    if snap.result is not None:
        data["result"] = dict(snap.result)
    data.update(snap.run_extras)
    if snap.late:  # attempts abandoned while running, and what came of them
        data["late_outcomes"] = late_reports(snap, "node_id")
    parent = _nesting.parent_execution_id(run)
    if parent is not None:
        data["parent_execution_id"] = parent
    if children:
        data["child_executions"] = children
    # model_construct: every field is built here from engine state of known types, and
    # validating outputs again would refuse what the engine accepted (any keys).
    return WorkflowExecutionContext.model_construct(
        execution_id=run.execution_id,
        workflow_id=run.workflow_id,
        status=_STATUS[snap.status],
        start_time=snap.start_time,
        end_time=snap.end_time,
        execution_data=data,
        # Built the first time it is read: reading the status or the result of a large
        # execution builds no node report.
        node_states=FilledOnRead({}, node_states),
        progress=min(1.0, max(0.0, snap.progress)),
        current_node=snap.current_task,
        error_messages=messages,
    )


def prepare_graph(
    candidate: PluginWorkflow, default_executor: str, plugins: PluginLookup
) -> Registered | PluginError:
    """Validate, freeze and compile a graph workflow; nothing registered is touched.

    The frozen form is a private copy (tuples, own containers, connection ids filled in).
    As in v1, the caller's workflow is checked and then frozen, so it must not be changed by
    another thread meanwhile.
    """
    # The common case is checked and frozen in one pass; anything else gets every check.
    frozen = plain_graph(candidate)
    if frozen is None:
        checked = validate_workflow(candidate)
        if not checked:
            return checked.error()
    try:
        if frozen is None:
            frozen = FrozenGraph(candidate)
        plan = compile_plugin_workflow(frozen, default_executor)
    except UnknownExecutor as exc:
        return PluginError(_STRUCTURE, str(exc))
    except Exception as exc:  # validation should make this unreachable
        return PluginError(_STRUCTURE, f"workflow could not be compiled: {exc}")
    refused = refusal_at_registration(plugins, plan.tasks)
    if refused:
        return PluginError(_STRUCTURE, f"node {refused}")
    return Registered(frozen, plan)


class _GraphWorkflows:
    """What the core needs to know about v2's graph workflows (``FacadeCore``'s kind)."""

    journal_kind = "v2"
    names = _NAMES
    compensates = False  # no rollback steps, no transactions

    @staticmethod
    def plan_of_definition(
        definition: Any, default_executor: str, plugins: PluginLookup
    ) -> Plan | PluginError:
        parsed = PluginWorkflow.from_json(definition)
        if not parsed:
            return parsed.error()
        prepared = prepare_graph(parsed.value(), default_executor, plugins)
        return prepared if isinstance(prepared, PluginError) else prepared.plan

    @staticmethod
    def final_state(run: Any) -> ExecutionState:
        from ...qt._status import state_from_v2_context

        return state_from_v2_context(status_context(run))


class AdvancedPluginOrchestrator(OrchestratorBase):
    """QtForge's graph orchestrator: ``PluginWorkflow``s of nodes, ports and connections.

    Five execution modes (Sequential, Parallel, Conditional, Streaming, EventDriven), pause and
    resume, and validated changes to registered workflows. Nodes run on a ``QThreadPool``;
    every signal is emitted in the orchestrator's own thread, in causal order per execution.
    Every method is thread-safe and reports bad input through the ``Expected`` it returns.

    Signals:

    - ``workflow_started(execution_id, workflow_id)``: the first signal of an execution.
    - ``workflow_completed(execution_id, result)``, ``workflow_failed(execution_id, message)``,
      ``workflow_cancelled(execution_id)``: terminal.
    - ``workflow_paused(execution_id)``, ``workflow_resumed(execution_id)``.
    - ``node_started(execution_id, node_id)``, ``node_completed(execution_id, node_id,
      output)``, ``node_failed(execution_id, node_id, message)``.
    - ``execution_progress_updated(execution_id, progress)``: 0.0-1.0, coalesced.
    - QtForge header's names, emitted right after the reference's with the same arguments:
      ``workflow_execution_started``, ``workflow_execution_completed``,
      ``workflow_execution_failed``, ``workflow_execution_cancelled``,
      ``node_execution_completed``.

    Args:
        parent: The ``QObject`` parent.
        plugin_manager: Where nodes' ``plugin_id``s are looked up (built-in plugins such as
            ``file_system_monitor`` are found after it); ``default_plugin_manager()`` when None.
        thread_pool: The pool nodes run on; a new pool when None.
        history_limit: How many finished executions stay queryable (oldest forgotten first).
        timers: Replaces the clock and timer service behind retries, backoff and timeouts
            (``qtforge_orch.testing``'s ``qtforge_fake_clock`` passes a manual one).
        default_executor: Where nodes run unless a node's ``configuration`` or the
            workflow's ``global_configuration`` names an ``executor``: ``"thread"`` (the
            pool, default), ``"process"`` or ``"dask"`` (see Scaling out).
        dask_address: The Dask scheduler to use; None starts a local cluster on 127.0.0.1
            on first use.
        process_workers: How many worker processes the process executor may run.
        journal: Record executions durably in this SQLite file (or ``ExecutionJournal``):
            history across restarts and ``resume_from_journal`` after a crash (see Durable
            executions). A file that cannot be opened raises ``PluginError``.
    """

    workflow_started = Signal(str, str)
    workflow_completed = Signal(str, object)
    workflow_failed = Signal(str, str)
    workflow_cancelled = Signal(str)
    workflow_paused = Signal(str)
    workflow_resumed = Signal(str)
    node_started = Signal(str, str)
    node_completed = Signal(str, str, object)
    node_failed = Signal(str, str, str)
    execution_progress_updated = Signal(str, float)
    # QtForge header's names, emitted right after the reference's (see _header_signals).
    workflow_execution_started = Signal(str, str)
    workflow_execution_completed = Signal(str, object)
    workflow_execution_failed = Signal(str, str)
    workflow_execution_cancelled = Signal(str)
    node_execution_completed = Signal(str, str, object)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        plugin_manager: PluginManager | None = None,
        thread_pool: QThreadPool | None = None,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
        timers: Timers | None = None,
        default_executor: str = "thread",
        dask_address: str | None = None,
        process_workers: int | None = None,
        journal: str | os.PathLike[str] | ExecutionJournal | None = None,
    ) -> None:
        super().__init__(parent)
        self._attach(
            FacadeCore(
                self,
                _GraphWorkflows(),
                plugin_manager=plugin_manager,
                thread_pool=thread_pool,
                history_limit=history_limit,
                timers=timers,
                default_executor=default_executor,
                dask_address=dask_address,
                process_workers=process_workers,
                journal=journal,
                lookup=WithBuiltins,
            )
        )
        add_header_aliases(self, self._core.signals)

    # --- workflow management -----------------------------------------------------------
    def register_workflow(self, workflow: PluginWorkflow) -> Expected[None]:
        """Validate a graph workflow and register a private copy of it under its id.

        Connections without an id get one in the registered copy.

        Returns:
            Success, or ``InvalidWorkflowStructure`` (not a ``PluginWorkflow``, duplicate or
            empty ids, bad fields), ``NodeNotFound`` (a connection names a missing node),
            ``InvalidConnection`` (bad ports or types), ``CircularDependency`` or
            ``AlreadyExists``.
        """
        if not isinstance(workflow, PluginWorkflow):
            return make_error(
                _STRUCTURE,
                f"register_workflow expects a PluginWorkflow, got {type(workflow).__name__}",
            )
        with gc_paused_for(len(workflow.nodes)):
            prepared = prepare_graph(
                workflow, self._core.default_executor, self._core.engine.plugins
            )
        if isinstance(prepared, PluginError):
            return from_error(prepared)
        return self._register(prepared.workflow.workflow_id, prepared)

    def _prepare(self, candidate: PluginWorkflow) -> Registered | PluginError:
        core = self._core
        return prepare_graph(candidate, core.default_executor, core.engine.plugins)

    # --- durable executions ----------------------------------------------------------------
    def resume_from_journal(self, execution_id: str, force: bool = False) -> Expected[str]:
        """Resume an interrupted or failed execution recorded in the journal.

        (The header's ``resume_execution`` resumes a paused execution; this is the durable
        resume ``PluginOrchestrator.resume_execution`` does for step workflows.) Nodes that
        completed are not run again: their recorded outputs feed their successors. Only
        Sequential, Parallel and Conditional executions can be resumed.

        Args:
            execution_id: An execution of this or an earlier process, in the journal.
            force: Resume even if the workflow's registered definition changed since.

        Returns:
            The new execution's id, or ``InvalidState``, ``NotFound``, ``VersionMismatch``,
            ``ExecutionModeNotSupported`` (Streaming, EventDriven) or ``InvalidArgument``.
        """
        return self._core.resume_from_journal(execution_id, force)

    def unregister_workflow(self, workflow_id: str) -> Expected[None]:
        """Forget a registered workflow; ``NotFound`` if no workflow has that id.

        Running executions keep their compiled copy and finish normally.
        """
        return self._core.workflows.remove(workflow_id)

    def get_workflow(self, workflow_id: str) -> Expected[PluginWorkflow]:
        """A deep copy of the registered workflow (connection ids filled in), or ``NotFound``."""
        entry = self._core.workflows.get(workflow_id)
        if not entry:
            return from_error(entry.error())
        return make_success(entry.value().workflow.thaw())

    def create_workflow_from_composition(
        self, composition: Any, command: str | None = None
    ) -> Expected[PluginWorkflow]:
        """The workflow that runs ``command`` as the composition's ``CompositePlugin`` would.

        One graph per strategy (docs/composition.md); ``command`` defaults to ``"execute"``.
        Errors as ``composition.workflow_builder.build_workflow_document``.
        """
        from ...composition.workflow_builder import build_workflow_document

        built = build_workflow_document(composition, self._core.plugin_manager, command)
        return PluginWorkflow.from_json(built.value()) if built else from_error(built.error())

    # Declared by QtForge's header, never implemented there (it returns NotImplemented).

    def optimize_workflow(self, workflow_id: str) -> Expected[PluginWorkflow]:
        """Not implemented, as in QtForge (the engine already compiles workflows once)."""
        return make_error(PluginErrorCode.NotImplemented, "optimize_workflow is not implemented")

    def get_registered_workflows(self) -> list[str]:
        """The registered workflow ids, in registration order."""
        return self._core.workflows.ids()

    # --- dynamic modification ----------------------------------------------------------
    def add_node_to_workflow(self, workflow_id: str, node: WorkflowNode) -> Expected[None]:
        """Add a copy of ``node`` to a registered workflow.

        The changed workflow is validated like ``register_workflow``; nothing changes when it
        fails. Executions started afterwards use the new graph.

        Returns:
            Success, ``InvalidWorkflowStructure`` (not a node, a duplicate id, bad fields) or
            ``NotFound`` (no such workflow).
        """
        if not isinstance(node, WorkflowNode):
            return make_error(
                _STRUCTURE,
                f"add_node_to_workflow expects a WorkflowNode, got {type(node).__name__}",
            )
        return self._modify(workflow_id, lambda wf: wf.nodes.append(copy_model(node)))

    def remove_node_from_workflow(self, workflow_id: str, node_id: str) -> Expected[None]:
        """Remove a node, and every connection to or from it, from a registered workflow.

        Returns:
            Success, ``NotFound`` (no such workflow) or ``NodeNotFound`` (no such node).
        """

        def remove(wf: PluginWorkflow) -> PluginError | None:
            if not any(n.node_id == node_id for n in wf.nodes):
                return PluginError(
                    PluginErrorCode.NodeNotFound,
                    f"workflow '{workflow_id}' has no node '{node_id}'",
                )
            wf.nodes = [n for n in wf.nodes if n.node_id != node_id]
            wf.connections = [
                c for c in wf.connections if node_id not in (c.source_node, c.target_node)
            ]
            return None

        return self._modify(workflow_id, remove)

    def add_connection_to_workflow(
        self, workflow_id: str, connection: WorkflowConnection
    ) -> Expected[None]:
        """Add a copy of ``connection`` to a registered workflow, validated like a new one.

        Returns:
            Success, ``InvalidWorkflowStructure`` (not a connection, a duplicate id, a bad
            condition), ``NotFound`` (no such workflow), ``NodeNotFound``,
            ``InvalidConnection`` or ``CircularDependency``; nothing changes on an error.
        """
        if not isinstance(connection, WorkflowConnection):
            return make_error(
                _STRUCTURE,
                "add_connection_to_workflow expects a WorkflowConnection, got "
                f"{type(connection).__name__}",
            )
        return self._modify(workflow_id, lambda wf: wf.connections.append(copy_model(connection)))

    def _modify(self, workflow_id: str, change: Any) -> Expected[None]:
        # The whole change is made on a copy under the registry lock, and swapped in only when
        # the copy validates: a refused change leaves the registered workflow exactly as it was.
        def changed(entry: Registered) -> Registered | PluginError:
            with gc_paused_for(len(entry.workflow.nodes)):
                candidate = entry.workflow.thaw()
                refused = change(candidate)
                if isinstance(refused, PluginError):
                    return refused
                return prepare_graph(
                    candidate, self._core.default_executor, self._core.engine.plugins
                )

        return self._core.workflows.replace(workflow_id, changed)

    # --- execution -----------------------------------------------------------------------
    def execute_workflow(
        self, workflow_id: str, input_data: dict[str, Any] | None = None
    ) -> Expected[str]:
        """Start an execution and return its id at once.

        Follow it through the signals, ``get_execution_status`` or ``wait_for_execution``;
        EventDriven executions keep running until cancelled. Failures of the execution itself
        are reported by signals and status, not here.

        Returns:
            The execution id, ``InvalidParameters`` (``input_data`` not a dict) or
            ``NotFound`` (no such workflow).
        """
        run = self._core.start(workflow_id, input_data)
        if isinstance(run, PluginError):
            return from_error(run)
        self._core.launch(run)
        return make_success(run.execution_id)

    def execute_workflow_async(
        self, workflow_id: str, input_data: dict[str, Any] | None = None
    ) -> ExecutionFuture[Expected[dict[str, Any]]]:
        """Start an execution and return a future of its final data.

        The data are the leaf nodes' outputs, keyed by node id. ``await`` the future under
        qasync or call ``.result(timeout)`` from plain code; a start error resolves it at once.
        Cancelling the future cancels the execution.
        """
        return self._core.start_async(self._core.start(workflow_id, input_data))

    def post_event(
        self, execution_id: str, payload: dict[str, Any] | None = None, source_node: str = ""
    ) -> Expected[None]:
        """Feed one event into a running EventDriven execution.

        The graph downstream of ``source_node`` runs once with ``payload`` as that node's
        output. In a workflow without Source nodes the event runs the whole graph with the
        payload as input data.

        Args:
            execution_id: A running EventDriven execution.
            payload: The event's data (a dict).
            source_node: The Source node the event enters through; the first one when empty.

        Returns:
            Success, ``NotFound`` (unknown execution), ``ExecutionModeNotSupported`` (not
            EventDriven), ``InvalidParameters`` (payload not a dict), ``InvalidArgument``
            (``source_node`` is not a Source node), ``NodeNotFound`` or ``InvalidState`` (the
            execution is not accepting events).
        """
        run = self._core.find_run(execution_id)
        if isinstance(run, PluginError):
            return from_error(run)
        if run.kind is not ScheduleKind.EVENT:
            return make_error(
                PluginErrorCode.ExecutionModeNotSupported,
                f"execution '{execution_id}' is not EventDriven; only EventDriven executions "
                "take events",
            )
        if payload is not None and not isinstance(payload, dict):
            return make_error(
                PluginErrorCode.InvalidParameters,
                f"an event payload must be a dict, got {type(payload).__name__}",
            )
        trigger = self._trigger_index(run, source_node)
        if isinstance(trigger, PluginError):
            return from_error(trigger)
        error = run.post_event(trigger, dict(payload or {}))
        return make_success() if error is None else from_error(error)

    @staticmethod
    def _trigger_index(run: RunView, source_node: str) -> int | PluginError:
        sources = [t for t in run.plan.tasks if t.role is Role.SOURCE]
        if not source_node:
            # Without Source nodes an event runs the whole graph with the payload as input.
            return sources[0].index if sources else WHOLE_GRAPH
        for task in sources:
            if task.key == source_node:
                return task.index
        if any(t.key == source_node for t in run.plan.tasks):
            return PluginError(
                PluginErrorCode.InvalidArgument,
                f"node '{source_node}' is not a Source node; events enter through Source nodes",
            )
        return PluginError(
            PluginErrorCode.NodeNotFound,
            f"workflow '{run.workflow_id}' has no node '{source_node}'",
        )

    def cancel_execution(self, execution_id: str) -> Expected[None]:
        """Cancel an execution; ``NotFound``, or ``InvalidState`` if it already ended."""
        run = self._core.find_run(execution_id)
        if isinstance(run, PluginError):
            return from_error(run)
        if not run.cancel():
            return make_error(
                PluginErrorCode.InvalidState,
                f"execution '{execution_id}' is already {run.status}; nothing to cancel",
            )
        return make_success()

    def pause_execution(self, execution_id: str) -> Expected[None]:
        """Pause a running execution: running nodes finish, no new node starts.

        Returns:
            Success, ``NotFound`` or ``InvalidState`` (not running).
        """
        run = self._core.find_run(execution_id)
        if isinstance(run, PluginError):
            return from_error(run)
        error = run.pause()
        if error is not None:
            return from_error(error)
        if isinstance(run, Run):  # its nested workflows' children pause with it
            _nesting.for_each_descendant(run, Run.pause)
        return make_success()

    def resume_execution(self, execution_id: str) -> Expected[None]:
        """Resume a paused execution; ``NotFound``, or ``InvalidState`` if it is not paused."""
        run = self._core.find_run(execution_id)
        if isinstance(run, PluginError):
            return from_error(run)
        error = run.resume()
        if error is not None:
            return from_error(error)
        if isinstance(run, Run):
            _nesting.for_each_descendant(run, Run.resume)
        return make_success()

    # --- monitoring ----------------------------------------------------------------------
    def get_execution_status(self, execution_id: str) -> Expected[WorkflowExecutionContext]:
        """A snapshot of one execution as a ``WorkflowExecutionContext``, or ``NotFound``.

        Node outputs inside it are the engine's record, shared rather than copied so a call
        stays cheap whatever their size: copy one before changing it.
        """
        run = self._core.find_run(execution_id)
        if isinstance(run, PluginError):
            return from_error(run)
        return make_success(status_context(run))

    def get_active_executions(self) -> list[str]:
        """The ids of the executions that have not ended."""
        return [run.execution_id for run in self._core.engine.active_runs()]

    def get_node_status(self, execution_id: str, node_id: str) -> Expected[dict[str, Any]]:
        """One node's status in an execution as a dict, or ``NotFound`` / ``NodeNotFound``.

        The dict has ``node_id``, ``status``, ``output``, ``error``, ``attempts``,
        ``start_time``, ``end_time`` and ``duration_ms``, plus Streaming's item counts.
        """
        run = self._core.find_run(execution_id)
        if isinstance(run, PluginError):
            return from_error(run)
        for task in run.plan.tasks:
            if task.key == node_id:
                snap = take_snapshot(run)
                reports = _node_reports(run, snap, [task.index], _nesting.children(run))
                return make_success(reports[0])
        return make_error(
            PluginErrorCode.NodeNotFound,
            f"execution '{execution_id}' has no node '{node_id}'",
        )


_SETTLED = frozenset(
    {TaskState.Completed, TaskState.Failed, TaskState.Skipped, TaskState.Cancelled}
)


# Indexed by state value: an enum call, ``.name`` and ``.lower()`` per node of a status call
# cost more than the rest of its report.
_STATE_NAMES = tuple(state.name.lower() for state in sorted(TaskState))


def _node_reports(
    run: RunView, snap: RunSnapshot, indices: list[int], children: dict[str, str]
) -> list[dict[str, Any]]:
    """``get_node_status``'s dict for each node in ``indices``.

    ``children`` maps each nested node to its child execution, as at the status call.
    """
    tasks, names = run.plan.tasks, _STATE_NAMES
    states, outputs, errors, retries = snap.states, snap.outputs, snap.errors, snap.retries
    starts, ends, extras, iso = snap.starts, snap.ends, snap.task_extras, iso_utc
    debug = bool(snap.failures or snap.late)  # a failed node's error as data, late attempts
    reports: list[dict[str, Any]] = []
    append = reports.append
    for index in indices:
        started, ended = starts[index], ends[index]
        key = tasks[index].key
        status: dict[str, Any] = {
            "node_id": key,
            "status": names[states[index]],
            "output": outputs[index] or {},
            "error": errors[index],
            "attempts": retries[index] + 1 if started else 0,
            "start_time": iso(started),
            "end_time": iso(ended),
            "duration_ms": round((ended - started) * 1000, 3) if started and ended else None,
        }
        if extras is not None:
            status.update(extras[index])
        if debug:
            status.update(debug_fields(snap, index, "node_id"))
        if children:
            child = children.get(key)
            if child is not None:
                status["child_execution_id"] = child
        append(status)
    return reports
