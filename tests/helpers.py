"""Small plugins for tests: recorders, gates and flaky commands (no sleeps as synchronisation)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from qtforge_orch import FunctionPlugin, PluginError, PluginErrorCode, StepContext


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


class Gate:
    """A command that blocks until ``open()``; ``entered`` tells when it is running."""

    def __init__(self, result: dict[str, Any] | None = None) -> None:
        self.entered = threading.Event()
        self._open = threading.Event()
        self.result = result or {"gate": "passed"}
        self.saw_cancel = threading.Event()

    def open(self) -> None:
        self._open.set()

    def __call__(self, params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        self.entered.set()
        while not self._open.wait(0.01):
            if context.is_cancelled():
                self.saw_cancel.set()
                raise PluginError(PluginErrorCode.OperationCancelled, "gate cancelled")
        return dict(self.result)


class Flaky:
    """Fails the first ``failures`` calls, then succeeds."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            calls = self.calls
        if calls <= self.failures:
            raise RuntimeError(f"flaky failure {calls}")
        return {"flaky_calls": calls}


def echo_plugin(plugin_id: str = "echo") -> FunctionPlugin:
    """``echo.run`` returns its params plus ``{"<step marker>": True}`` when asked."""

    def run(params: dict[str, Any]) -> dict[str, Any]:
        mark = params.get("mark")
        out = {"echo": dict(params)}
        if mark:
            out[str(mark)] = True
        return out

    return FunctionPlugin(plugin_id, run=run)
