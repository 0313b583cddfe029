"""The one event stream: ``subscribe`` on both orchestrators, typed events, filters, lifetimes.

Handles, widgets and the orchestrators' own signals are subscribers of this stream; these tests
pin what an application subscriber sees.
"""

from __future__ import annotations

import gc
import itertools
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QObject

from qtforge_orch import (
    EventKind,
    ExecutionEvent,
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    Subscription,
    Workflow,
    WorkflowStep,
)

from .v2_helpers import Mode, NodeType, conn, fn, node, register, workflow

pytestmark = pytest.mark.timeout(30)


def chain(orch: PluginOrchestrator, plugins: PluginManager, *commands: str) -> None:
    plugins.register_plugin(FunctionPlugin("p", run=lambda p: {"ran": True}, boom=lambda p: 1 / 0))
    wf = Workflow("wf")
    previous: list[str] = []
    for index, command in enumerate(commands):
        wf.add_step(WorkflowStep(f"s{index}", "p", command, dependencies=previous))
        previous = [f"s{index}"]
    assert orch.register_workflow(wf)


class Recorder(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[ExecutionEvent] = []
        self.threads: set[int] = set()

    def on_event(self, event: ExecutionEvent) -> None:
        self.events.append(event)
        self.threads.add(threading.get_ident())


def test_every_execution_in_causal_order_with_typed_fields(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    chain(orchestrator, plugins, "run", "run")
    recorder = Recorder()
    subscription = orchestrator.subscribe(recorder.on_event)
    assert subscription
    first = orchestrator.execute_workflow("wf").value()
    second = orchestrator.execute_workflow("wf", {"x": 1}).value()
    for execution_id in (first, second):
        mine = [e for e in recorder.events if e.execution_id == execution_id]
        kinds = [e.kind for e in mine if e.kind is not EventKind.PROGRESS]
        assert kinds == [
            EventKind.WORKFLOW_STARTED,
            EventKind.TASK_STARTED,
            EventKind.TASK_COMPLETED,
            EventKind.TASK_STARTED,
            EventKind.TASK_COMPLETED,
            EventKind.WORKFLOW_COMPLETED,
        ]
        assert mine[-1].terminal and mine[-1] is not mine[0]
        assert mine[0].workflow_id == "wf"
        assert [e.step for e in mine if e.kind is EventKind.TASK_COMPLETED] == ["s0", "s1"]
        assert mine[2].output == {"ran": True}
        assert mine[-1].result["ran"] is True
        progress = [e.progress for e in mine if e.kind is EventKind.PROGRESS]
        assert progress and progress[-1] == 1.0  # flushed before the terminal event
        assert mine.index(next(e for e in mine if e.kind is EventKind.PROGRESS)) < len(mine) - 1
    assert recorder.threads == {threading.get_ident()}  # the orchestrator's thread
    assert subscription.value().is_active()  # every-execution subscriptions go on


def test_one_execution_and_chosen_kinds_then_it_ends(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    chain(orchestrator, plugins, "run", "boom", "run")
    other = orchestrator.execute_workflow("wf", async_=True).value()
    created = orchestrator._core.start("wf", None)  # a run that has not started yet
    assert not isinstance(created, Exception)
    seen: list[ExecutionEvent] = []
    kinds = [EventKind.TASK_FAILED, EventKind.WORKFLOW_FAILED]
    subscription = orchestrator.subscribe(seen.append, created.execution_id, kinds).value()
    created.start()
    assert orchestrator.wait_for_execution(created.execution_id, 10_000)
    assert orchestrator.wait_for_execution(other, 10_000)
    assert [(e.kind, e.execution_id) for e in seen] == [
        (EventKind.TASK_FAILED, created.execution_id),
        (EventKind.WORKFLOW_FAILED, created.execution_id),
    ]
    assert seen[0].step == "s1" and "division" in seen[0].message
    assert seen[1].message
    assert not subscription.is_active()  # ended after the terminal event


def test_cancel_stops_delivery_and_unwanted_kinds_are_not_built(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    chain(orchestrator, plugins, "run")
    listened = orchestrator._core.engine.listened
    seen: list[ExecutionEvent] = []
    subscription = orchestrator.subscribe(seen.append, kinds=[EventKind.TASK_COMPLETED]).value()
    assert EventKind.TASK_COMPLETED in listened
    assert EventKind.TASK_STARTED not in listened  # not wanted: never built
    orchestrator.execute_workflow("wf")
    assert len(seen) == 1
    subscription.cancel()
    subscription.cancel()  # harmless
    assert EventKind.TASK_COMPLETED not in listened
    orchestrator.execute_workflow("wf")
    assert len(seen) == 1


def test_bound_methods_are_held_weakly_and_deleted_qobjects_drop_out(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    chain(orchestrator, plugins, "run")
    kept, collected, deleted = Recorder(), Recorder(), Recorder()
    strong = Recorder()
    subscriptions = [orchestrator.subscribe(r.on_event).value() for r in (kept, collected, deleted)]
    held = orchestrator.subscribe(strong.on_event, weak=False).value()
    del collected
    gc.collect()
    shiboken6.delete(deleted)
    strong_events = strong.events
    del strong
    gc.collect()
    orchestrator.execute_workflow("wf")
    assert kept.events and len(strong_events) == len(kept.events)
    assert [s.is_active() for s in subscriptions] == [True, False, False]
    assert held.is_active()


def test_a_raising_subscriber_is_logged_and_the_others_still_get_the_event(
    qtbot: Any,
    orchestrator: PluginOrchestrator,
    plugins: PluginManager,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chain(orchestrator, plugins, "run")

    def broken(event: ExecutionEvent) -> None:
        raise RuntimeError("subscriber bug")

    seen: list[EventKind] = []
    orchestrator.subscribe(broken)
    orchestrator.subscribe(lambda event: seen.append(event.kind))
    with caplog.at_level(logging.ERROR, logger="qtforge_orch.events"):
        assert orchestrator.execute_workflow("wf")
    assert seen[0] is EventKind.WORKFLOW_STARTED and seen[-1] is EventKind.WORKFLOW_COMPLETED
    assert "subscriber bug" in caplog.text
    assert "WORKFLOW_COMPLETED" in caplog.text


def test_bad_subscriptions_are_errors(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    chain(orchestrator, plugins, "run")
    code = PluginErrorCode
    assert orchestrator.subscribe("no").error().code == code.InvalidArgument  # type: ignore[arg-type]
    bad_kinds = orchestrator.subscribe(print, kinds=["TASK_STARTED"])  # type: ignore[list-item]
    assert bad_kinds.error().code == code.InvalidArgument
    assert orchestrator.subscribe(print, kinds=3).error().code == code.InvalidArgument  # type: ignore[arg-type]
    assert orchestrator.subscribe(print, "nope").error().code == code.NotFound
    assert orchestrator.subscribe(print, 42).error().code == code.InvalidArgument  # type: ignore[arg-type]
    ended = orchestrator.execute_workflow("wf").value()
    late = orchestrator.subscribe(print, ended)
    assert late.error().code == code.InvalidState
    assert isinstance(orchestrator.subscribe(print, kinds=EventKind.PROGRESS).value(), Subscription)


def test_item_counts_of_a_streaming_execution(qtbot: Any, advanced: Any, plugins: Any) -> None:
    release = threading.Event()

    def source(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield from ({"v": i} for i in range(50))

    def sink(params: dict[str, Any]) -> dict[str, Any]:
        if params["x"]["v"] == 49:
            release.wait(10)  # the counts are sampled while it runs
        return {}

    fn(plugins, "src", source)
    fn(plugins, "sink", sink)
    register(
        advanced,
        workflow(
            "stream",
            Mode.Streaming,
            [
                node("src", node_type=NodeType.Source, output_ports=["item"]),
                node("sink", node_type=NodeType.Sink, input_ports=["x"]),
            ],
            [conn("src", "sink", source_port="item", target_port="x")],
        ),
    )
    counts: list[ExecutionEvent] = []
    advanced.subscribe(counts.append, kinds=[EventKind.ITEM_COUNTS, EventKind.WORKFLOW_COMPLETED])
    execution_id = advanced.execute_workflow("stream").value()
    qtbot.waitUntil(
        lambda: any(e.item_counts.get("src", {}).get("items_out") == 50 for e in counts),
        timeout=5000,
    )
    release.set()
    assert advanced.wait_for_execution(execution_id, 10_000)
    qtbot.waitUntil(lambda: counts[-1].kind is EventKind.WORKFLOW_COMPLETED, timeout=5000)
    assert all(e.execution_id == execution_id for e in counts)
    samples = [e.item_counts for e in counts if e.kind is EventKind.ITEM_COUNTS]
    assert all(a != b for a, b in itertools.pairwise(samples))  # only changes


def test_a_handle_reports_the_end_without_a_status_call(
    qtbot: Any,
    orchestrator: PluginOrchestrator,
    plugins: PluginManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain(orchestrator, plugins, "run", "boom", "run")
    calls: list[str] = []
    real = orchestrator.get_execution_status
    monkeypatch.setattr(orchestrator, "get_execution_status", lambda e: calls.append(e) or real(e))
    handle = orchestrator.start_workflow("wf").value()
    finished: list[tuple[str, str]] = []
    handle.step_finished.connect(lambda step, status, _: finished.append((step, status)))
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    assert finished == [("s0", "completed"), ("s1", "failed"), ("s2", "cancelled")]
    assert handle.result().error().code == PluginErrorCode.ExecutionFailed
    assert calls == []


def test_an_orchestrator_going_away_ends_what_its_subscribers_follow(qtbot: Any) -> None:
    entered = threading.Event()

    def hold(params: dict[str, Any], context: Any) -> dict[str, Any]:
        entered.set()
        while not context.wait(0.01):
            pass
        return {}

    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("p", hold=hold))
    orchestrator = PluginOrchestrator(plugin_manager=plugins)
    assert orchestrator.register_workflow(Workflow("w").add_step(WorkflowStep("s", "p", "hold")))
    execution_id = orchestrator.execute_workflow("w", async_=True).value()
    ended: list[ExecutionEvent] = []
    kinds = [EventKind.WORKFLOW_CANCELLED, EventKind.WORKFLOW_COMPLETED]
    subscription = orchestrator.subscribe(ended.append, execution_id, kinds).value()
    qtbot.waitUntil(entered.is_set, timeout=5000)
    orchestrator.deleteLater()
    qtbot.waitUntil(lambda: bool(ended), timeout=5000)
    assert [(e.kind, e.execution_id, e.terminal, e.source) for e in ended] == [
        (EventKind.WORKFLOW_CANCELLED, execution_id, True, None)
    ]
    assert not subscription.is_active()
