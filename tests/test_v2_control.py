"""v2 execution control and monitoring: pause/resume, cancel, execution and node status."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    PluginManager,
    WorkflowExecutionContext,
    WorkflowExecutionStatus,
)
from qtforge_orch.testing import FakeClock, HangingPlugin, SignalRecorder, wait_until_idle

from .v2_helpers import (
    Code,
    Mode,
    NodeType,
    conn,
    error_code,
    fn,
    node,
    node_status,
    register,
    run_to_end,
    start,
    states,
    status,
    workflow,
)

pytestmark = pytest.mark.timeout(30)

Status = WorkflowExecutionStatus
NODE_STATUS_KEYS = {
    "node_id",
    "status",
    "output",
    "error",
    "attempts",
    "start_time",
    "end_time",
    "duration_ms",
}


def gated_chain(
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    mode: Mode = Mode.Parallel,
    workflow_id: str = "chain",
) -> tuple[HangingPlugin, threading.Event]:
    """first (a HangingPlugin) -> second -> third."""
    gate = HangingPlugin(output={"first": 1})
    second_started = threading.Event()
    fn(plugins, "first", gate)
    fn(plugins, "second", lambda p: second_started.set() or {"second": p["first"] + 1})
    fn(plugins, "third", lambda p: {"third": p["second"] + 1})
    register(
        advanced,
        workflow(
            workflow_id,
            mode,
            [node("first"), node("second"), node("third")],
            [conn("first", "second"), conn("second", "third")],
        ),
    )
    return gate, second_started


# --------------------------------------------------------------------------------------------
# pause / resume


@pytest.mark.parametrize(
    "mode", [Mode.Sequential, Mode.Parallel, Mode.Conditional], ids=lambda m: m.name
)
def test_nothing_new_starts_while_paused(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager, mode: Mode
) -> None:
    gate, second_started = gated_chain(advanced, plugins, mode)
    execution_id = start(advanced, "chain")
    assert gate.entered.wait(5)
    with qtbot.waitSignal(advanced.workflow_paused, timeout=5000) as paused:
        assert advanced.pause_execution(execution_id)
    assert paused.args == [execution_id]
    assert status(advanced, execution_id).status is Status.Paused

    # the running node finishes; the node it makes ready must not start
    with qtbot.waitSignal(
        advanced.node_completed, timeout=5000, check_params_cb=lambda e, n, r: n == "first"
    ):
        gate.release()
    assert wait_until_idle(advanced)
    assert not second_started.is_set(), "a node started while the execution was paused"
    assert states(advanced, execution_id) == {
        "first": "completed",
        "second": "pending",
        "third": "pending",
    }
    ctx = status(advanced, execution_id)
    assert ctx.status is Status.Paused
    assert execution_id in advanced.get_active_executions()

    with qtbot.waitSignal(advanced.workflow_resumed, timeout=5000) as resumed:
        assert advanced.resume_execution(execution_id)
    assert resumed.args == [execution_id]
    assert advanced.wait_for_execution(execution_id, 5000)
    ctx = status(advanced, execution_id)
    assert ctx.status is Status.Completed
    assert ctx.execution_data["result"] == {"third": {"third": 3}}


def test_pause_and_resume_in_the_wrong_state(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    gate, _ = gated_chain(advanced, plugins)
    execution_id = start(advanced, "chain")
    assert gate.entered.wait(5)
    assert error_code(advanced.resume_execution(execution_id)) is Code.InvalidState  # running
    assert advanced.pause_execution(execution_id)
    assert error_code(advanced.pause_execution(execution_id)) is Code.InvalidState  # paused
    assert advanced.resume_execution(execution_id)
    assert error_code(advanced.resume_execution(execution_id)) is Code.InvalidState
    gate.release()
    assert advanced.wait_for_execution(execution_id, 5000)
    assert error_code(advanced.pause_execution(execution_id)) is Code.InvalidState  # finished
    assert error_code(advanced.resume_execution(execution_id)) is Code.InvalidState
    assert error_code(advanced.pause_execution("nope")) is Code.NotFound
    assert error_code(advanced.resume_execution("nope")) is Code.NotFound


def test_a_retry_that_falls_due_while_paused_waits_for_resume(
    qtbot: Any,
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    fake_clock: FakeClock,
) -> None:
    first_running = threading.Event()
    fail_now = threading.Event()
    second_attempt = threading.Event()

    def flaky(params: dict[str, Any]) -> dict[str, Any]:
        if not first_running.is_set():
            first_running.set()
            assert fail_now.wait(5)
            raise RuntimeError("transient")
        second_attempt.set()
        return {"ok": True}

    fn(plugins, "flaky", flaky)
    register(
        advanced,
        workflow(
            "retry_paused",
            Mode.Sequential,
            [node("flaky", configuration={"max_retries": 1, "retry_delay": 20})],
        ),
    )
    execution_id = start(advanced, "retry_paused")
    try:
        assert first_running.wait(5)
        assert advanced.pause_execution(execution_id)
    finally:
        fail_now.set()
    # The failed attempt arms its retry; the retry falls due while the execution is paused.
    fake_clock.wait_for_timer(0.02)
    fake_clock.advance(0.02)
    assert wait_until_idle(advanced)
    assert not second_attempt.is_set(), "a retry started while the execution was paused"
    assert states(advanced, execution_id)["flaky"] == "pending"
    assert advanced.resume_execution(execution_id)
    assert advanced.wait_for_execution(execution_id, 5000)
    assert second_attempt.is_set()
    assert node_status(advanced, execution_id, "flaky")["attempts"] == 2
    assert status(advanced, execution_id).status is Status.Completed


def test_pause_streaming_stops_moving_items(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    n = 20
    reached = threading.Event()
    proceed = threading.Event()
    received: list[int] = []

    def sink(params: dict[str, Any]) -> dict[str, Any]:
        if params["value"] == 3 and not reached.is_set():
            reached.set()
            assert proceed.wait(5)
        received.append(params["value"])
        return {"ok": True}

    fn(plugins, "src", lambda p: iter(range(n)))
    fn(plugins, "sink", sink)
    register(
        advanced,
        workflow(
            "paused_stream",
            Mode.Streaming,
            [node("src", node_type=NodeType.Source), node("sink", node_type=NodeType.Sink)],
            [conn("src", "sink")],
            global_configuration={"stream_channel_capacity": 1},  # one item per activation
        ),
    )
    execution_id = start(advanced, "paused_stream")
    try:
        assert reached.wait(5)
        assert advanced.pause_execution(execution_id)
    finally:
        proceed.set()
    qtbot.waitUntil(lambda: len(received) == 4, timeout=5000)  # the running item finishes
    assert wait_until_idle(advanced)  # every activation that could run has returned
    assert received == [0, 1, 2, 3]
    sink_status = node_status(advanced, execution_id, "sink")
    assert sink_status["items_in"] == 4 and sink_status["status"] == "running"
    assert node_status(advanced, execution_id, "src")["items_out"] <= 5
    assert status(advanced, execution_id).status is Status.Paused
    assert advanced.resume_execution(execution_id)
    assert advanced.wait_for_execution(execution_id, 5000)
    assert received == list(range(n))
    assert status(advanced, execution_id).status is Status.Completed


# --------------------------------------------------------------------------------------------
# cancel


def test_cancel_execution(
    qtbot: Any,
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    signal_recorder: SignalRecorder,
) -> None:
    gate, second_started = gated_chain(advanced, plugins)
    execution_id = start(advanced, "chain")
    assert gate.entered.wait(5)
    with qtbot.waitSignal(advanced.workflow_cancelled, timeout=5000) as cancelled:
        assert advanced.cancel_execution(execution_id)
    assert cancelled.args == [execution_id]
    assert advanced.wait_for_execution(execution_id, 5000)
    ctx = status(advanced, execution_id)
    assert ctx.status is Status.Cancelled
    assert set(states(advanced, execution_id).values()) == {"cancelled"}
    assert any("cancel" in m for m in ctx.error_messages)
    assert ctx.end_time is not None
    assert not second_started.is_set()
    assert execution_id not in advanced.get_active_executions()
    assert error_code(advanced.cancel_execution(execution_id)) is Code.InvalidState
    assert error_code(advanced.cancel_execution("nope")) is Code.NotFound
    signal_recorder.settle(execution_id)  # workers joined, everything they posted delivered
    assert [e.name for e in signal_recorder.snapshot() if e.terminal] == ["workflow_cancelled"]


def test_cancel_a_paused_execution(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    gate, second_started = gated_chain(advanced, plugins)
    execution_id = start(advanced, "chain")
    assert gate.entered.wait(5)
    assert advanced.pause_execution(execution_id)
    with qtbot.waitSignal(advanced.workflow_cancelled, timeout=5000):
        assert advanced.cancel_execution(execution_id)
    assert status(advanced, execution_id).status is Status.Cancelled
    assert not second_started.is_set()


def test_cancel_streaming(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    def endless(params: dict[str, Any]) -> Iterator[int]:
        def generate() -> Iterator[int]:
            i = 0
            while True:
                yield i
                i += 1

        return generate()

    fn(plugins, "endless", endless)
    fn(plugins, "sink", lambda p: {"ok": True})
    register(
        advanced,
        workflow(
            "endless",
            Mode.Streaming,
            [node("src", "endless", NodeType.Source), node("sink", node_type=NodeType.Sink)],
            [conn("src", "sink")],
        ),
    )
    execution_id = start(advanced, "endless")
    qtbot.waitUntil(
        lambda: node_status(advanced, execution_id, "sink")["items_in"] > 1000, timeout=5000
    )
    with qtbot.waitSignal(advanced.workflow_cancelled, timeout=5000):
        assert advanced.cancel_execution(execution_id)
    assert status(advanced, execution_id).status is Status.Cancelled


# --------------------------------------------------------------------------------------------
# monitoring


def test_execution_status_while_running_and_after(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    fn(plugins, "prep", lambda p: {"prepared": p["x"]})
    gate = HangingPlugin(output={"slow": True})
    fn(plugins, "slow", gate)
    fn(plugins, "last", lambda p: {"last": True})
    register(
        advanced,
        workflow(
            "monitored",
            Mode.Sequential,
            [node("prep"), node("slow"), node("last")],
            [conn("prep", "slow"), conn("slow", "last")],
        ),
    )
    execution_id = start(advanced, "monitored", {"x": 5})
    assert gate.entered.wait(5)
    ctx = status(advanced, execution_id)
    assert isinstance(ctx, WorkflowExecutionContext)
    assert ctx.execution_id == execution_id and ctx.workflow_id == "monitored"
    assert ctx.status is Status.Running
    assert ctx.current_node == "slow"
    assert ctx.progress == pytest.approx(1 / 3)
    assert isinstance(ctx.start_time, datetime) and ctx.end_time is None
    assert ctx.execution_data["input"] == {"x": 5}
    assert "result" not in ctx.execution_data
    assert set(ctx.node_states) == {"prep", "slow", "last"}
    assert ctx.node_states["prep"]["status"] == "completed"
    assert ctx.node_states["prep"]["output"] == {"prepared": 5}
    assert ctx.node_states["slow"]["status"] == "running"
    assert ctx.node_states["slow"]["end_time"] is None
    assert ctx.node_states["last"]["status"] == "pending"
    assert ctx.node_states["last"]["attempts"] == 0
    assert ctx.error_messages == []
    assert advanced.get_active_executions() == [execution_id]
    assert not advanced.wait_for_execution(execution_id, 50)  # times out: still running

    gate.release()
    assert advanced.wait_for_execution(execution_id, 5000)
    ctx = status(advanced, execution_id)
    assert ctx.status is Status.Completed
    assert ctx.progress == 1.0
    assert ctx.current_node == ""
    assert ctx.end_time is not None and ctx.start_time is not None
    assert ctx.end_time >= ctx.start_time
    assert ctx.execution_data["result"] == {"last": {"last": True}}
    assert {s["status"] for s in ctx.node_states.values()} == {"completed"}
    assert advanced.get_active_executions() == []
    # a snapshot, detached from the live execution
    assert ctx.to_json()["status"] == "Completed"


def test_node_status_fields(advanced: AdvancedPluginOrchestrator, plugins: PluginManager) -> None:
    calls = [0]

    def flaky(params: dict[str, Any]) -> dict[str, Any]:
        calls[0] += 1
        if calls[0] < 3:
            raise RuntimeError(f"attempt {calls[0]} failed")
        return {"value": calls[0]}

    def broken(params: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("always broken")

    fn(plugins, "flaky", flaky)
    fn(plugins, "broken", broken)
    register(
        advanced,
        workflow(
            "nodes",
            Mode.Parallel,
            [
                node("flaky", configuration={"max_retries": 2, "retry_delay": 1}),
                node("broken", configuration={"critical": False}),
            ],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "nodes")
    assert ctx.status is Status.Completed
    ok = node_status(advanced, execution_id, "flaky")
    assert set(ok) >= NODE_STATUS_KEYS
    assert ok["node_id"] == "flaky"
    assert ok["status"] == "completed"
    assert ok["output"] == {"value": 3}
    assert ok["error"] == ""
    assert ok["attempts"] == 3
    start_time = datetime.fromisoformat(ok["start_time"])
    end_time = datetime.fromisoformat(ok["end_time"])
    assert end_time >= start_time
    assert ok["duration_ms"] >= 0
    bad = node_status(advanced, execution_id, "broken")
    assert bad["status"] == "failed"
    assert "always broken" in bad["error"]
    assert bad["output"] == {}
    assert bad["attempts"] == 1
    assert ctx.node_states["broken"] == bad
    assert any("always broken" in m for m in ctx.error_messages)


def test_unknown_ids(advanced: AdvancedPluginOrchestrator, plugins: PluginManager) -> None:
    fn(plugins, "a", lambda p: {})
    register(advanced, workflow("known", Mode.Sequential, [node("a")]))
    execution_id, _ = run_to_end(advanced, "known")
    assert error_code(advanced.get_execution_status("nope")) is Code.NotFound
    assert error_code(advanced.get_node_status("nope", "a")) is Code.NotFound
    assert error_code(advanced.get_node_status(execution_id, "zzz")) is Code.NodeNotFound
    assert error_code(advanced.execute_workflow("unregistered")) is Code.NotFound
    not_a_dict: Any = ["x"]
    assert error_code(advanced.execute_workflow("known", not_a_dict)) is Code.InvalidParameters
    assert advanced.wait_for_execution("nope", 100) is False


def test_finished_executions_stay_queryable_within_the_history_limit(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    fn(plugins, "a", lambda p: {"n": p["n"]})
    register(advanced, workflow("hist", Mode.Sequential, [node("a")]))
    advanced.set_history_limit(2)
    ids = [run_to_end(advanced, "hist", {"n": i})[0] for i in range(3)]
    assert error_code(advanced.get_execution_status(ids[0])) is Code.NotFound  # forgotten
    assert status(advanced, ids[1]).execution_data["result"] == {"a": {"n": 1}}
    assert status(advanced, ids[2]).execution_data["result"] == {"a": {"n": 2}}


def test_concurrent_executions_are_independent(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    gate, _ = gated_chain(advanced, plugins)
    first = start(advanced, "chain")
    assert gate.entered.wait(5)
    gate.release()
    second = start(advanced, "chain")
    assert first != second
    assert advanced.wait_for_execution(first, 5000)
    assert advanced.wait_for_execution(second, 5000)
    assert status(advanced, first).execution_data["result"] == {"third": {"third": 3}}
    assert status(advanced, second).execution_data["result"] == {"third": {"third": 3}}
