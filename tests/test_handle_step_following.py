"""A handle follows step events only once somebody follows its steps.

``start_workflow``'s handle asks the engine for step events when a step signal (or
``message``) gets a slot, or a step is read while the execution runs; it then catches up from
the execution's state. A handle nobody asked reads the steps once, from the finished run.
Either way every step is reported exactly once, in the order its events would have had.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import pytest

from qtforge_orch import (
    EventKind,
    ExecutionEvent,
    FunctionPlugin,
    PluginManager,
    PluginOrchestrator,
    Workflow,
    WorkflowExecution,
    WorkflowStep,
)

from .v2_helpers import Mode, fn, node, register, workflow

pytestmark = pytest.mark.timeout(30)


def _listened(orchestrator: Any) -> Any:
    return orchestrator._core.engine.listened


def _start_fan_out(
    orchestrator: PluginOrchestrator, plugins: PluginManager, n: int, gate: threading.Event
) -> WorkflowExecution:
    """Start ``n`` parallel steps, then ``last`` after all of them, which waits for ``gate``;
    returns the handle once ``last`` runs (the ``n`` steps have completed)."""
    reached = threading.Event()

    def wait(params: dict[str, Any]) -> dict[str, Any]:
        reached.set()
        assert gate.wait(20)
        return {"last": True}

    plugins.register_plugin(
        FunctionPlugin("p", run=lambda p: {"ran": True}, boom=lambda p: 1 / 0, wait=wait)
    )
    wf = Workflow("wf")
    wf.set_execution_mode("parallel")
    for i in range(n):
        wf.add_step(WorkflowStep(f"s{i}", "p", "run"))
    last = WorkflowStep("last", "p", "wait")
    last.dependencies = [f"s{i}" for i in range(n)]
    wf.add_step(last)
    assert orchestrator.register_workflow(wf)
    handle: WorkflowExecution = orchestrator.start_workflow("wf").value()
    assert reached.wait(10)
    return handle


def _engine_times(orchestrator: Any, execution_id: str) -> dict[str, tuple[Any, Any]]:
    """Each step's (start, end) as the engine recorded them, in seconds since the epoch."""

    def seconds(text: str | None) -> float | None:
        return datetime.fromisoformat(text).timestamp() if text else None

    status = orchestrator.get_execution_status(execution_id).value()
    if isinstance(status, dict):
        reports = {r["step_id"]: r for r in status["step_results"]}
    else:
        reports = dict(status.node_states)
    return {key: (seconds(r["start_time"]), seconds(r["end_time"])) for key, r in reports.items()}


def _run_a_boom_c(
    orchestrator: PluginOrchestrator, plugins: PluginManager, b_critical: bool, c_after: str
) -> WorkflowExecution:
    """Steps a, b (raises, after a) and c (after ``c_after``), run to the end, unobserved."""
    plugins.register_plugin(FunctionPlugin("p", run=lambda p: {"ran": True}, boom=lambda p: 1 / 0))
    wf = Workflow("wf")
    wf.add_step(WorkflowStep("a", "p", "run"))
    failing = WorkflowStep("b", "p", "boom", critical=b_critical)
    failing.dependencies = ["a"]
    wf.add_step(failing)
    after = WorkflowStep("c", "p", "run")
    after.dependencies = [c_after]
    wf.add_step(after)
    assert orchestrator.register_workflow(wf)
    handle: WorkflowExecution = orchestrator.start_workflow("wf").value()
    assert handle.wait(10_000)
    return handle


