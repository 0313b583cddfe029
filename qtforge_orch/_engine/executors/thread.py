"""The default executor: the plugin runs right here, in the drainer's pool thread."""

from __future__ import annotations

from typing import Any

from ...contract.context import StepContext
from ...contract.outcome import Outcome
from ...contract.plan import TaskSpec
from ..invoke import PluginLookup, call_plugin


class ThreadExecutor:
    """Calls the plugin directly. ``Engine._invoke_plugin`` inlines this path (no extra call
    per step); the class exists so every executor can be named and driven the same way."""

    name = "thread"

    def __init__(self, plugins: PluginLookup) -> None:
        self._plugins = plugins

    def call(
        self,
        task: TaskSpec,
        params: dict[str, Any],
        context: StepContext,
        *,
        allow_stream: bool = False,
    ) -> Outcome:
        return call_plugin(
            self._plugins, task.plugin_id, task.command, params, context, allow_stream=allow_stream
        )

    def shutdown(self, timeout: float) -> bool:
        return True  # the QThreadPool is joined by the engine
