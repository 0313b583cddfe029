"""The public methods both orchestrators share, each one handed to the orchestrator's core.

``PluginOrchestrator`` and ``AdvancedPluginOrchestrator`` derive from ``OrchestratorBase``
for these and nothing else: no method here is meant to be overridden, and what differs
between the two lives in the ``WorkflowKind`` each gives its ``FacadeCore``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QMetaMethod, QObject, QThreadPool

from ..errors import PluginError
from ..events import EventKind, Subscriber, Subscription
from ..plugins import PluginManager
from ..results import Expected, from_error, make_success
from . import _nesting
from ._handles import execution_handle, start_handle
from ._nested_durable import carry_restored
from .workflow_plugin import WorkflowPlugin, make_workflow_plugin, nested_targets

if TYPE_CHECKING:
    from ..contract.plan import Plan
    from ..journal import ExecutionJournal, ExecutionPage
    from ..qt.execution import WorkflowExecution
    from ._facade_core import FacadeCore
    from ._registry import Registered


class OrchestratorBase(QObject):
    """What both orchestrators offer beyond their own reference API.

    Lifetime, history, events, handles and the journal; each method delegates to the
    orchestrator's core.
    """

    _core: FacadeCore

    def _attach(self, core: FacadeCore) -> None:
        """Keep ``core``; closing the application then shuts the orchestrator down."""
        self._core = core
        core.on_resume = partial(carry_restored, core)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._on_application_quit)

    def _on_application_quit(self) -> None:
        self.shutdown()

    def connectNotify(self, signal: QMetaMethod) -> None:
        """Qt override: events for a signal are only built once something connected to it."""
        core = self.__dict__.get("_core")
        if core is not None:
            core.signals.connected(bytes(signal.name().data()).decode())

    def _register(self, workflow_id: str, entry: Registered) -> Expected[None]:
        """Add a validated, compiled workflow, unless its nested workflows nest wrongly.

        A cycle is ``CircularDependency``, more than ``MAX_NESTING_DEPTH`` levels
        ``ResourceExhausted``.
        """
        core = self._core
        key = (id(core.engine), workflow_id)
        name = _nesting.workflow_name(core.kind.journal_kind, workflow_id)

        def targets(plan: Plan, pending: dict[str, _nesting.NestedTarget]) -> Any:
            return nested_targets(core.plugin_manager, plan, pending)

        refused = _nesting.nesting_refusal(key, name, entry.plan, targets)
        if refused is not None:
            return from_error(refused)
        return core.workflows.add(workflow_id, entry)

    # --- nested workflows --------------------------------------------------------------------
    def as_plugin(self, workflow_id: str, plugin_id: str | None = None) -> Expected[WorkflowPlugin]:
        """A plugin that runs a registered workflow of this orchestrator as a child execution.

        Register it in a ``PluginManager`` and use its id in a step (v1) or node (v2) of any
        workflow, of either orchestrator: its command ``execute`` runs the workflow with the
        step's parameters as initial data and returns the child's result. See "Nested
        workflows" in the composition guide.

        Args:
            workflow_id: A registered workflow (Sequential, Parallel, Conditional or
                Streaming; an EventDriven one never returns a result).
            plugin_id: The plugin's id; ``"workflow:<workflow_id>"`` when None.

        Returns:
            The plugin, ``NotFound`` (no such workflow), ``NotSupported`` (EventDriven) or
            ``InvalidArgument``.
        """
        return make_workflow_plugin(self._core, workflow_id, plugin_id)

    def get_child_executions(self, execution_id: str) -> Expected[dict[str, str]]:
        """The child executions of an execution's nested steps, by step or node id.

        ``{step or node id: the execution id of its latest child}`` (empty when none nested),
        or ``NotFound``.

        A child is an execution of the orchestrator whose ``as_plugin`` made the plugin;
        follow it there (``subscribe``, status calls).
        """
        run = self._core.find_run(execution_id)
        if isinstance(run, PluginError):
            return from_error(run)
        return make_success(_nesting.children(run))

    # --- following executions ----------------------------------------------------------------
    def subscribe(
        self,
        callback: Subscriber,
        execution_id: str | None = None,
        kinds: Iterable[EventKind] | None = None,
        weak: bool = True,
    ) -> Expected[Subscription]:
        """Deliver this orchestrator's execution events to ``callback``, in its thread.

        ``callback(event)`` gets each ``ExecutionEvent`` of the chosen kinds, in the
        orchestrator's thread, in the order the orchestrator's signals are emitted. Events are
        built only for kinds somebody subscribes to, so subscribe before the execution starts
        to see all of it (``start_workflow``'s handles do). A callback that raises is logged
        (logger ``qtforge_orch.events``) and the other subscribers still get the event.

        Args:
            callback: Called with each event.
            execution_id: Follow one execution (the subscription ends after its terminal
                event), or every execution when None.
            kinds: The ``EventKind``s to deliver; every kind when None.
            weak: Hold a bound method through a weak reference (the default), so subscribing
                does not keep its object alive; a deleted QObject ends the subscription.
                False holds it until the subscription ends. Other callables are always held.

        Returns:
            The ``Subscription`` (``cancel()`` ends it); ``InvalidArgument`` (not callable, a
            kind that is not an ``EventKind``, an id that is not a string), ``NotFound`` (no
            such execution) or ``InvalidState`` (the execution has ended).
        """
        return self._core.subscribe(callback, execution_id, kinds, weak)

    def start_workflow(
        self, workflow_id: str, input_data: dict[str, Any] | None = None
    ) -> Expected[WorkflowExecution]:
        """Start an execution and return its live ``WorkflowExecution`` handle; never blocks.

        Connect to the handle's signals, ``await`` it or cancel it. Call this in the
        orchestrator's thread; the handle lives in that thread and emits its signals there.

        Returns:
            The handle, ``ThreadingError`` when called from another thread, or the errors of
            ``execute_workflow`` before the execution starts (``NotFound``,
            ``InvalidParameters``...).
        """
        return start_handle(self._core, self, workflow_id, input_data)

    def execution(self, execution_id: str) -> Expected[WorkflowExecution]:
        """The ``WorkflowExecution`` handle of an execution this orchestrator knows.

        Any execution id works: one started by ``start_workflow``, ``execute_workflow``
        (synchronous or ``async_=True``), ``execute_workflow_async`` or ``resume_execution``,
        still running, ended, or recorded in the attached journal (by an earlier process
        too). A running execution's handle follows it from now on like ``start_workflow``'s
        (signals, ``await``, ``result()``, ``cancel``; what happened before is read once and
        replayed to late connections); an ended one's is finished, with its result or error
        and its steps' states. While a handle of the execution exists, the same object is
        returned (``start_workflow``'s included); otherwise an equivalent new one. An
        execution another process is still running is shown as its journal recorded it, and
        is not followed. Call it in the orchestrator's thread.

        Returns:
            The handle; ``NotFound`` (no such execution, or it left the bounded history and
            is in no journal), ``InvalidArgument`` (not a string) or ``ThreadingError``.
        """
        return execution_handle(self._core, self, execution_id)

    def wait_for_execution(
        self, execution_id: str, timeout_ms: int | None = None, *, late_outcomes: bool = False
    ) -> bool:
        """Block until an execution has ended; never call it from a GUI slot.

        Called in the orchestrator's thread it delivers the execution's signals while it
        waits; from another thread the waiting thread helps run the execution. With
        ``late_outcomes`` it also waits for the steps the execution abandoned while they ran
        (cancelled, timed out) to return, and for their late successes to be undone (see
        the semantics pages): a step that never returns makes it time out.

        Returns:
            True once the execution has ended, including one that has since left the bounded
            history; False on timeout, for an id this orchestrator never issued, or for
            arguments of the wrong type.
        """
        return self._core.wait_for_execution(execution_id, timeout_ms, late_outcomes)

    # --- resources and lifetime --------------------------------------------------------------
    def plugin_manager(self) -> PluginManager:
        """The plugin manager plugins are looked up in."""
        return self._core.plugin_manager

    def thread_pool(self) -> QThreadPool:
        """The pool node work runs on (the orchestrator's own unless one was passed in)."""
        return self._core.engine.executor.pool

    def set_history_limit(self, limit: int) -> Expected[None]:
        """How many finished executions stay queryable (the oldest are forgotten first)."""
        return self._core.set_history_limit(limit)

    def history_limit(self) -> int:
        """How many finished executions stay queryable."""
        return self._core.engine.history_limit()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel every execution (running its rollbacks) and join the worker threads.

        Also done automatically when the application emits ``aboutToQuit`` and at interpreter
        exit.

        Returns:
            False if something was still busy after ``timeout_ms`` in total.
        """
        return self._core.shutdown(timeout_ms)

    # --- the journal -------------------------------------------------------------------------
    def journal(self) -> ExecutionJournal | None:
        """The execution journal this orchestrator records to, if any."""
        return self._core.journal.journal

    def get_execution_history(
        self,
        workflow_id: str | None = None,
        limit: int = 50,
        before: str | None = None,
        *,
        status: str | None = None,
    ) -> Expected[ExecutionPage]:
        """Executions recorded in the journal, newest first, across restarts.

        Args:
            workflow_id: Only this workflow's executions (all when None).
            limit: At most this many (1-1000).
            before: ``next_cursor`` of the previous page, for the next (older) one.
            status: Only executions in this journal status (``running``, ``interrupted``,
                ``completed``, ``failed``, ``cancelled``); all when None.

        Returns:
            An ``ExecutionPage`` (``executions``, ``next_cursor``), ``InvalidArgument`` or
            ``InvalidState`` (no journal).
        """
        return self._core.journal.history(workflow_id, limit, before, status)
