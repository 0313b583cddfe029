"""ExecutionHistoryModel: the journal's executions, paged, filtered, newest first, live."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester
from PySide6.QtWidgets import QTableView

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    Workflow,
    WorkflowStep,
)
from qtforge_orch.testing.plugins import HangingPlugin
from qtforge_orch.widgets import EXECUTION_ID_ROLE, STATUS_ROLE, ExecutionHistoryModel

from .v2_helpers import Mode, fn, node, register, workflow

pytestmark = pytest.mark.timeout(30)
FATAL = QAbstractItemModelTester.FailureReportingMode.Fatal


def one_step(orch: Any, plugins: PluginManager, workflow_id: str, command: str) -> None:
    wf = Workflow(workflow_id)
    wf.add_step(WorkflowStep("s", "p", command))
    assert orch.register_workflow(wf)


@pytest.fixture
def journaled(tmp_path: Path, plugins: PluginManager) -> Iterator[PluginOrchestrator]:
    gate = HangingPlugin()
    plugins.register_plugin(
        FunctionPlugin("p", ok=lambda p: {"ok": True}, boom=lambda p: 1 / 0, wait=gate)
    )
    orch = PluginOrchestrator(plugin_manager=plugins, journal=str(tmp_path / "runs.sqlite"))
    orch.gate = gate  # type: ignore[attr-defined]
    one_step(orch, plugins, "good", "ok")
    one_step(orch, plugins, "bad", "boom")
    one_step(orch, plugins, "slow", "wait")
    yield orch
    gate.release()
    assert orch.shutdown(5000)


def run_some(orch: PluginOrchestrator) -> list[str]:
    """Seven executions, oldest first: good, bad, good, bad... (ids in start order)."""
    ids = []
    for n in range(7):
        done = orch.execute_workflow("good" if n % 2 == 0 else "bad")
        ids.append(done.value() if done else done.error().context["execution_id"])
    return ids


def ids_of(model: ExecutionHistoryModel) -> list[str]:
    return [model.execution_id(r) for r in range(model.rowCount())]


def test_pages_newest_first_under_the_tester(qtbot: Any, journaled: PluginOrchestrator) -> None:
    ids = run_some(journaled)
    model = ExecutionHistoryModel(journaled, page_size=3)
    assert ids_of(model) == ids[::-1][:3]
    assert model.canFetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    assert ids_of(model) == ids[::-1][:6]
    # The tester fetches what remains itself (it checks fetchMore), then checks every change.
    QAbstractItemModelTester(model, FATAL)
    assert ids_of(model) == ids[::-1]
    assert not model.canFetchMore(QModelIndex())
    assert model.last_error() is None
    # Columns and roles.
    assert model.columnCount() == len(ExecutionHistoryModel.COLUMNS) == 8
    newest = model.index(0, ExecutionHistoryModel.STATUS)
    assert newest.data() == "completed" and newest.data(STATUS_ROLE) == "completed"
    failed = model.index(1, ExecutionHistoryModel.ERROR)
    assert "ZeroDivisionError" in failed.data()
    assert model.index(1, 0).data(EXECUTION_ID_ROLE) == ids[-2]
    assert model.index(0, ExecutionHistoryModel.DURATION).data().endswith("ms")
    # A row's id opens its handle.
    handle = journaled.execution(model.index(1, 0).data(EXECUTION_ID_ROLE)).value()
    assert handle.status() == "failed"


def test_a_view_fetches_pages_as_it_needs_them(qtbot: Any, journaled: PluginOrchestrator) -> None:
    run_some(journaled)
    model = ExecutionHistoryModel(journaled, page_size=2)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(600, 800)  # room for every row: the view asks for more until it is full
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: model.rowCount() == 7, timeout=5000)


def test_filters_by_workflow_and_status(qtbot: Any, journaled: PluginOrchestrator) -> None:
    ids = run_some(journaled)
    model = ExecutionHistoryModel(journaled, workflow_id="bad")
    QAbstractItemModelTester(model, FATAL)
    assert ids_of(model) == ids[1::2][::-1]
    assert model.set_filter(status="completed")
    assert ids_of(model) == ids[0::2][::-1]
    assert model.status_filter() == "completed" and model.workflow_filter() is None
    assert model.set_filter("good", "failed")
    assert ids_of(model) == []
    refused = model.set_filter(status="exploded")
    assert refused.error().code == PluginErrorCode.InvalidArgument
    assert model.status_filter() == "failed"  # unchanged
    assert model.set_filter(workflow_id=3).error().code == PluginErrorCode.InvalidArgument  # type: ignore[arg-type]
    bad = ExecutionHistoryModel(journaled, page_size=0)
    assert bad.last_error().code == PluginErrorCode.InvalidArgument  # type: ignore[union-attr]
    assert bad.rowCount() == 0


def test_rows_appear_and_update_live(qtbot: Any, journaled: PluginOrchestrator) -> None:
    ids = run_some(journaled)
    model = ExecutionHistoryModel(journaled)
    QAbstractItemModelTester(model, FATAL)
    inserted: list[int] = []
    model.rowsInserted.connect(lambda parent, first, last: inserted.append(first))
    handle = journaled.start_workflow("slow").value()
    new_id = handle.execution_id()
    qtbot.waitUntil(lambda: model.execution_id(0) == new_id, timeout=5000)
    assert inserted == [0]  # at the top: newest first
    assert model.index(0, ExecutionHistoryModel.STATUS).data() == "running"
    assert model.index(0, ExecutionHistoryModel.ENDED).data() == ""
    assert ids_of(model)[1:] == ids[::-1]
    with qtbot.waitSignal(model.dataChanged, timeout=5000):
        journaled.gate.release()  # type: ignore[attr-defined]
    qtbot.waitUntil(
        lambda: model.index(0, ExecutionHistoryModel.STATUS).data() == "completed",
        timeout=5000,
    )
    assert model.index(0, ExecutionHistoryModel.ENDED).data() != ""
    assert model.rowCount() == 8


def test_a_status_filter_follows_executions_as_they_end(
    qtbot: Any, journaled: PluginOrchestrator
) -> None:
    run_some(journaled)
    failed = ExecutionHistoryModel(journaled, status="failed")
    running = ExecutionHistoryModel(journaled, status="running")
    QAbstractItemModelTester(failed, FATAL)
    QAbstractItemModelTester(running, FATAL)
    assert failed.rowCount() == 3 and running.rowCount() == 0
    handle = journaled.start_workflow("slow").value()
    qtbot.waitUntil(lambda: running.row_of(handle.execution_id()) == 0, timeout=5000)
    assert failed.row_of(handle.execution_id()) == -1
    assert handle.cancel()
    qtbot.waitUntil(lambda: running.rowCount() == 0, timeout=5000)  # it ended: it goes
    bad = journaled.execute_workflow("bad").error().context["execution_id"]
    qtbot.waitUntil(lambda: failed.execution_id(0) == bad, timeout=5000)
    assert failed.rowCount() == 4
    good = journaled.execute_workflow("good").value()
    failed.flush()
    assert failed.row_of(good) == -1


def test_history_of_an_earlier_orchestrator_on_the_same_journal(
    qtbot: Any, tmp_path: Path, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin("p", ok=lambda p: {"ok": True}))
    path = str(tmp_path / "runs.sqlite")
    first = PluginOrchestrator(plugin_manager=plugins, journal=path)
    one_step(first, plugins, "good", "ok")
    earlier = [first.execute_workflow("good").value() for _ in range(3)]
    assert first.shutdown(5000)
    first.journal().close()  # type: ignore[union-attr]
    del first
    gc.collect()
    later = PluginOrchestrator(plugin_manager=plugins, journal=path)
    try:
        model = ExecutionHistoryModel(later)
        assert ids_of(model) == earlier[::-1]
        handle = later.execution(model.execution_id(0)).value()
        assert handle.status() == "completed" and handle.result().value() == {"ok": True}
    finally:
        assert later.shutdown(5000)


def test_v2_history_lists_only_graph_executions(
    qtbot: Any, tmp_path: Path, plugins: PluginManager
) -> None:
    path = str(tmp_path / "shared.sqlite")
    fn(plugins, "n", lambda p: {"v": 1})
    plugins.register_plugin(FunctionPlugin("p", ok=lambda p: {"ok": True}))
    v2 = AdvancedPluginOrchestrator(plugin_manager=plugins, journal=path)
    try:
        register(v2, workflow("g", Mode.Sequential, [node("n")]))
        graph_id = v2.execute_workflow("g").value()
        assert v2.wait_for_execution(graph_id, 10_000)
        v1 = PluginOrchestrator(plugin_manager=plugins, journal=v2.journal())
        one_step(v1, plugins, "good", "ok")
        step_id = v1.execute_workflow("good").value()
        assert ids_of(ExecutionHistoryModel(v2)) == [graph_id]
        assert ids_of(ExecutionHistoryModel(v1)) == [step_id]
        assert v1.shutdown(5000)
    finally:
        assert v2.shutdown(5000)


def test_without_a_journal_only_live_executions_are_listed(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin("p", ok=lambda p: {"ok": True}))
    one_step(orchestrator, plugins, "good", "ok")
    orchestrator.execute_workflow("good")
    model = ExecutionHistoryModel(orchestrator)
    QAbstractItemModelTester(model, FATAL)
    error = model.last_error()
    assert error is not None and error.code == PluginErrorCode.InvalidState
    assert "journal" in error.message
    assert model.rowCount() == 0 and not model.canFetchMore(QModelIndex())
    live = orchestrator.execute_workflow("good").value()
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=5000)
    assert model.execution_id(0) == live
    assert model.index(0, ExecutionHistoryModel.STATUS).data(Qt.ItemDataRole.DisplayRole) == (
        "completed"
    )
