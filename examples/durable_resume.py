"""Crash in the middle of a workflow, then resume it: the durable-executions walk-through.

    python examples/durable_resume.py [folder]

The script runs itself twice. The first process (``crash``) runs a four-step workflow with a
journal and dies with SIGKILL inside the third step, the way a killed or crashed application
does. The second (``resume``) opens the same journal, finds the execution interrupted, resumes
it, and prints what ran: the two steps that completed before the crash do not run again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication

from qtforge_orch import (
    FunctionPlugin,
    PluginManager,
    PluginOrchestrator,
    Workflow,
    WorkflowStep,
)


def build(folder: Path, *, crash: bool) -> PluginOrchestrator:
    calls = folder / "calls.txt"

    def step(name: str, compute: Any) -> Any:
        def run(params: dict[str, Any]) -> dict[str, Any]:
            with calls.open("a") as log:
                log.write(name + "\n")
            if crash and name == "transform":
                orchestrator.journal().flush(5)  # type: ignore[union-attr]
                os.kill(os.getpid(), signal.SIGKILL)  # the application dies here
            return dict(compute(params))

        return run

    plugins = PluginManager()
    plugins.register_plugin(
        FunctionPlugin(
            "etl",
            {
                "download": step("download", lambda p: {"rows": [3, 1, 2]}),
                "clean": step("clean", lambda p: {"rows": sorted(p["rows"])}),
                "transform": step("transform", lambda p: {"rows": [r * 10 for r in p["rows"]]}),
                "load": step("load", lambda p: {"loaded": len(p["rows"])}),
            },
        )
    )
    orchestrator = PluginOrchestrator(plugin_manager=plugins, journal=folder / "runs.sqlite")
    workflow = Workflow("etl", "Nightly ETL")
    previous = ""
    for name in ("download", "clean", "transform", "load"):
        step_def = WorkflowStep(name, "etl", name)
        if previous:
            step_def.dependencies = [previous]
        workflow.add_step(step_def)
        previous = name
    orchestrator.register_workflow(workflow)
    return orchestrator


def crash(folder: Path) -> None:
    orchestrator = build(folder, crash=True)
    orchestrator.execute_workflow("etl")  # never returns: the process is killed


def resume(folder: Path) -> None:
    orchestrator = build(folder, crash=False)
    journal = orchestrator.journal()
    assert journal is not None
    (interrupted,) = journal.interrupted_at_open
    print(f"interrupted: {interrupted}")
    for past in orchestrator.get_execution_history("etl").value().executions:
        print(f"  history: {past.execution_id} {past.status}")
    resumed = orchestrator.resume_execution(interrupted)
    if not resumed:
        raise SystemExit(f"resume refused: {resumed.error().message}")
    orchestrator.wait_for_execution(resumed.value())
    status = orchestrator.get_execution_status(resumed.value()).value()
    print(f"resumed as {resumed.value()}: {status['status']}, result {status['result']}")
    print("steps run, in order:", " ".join((folder / "calls.txt").read_text().split()))
    orchestrator.shutdown()


def main() -> None:
    app = QCoreApplication.instance() or QCoreApplication(sys.argv)
    if len(sys.argv) > 2 and sys.argv[1] == "crash":
        crash(Path(sys.argv[2]))
        return
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    child = subprocess.run([sys.executable, __file__, "crash", str(folder)], check=False)
    print(f"first process ended by signal {-child.returncode} (SIGKILL)")
    resume(folder)
    del app


if __name__ == "__main__":
    main()
