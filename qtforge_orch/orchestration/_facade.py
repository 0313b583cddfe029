"""What both orchestrators share on top of the engine: lifetime, history and lookups."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import Any, cast

from PySide6.QtCore import QCoreApplication, QMetaMethod, QObject, QThreadPool

from .._engine import (
    Engine,
    EventKind,
    PluginLookup,
    Run,
    SignalNames,
    Timers,
    UnknownExecutor,
    check_executor,
)
from .._errors import PluginError, PluginErrorCode
from .._expected import Expected, make_error, make_success
from ..plugins import PluginManager, default_plugin_manager
from ._recorded import RecordedRun
from ._registry import id_type_error


def _weak_dispatch(facade: EngineFacade) -> Callable[[EventKind, tuple[Any, ...]], None]:
    """The pump's way to emit, through a weak reference.

    The engine must not keep its orchestrator alive (see ``Engine._owner``).
    """
    ref = weakref.ref(facade)

    def dispatch(kind: EventKind, args: tuple[Any, ...]) -> None:
        target = ref()
        if target is not None:
            target._dispatch(kind, args)

    return dispatch


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
        # Each event kind mapped once to the bound signals it is emitted on (more than one
        # when the orchestrator also has QtForge's header name for it), and each signal name
        # to its kind for connectNotify.
        by_kind = names.by_kind()
        self._emitters: dict[EventKind, tuple[Any, ...]] = {
            kind: (getattr(self, name),) for kind, name in by_kind.items()
        }
        self._kinds: dict[str, EventKind] = {name: kind for kind, name in by_kind.items()}
        self._engine = Engine(
            owner, names, _weak_dispatch(self), plugins, thread_pool, history_limit, timers
        )
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
            checked = check_executor(default_executor, "default_executor")
        except UnknownExecutor as exc:
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

    # Events for signals nobody has ever connected to are not even built (about a third of
    # a tiny step's cost). A name stays listed after a disconnect: Qt calls disconnectNotify
    # with its connection lock held, so re-checking there would deadlock. Too many, never
    # too few.
    def connectNotify(self, signal: QMetaMethod) -> None:
        """Qt override: events for a signal are only built once something connected to it."""
        kind = self._kinds.get(bytes(signal.name().data()).decode())
        if kind is not None:
            self._engine.listened.add(kind)

    def _add_signal_alias(self, kind: EventKind, name: str) -> None:
        """Also emit ``kind`` on the signal ``name``, right after its own signal."""
        self._emitters[kind] = (*self._emitters[kind], getattr(self, name))
        self._kinds[name] = kind

    def _dispatch(self, kind: EventKind, args: tuple[Any, ...]) -> None:
        for signal in self._emitters[kind]:
            signal.emit(*args)

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
        if not isinstance(execution_id, str):
            return False
        if timeout_ms is not None and (
            not isinstance(timeout_ms, int | float) or isinstance(timeout_ms, bool)
        ):
            return False
        started = time.monotonic()
        if self._engine.wait_for(
            execution_id, None if timeout_ms is None else int(max(0, timeout_ms))
        ):
            run = self._engine.get_run(execution_id) if late_outcomes else None
            if run is None:
                return True
            left = None if timeout_ms is None else timeout_ms / 1000 - (time.monotonic() - started)
            return run.wait_late(None if left is None else max(0.0, left))
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

    def _past_run(self, execution_id: str) -> RecordedRun | None:
        """An execution of an earlier process, from the journal (see ``_durable.py``)."""
        return None

    def _find_run(self, execution_id: str) -> Run | RecordedRun | PluginError:
        """The run behind an execution id, or the error a public method returns for it."""
        if not isinstance(execution_id, str):
            return id_type_error(execution_id, "execution")
        run = self._engine.get_run(execution_id)
        if run is not None:
            return run
        past = self._past_run(execution_id)
        if past is not None:
            return past  # the same RunView for status calls (see _recorded.py)
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
