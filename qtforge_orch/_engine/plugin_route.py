"""``PluginRoute``: the one way the engine reaches a plugin, whatever calls it and wherever the
call runs.

A step attempt, a rollback step, a mapped node's items, a stream stage's command and a source's
first call all come here. A task on the thread executor is called in the calling thread: a
registered plugin is read from the manager's registry dict (no ``Expected`` per call) and called
through ``call_value``; anything else (a built-in, a plugin that is not registered, a lookup
without a registry dict) goes through ``get_plugin``. A task on another executor goes to the
``ExecutorSet``, whose thread executor is this route's own ``call_here``.
"""

from __future__ import annotations

from typing import Any

from ..contract.context import StepContext
from ..contract.outcome import Outcome
from ..contract.plan import TaskSpec
from ..errors import PluginError
from .executors import THREAD, ExecutorSet
from .executors.protocol import Landing
from .invoke import (
    PluginCall,
    PluginLookup,
    call_found,
    call_plugin,
    call_value,
    plugin_finder,
    resolve_call,
)

# ``PluginRoute.start``'s answer for a parked call: its outcome goes to the landing.
PARKED: Any = object()


class PluginRoute:
    """Routes every plugin call of one engine: here (thread executor) or to an executor."""

    __slots__ = ("_find", "executors", "plugins")

    def __init__(self, plugins: PluginLookup) -> None:
        self.plugins = plugins
        # The registered plugins as a plain lookup (None: only get_plugin answers).
        self._find = plugin_finder(plugins)
        # Where non-thread calls run (process pool, Dask): each built on first use.
        self.executors = ExecutorSet(plugins, self.call_here)

    def call(self, task: TaskSpec, params: dict[str, Any], context: StepContext) -> Any:
        """One call of ``task``'s command: its output, or the ``PluginError`` it failed with.
        The batch scheduler's hot path: no ``Outcome`` is built for a call made here."""
        if task.executor != THREAD:
            outcome = self.executors.call(task, params, context)
            return outcome.output if outcome.error is None else outcome.error
        find = self._find
        plugin = find(task.plugin_id) if find is not None else None
        if plugin is None:  # not registered (an error to report), a built-in, another lookup
            outcome = call_plugin(self.plugins, task.plugin_id, task.command, params, context)
            return outcome.output if outcome.error is None else outcome.error
        return call_value(plugin, task.plugin_id, task.command, params, context)

    def start(
        self, task: TaskSpec, params: dict[str, Any], context: StepContext, landing: Landing
    ) -> Any:
        """``call``, for a step attempt that may park (``ParkingExecutor``): ``PARKED`` when
        ``landing`` will get the outcome, else the call's output or ``PluginError``."""
        if task.executor != THREAD:
            outcome = self.executors.start(task, params, context, landing)
            if outcome is None:
                return PARKED
            return outcome.output if outcome.error is None else outcome.error
        return self.call(task, params, context)

    def invoke(self, task: TaskSpec, params: dict[str, Any], context: StepContext) -> Outcome:
        """``call`` as an ``Outcome`` (rollback steps, a mapped node's items)."""
        if task.executor != THREAD:
            return self.executors.call(task, params, context)
        return self.call_here(task, params, context)

    def call_here(
        self,
        task: TaskSpec,
        params: dict[str, Any],
        context: StepContext,
        *,
        allow_stream: bool = False,
    ) -> Outcome:
        """The call in this thread, whatever ``task.executor`` says (the thread executor, and
        sources, whose iterators cannot leave the process)."""
        find = self._find
        plugin = find(task.plugin_id) if find is not None else None
        if plugin is None:
            return call_plugin(
                self.plugins,
                task.plugin_id,
                task.command,
                params,
                context,
                allow_stream=allow_stream,
            )
        return call_found(
            plugin, task.plugin_id, task.command, params, context, allow_stream=allow_stream
        )

    def resolve(
        self, task: TaskSpec, context: StepContext, *, here: bool = False
    ) -> PluginCall | PluginError:
        """``task``'s command as one callable for many calls (a stream stage's items), each
        call on the task's executor; ``here``: in this thread whatever the task's executor (a
        source: the iterator it returns cannot leave the process)."""
        if task.executor != THREAD and not here:
            return self.executors.command(task, context)
        return resolve_call(self.plugins, task, context)
