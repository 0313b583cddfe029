"""The default executor: the plugin runs right here, in the drainer's pool thread."""

from __future__ import annotations

from typing import Any

from ...contract.context import StepContext
from ...contract.outcome import Outcome
from ...contract.plan import TaskSpec
from .protocol import CallHere


class ThreadExecutor:
    """Calls the plugin right here, through the engine's ``PluginRoute.call_here`` (which the
    route also calls itself for a thread task: the same path, without this object in it); the
    class exists so every executor can be named and driven the same way."""

    name = "thread"

    def __init__(self, call_here: CallHere) -> None:
        self._call_here = call_here

    def call(
        self,
        task: TaskSpec,
        params: dict[str, Any],
        context: StepContext,
        *,
        allow_stream: bool = False,
    ) -> Outcome:
        return self._call_here(task, params, context, allow_stream=allow_stream)

    def shutdown(self, timeout: float) -> bool:
        return True  # the QThreadPool is joined by the engine
