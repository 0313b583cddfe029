"""What both orchestrators share on top of the engine: lifetime, history and lookups."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, cast

from PySide6.QtCore import QCoreApplication, QMetaMethod, QObject, QThreadPool

from .._engine import executors as executor_kinds
from .._engine.core import Engine
from .._engine.invoke import PluginLookup
from .._engine.run import Run
from .._engine.status import RunStatus, SignalNames
from .._engine.timers import Timers
from .._errors import PluginError, PluginErrorCode
from .._expected import Expected, from_error, make_error, make_success
from ..events import EventKind, Subscriber, Subscription
from ..plugins import PluginManager, default_plugin_manager
from ._item_counts import ItemCountSampler
from ._registry import id_type_error
from ._signals import SignalRelay


class EngineFacade:
    """What both orchestrators share on top of the engine: lifetime, history and lookups.

    Mixed into each orchestrator before ``QObject`` so its ``connectNotify`` wins; expects
    ``_engine`` and ``_plugin_manager``.
    """

    _engine: Engine
    _plugin_manager: PluginManager
    _default_executor: str = "thread"

    def _attach_engine(
        self,
        names: SignalNames,
        plugin_manager: PluginManager | None,
        thread_pool: QThreadPool | None,
        history_limit: int,
        lookup: Callable[[PluginManager], PluginLookup] | None = None,
        timers: Timers | None = None,
    ) -> None:
        """The construction both orchestrators share (call after QObject.__init__)."""
        self._plugin_manager = (
            plugin_manager if plugin_manager is not None else default_plugin_manager()
        )
        plugins = self._plugin_manager if lookup is None else lookup(self._plugin_manager)
        owner = cast(QObject, self)
        self._engine = Engine(owner, names, plugins, thread_pool, history_limit, timers)
        self._signals = SignalRelay(self, names, self._engine.pump)
        self._item_counts = ItemCountSampler(self._engine, owner)
        self._follow_application_quit()

    def _configure_executors(
        self,
        default_executor: str,
        dask_address: str | None,
        process_workers: int | None,
    ) -> None:
        """Apply the executor keywords both constructors take (docs/scaling-out.md).

        ``default_executor`` runs the steps that name no ``executor`` ("thread", "process" or
        "dask"); ``dask_address`` points the Dask executor at a running scheduler (default: a
        local cluster on 127.0.0.1, started on first use); ``process_workers`` sizes the
        process pool (default: one per CPU). A bad value raises
        ``PluginError(InvalidConfiguration)``: a constructor has no Expected to return.
        """
        try:
            checked = executor_kinds.check_executor(default_executor, "default_executor")
        except executor_kinds.UnknownExecutor as exc:
            raise PluginError(PluginErrorCode.InvalidConfiguration, str(exc)) from None
        self._default_executor = checked
        if dask_address is not None and (not isinstance(dask_address, str) or not dask_address):
            raise PluginError(
                PluginErrorCode.InvalidConfiguration,
                f"dask_address must be a scheduler address such as 'tcp://host:8786', "
                f"got {dask_address!r}",
            )
        if process_workers is not None and (
            not isinstance(process_workers, int)
            or isinstance(process_workers, bool)
            or process_workers < 1
        ):
            raise PluginError(
                PluginErrorCode.InvalidConfiguration,
                f"process_workers must be an int >= 1 (or None: one per CPU), "
                f"got {process_workers!r}",
            )
        options = self._engine.executors.options
        options.dask_address = dask_address
        options.process_workers = process_workers

    def _follow_application_quit(self) -> None:
        """Closing the application shuts the orchestrator down (cancel, compensate, join)."""
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._on_application_quit)

    def _on_application_quit(self) -> None:
        self.shutdown()

    def connectNotify(self, signal: QMetaMethod) -> None:
        """Qt override: events for a signal are only built once something connected to it."""
        self._signals.connected(bytes(signal.name().data()).decode())

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
            execution_id: Follow one execution (its subscriptions end after its terminal
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
        if not callable(callback):
            return make_error(
                PluginErrorCode.InvalidArgument,
                f"subscribe needs a callable, got {type(callback).__name__}",
            )
        chosen = self._event_kinds(kinds)
        if isinstance(chosen, PluginError):
            return from_error(chosen)
        run: Any = None
        if execution_id is not None:
            run = self._find_run(execution_id)
            if isinstance(run, PluginError):
                return from_error(run)
        pump = self._engine.pump
        subscription = pump.subscribe(
            callback,
            chosen,
            execution_id,
            weak=bool(weak),
            still_open=None if run is None else partial(self._may_follow, run),
        )
        if not subscription.is_active():
            return make_error(
                PluginErrorCode.InvalidState,
                f"execution '{execution_id}' has ended ({run.status}); nothing more will be "
                "reported: read get_execution_status instead",
                context={"execution_id": execution_id, "status": run.status},
            )
        if EventKind.ITEM_COUNTS in chosen:
            if execution_id is None:
                self._item_counts.follow_all()
            else:
                self._item_counts.follow(run)
        return make_success(subscription)

    def _may_follow(self, run: Any) -> bool:
        """Whether a subscription to ``run`` would still get something.

        It does while the run runs, or while its terminal event is on its way (a run posts it
        with its lock held, as it ends).
        """
        with run.lock:
            return bool(
                run.status not in RunStatus.FINAL
                or self._engine.pump.terminal_queued(run.execution_id)
            )

    @staticmethod
    def _event_kinds(kinds: Iterable[EventKind] | None) -> frozenset[EventKind] | PluginError:
        if kinds is None:
            return frozenset(EventKind)
        if isinstance(kinds, EventKind):
            return frozenset((kinds,))
        try:
            chosen = frozenset(kinds)
        except TypeError:
            return PluginError(
                PluginErrorCode.InvalidArgument,
                f"kinds must be EventKind members (or None for all), got {type(kinds).__name__}",
            )
        strays = [kind for kind in chosen if not isinstance(kind, EventKind)]
        if strays:
            return PluginError(
                PluginErrorCode.InvalidArgument,
                f"kinds must be EventKind members, got {strays[0]!r}",
            )
        return chosen

    def plugin_manager(self) -> PluginManager:
        """The plugin manager plugins are looked up in."""
        return self._plugin_manager

    def thread_pool(self) -> QThreadPool:
        """The pool node work runs on (the orchestrator's own unless one was passed in)."""
        return self._engine.executor.pool

    def set_history_limit(self, limit: int) -> Expected[None]:
        """How many finished executions stay queryable (the oldest are forgotten first)."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            return make_error(
                PluginErrorCode.InvalidArgument,
                f"the history limit must be an int >= 0, got {limit!r}",
            )
        self._engine.set_history_limit(limit)
        return make_success()

    def history_limit(self) -> int:
        """How many finished executions stay queryable."""
        return self._engine.history_limit()

    def wait_for_execution(self, execution_id: str, timeout_ms: int | None = None) -> bool:
        """Block until an execution has ended; never call it from a GUI slot.

        Called in the orchestrator's thread it delivers the execution's signals while it
        waits; from another thread the waiting thread helps run the execution.

        Returns:
            True once the execution has ended, including one that has since left the bounded
            history; False on timeout, for an id this orchestrator never issued, or for
            arguments of the wrong type.
        """
        if not isinstance(execution_id, str):
            return False
        if timeout_ms is not None and (
            not isinstance(timeout_ms, int | float) or isinstance(timeout_ms, bool)
        ):
            return False
        if self._engine.wait_for(
            execution_id, None if timeout_ms is None else int(max(0, timeout_ms))
        ):
            return True
        past = self._past_run(execution_id) if self._engine.get_run(execution_id) is None else None
        return past is not None and past.recorded_status != "running"

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel every execution (running its rollbacks) and join the worker threads.

        Also done automatically when the application emits ``aboutToQuit`` and at interpreter
        exit.

        Returns:
            False if something was still busy after ``timeout_ms`` in total.
        """
        if not isinstance(timeout_ms, int | float) or isinstance(timeout_ms, bool):
            timeout_ms = 5000
        joined = self._engine.shutdown(int(max(0, timeout_ms)))
        if self._engine.in_owner_thread():
            self._engine.pump.drain(None)
        return joined

    def _past_run(self, execution_id: str) -> Any:
        """An execution of an earlier process, from the journal (see ``_durable.py``)."""
        return None

    def _find_run(self, execution_id: str) -> Run | PluginError:
        """The run behind an execution id, or the error a public method returns for it."""
        if not isinstance(execution_id, str):
            return id_type_error(execution_id, "execution")
        run = self._engine.get_run(execution_id)
        if run is not None:
            return run
        past = self._past_run(execution_id)
        if past is not None:
            # Shaped like a run for every status and control call (see _recorded.py).
            return cast(Run, past)
        if self._engine.forgotten(execution_id):
            return PluginError(
                PluginErrorCode.NotFound,
                f"execution '{execution_id}' has ended and was dropped from the bounded "
                f"history (history_limit={self._engine.history_limit()}); raise it with "
                "set_history_limit to keep more",
                context={"execution_id": execution_id, "ended": True},
            )
        return PluginError(
            PluginErrorCode.NotFound,
            f"no execution '{execution_id}' was started by this orchestrator",
            context={"execution_id": execution_id},
        )
