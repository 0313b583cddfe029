"""ExecutionsModel and StepsModel: QAbstractItemModelTester, live updates, sorting, roles."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QIcon
from PySide6.QtTest import QAbstractItemModelTester

from qtforge_orch import (
    FunctionPlugin,
    PluginManager,
    PluginOrchestrator,
    Workflow,
    WorkflowStep,
)
from qtforge_orch.testing.plugins import HangingPlugin
from qtforge_orch.widgets import (
    SORT_ROLE,
    STATUS_ROLE,
    ExecutionsModel,
    StepsModel,
    status_color,
)

from .v2_helpers import Mode, NodeType, conn, fn, node, register, workflow

pytestmark = pytest.mark.timeout(30)
Mode_ = QAbstractItemModelTester.FailureReportingMode


def three_steps(
    orch: PluginOrchestrator, plugins: PluginManager, gate: HangingPlugin | None = None
) -> None:
    commands: dict[str, Any] = {"run": lambda p: {"n": len(p)}, "boom": lambda p: 1 / 0}
    if gate is not None:
        commands["wait"] = gate
    plugins.register_plugin(FunctionPlugin("p", **commands))
    wf = Workflow("wf").set_execution_mode("Parallel")
    wf.add_step(WorkflowStep("a", "p", "run"))
    bad = WorkflowStep("b", "p", "boom", critical=False)
    wf.add_step(bad)
    c = WorkflowStep("c", "p", "wait" if gate else "run")
    c.dependencies = ["a"]
    wf.add_step(c)
    assert orch.register_workflow(wf)


def cell(model: Any, row: int, column: int, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
    return model.data(model.index(row, column), role)


def test_steps_model_live_under_the_tester(qtbot: Any, orchestrator: Any, plugins: Any) -> None:
    gate = HangingPlugin()
    three_steps(orchestrator, plugins, gate)
    handle = orchestrator.start_workflow("wf").value()
    model = StepsModel(handle)
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    proxy.sort(StepsModel.STATUS, Qt.SortOrder.DescendingOrder)
    testers = [QAbstractItemModelTester(m, Mode_.Fatal) for m in (model, proxy)]
    changes: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda tl, br: changes.append((tl.row(), br.row())))
    assert [cell(model, r, 0) for r in range(3)] == ["a", "b", "c"]
    qtbot.waitUntil(gate.entered.is_set, timeout=5000)
    qtbot.waitUntil(lambda: cell(model, 2, StepsModel.STATUS) == "running", timeout=5000)
    gate.release()
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    model.flush()
    assert [cell(model, r, StepsModel.STATUS) for r in range(3)] == [
        "completed",
        "failed",
        "completed",
    ]
    assert "ZeroDivisionError" in cell(model, 1, StepsModel.ERROR)
    assert cell(model, 0, StepsModel.ATTEMPTS) == 1
    assert cell(model, 0, StepsModel.OUTPUT).startswith("{'n'")
    brush = cell(model, 1, StepsModel.STATUS, Qt.ItemDataRole.ForegroundRole)
    assert isinstance(brush, QBrush) and brush.color() == status_color("failed")
    assert isinstance(cell(model, 1, StepsModel.STATUS, Qt.ItemDataRole.DecorationRole), QIcon)
    assert cell(model, 1, 0, STATUS_ROLE) == "failed"
    # Sorted by status, descending: failed (order 5) before completed (4).
    assert proxy.data(proxy.index(0, 0)) == "b"
    assert all(top <= bottom for top, bottom in changes) and len(changes) < 10
    assert len(testers) == 2


def test_steps_model_streaming_items(qtbot: Any, advanced: Any, plugins: Any) -> None:
    fn(plugins, "src", lambda p: iter([{"v": i} for i in range(50)]))
    fn(plugins, "keep", lambda p: {"out": p["in"]} if p["in"]["v"] % 5 else None)
    register(
        advanced,
        workflow(
            "s",
            Mode.Streaming,
            [
                node("src", node_type=NodeType.Source, output_ports=["item"]),
                node("keep", input_ports=["in"], output_ports=["out"]),
            ],
            [conn("src", "keep", source_port="item", target_port="in")],
        ),
    )
    handle = advanced.start_workflow("s").value()
    model = StepsModel(handle)
    QAbstractItemModelTester(model, Mode_.Fatal)
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    model.flush()
    assert cell(model, 1, StepsModel.ITEMS) == "in 50 / out 40, dropped 10"
    assert cell(model, 1, StepsModel.ITEMS, SORT_ROLE) == 50


def test_executions_model_follows_every_execution(
    qtbot: Any, orchestrator: Any, plugins: Any
) -> None:
    gate = HangingPlugin()
    three_steps(orchestrator, plugins, gate)
    model = ExecutionsModel(orchestrator)
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    proxy.sort(ExecutionsModel.PROGRESS, Qt.SortOrder.DescendingOrder)
    QAbstractItemModelTester(model, Mode_.Fatal)
    QAbstractItemModelTester(proxy, Mode_.Fatal)
    first = orchestrator.start_workflow("wf").value()
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=5000)
    assert cell(model, 0, ExecutionsModel.EXECUTION) == first.execution_id()
    assert cell(model, 0, ExecutionsModel.WORKFLOW) == "wf"
    qtbot.waitUntil(lambda: cell(model, 0, ExecutionsModel.STATUS) == "running", timeout=5000)
    qtbot.waitUntil(gate.entered.is_set, timeout=5000)
    assert first.cancel()
    qtbot.waitUntil(lambda: cell(model, 0, ExecutionsModel.STATUS) == "cancelled", timeout=5000)
    gate.release()
    second = orchestrator.execute_workflow("wf")  # sync, no handle: still a row
    assert second
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=5000)
    qtbot.waitUntil(lambda: cell(model, 1, ExecutionsModel.STATUS) == "completed", timeout=5000)
    assert cell(model, 1, ExecutionsModel.PROGRESS) == "100 %"
    assert proxy.data(proxy.index(0, 0)) == second.value()  # highest progress first
    brush = cell(model, 0, ExecutionsModel.STATUS, Qt.ItemDataRole.ForegroundRole)
    assert brush.color() == status_color("cancelled")
    model.clear_finished()
    assert model.rowCount() == 0


def test_executions_model_seeds_running_executions(
    qtbot: Any, orchestrator: Any, plugins: Any
) -> None:
    gate = HangingPlugin()
    three_steps(orchestrator, plugins, gate)
    handle = orchestrator.start_workflow("wf").value()
    qtbot.waitUntil(gate.entered.is_set, timeout=5000)
    model = ExecutionsModel(orchestrator)
    QAbstractItemModelTester(model, Mode_.Fatal)
    assert model.rowCount() == 1 and model.execution_id(0) == handle.execution_id()
    gate.release()
    assert handle.wait(10_000)
    qtbot.waitUntil(lambda: cell(model, 0, ExecutionsModel.STATUS) == "completed", timeout=5000)
