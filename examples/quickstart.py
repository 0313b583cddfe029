"""Quick start: a four-plugin data workflow, with live progress and the final result.

Run: QT_QPA_PLATFORM=offscreen python examples/quickstart.py
"""

from __future__ import annotations

import csv
import io
import sys
from typing import Any

from PySide6.QtCore import QCoreApplication

from qtforge_orch import (
    ExecutionMode,
    FunctionPlugin,
    PluginManager,
    PluginOrchestrator,
    StepContext,
    Workflow,
    WorkflowStep,
)

CSV_TEXT = "city,temp_c\nOslo,4\nLisbon,19\nCairo,31\nQuito,14\n"


def load_csv(params: dict[str, Any]) -> dict[str, Any]:
    rows = list(csv.DictReader(io.StringIO(params["text"])))
    return {"rows": rows, "row_count": len(rows)}


def validate(params: dict[str, Any]) -> dict[str, Any]:
    bad = [r for r in params["rows"] if not r["temp_c"].lstrip("-").isdigit()]
    return {"valid": not bad, "invalid_rows": len(bad)}


def to_fahrenheit(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
    converted = []
    for number, row in enumerate(params["rows"], start=1):
        context.check_cancelled()  # cooperative cancellation point
        converted.append({**row, "temp_f": round(int(row["temp_c"]) * 9 / 5 + 32, 1)})
        context.report_progress(number / len(params["rows"]))
    return {"rows": converted}


def summarise(params: dict[str, Any]) -> dict[str, Any]:
    hottest = max(params["rows"], key=lambda r: r["temp_f"])
    return {
        "summary": f"{params['row_count']} cities, hottest {hottest['city']} "
        f"at {hottest['temp_f']} F"
    }


def main() -> int:
    app = QCoreApplication.instance() or QCoreApplication(sys.argv)

    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("csv_reader", load=load_csv))
    plugins.register_plugin(FunctionPlugin("validator", check=validate))
    plugins.register_plugin(FunctionPlugin("converter", fahrenheit=to_fahrenheit))
    plugins.register_plugin(FunctionPlugin("reporter", summarise=summarise))

    orchestrator = PluginOrchestrator(plugin_manager=plugins)
    finished: list[str] = []

    def on_completed(execution_id: str, step: str, output: dict[str, Any]) -> None:
        finished.append(step)
        print(f"  completed {step:<9} ({len(finished)}/4 steps, output keys: {sorted(output)})")

    orchestrator.step_started.connect(lambda e, step: print(f"  started   {step}"))
    orchestrator.step_completed.connect(on_completed)
    orchestrator.step_failed.connect(lambda e, step, err: print(f"  FAILED    {step}: {err}"))
    # Progress signals are coalesced: a fast workflow may report only its final value.
    orchestrator.execution_progress_updated.connect(
        lambda e, progress: print(f"  progress  {progress:.0%}")
    )

    workflow = Workflow("weather", "Weather report")
    workflow.set_description("Load, validate, convert and summarise temperatures")
    workflow.set_execution_mode(ExecutionMode.Sequential)
    load = WorkflowStep("load", "csv_reader", "load")
    check = WorkflowStep("validate", "validator", "check")
    check.dependencies = ["load"]
    convert = WorkflowStep("convert", "converter", "fahrenheit")
    convert.dependencies = ["validate"]
    convert.condition = "valid == true && row_count > 0"  # CEL, checked at registration
    report = WorkflowStep("report", "reporter", "summarise")
    report.dependencies = ["convert"]
    workflow.add_step(load).add_step(check).add_step(convert).add_step(report)

    registered = orchestrator.register_workflow(workflow)
    if not registered:
        print("registration failed:", registered.error())
        return 1

    print("Running workflow 'weather':")
    execution = orchestrator.execute_workflow("weather", {"text": CSV_TEXT})
    if not execution:
        print("workflow failed:", execution.error())
        return 1
    status = orchestrator.get_execution_status(execution.value()).value()
    print(f"Status: {status['status']} ({status['completed_steps']}/{status['total_steps']} steps)")
    print("Result:", status["result"]["summary"])
    orchestrator.shutdown()
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
