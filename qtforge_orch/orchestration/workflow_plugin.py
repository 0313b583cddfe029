"""A registered workflow as a plugin: its command runs the workflow as a child execution.

``orchestrator.as_plugin(workflow_id)`` makes one; registered in a ``PluginManager`` it is a
step (v1) or node (v2) of any workflow of either orchestrator. Each call is its own child
execution of the orchestrator that made the plugin, with an id derived from the parent
execution and step (``<parent>/<step>``), so a resumed parent finds the child it started.

The waiting parent step never holds a pool thread idle: ``Engine.wait`` makes the waiting
thread take the child's ready work itself (a helping waiter), so nesting cannot starve even a
one-thread pool.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from .._engine import Run, RunStatus, live_run
from ..contract.context import StepContext
from ..contract.plan import Plan, ScheduleKind
from ..errors import PluginError, PluginErrorCode
from ..events import EventKind, ExecutionEvent
from ..plugins.interface import IPlugin
from ..results import Expected, from_error, make_error, make_success
from . import _nested_durable as durable
from ._nesting import (
    MAX_NESTING_DEPTH,
    NestedTarget,
    NestLink,
    WorkflowKey,
    attach_child,
    cycle_error,
    depth_error,
    nesting_refusal,
    own_link,
    workflow_name,
)

if TYPE_CHECKING:
    from ._facade_core import FacadeCore

NESTED_COMMAND = "execute"
_PROGRESS_BIT = 1 << EventKind.PROGRESS
_collisions = itertools.count(2)


class WorkflowPlugin(IPlugin):
    """A registered workflow used as a plugin (made by ``orchestrator.as_plugin``).

    Its one command, ``execute``, runs the workflow as a child execution of the orchestrator
    that made it: the step's parameters are the child's initial data and the child's result
    is the step's output. Cancelling or timing out the step cancels the child; pausing the
    parent (v2) pauses it; a failed child fails the step with the child's error and execution
    id. Any number of executions may call one such plugin at once, each call its own child.

    Attributes:
        workflow_id: The workflow it runs.
    """

    category = "workflow"
    tags = ("nested-workflow",)

    def __init__(self, core: FacadeCore, workflow_id: str, plugin_id: str) -> None:
        # Weak: a plugin manager may outlive the orchestrator; the call then says so.
        self._core_ref = weakref.ref(core)
        self._engine_id = id(core.engine)
        self._kind = core.kind.journal_kind
        self.workflow_id = workflow_id
        self._plugin_id = plugin_id
        self.name = plugin_id
        self.description = f"Runs the {workflow_name(self._kind, workflow_id)} as a child"

    def id(self) -> str:
        """The plugin id (``workflow:<workflow id>`` unless chosen)."""
        return self._plugin_id

    def available_commands(self) -> list[str]:
        """``["execute"]``."""
        return [NESTED_COMMAND]

    def __reduce__(self) -> Any:
        # A child execution needs this process's orchestrator: it cannot travel to a process
        # or Dask worker, and registration on those executors says so.
        raise TypeError(self._shipping_refusal("process"))

    def _shipping_refusal(self, executor: str) -> str:
        """(engine use) Why this plugin cannot run on ``executor`` (any but the thread one)."""
        return (
            f"nested workflow plugin '{self._plugin_id}' runs its child execution in its "
            f"orchestrator's process, not on the '{executor}' executor; use the thread "
            "executor for its step"
        )

    def execute_command(
        self, command: str, params: dict[str, Any], context: StepContext | None = None
    ) -> Expected[dict[str, Any]]:
        """Run the workflow as a child of the execution ``context`` belongs to.

        Without a context it is a plain execution with no parent.
        """
        if command != NESTED_COMMAND:
            return make_error(
                PluginErrorCode.CommandNotFound,
                f"nested workflow plugin '{self._plugin_id}' has only the command "
                f"'{NESTED_COMMAND}', not '{command}'",
            )
        if not isinstance(params, dict):
            return make_error(
                PluginErrorCode.InvalidParameters,
                f"a nested workflow's parameters are its initial data: a dict, got "
                f"{type(params).__name__}",
            )
        value = self._run_child(params, context)
        return from_error(value) if isinstance(value, PluginError) else make_success(value)

    def resolve_command(
        self, command: str, context: StepContext | None = None
    ) -> Callable[[dict[str, Any]], Any] | None:
        """The engine's fast way in (see ``FunctionPlugin.resolve_command``)."""
        if command != NESTED_COMMAND:
            return None
        return partial(self._call, context)

    def _call(self, context: StepContext | None, params: dict[str, Any]) -> Any:
        value = self._run_child(params, context)
        if isinstance(value, PluginError):
            raise value
        return value

    def nested_core(self) -> FacadeCore | None:
        """(library use) The core of the orchestrator that runs the workflow, if alive."""
        return self._core_ref()

    # --- what the registration checks read (``_nesting.NestedTarget``) ---------------------------
    def nested_key(self) -> WorkflowKey | None:
        """(library use) The workflow it runs, as the nesting checks identify it."""
        return (self._engine_id, self.workflow_id) if self._core_ref() is not None else None

    def nested_name(self) -> str:
        """The workflow it runs, as messages name it (``v1 workflow 'id'``)."""
        return workflow_name(self._kind, self.workflow_id)

    def nested_plan(self) -> Plan | None:
        """(library use) The compiled plan of the workflow it runs now (None: unregistered)."""
        core = self._core_ref()
        found = core.workflows.get(self.workflow_id) if core is not None else None
        return found.value().plan if found else None

    def nested_targets(
        self, plan: Plan, pending: dict[str, NestedTarget]
    ) -> Iterator[NestedTarget]:
        """(library use) The nested-workflow plugins ``plan``'s steps call.

        Looked up where this plugin's orchestrator finds its plugins.
        """
        core = self._core_ref()
        if core is None:
            return iter(())
        return nested_targets(core.plugin_manager, plan, pending)

    # --- one call ----------------------------------------------------------------------------
    def _run_child(
        self, params: dict[str, Any], context: StepContext | None
    ) -> dict[str, Any] | PluginError:
        core = self._core_ref()
        if core is None:
            return PluginError(
                PluginErrorCode.InvalidState,
                f"the orchestrator of nested workflow '{self.workflow_id}' is gone",
                plugin_id=self._plugin_id,
            )
        parent = live_run(context.execution_id) if context is not None else None
        step = context.step_id if context is not None else ""
        parent_link = own_link(parent, _kind_of(parent)) if parent is not None else None
        link = self._child_link(parent, parent_link, step)
        if isinstance(link, PluginError):
            return link
        found = core.workflows.get(self.workflow_id)
        if not found:
            return found.error()
        if found.value().plan.schedule is ScheduleKind.EVENT:
            return PluginError(
                PluginErrorCode.NotSupported,
                f"workflow '{self.workflow_id}' is EventDriven: it has no result to return "
                "until it is cancelled, so it cannot run as a nested step",
            )
        child_id = _child_id(core, parent, context)
        earlier = durable.earlier_child(core, parent, step, child_id)
        if isinstance(earlier, PluginError):
            return earlier
        if isinstance(earlier, dict):  # completed in an earlier process: not run again
            return earlier
        child = (
            earlier
            if earlier is not None
            else core.start(self.workflow_id, params, execution_id=child_id, nested=True)
        )
        if isinstance(child, PluginError):
            return child
        attach_child(parent, parent_link, step, child, link)
        if context is not None and parent is not None and parent.listened.kinds & _PROGRESS_BIT:
            _forward_progress(core, child, context)
        # Outside the owner thread the waiting thread helps run the child (``Engine.wait``):
        # it takes the child's first task itself instead of waking a pool thread for it.
        core.launch(child, 0 if core.engine.in_owner_thread() else 1)
        if context is not None:
            # After the start, so a cancel always meets a running child (one already due
            # calls the hook at once).
            lane = core.engine.lane
            context.add_cancel_hook(lambda: lane.submit(partial(_cancel_child, child, step)))
        if parent is not None and parent.status == RunStatus.PAUSED:
            child.pause()
        core.engine.wait(child)  # a journal that lags keeps its records queued: not our error
        return self._outcome(core, parent, context, child)

    def _child_link(
        self, parent: Run | None, parent_link: NestLink | None, step: str
    ) -> NestLink | PluginError:
        key = (self._engine_id, self.workflow_id)
        name = self.nested_name()
        if parent is None or parent_link is None:
            return NestLink(chain=(key,), names=(name,))
        if key in parent_link.chain:
            at = parent_link.chain.index(key)
            return cycle_error([*parent_link.names[at:], name])
        if parent_link.depth + 1 > MAX_NESTING_DEPTH:
            return depth_error([*parent_link.names, name])
        return NestLink(
            parent_execution_id=parent.execution_id,
            parent_step=step,
            depth=parent_link.depth + 1,
            chain=(*parent_link.chain, key),
            names=(*parent_link.names, name),
        )

    def _outcome(
        self,
        core: FacadeCore,
        parent: Run | None,
        context: StepContext | None,
        child: Run,
    ) -> dict[str, Any] | PluginError:
        child_id = child.execution_id
        if child.status == RunStatus.COMPLETED:
            durable.carry_compensations(core, parent, context, child)
            return dict(child.result or {})
        error = child.error or PluginError(PluginErrorCode.ExecutionFailed, "failed")
        return PluginError(
            error.code,
            f"nested workflow '{self.workflow_id}' (execution {child_id}) {child.status}: "
            f"{error.message}",
            error.details,
            self._plugin_id,
            {
                **error.context,
                "child_execution_id": child_id,
                "workflow_id": self.workflow_id,
                "status": child.status,
            },
        )


