"""A desktop window monitoring two live workflows: a v1 ETL workflow and a v2 Streaming graph.

Run:         python examples/monitor_app.py
Screenshot:  QT_QPA_PLATFORM=offscreen python examples/monitor_app.py --screenshot out.png
             (runs both workflows, waits until they finish, saves a PNG of the window)

No glue code: each ``WorkflowMonitor`` starts its workflow with ``start_workflow`` and follows
the returned ``WorkflowExecution``; the ``ExecutionsModel`` table lists every execution.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication, QHBoxLayout, QSplitter, QTableView, QVBoxLayout, QWidget

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    ExecutionMode,
    FunctionPlugin,
    PluginManager,
    PluginOrchestrator,
    PluginWorkflow,
    Workflow,
    WorkflowConnection,
    WorkflowExecutionMode,
    WorkflowNode,
    WorkflowNodeType,
    WorkflowStep,
)
from qtforge_orch.widgets import ExecutionsModel, WorkflowMonitor

PAUSE_S = 0.15  # each v1 step "works" this long, so the run is visible


def v1_plugins() -> PluginManager:
    def slow(result: dict[str, Any]) -> Any:
        def run(params: dict[str, Any]) -> dict[str, Any]:
            time.sleep(PAUSE_S)
            return result

        return run

    def flaky_enrich(params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("geo service unavailable")

    plugins = PluginManager()
    plugins.register_plugin(
        FunctionPlugin(
            "etl",
            extract=slow({"rows": 1200}),
            clean=slow({"clean_rows": 1150}),
            enrich=flaky_enrich,
            aggregate=slow({"groups": 12}),
            report=slow({"report": "report.html"}),
            archive=slow({"archived": True}),
        )
    )
    return plugins


def v1_workflow() -> Workflow:
    workflow = Workflow("etl", "Nightly ETL").set_execution_mode(ExecutionMode.Parallel)
    steps = [
        ("extract", []),
        ("clean", ["extract"]),
        ("enrich", ["extract"]),
        ("aggregate", ["clean"]),
        ("report", ["aggregate", "enrich"]),
        ("archive", ["clean"]),
    ]
    for step_id, deps in steps:
        step = WorkflowStep(step_id, "etl", step_id)
        step.dependencies = deps
        step.critical = step_id != "enrich"  # enrichment is optional: its failure skips report
        workflow.add_step(step)
    return workflow


def v2_plugins() -> PluginManager:
    def readings(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for i in range(params.get("count", 3000)):
            if i % 200 == 0:
                time.sleep(0.02)  # a sensor that delivers in bursts
            yield {"sensor": f"t{i % 4}", "celsius": (i * 7) % 60 - 10}

    def convert(params: dict[str, Any]) -> dict[str, Any] | None:
        celsius = params["reading"]["celsius"]
        if celsius < 0:
            return None  # drop implausible readings
        return {"fahrenheit": celsius * 9 / 5 + 32}

    def average(params: dict[str, Any]) -> dict[str, Any]:
        values = params["batch"]
        return {"mean": round(sum(values) / len(values), 1)}

    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("sensor", execute=readings))
    plugins.register_plugin(FunctionPlugin("convert", execute=convert))
    plugins.register_plugin(FunctionPlugin("stats", execute=average))
    return plugins


def v2_workflow() -> PluginWorkflow:
    workflow = PluginWorkflow(
        workflow_id="sensors",
        name="Sensor stream",
        execution_mode=WorkflowExecutionMode.Streaming,
        global_configuration={"stream_channel_capacity": 256},
    )
    workflow.nodes = [
        WorkflowNode(
            node_id="read",
            plugin_id="sensor",
            node_type=WorkflowNodeType.Source,
            output_ports=["reading"],
            ui_properties={"x": 0, "y": 60},
        ),
        WorkflowNode(
            node_id="convert",
            plugin_id="convert",
            input_ports=["reading"],
            output_ports=["fahrenheit"],
            ui_properties={"x": 240, "y": 60},
        ),
        WorkflowNode(
            node_id="mean",
            plugin_id="stats",
            node_type=WorkflowNodeType.Aggregator,
            input_ports=["batch"],
            configuration={"window": 100},
            ui_properties={"x": 480, "y": 60},
        ),
    ]
    workflow.connections = [
        WorkflowConnection(
            source_node="read", source_port="reading", target_node="convert", target_port="reading"
        ),
        WorkflowConnection(
            source_node="convert", source_port="fahrenheit", target_node="mean", target_port="batch"
        ),
    ]
    return workflow


class MonitorWindow(QWidget):
    """Two monitors side by side over an executions table."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("qtforge_orch monitor")
        self.v1 = PluginOrchestrator(self, plugin_manager=v1_plugins())
        self.v2 = AdvancedPluginOrchestrator(self, plugin_manager=v2_plugins())
        self.v1.register_workflow(v1_workflow()).value()
        self.v2.register_workflow(v2_workflow()).value()
        self.etl = WorkflowMonitor(self.v1, "etl")
        self.stream = WorkflowMonitor(self.v2, "sensors", {"count": 3000})
        self.executions = QTableView()
        self.executions.setModel(ExecutionsModel(self.v1, self.executions))
        self.executions.setMaximumHeight(110)
        self.executions.horizontalHeader().setStretchLastSection(True)
        monitors = QSplitter()
        monitors.addWidget(self.etl)
        monitors.addWidget(self.stream)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(monitors)
        layout.addLayout(row, 1)
        layout.addWidget(self.executions)
        self.resize(1600, 720)

    def run_both(self) -> None:
        self.etl.run().value()
        self.stream.run().value()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", metavar="PATH", help="run both, save a PNG, exit")
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MonitorWindow()
    window.show()
    if not args.screenshot:
        window.run_both()
        return app.exec()
    finished: list[str] = []
    loop = QEventLoop()

    def one_finished(status: str) -> None:
        finished.append(status)
        if len(finished) == 2:
            loop.quit()

    window.etl.execution_finished.connect(one_finished)
    window.stream.execution_finished.connect(one_finished)
    window.run_both()
    loop.exec()  # the window stays live while both run
    for monitor in (window.etl, window.stream):
        monitor.flush()
    app.processEvents()
    if not window.grab().save(args.screenshot):
        print(f"could not write {args.screenshot}", file=sys.stderr)
        return 1
    print(f"finished: {', '.join(sorted(finished))}; saved {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
