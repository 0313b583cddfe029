"""``qtforge-orch run``: execute a workflow file with live progress and a summary table."""

from __future__ import annotations

import json
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from .._errors import PluginError
from ._documents import Kind, UsageError

_STYLES = {
    "pending": "dim",
    "running": "cyan",
    "retrying": "yellow",
    "completed": "green",
    "failed": "bold red",
    "skipped": "dim",
    "cancelled": "magenta",
}


class Tracker:
    """Statuses of the steps/nodes of one execution, fed by the orchestrator's signals."""

    def __init__(self, kind: Kind, keys: list[str], title: str) -> None:
        self.noun = "step" if kind == "v1" else "node"
        self.title = title
        self.statuses = dict.fromkeys(keys, "pending")
        self.started: dict[str, float] = {}
        self.elapsed: dict[str, float] = {}
        self.errors: dict[str, str] = {}
        self.result: dict[str, Any] = {}
        self.error = ""
        self.live: Live | None = None

    def connect(self, orchestrator: Any, kind: Kind) -> None:
        prefix = "step" if kind == "v1" else "node"
        getattr(orchestrator, f"{prefix}_started").connect(self._started)
        getattr(orchestrator, f"{prefix}_completed").connect(self._completed)
        getattr(orchestrator, f"{prefix}_failed").connect(self._failed)
        if kind == "v1":
            orchestrator.step_retrying.connect(lambda _e, key, _n: self._set(key, "retrying"))
        orchestrator.workflow_completed.connect(self._workflow_completed)
        orchestrator.workflow_failed.connect(self._workflow_failed)

    def _set(self, key: str, status: str) -> None:
        self.statuses[key] = status
        if self.live is not None:
            self.live.update(self.table())

    def _started(self, _execution: str, key: str) -> None:
        self.started[key] = time.perf_counter()
        self._set(key, "running")

    def _completed(self, _execution: str, key: str, _output: object) -> None:
        self._stop_clock(key)
        self._set(key, "completed")

    def _failed(self, _execution: str, key: str, error: str) -> None:
        self._stop_clock(key)
        self.errors[key] = error
        self._set(key, "failed")

    def _stop_clock(self, key: str) -> None:
        if key in self.started:
            self.elapsed[key] = (time.perf_counter() - self.started[key]) * 1000

    def _workflow_completed(self, _execution: str, result: object) -> None:
        self.result = dict(result) if isinstance(result, dict) else {}

    def _workflow_failed(self, _execution: str, error: str) -> None:
        self.error = error

    def settle(self, final: dict[str, str]) -> None:
        """Take the final statuses from the orchestrator (skips have no signal)."""
        for key, status in final.items():
            self.statuses[key] = status

    def table(self) -> Table:
        table = Table(title=self.title, title_justify="left")
        table.add_column(self.noun.capitalize())
        table.add_column("Status")
        table.add_column("Time (ms)", justify="right")
        table.add_column("Error", overflow="fold")
        for key, status in self.statuses.items():
            elapsed = self.elapsed.get(key)
            table.add_row(
                key,
                f"[{_STYLES.get(status, '')}]{status}[/]",
                f"{elapsed:.1f}" if elapsed is not None else "",
                self.errors.get(key, ""),
            )
        return table


def _orchestrator(kind: Kind, plugins: list[str]) -> Any:
    from PySide6.QtCore import QCoreApplication

    from .. import AdvancedPluginOrchestrator, PluginManager, PluginOrchestrator

    if QCoreApplication.instance() is None:
        QCoreApplication([])
    manager = PluginManager()
    manager.discover_plugins()  # installed plugins; one broken entry point is not fatal here
    for source in plugins:
        loaded = manager.load_plugin(source)
        if not loaded:
            raise UsageError(loaded.error())
    if kind == "v1":
        return PluginOrchestrator(plugin_manager=manager)
    return AdvancedPluginOrchestrator(plugin_manager=manager)


def _final_statuses(orchestrator: Any, kind: Kind, execution_id: str) -> tuple[str, dict[str, str]]:
    status = orchestrator.get_execution_status(execution_id).value()
    if kind == "v1":
        steps = {r["step_id"]: str(r["status"]).lower() for r in status["step_results"]}
        return str(status["status"]), steps
    nodes = {key: str(state["status"]) for key, state in status.node_states.items()}
    return status.status.name.lower(), nodes


def run_workflow(
    kind: Kind,
    workflow: Any,
    plugins: list[str],
    input_data: dict[str, Any],
    as_json: bool,
    timeout_s: float | None,
    console: Console,
) -> int:
    """Run to the end; 0 when it completed, 1 otherwise. UsageError for bad setup."""
    orchestrator = _orchestrator(kind, plugins)
    try:
        registered = orchestrator.register_workflow(workflow)
        if not registered:
            raise UsageError(registered.error())
        workflow_id = workflow.id() if kind == "v1" else workflow.workflow_id
        keys = (
            [step.id for step in workflow.steps()]
            if kind == "v1"
            else [node.node_id for node in workflow.nodes]
        )
        tracker = Tracker(kind, keys, f"{workflow_id} ({'steps' if kind == 'v1' else 'nodes'})")
        tracker.connect(orchestrator, kind)
        started = (
            orchestrator.execute_workflow(workflow_id, input_data, async_=True)
            if kind == "v1"
            else orchestrator.execute_workflow(workflow_id, input_data)
        )
        if not started:
            return _report_start_failure(started.error(), as_json, console)
        execution_id = started.value()
        timeout_ms = None if timeout_s is None else int(timeout_s * 1000)
        if as_json:
            finished = orchestrator.wait_for_execution(execution_id, timeout_ms)
        else:
            with Live(
                tracker.table(), console=console, refresh_per_second=8, transient=True
            ) as live:
                tracker.live = live
                finished = orchestrator.wait_for_execution(execution_id, timeout_ms)
                tracker.live = None
        if not finished:
            orchestrator.cancel_workflow(execution_id) if kind == "v1" else (
                orchestrator.cancel_execution(execution_id)
            )
            orchestrator.wait_for_execution(execution_id, 5000)
            tracker.error = tracker.error or f"timed out after {timeout_s} s: cancelled"
        status, final = _final_statuses(orchestrator, kind, execution_id)
        tracker.settle(final)
        summary = {
            "workflow_id": workflow_id,
            "execution_id": execution_id,
            "status": status,
            "result": tracker.result,
            "error": tracker.error,
            "steps" if kind == "v1" else "nodes": dict(tracker.statuses),
        }
        if as_json:
            console.print_json(json.dumps(summary, default=str))
        else:
            console.print(tracker.table())
            colour = "green" if status == "completed" else "red"
            console.print(f"[{colour}]{workflow_id}: {status}[/] ({execution_id})")
            if tracker.error:
                console.print(f"[red]{tracker.error}[/]")
        return 0 if status == "completed" else 1
    finally:
        orchestrator.shutdown()


def _report_start_failure(error: PluginError, as_json: bool, console: Console) -> int:
    if as_json:
        console.print_json(json.dumps({"status": "failed", "error": str(error)}))
    else:
        console.print(f"[red]{error}[/]")
    return 1
