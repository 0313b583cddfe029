"""Small plugins and builders for tests: recorders, an echo plugin, v1 steps and status reads.

Gates, flaky, slow and hanging commands are ``qtforge_orch.testing``'s fake plugins.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from qtforge_orch import FunctionPlugin, PluginOrchestrator, WorkflowStep


class Recorder:
    """Records each call (command, params, thread) in order; thread-safe."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], int]] = []
        self._lock = threading.Lock()

    def command(
        self, name: str, output: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    ) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def run(params: dict[str, Any]) -> dict[str, Any]:
            with self._lock:
                self.calls.append((name, dict(params), threading.get_ident()))
            return output(params) if output else {f"{name}_done": True}

        return run

    def names(self) -> list[str]:
        with self._lock:
            return [c[0] for c in self.calls]


def echo_plugin(plugin_id: str = "echo") -> FunctionPlugin:
    """``echo.run`` returns its params plus ``{"<step marker>": True}`` when asked."""

    def run(params: dict[str, Any]) -> dict[str, Any]:
        mark = params.get("mark")
        out = {"echo": dict(params)}
        if mark:
            out[str(mark)] = True
        return out

    return FunctionPlugin(plugin_id, run=run)


def step(step_id: str, plugin: str, method: str, *deps: str, **params: Any) -> WorkflowStep:
    """A v1 step depending on ``deps``, with ``params`` as its parameters."""
    s = WorkflowStep(step_id, plugin, method)
    s.dependencies = list(deps)
    s.parameters = params
    return s


def status_of(orch: PluginOrchestrator, execution_id: str) -> dict[str, Any]:
    """``get_execution_status`` of an execution known to exist."""
    return orch.get_execution_status(execution_id).value()
