"""The monitor under a burst of signals: paced flushes, the one-call table paint, quiet binding.

None of this is public behaviour; these tests pin that the internal pacing and painting still
show the exact final state and lose no signal.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QObject
from PySide6.QtGui import QImage

from qtforge_orch import FunctionPlugin, PluginManager, PluginOrchestrator, Workflow, WorkflowStep
from qtforge_orch.events import EventKind, ExecutionEvent
from qtforge_orch.widgets import StepsModel, WorkflowMonitor, _coalesce
from qtforge_orch.widgets._coalesce import FrameBatcher

pytestmark = pytest.mark.timeout(30)
STEPS = 200


def fan_out(orch: PluginOrchestrator, plugins: PluginManager, steps: int = STEPS) -> None:
    plugins.register_plugin(FunctionPlugin("p", run=lambda p: {"ok": 1}))
    wf = Workflow("fan").set_execution_mode("Parallel")
    for i in range(steps):
        wf.add_step(WorkflowStep(f"s{i}", "p", "run"))
    assert orch.register_workflow(wf)


def test_pacer_runs_every_due_flush_and_defers_past_its_turn(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_coalesce, "TURN_S", -1.0)  # one flush per event-loop turn
    owner = QObject()
    flushed: list[tuple[str, set[object]]] = []

    def first(dirty: set[object]) -> set[object] | None:
        flushed.append(("first", dirty))
        return {"left"} if "left" not in dirty else None  # hands some back once

    def second(dirty: set[object]) -> set[object] | None:
        flushed.append(("second", dirty))
        return None

    a, b = FrameBatcher(first, owner, 0), FrameBatcher(second, owner, 0)
    a.mark_many(["x", "y"])
    b.mark("z")
    qtbot.waitUntil(lambda: len(flushed) == 3, timeout=5000)
    assert flushed == [("first", {"x", "y"}), ("second", {"z"}), ("first", {"left"})]
    a.mark("late")
    a.flush_now()  # an explicit flush cancels the scheduled one
    assert flushed[-1] == ("first", {"late"})
    assert len(flushed) == 4


def test_monitor_shows_the_final_state_without_an_explicit_flush(
    qtbot: Any, orchestrator: Any, plugins: Any
) -> None:
    fan_out(orchestrator, plugins)
    monitor = WorkflowMonitor(orchestrator, "fan")
    qtbot.addWidget(monitor)
    monitor.resize(1000, 600)
    monitor.show()
    qtbot.waitExposed(monitor)
    with qtbot.waitSignal(monitor.execution_finished, timeout=10_000):
        assert monitor.run()
    graph = monitor.graph_view()
    model: StepsModel = monitor.steps_model()
    ids = [f"s{i}" for i in range(STEPS)]

    def shown() -> bool:
        return (
            all(graph.node_status(step) == "completed" for step in ids)
            and all(
                (record := model.record_at(row)) is not None and record.status == "completed"
                for row in range(STEPS)
            )
            and monitor.progress_bar().value() == 1000
        )

    # Only the event loop applies the updates here (paced flushes, never monitor.flush()).
    qtbot.waitUntil(shown, timeout=10_000)


def test_steps_table_paints_what_the_cell_painter_paints(
    qtbot: Any, orchestrator: Any, plugins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fan_out(orchestrator, plugins, 40)
    monitor = WorkflowMonitor(orchestrator, "fan")
    qtbot.addWidget(monitor)
    monitor.resize(1000, 600)
    monitor.show()
    qtbot.waitExposed(monitor)
    with qtbot.waitSignal(monitor.execution_finished, timeout=10_000):
        assert monitor.run()
    monitor.flush()
    table = monitor.steps_view()
    table.selectRow(3)
    ours: QImage = table.viewport().grab().toImage()
    # Without its proxy the view leaves painting to QTableView and the StepCellPainter delegate.
    monkeypatch.setattr(table, "_proxy", None)
    qts: QImage = table.viewport().grab().toImage()
    assert ours.size() == qts.size()
    assert ours == qts


class _Observer(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def on_event(self, event: ExecutionEvent) -> None:
        self.seen.append(event.step)


def test_observers_get_later_emissions_and_leave_the_replay_to_connections(
    qtbot: Any, orchestrator: Any, plugins: Any
) -> None:
    gate = threading.Event()
    plugins.register_plugin(
        FunctionPlugin("p", run=lambda p: {"ok": 1}, hold=lambda p: {"ok": gate.wait(10)})
    )
    wf = Workflow("held").set_execution_mode("Parallel")
    for i in range(3):
        wf.add_step(WorkflowStep(f"s{i}", "p", "run"))
    wf.add_step(WorkflowStep("hold", "p", "hold"))
    assert orchestrator.register_workflow(wf)
    handle = orchestrator.start_workflow("held").value()
    execution_id = handle.execution_id()
    qtbot.waitUntil(
        lambda: all(handle.step(f"s{i}").status == "completed" for i in range(3)), timeout=5000
    )
    observer = _Observer()
    kinds = [EventKind.TASK_STARTED]
    subscription = orchestrator.subscribe(observer.on_event, execution_id, kinds).value()
    loud: list[str] = []
    handle.step_started.connect(loud.append)  # still the first connection: it gets a replay
    qtbot.waitUntil(lambda: len(loud) == 4, timeout=5000)
    assert sorted(loud) == ["hold", "s0", "s1", "s2"]
    assert observer.seen == []  # subscribers read the state themselves: no replay
    pump = orchestrator._core.engine.pump

    def started(step: str) -> None:
        pump.post(ExecutionEvent(EventKind.TASK_STARTED, (execution_id, step), execution_id))
        qtbot.waitUntil(lambda: loud[-1] == step, timeout=5000)

    started("later")
    assert observer.seen == ["later"]
    subscription.cancel()
    started("gone")
    assert observer.seen == ["later"]
    # A subscriber whose object was deleted is dropped, never called.
    dead = _Observer()
    dropped = orchestrator.subscribe(dead.on_event, execution_id, kinds).value()
    shiboken6.delete(dead)
    started("after delete")
    assert not dropped.is_active()
    gate.set()
    assert handle.wait(10_000)


def test_steps_model_announces_only_changed_rows(
    qtbot: Any, orchestrator: Any, plugins: Any
) -> None:
    fan_out(orchestrator, plugins, 5)
    handle = orchestrator.start_workflow("fan").value()
    assert handle.wait(10_000)
    model = StepsModel(handle)
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda first, last, *_: changed.append((first.row(), last.row())))
    model._mark_all()  # what the end of a run does: every row is read again
    model.flush()
    assert changed == []  # nothing differs from what the rows already show
    assert all(model.record_at(row).status == "completed" for row in range(5))  # type: ignore[union-attr]


def test_a_batcher_flushed_alone_gets_a_turn_of_its_own(qtbot: Any) -> None:
    owner = QObject()
    order: list[str] = []
    alone = FrameBatcher(lambda dirty: order.append("alone"), owner, 0, alone=True)
    quick = FrameBatcher(lambda dirty: order.append("quick"), owner, 0)
    other = FrameBatcher(lambda dirty: order.append("other"), owner, 0)
    quick.mark(1)
    alone.mark(1)
    other.mark(1)
    turns: list[list[str]] = []
    pacer = _coalesce._pacer()
    real_run = pacer._run

    def counted() -> None:
        before = len(order)
        real_run()
        turns.append(order[before:])

    pacer._timer.timeout.disconnect(real_run)
    pacer._timer.timeout.connect(counted)
    try:
        qtbot.waitUntil(lambda: len(order) == 3, timeout=5000)
    finally:
        pacer._timer.timeout.disconnect(counted)
        pacer._timer.timeout.connect(real_run)
    assert turns == [["quick"], ["alone"], ["other"]]


def test_a_raising_flush_does_not_stop_the_others(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_coalesce, "TURN_S", -1.0)  # one flush per event-loop turn
    owner = QObject()
    flushed: list[set[object]] = []

    def broken(dirty: set[object]) -> None:
        raise RuntimeError("broken flush")

    bad, good = FrameBatcher(broken, owner, 0), FrameBatcher(flushed.append, owner, 1)
    with qtbot.capture_exceptions() as raised:
        bad.mark("x")
        good.mark("y")
        qtbot.waitUntil(lambda: flushed == [{"y"}], timeout=5000)
    assert [str(error) for _, error, _ in raised] == ["broken flush"]
