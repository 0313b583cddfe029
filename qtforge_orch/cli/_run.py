"""``qtforge-orch run``: execute a workflow file with live progress and a summary table.

Ctrl-C cancels the execution (its rollbacks run), prints the summary and exits with 130, the
shell's code for "ended by SIGINT"; a second Ctrl-C stops waiting for the cancellation.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import threading
import time
from types import FrameType
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from .._log import logger
from ..errors import PluginError
from ._documents import (
    Kind,
    UsageError,
    add_plugins_option,
    load_workflow,
    parse_input,
    plugin_manager,
    read_document,
)
from ._output import make_console

EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C: 128 + SIGINT, what shells report for a program SIGINT ended."""

# How often the wait looks at Ctrl-C and the --timeout deadline: well under what a person
# notices, and each look is one cheap wait call.
_WAIT_SLICE_MS = 50
# How long a cancelled execution gets to end (rollbacks included) before the command gives up.
_CANCEL_WAIT_MS = 5000


def register(commands: Any) -> None:
    """Add ``run`` to the subcommands."""
    run = commands.add_parser("run", help="execute a workflow file")
    run.add_argument("file", help="workflow JSON (v1 or v2, QtForge's or this library's)")
    add_plugins_option(run, "a module or .py file defining plugins")
    run.add_argument("--input", help="initial data: a JSON object, or @file.json")
    run.add_argument("--timeout", type=timeout_seconds, help="cancel after this many seconds (> 0)")
    run.add_argument("--json", action="store_true", help="machine-readable output")
    run.set_defaults(handler=handle)


def timeout_seconds(text: str) -> float:
    """``--timeout``: a finite number of seconds greater than zero."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds greater than 0, not {text!r}"
        )
    return value


def handle(arguments: argparse.Namespace) -> int:
    """Run the file's workflow; 0 completed, 1 failed, 130 interrupted; UsageError for input."""
    kind, workflow = load_workflow(read_document(arguments.file))
    data = parse_input(arguments.input)
    return run_workflow(
        kind,
        workflow,
        arguments.plugins,
        data,
        arguments.json,
        arguments.timeout,
        make_console(),
    )


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

    from .. import AdvancedPluginOrchestrator, PluginOrchestrator

    if QCoreApplication.instance() is None:
        QCoreApplication([])
    manager = plugin_manager(plugins)
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


class CtrlC:
    """While active, Ctrl-C sets ``pressed`` instead of raising ``KeyboardInterrupt``.

    The wait loop looks at the flag between slices and cancels the execution itself: the
    handler runs between two bytecodes of the main thread, possibly inside the library's
    signal delivery, so it must not call into the orchestrator. A second Ctrl-C raises
    ``KeyboardInterrupt`` (the command then stops waiting for the cancellation).
    """

    def __init__(self) -> None:
        self.pressed = threading.Event()
        self._previous: Any = None

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.pressed.is_set():
            raise KeyboardInterrupt
        self.pressed.set()


def _cancel(orchestrator: Any, kind: Kind, execution_id: str, why: str) -> None:
    logger("cli").info(
        "%s: cancelling execution %s", why, execution_id, extra={"execution_id": execution_id}
    )
    if kind == "v1":
        orchestrator.cancel_workflow(execution_id)
    else:
        orchestrator.cancel_execution(execution_id)
    orchestrator.wait_for_execution(execution_id, _CANCEL_WAIT_MS)


def _wait(
    orchestrator: Any, kind: Kind, execution_id: str, timeout_s: float | None, ctrl_c: CtrlC
) -> str:
    """Wait for the execution to end: "ended", "timeout" or "interrupted" (then cancelled)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while not ctrl_c.pressed.is_set():
        slice_ms = _WAIT_SLICE_MS
        if deadline is not None:
            left_ms = (deadline - time.monotonic()) * 1000
            if left_ms <= 0:
                _cancel(orchestrator, kind, execution_id, f"--timeout {timeout_s:g} s reached")
                return "timeout"
            slice_ms = max(1, min(slice_ms, math.ceil(left_ms)))
        if orchestrator.wait_for_execution(execution_id, slice_ms):
            return "ended"
    _cancel(orchestrator, kind, execution_id, "Ctrl-C")
    return "interrupted"


def run_workflow(
    kind: Kind,
    workflow: Any,
    plugins: list[str],
    input_data: dict[str, Any],
    as_json: bool,
    timeout_s: float | None,
    console: Console,
) -> int:
    """Run to the end; 0 completed, 1 otherwise, 130 after Ctrl-C. UsageError for bad setup."""
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
        with CtrlC() as ctrl_c:
            started = (
                orchestrator.execute_workflow(workflow_id, input_data, async_=True)
                if kind == "v1"
                else orchestrator.execute_workflow(workflow_id, input_data)
            )
            if not started:
                return _report_start_failure(started.error(), as_json, console)
            execution_id = started.value()
            if as_json:
                how = _wait(orchestrator, kind, execution_id, timeout_s, ctrl_c)
            else:
                with Live(
                    tracker.table(), console=console, refresh_per_second=8, transient=True
                ) as live:
                    tracker.live = live
                    how = _wait(orchestrator, kind, execution_id, timeout_s, ctrl_c)
                    tracker.live = None
        if how == "timeout":
            tracker.error = tracker.error or f"timed out after {timeout_s:g} s: cancelled"
        elif how == "interrupted":
            tracker.error = "interrupted (Ctrl-C): cancelled"
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
        if how == "interrupted":
            return EXIT_INTERRUPTED
        return 0 if status == "completed" else 1
    finally:
        orchestrator.shutdown()


def _report_start_failure(error: PluginError, as_json: bool, console: Console) -> int:
    if as_json:
        console.print_json(json.dumps({"status": "failed", "error": str(error)}))
    else:
        console.print(f"[red]{error}[/]")
    return 1