def _kind_of(run: Run) -> str:
    return "v1" if run.engine.names.noun == "step" else "v2"


def _child_id(core: FacadeCore, parent: Run | None, context: StepContext | None) -> str | None:
    """The child's id: ``<parent>/<step>`` (``#<attempt>`` for a retry).

    Made unique in the child's engine (an EventDriven parent's passes share its id).
    """
    if parent is None or context is None:
        return None
    base = f"{parent.execution_id}/{context.step_id}"
    if context.attempt > 1:
        base = f"{base}#{context.attempt}"
    candidate = base
    while core.engine.get_run(candidate) is not None:
        candidate = f"{base}~{next(_collisions)}"
    return candidate


def _cancel_child(child: Run, step: str) -> None:
    child.cancel(
        PluginError(
            PluginErrorCode.OperationCancelled,
            f"cancelled: the parent step '{step}' was cancelled or timed out",
        )
    )


def _forward_progress(core: FacadeCore, child: Run, context: StepContext) -> None:
    """The child's progress becomes the parent step's (the parent's handle and status).

    Only while somebody follows the parent's progress (a handle, a subscriber, a connected
    progress signal): a child's progress events cost its engine's owner thread a delivery.
    """
    message = f"nested execution {child.execution_id}"

    def on_progress(event: ExecutionEvent) -> None:
        context.report_progress(event.progress, message)

    core.engine.pump.subscribe(on_progress, (EventKind.PROGRESS,), child.execution_id, weak=False)