def test_nobody_following_steps_means_no_step_events(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    gate = threading.Event()
    handle = _start_fan_out(orchestrator, plugins, 5, gate)
    # The engine builds no step event: nobody receives one.
    assert EventKind.TASK_STARTED not in _listened(orchestrator)
    assert EventKind.TASK_COMPLETED not in _listened(orchestrator)
    gate.set()
    assert handle.wait(10_000)
    assert handle.result().value()["last"] is True
    # Asked for after the end, the steps are read from the run: all of them, completed.
    assert handle.step_ids() == [*(f"s{i}" for i in range(5)), "last"]
    records = [handle.step(step_id) for step_id in handle.step_ids()]
    assert all(r is not None and r.status == "completed" for r in records)
    assert handle.step("last").output == {"last": True}  # type: ignore[union-attr]
    assert handle.snapshot().steps["s0"].output == {"ran": True}


def test_steps_read_after_the_end_replay_before_finished(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    handle = _run_a_boom_c(orchestrator, plugins, b_critical=False, c_after="a")
    assert handle.status() == "completed"
    seen: list[tuple[Any, ...]] = []
    handle.started.connect(lambda: seen.append(("started",)))
    handle.step_started.connect(lambda s: seen.append(("step_started", s)))
    handle.step_finished.connect(lambda s, st, _: seen.append(("step_finished", s, st)))
    handle.finished.connect(lambda st, _: seen.append(("finished", st)))
    qtbot.waitUntil(lambda: bool(seen) and seen[-1][0] == "finished", timeout=5000)
    assert seen[0] == ("started",) and seen[-1] == ("finished", "completed")
    middle = seen[1:-1]
    # Each step starts once and then finishes once; b's failure is reported.
    for step_id, status in (("a", "completed"), ("b", "failed"), ("c", "completed")):
        assert middle.count(("step_started", step_id)) == 1
        assert middle.count(("step_finished", step_id, status)) == 1
        assert middle.index(("step_started", step_id)) < middle.index(
            ("step_finished", step_id, status)
        )
    messages = handle.messages()
    assert messages[-1] == "execution completed"
    assert any(m.startswith("b failed: ") for m in messages[:-1])


def test_connecting_mid_run_catches_up_without_duplicates(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    gate = threading.Event()
    handle = _start_fan_out(orchestrator, plugins, 20, gate)
    finished: list[tuple[str, str]] = []
    starts: list[str] = []
    # Connected while 20 steps have completed unannounced and ``last`` runs.
    handle.step_finished.connect(lambda s, st, _: finished.append((s, st)))
    handle.step_started.connect(starts.append)
    assert EventKind.TASK_COMPLETED in _listened(orchestrator)
    gate.set()
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    qtbot.waitUntil(lambda: len(finished) == 21, timeout=5000)
    assert sorted(finished) == sorted(
        [(f"s{i}", "completed") for i in range(20)] + [("last", "completed")]
    )
    assert sorted(starts) == sorted([f"s{i}" for i in range(20)] + ["last"])
    assert finished[-1] == ("last", "completed")


@pytest.mark.parametrize("connect_after", [0, 1, 3, 7, 15])
def test_racing_connection_reports_each_step_once(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager, connect_after: int
) -> None:
    """Steps complete on workers while the handle subscribes and reads the state: events
    queued before the read are the ones the read already reports, and are dropped."""
    completed = threading.Semaphore(0)

    def run(params: dict[str, Any]) -> dict[str, Any]:
        completed.release()
        return {"ran": True}

    plugins.register_plugin(FunctionPlugin("p", run=run))
    wf = Workflow("wf")
    for i in range(40):
        wf.add_step(WorkflowStep(f"s{i}", "p", "run"))
    assert orchestrator.register_workflow(wf)
    handle = orchestrator.start_workflow("wf").value()
    for _ in range(connect_after):
        assert completed.acquire(timeout=10)
    finished: list[str] = []
    handle.step_finished.connect(lambda s, st, _: finished.append(s))
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    qtbot.waitUntil(lambda: len(finished) >= 40, timeout=5000)
    assert sorted(finished) == sorted(f"s{i}" for i in range(40))


def test_reading_a_step_while_running_follows_steps_from_then_on(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    gate = threading.Event()
    handle = _start_fan_out(orchestrator, plugins, 3, gate)
    # A GUI polling the handle: the first read catches up with the run.
    record = handle.step("s0")
    assert record is not None and record.status == "completed"
    assert EventKind.TASK_COMPLETED in _listened(orchestrator)
    late = handle.step("last")
    assert late is not None and late.status == "running"
    gate.set()
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    last = handle.step("last")
    assert last is not None and last.status == "completed" and last.output == {"last": True}


def test_a_connection_from_another_thread_makes_the_handle_follow_steps(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    gate = threading.Event()
    handle = _start_fan_out(orchestrator, plugins, 3, gate)
    finished: list[str] = []
    lock = threading.Lock()

    def on_finished(step_id: str, status: str, output: Any) -> None:
        with lock:
            finished.append(step_id)

    connector = threading.Thread(target=lambda: handle.step_finished.connect(on_finished))
    connector.start()
    connector.join(10)
    qtbot.waitUntil(lambda: EventKind.TASK_COMPLETED in _listened(orchestrator), timeout=5000)
    gate.set()
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    # The steps that ended before the connection are in the handle's records; the slot gets
    # what ended after it (a connection from another thread gets no replay).
    qtbot.waitUntil(lambda: "last" in finished, timeout=5000)
    assert all(handle.step(f"s{i}").status == "completed" for i in range(3))  # type: ignore[union-attr]


def test_a_failed_execution_reports_its_steps_without_followers(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    handle = _run_a_boom_c(orchestrator, plugins, b_critical=True, c_after="b")
    assert handle.status() == "failed"
    statuses = {s: handle.step(s).status for s in handle.step_ids()}  # type: ignore[union-attr]
    assert statuses == {"a": "completed", "b": "failed", "c": "cancelled"}
    seen: list[tuple[str, str]] = []
    handle.step_finished.connect(lambda s, st, _: seen.append((s, st)))
    qtbot.waitUntil(lambda: len(seen) == 3, timeout=5000)
    assert seen == [("a", "completed"), ("b", "failed"), ("c", "cancelled")]


def test_v2_handle_reads_its_nodes_after_the_end(qtbot: Any, advanced: Any, plugins: Any) -> None:
    fn(plugins, "f", lambda p: {"x": 1})
    register(advanced, workflow("g", Mode.Parallel, [node("a", "f"), node("b", "f")]))
    handle: WorkflowExecution = advanced.start_workflow("g").value()
    assert handle.wait(10_000)
    assert handle.status() == "completed"
    record = handle.step("a")
    assert record is not None and record.status == "completed" and record.output == {"x": 1}
    assert [handle.step(n).status for n in ("a", "b")] == ["completed", "completed"]  # type: ignore[union-attr]


def test_events_older_than_the_caught_up_state_change_nothing(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    """The step events queued before the handle read the state (they raced its subscription)
    report what the state already holds: delivered after it, they are dropped."""
    gate = threading.Event()
    handle = _start_fan_out(orchestrator, plugins, 2, gate)
    finished: list[tuple[str, str]] = []
    starts: list[str] = []
    retries: list[str] = []
    handle.step_finished.connect(lambda s, st, _: finished.append((s, st)))
    handle.step_started.connect(starts.append)
    handle.step_retrying.connect(lambda s, n: retries.append(s))
    qtbot.waitUntil(lambda: len(finished) == 2 and len(starts) == 3, timeout=5000)  # the replay
    eid = handle.execution_id()
    for stale in (
        ExecutionEvent(EventKind.TASK_STARTED, (eid, "s0"), eid),
        ExecutionEvent(EventKind.TASK_RETRYING, (eid, "s0", 1), eid),
        ExecutionEvent(EventKind.TASK_COMPLETED, (eid, "s0", {"stale": True}), eid),
        ExecutionEvent(EventKind.TASK_FAILED, (eid, "s1", "stale"), eid),
        ExecutionEvent(EventKind.TASK_STARTED, (eid, "last"), eid),
    ):
        handle._on_event(stale)
    assert handle.step("s0").output == {"ran": True}  # type: ignore[union-attr]
    assert handle.step("s1").status == "completed"  # type: ignore[union-attr]
    assert handle.step("last").status == "running"  # type: ignore[union-attr]
    gate.set()
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    assert sorted(finished) == [("last", "completed"), ("s0", "completed"), ("s1", "completed")]
    assert sorted(starts) == ["last", "s0", "s1"] and retries == []


def test_slots_connected_after_the_run_ended_unseen_get_the_order_of_a_live_run(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    """Every step ran (and the end was posted) before the slots were connected and before
    any event was delivered: the start, each step's start and end, then the end."""
    done = threading.Event()

    def last(params: dict[str, Any]) -> dict[str, Any]:
        done.set()
        return {"ran": True}

    plugins.register_plugin(FunctionPlugin("p", run=lambda p: {"ran": True}, last=last))
    wf = Workflow("wf")
    wf.add_step(WorkflowStep("a", "p", "run"))
    b = WorkflowStep("b", "p", "last")
    b.dependencies = ["a"]
    wf.add_step(b)
    assert orchestrator.register_workflow(wf)
    handle = orchestrator.start_workflow("wf").value()
    assert done.wait(10)  # the owner thread delivered nothing yet
    with qtbot.waitSignals(
        [
            handle.started,
            handle.step_started,
            handle.step_finished,
            handle.step_started,
            handle.step_finished,
            handle.finished,
        ],
        order="strict",
        timeout=10_000,
        check_params_cbs=[
            None,
            lambda s: s == "a",
            lambda s, st, out: (s, st, out) == ("a", "completed", {"ran": True}),
            lambda s: s == "b",
            lambda s, st, out: (s, st) == ("b", "completed"),
            lambda st, result: st == "completed",
        ],
    ):
        pass
    assert handle.messages()[-1] == "execution completed"


def test_a_step_event_for_a_step_never_seen_starting_reports_its_start_first(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    gate = threading.Event()
    handle = _start_fan_out(orchestrator, plugins, 1, gate)
    seen: list[tuple[str, ...]] = []
    handle.started.connect(lambda: seen.append(("started",)))
    handle.step_started.connect(lambda s: seen.append(("step_started", s)))
    handle.step_finished.connect(lambda s, st, _: seen.append(("step_finished", s, st)))
    eid = handle.execution_id()
    # An end event that reached the handle before the catch-up reported the step's start.
    handle._on_event(ExecutionEvent(EventKind.TASK_COMPLETED, (eid, "s0", {"ran": True}), eid))
    assert seen[:3] == [("started",), ("step_started", "s0"), ("step_finished", "s0", "completed")]
    gate.set()
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    assert seen.count(("started",)) == 1
    assert seen.count(("step_finished", "s0", "completed")) == 1
    assert seen.count(("step_finished", "last", "completed")) == 1


def test_retries_before_the_steps_were_followed_are_reported_in_order(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    calls = {"n": 0}
    done = threading.Event()

    def flaky(params: dict[str, Any]) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] < 3:
            raise RuntimeError("not yet")
        done.set()
        return {"ok": True}

    plugins.register_plugin(FunctionPlugin("f", run=flaky))
    wf = Workflow("wf")
    wf.add_step(WorkflowStep("x", "f", "run", max_retries=3, retry_delay=1))
    assert orchestrator.register_workflow(wf)
    handle = orchestrator.start_workflow("wf").value()
    assert done.wait(10)
    with qtbot.waitSignals(
        [handle.step_started, handle.step_retrying, handle.step_retrying, handle.finished],
        order="strict",
        timeout=10_000,
        check_params_cbs=[None, lambda s, n: n == 1, lambda s, n: n == 2, None],
    ):
        pass
    assert handle.step("x").attempts == 3  # type: ignore[union-attr]


def test_a_step_caught_up_while_it_runs_has_the_engine_s_start(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    """The catch-up gives each step the times the engine recorded (the same clock as a
    followed step's), so a step followed mid-run is timed from its real start."""
    gate = threading.Event()
    before = time.time()
    handle = _start_fan_out(orchestrator, plugins, 2, gate)
    try:
        engine = _engine_times(orchestrator, handle.execution_id())
        running = handle.step("last")  # the read catches up
        assert running is not None and running.status == "running"
        assert running.started_at == pytest.approx(engine["last"][0], abs=1e-6)
        assert before <= running.started_at <= time.time()
        assert running.duration_ms is None and running.finished_at is None
        ended = handle.step("s0")
        assert ended is not None and ended.status == "completed"
        assert (ended.started_at, ended.finished_at) == pytest.approx(engine["s0"], abs=1e-6)
    finally:
        gate.set()
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    last = handle.step("last")
    assert last is not None and last.finished_at is not None and last.duration_ms is not None
    assert last.started_at == running.started_at
    assert last.duration_ms == pytest.approx((last.finished_at - last.started_at) * 1000)


@pytest.mark.parametrize("graph", [False, True], ids=["v1", "v2"])
def test_steps_read_after_the_end_have_the_engine_s_times(
    qtbot: Any, orchestrator: Any, advanced: Any, plugins: PluginManager, graph: bool
) -> None:
    if graph:
        fn(plugins, "f", lambda p: {"x": 1})
        register(advanced, workflow("g", Mode.Sequential, [node("a", "f"), node("b", "f")]))
        handle: WorkflowExecution = advanced.start_workflow("g").value()
        owner = advanced
    else:
        handle = _run_a_boom_c(orchestrator, plugins, b_critical=False, c_after="a")
        owner = orchestrator
    assert handle.wait(10_000)
    engine = _engine_times(owner, handle.execution_id())
    for step_id in handle.step_ids():
        record = handle.step(step_id)
        assert record is not None and record.started_at is not None
        assert (record.started_at, record.finished_at) == pytest.approx(engine[step_id], abs=1e-6)
