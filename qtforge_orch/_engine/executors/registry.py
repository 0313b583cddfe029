"""Executor names, their validation, and the per-engine set of executors (created lazily)."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...contract.context import StepContext
from ...contract.outcome import Outcome
from ...contract.plan import TaskSpec
from ..invoke import PluginLookup
from .protocol import CallHere, Executor, Landing, proxy

THREAD = "thread"
PROCESS = "process"
DASK = "dask"
EXECUTOR_NAMES = (THREAD, PROCESS, DASK)
# The key a step's ``parameters`` / a node's ``configuration`` / a v2 workflow's
# ``global_configuration`` names its executor with.
EXECUTOR_KEY = "executor"


class UnknownExecutor(ValueError):
    """An executor name that is not one of ``EXECUTOR_NAMES`` (or cannot be used here)."""


def check_executor(value: object, where: str = "executor") -> str:
    """The canonical name for ``value``; raises ``UnknownExecutor`` with a message that says
    what is wrong and what to write instead."""
    if not isinstance(value, str) or value not in EXECUTOR_NAMES:
        raise UnknownExecutor(
            f"{where}: unknown executor {value!r}; use one of "
            + ", ".join(repr(name) for name in EXECUTOR_NAMES)
        )
    if value == DASK and importlib.util.find_spec("distributed") is None:
        raise UnknownExecutor(
            f"{where}: the 'dask' executor needs the 'distributed' package: "
            "pip install 'qtforge_orch[dask]'"
        )
    return EXECUTOR_NAMES[EXECUTOR_NAMES.index(value)]


@dataclass(slots=True)
class ExecutorOptions:
    """How the process and Dask executors are built (set by the orchestrator's keywords)."""

    process_workers: int | None = None  # None: os.cpu_count()
    dask_address: str | None = None  # None: a LocalCluster on 127.0.0.1, started on demand
    dask_local_workers: int = 2
    dask_local_processes: bool = True


class ExecutorSet:
    """An engine's executors, each built on first use and shut down with the engine."""

    def __init__(self, plugins: PluginLookup, call_here: CallHere) -> None:
        self._plugins = plugins
        self._call_here = call_here
        self.options = ExecutorOptions()
        self._lock = threading.Lock()
        self._built: dict[str, Executor] = {}

    def get(self, name: str) -> Executor:
        executor = self._built.get(name)
        if executor is None:
            with self._lock:
                executor = self._built.get(name)
                if executor is None:
                    executor = self._built[name] = self._build(name)
        return executor

    def _build(self, name: str) -> Executor:
        options = self.options
        if name == PROCESS:
            from .process import ProcessExecutor

            return ProcessExecutor(self._plugins, options.process_workers)
        if name == DASK:
            from .dask import DaskExecutor

            return DaskExecutor(
                self._plugins,
                options.dask_address,
                local_workers=options.dask_local_workers,
                local_processes=options.dask_local_processes,
            )
        from .thread import ThreadExecutor

        return ThreadExecutor(self._call_here)

    def call(self, task: TaskSpec, params: dict[str, Any], context: StepContext) -> Outcome:
        return self.get(task.executor).call(task, params, context)

    def start(
        self, task: TaskSpec, params: dict[str, Any], context: StepContext, landing: Landing
    ) -> Outcome | None:
        """``ParkingExecutor.start`` where ``task``'s executor can park a step; otherwise the
        call, made here (its outcome returned, ``landing`` unused)."""
        executor = self.get(task.executor)
        start = getattr(executor, "start", None)
        if start is None:
            return executor.call(task, params, context)
        outcome: Outcome | None = start(task, params, context, landing)
        return outcome

    def command(self, task: TaskSpec, context: StepContext) -> Callable[[dict[str, Any]], Any]:
        """A streaming stage's per-item callable for ``task``'s executor."""
        return proxy(self.get(task.executor), task, context)

    def built(self) -> dict[str, Executor]:
        with self._lock:
            return dict(self._built)

    def shutdown(self, timeout: float) -> bool:
        """Shut down every executor built so far (they are rebuilt if used again)."""
        with self._lock:
            built, self._built = self._built, {}
        ok = True
        for executor in built.values():
            ok = executor.shutdown(timeout) and ok
        return ok