def nested_targets(
    plugins: Any, plan: Plan, pending: dict[str, NestedTarget] | None = None
) -> Iterator[NestedTarget]:
    """The nested-workflow plugins ``plan``'s steps or nodes call.

    Registered ones, or one of ``pending`` (about to exist) for an id no registered plugin has.
    """
    find = getattr(plugins, "_registered_finder", None)
    lookup = find() if find is not None else None
    for task in plan.tasks:
        if lookup is not None:
            plugin: Any = lookup(task.plugin_id)
        else:
            found = plugins.get_plugin(task.plugin_id)
            plugin = found.value() if found else None
        if plugin is None and pending:
            plugin = pending.get(task.plugin_id)
        if isinstance(plugin, WorkflowPlugin):
            yield plugin


def make_workflow_plugin(
    core: FacadeCore, workflow_id: Any, plugin_id: Any
) -> Expected[WorkflowPlugin]:
    """``as_plugin`` of both orchestrators (documented there)."""
    if not isinstance(workflow_id, str):
        return make_error(
            PluginErrorCode.InvalidArgument,
            f"a workflow id must be a string, got {type(workflow_id).__name__}",
        )
    if plugin_id is not None and (not isinstance(plugin_id, str) or not plugin_id):
        return make_error(
            PluginErrorCode.InvalidArgument,
            f"plugin_id must be a non-empty string (or None for 'workflow:{workflow_id}'), "
            f"got {plugin_id!r}",
        )
    found = core.workflows.get(workflow_id)
    if not found:
        return from_error(found.error())
    if found.value().plan.schedule is ScheduleKind.EVENT:
        return make_error(
            PluginErrorCode.NotSupported,
            f"workflow '{workflow_id}' is EventDriven: it has no result until it is "
            "cancelled, so it cannot be used as a plugin",
        )
    plugin = WorkflowPlugin(core, workflow_id, plugin_id or f"workflow:{workflow_id}")
    # The workflow may already call, through other workflows, a plugin of the id this one
    # gets: registering it would close a cycle, so it is refused now.
    refused = nesting_refusal(
        (id(core.engine), workflow_id),
        plugin.nested_name(),
        found.value().plan,
        plugin.nested_targets,
        {plugin.id(): plugin},
    )
    if refused is not None:
        return from_error(refused)
    return make_success(plugin)
