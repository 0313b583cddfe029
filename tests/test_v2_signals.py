"""v2 signals (order, thread, progress) and node configuration: retries, timeouts, critical."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    PluginManager,
    StepContext,
    WorkflowExecutionStatus,
)
from qtforge_orch.testing import FlakyPlugin, HangingPlugin, SignalRecorder, signal_names

from .v2_helpers import (
    ManualTrigger,
    Mode,
    NodeType,
    conn,
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
SIGNALS = (
    "workflow_started",
    "workflow_completed",
    "workflow_failed",
    "workflow_cancelled",
    "workflow_paused",
    "workflow_resumed",
    "node_started",
    "node_completed",
    "node_failed",
    "execution_progress_updated",
)


class SignalLog(SignalRecorder):
    """The testing plugin's recorder, with this module's views of it."""

    def __init__(self, orch: AdvancedPluginOrchestrator) -> None:
        super().__init__(orch)
        assert set(SIGNALS) <= set(signal_names(orch))  # the recorder sees every one of them

    def of(self, execution_id: str) -> list[tuple[str, tuple[Any, ...]]]:
        return [(e.name, e.args) for e in self.for_execution(execution_id)]

    def names(self, execution_id: str, *, progress: bool = False) -> list[str]:
        return [
            n for n, _ in self.of(execution_id) if progress or n != "execution_progress_updated"
        ]

    def progress(self, execution_id: str) -> list[float]:
        return [a[1] for n, a in self.of(execution_id) if n == "execution_progress_updated"]

    def all_in_owner_thread(self) -> bool:
        emissions = self.snapshot()
        return bool(emissions) and all(e.in_owner_thread for e in emissions)


def chain(advanced: AdvancedPluginOrchestrator, plugins: PluginManager, count: int = 3) -> None:
    fn(plugins, "step", lambda p: {"n": p.get("n", 0) + 1})
    names = [f"s{i}" for i in range(count)]
    register(
        advanced,
        workflow(
            "chain",
            Mode.Sequential,
            [node(n, "step") for n in names],
            [conn(a, b) for a, b in itertools.pairwise(names)],
        ),
    )


# --------------------------------------------------------------------------------------------
# order, thread, progress


def test_signals_in_strict_order_in_the_orchestrators_thread(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    chain(advanced, plugins)
    log = SignalLog(advanced)
    expected = [
        advanced.workflow_started,
        advanced.node_started,
        advanced.node_completed,
        advanced.node_started,
        advanced.node_completed,
        advanced.node_started,
        advanced.node_completed,
        advanced.workflow_completed,
    ]
    with qtbot.waitSignals(expected, order="strict", timeout=5000):
        execution_id = start(advanced, "chain")
    assert log.all_in_owner_thread()
    events = log.of(execution_id)
    assert events[0] == ("workflow_started", (execution_id, "chain"))
    assert [(n, a[1]) for n, a in events if n.startswith("node_")] == [
        ("node_started", "s0"),
        ("node_completed", "s0"),
        ("node_started", "s1"),
        ("node_completed", "s1"),
        ("node_started", "s2"),
        ("node_completed", "s2"),
    ]
    assert ("node_completed", (execution_id, "s1", {"n": 2})) in events
    assert events[-1] == ("workflow_completed", (execution_id, {"s2": {"n": 3}}))
    progress = log.progress(execution_id)
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert all(0.0 < p <= 1.0 for p in progress)
    last_progress = max(i for i, (n, _) in enumerate(events) if n == "execution_progress_updated")
    assert last_progress < len(events) - 1  # no progress after the terminal signal


def test_signals_of_concurrent_executions_are_each_in_order(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    chain(advanced, plugins, count=4)
    log = SignalLog(advanced)
    ids = [start(advanced, "chain", {"n": 10 * i}) for i in range(5)]
    for execution_id in ids:
        assert advanced.wait_for_execution(execution_id, 5000)
    expected = ["workflow_started"]
    for _ in range(4):
        expected += ["node_started", "node_completed"]
    expected.append("workflow_completed")
    for i, execution_id in enumerate(ids):
        assert log.names(execution_id) == expected
        assert log.of(execution_id)[-1][1] == (execution_id, {"s3": {"n": 10 * i + 4}})
        assert log.progress(execution_id)[-1] == 1.0
    assert all(e.in_owner_thread for e in log.snapshot())


_CONNECT_DISCONNECT = textwrap.dedent(
    """
    import os, sys, threading
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QCoreApplication
    from qtforge_orch import AdvancedPluginOrchestrator, PluginManager

    app = QCoreApplication(sys.argv)
    orch = AdvancedPluginOrchestrator(plugin_manager=PluginManager())
    slot = lambda *args: None
    done = threading.Event()

    def connect_and_disconnect():
        orch.workflow_started.connect(slot)
        orch.workflow_started.disconnect(slot)
        done.set()

    threading.Thread(target=connect_and_disconnect, daemon=True).start()
    print("DISCONNECTED" if done.wait(3) else "HUNG", flush=True)
    os._exit(0)
    """
)


@pytest.mark.slow
def test_disconnecting_a_slot_does_not_hang() -> None:
    """pytest-qt's waitSignal(s) and every app disconnect slots; in a subprocess because a
    hang there (seen with an uncommitted connectNotify/disconnectNotify change calling
    isSignalConnected under Qt's connection lock) cannot be recovered in-process."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", _CONNECT_DISCONNECT],
            capture_output=True,
            text=True,
            timeout=15,  # a hang can hold the GIL, so the script's own 3 s check never fires
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
            cwd=str(Path(__file__).resolve().parent.parent),
        )
    except subprocess.TimeoutExpired:
        pytest.fail("connect + disconnect of a slot hung the process")
    assert "DISCONNECTED" in result.stdout, result.stdout + result.stderr


def test_failure_signals_in_order_with_exactly_one_terminal_signal(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    def boom(params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("kaboom")

    fn(plugins, "ok", lambda p: {"ok": True})
    fn(plugins, "boom", boom)
    register(
        advanced,
        workflow(
            "fails",
            Mode.Sequential,
            [node("ok"), node("boom"), node("never", "ok")],
            [conn("ok", "boom"), conn("boom", "never")],
        ),
    )
    log = SignalLog(advanced)
    expected = [
        advanced.workflow_started,
        advanced.node_started,
        advanced.node_completed,
        advanced.node_started,
        advanced.node_failed,
        advanced.workflow_failed,
    ]
    with qtbot.waitSignals(expected, order="strict", timeout=5000):
        execution_id = start(advanced, "fails")
    log.settle(execution_id)  # workers joined, all they posted delivered: nothing can follow
    names = log.names(execution_id)
    assert names == [
        "workflow_started",
        "node_started",
        "node_completed",
        "node_started",
        "node_failed",
        "workflow_failed",
    ]
    failed = log.of(execution_id)[-1][1]
    assert "boom" in failed[1] and "kaboom" in failed[1]
    node_failed = next(a for n, a in log.of(execution_id) if n == "node_failed")
    assert node_failed[1] == "boom" and "kaboom" in node_failed[2]
    assert states(advanced, execution_id)["never"] == "cancelled"
    progress = log.progress(execution_id)
    assert progress == sorted(progress) and (not progress or progress[-1] < 1.0)


def test_pause_resume_and_cancel_signals(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    gate = HangingPlugin()
    fn(plugins, "gate", gate)
    register(
        advanced,
        workflow(
            "g", Mode.Sequential, [node("gate"), node("after", "gate")], [conn("gate", "after")]
        ),
    )
    log = SignalLog(advanced)
    execution_id = start(advanced, "g")
    assert gate.entered.wait(5)
    with qtbot.waitSignals(
        [advanced.workflow_paused, advanced.workflow_resumed, advanced.workflow_cancelled],
        order="strict",
        timeout=5000,
    ):
        assert advanced.pause_execution(execution_id)
        assert advanced.resume_execution(execution_id)
        assert advanced.cancel_execution(execution_id)
    assert log.names(execution_id) == [
        "workflow_started",
        "node_started",
        "workflow_paused",
        "workflow_resumed",
        "workflow_cancelled",
    ]
    assert all(e.in_owner_thread for e in log.snapshot())


def test_streaming_and_event_driven_signals_start_and_end_the_execution(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    fn(plugins, "src", lambda p: iter(range(10)))
    fn(plugins, "sink", lambda p: {"ok": True})
    register(
        advanced,
        workflow(
            "stream",
            Mode.Streaming,
            [node("src", node_type=NodeType.Source), node("sink", node_type=NodeType.Sink)],
            [conn("src", "sink")],
        ),
    )
    trigger = ManualTrigger()
    assert plugins.register_plugin(trigger)
    register(
        advanced,
        workflow(
            "events",
            Mode.EventDriven,
            [node("t", "manual_trigger", NodeType.Source), node("sink")],
            [conn("t", "sink")],
        ),
    )
    log = SignalLog(advanced)
    stream_id, _ = run_to_end(advanced, "stream")
    names = log.names(stream_id)
    assert names[0] == "workflow_started" and names[-1] == "workflow_completed"
    assert sorted(names[1:-1]) == sorted(["node_started"] * 2 + ["node_completed"] * 2)
    assert log.progress(stream_id)[-1] == 1.0

    event_id = start(advanced, "events")
    with qtbot.waitSignal(
        advanced.node_completed, timeout=5000, check_params_cb=lambda e, n, r: n == "sink"
    ):
        assert advanced.post_event(event_id, {"x": 1})
    qtbot.waitUntil(
        lambda: status(advanced, event_id).execution_data["events_completed"] == 1, timeout=5000
    )
    with qtbot.waitSignal(advanced.workflow_cancelled, timeout=5000):
        assert advanced.cancel_execution(event_id)
    names = log.names(event_id)
    assert names == [
        "workflow_started",
        "node_started",
        "node_completed",
        "node_started",
        "node_completed",
        "workflow_cancelled",
    ]
    assert all(e.in_owner_thread for e in log.snapshot())


# --------------------------------------------------------------------------------------------
# node configuration: retries, timeouts, critical


def test_retries_until_success(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    flaky = FlakyPlugin(failures=2)
    fn(plugins, "flaky", flaky)
    register(
        advanced,
        workflow(
            "retry",
            Mode.Sequential,
            [node("flaky", configuration={"max_retries": 2, "retry_delay": 10})],
        ),
    )
    log = SignalLog(advanced)
    execution_id, ctx = run_to_end(advanced, "retry")
    assert ctx.status is Status.Completed
    assert flaky.call_count == 3
    assert node_status(advanced, execution_id, "flaky")["attempts"] == 3
    assert ctx.execution_data["result"] == {"flaky": {"calls": 3}}
    log.settle(execution_id)  # nothing posted late can be missing from the log
    # one node_started; intermediate failures are not node_failed
    assert log.names(execution_id) == [
        "workflow_started",
        "node_started",
        "node_completed",
        "workflow_completed",
    ]


def test_retries_exhausted_fail_the_node(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    flaky = FlakyPlugin(failures=10)
    fn(plugins, "flaky", flaky)
    register(
        advanced,
        workflow(
            "retry_out",
            Mode.Sequential,
            [node("flaky", configuration={"max_retries": 1, "retry_delay": 0})],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "retry_out")
    assert ctx.status is Status.Failed
    assert flaky.call_count == 2
    failed = node_status(advanced, execution_id, "flaky")
    assert failed["attempts"] == 2
    assert "flaky failure 2" in failed["error"]


def test_each_attempt_gets_the_original_input(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    """Regression (fixed in 05b42b0): attempts shared one params dict."""
    seen: list[dict[str, Any]] = []

    def consume(params: dict[str, Any]) -> dict[str, Any]:
        seen.append(dict(params))
        value = params.pop("value")  # a plugin may consume its own params dict
        if len(seen) == 1:
            raise RuntimeError("transient failure")
        return {"value": value}

    fn(plugins, "consume", consume)
    register(
        advanced,
        workflow(
            "consume",
            Mode.Sequential,
            [node("consume", configuration={"max_retries": 1, "retry_delay": 0})],
        ),
    )
    _, ctx = run_to_end(advanced, "consume", {"value": 5})
    assert seen == [{"value": 5}, {"value": 5}]
    assert ctx.status is Status.Completed


def test_retry_delay_is_honoured_without_blocking_a_thread(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    advanced.thread_pool().setMaxThreadCount(1)
    flaky = FlakyPlugin(failures=1)
    other_ran = threading.Event()
    fn(plugins, "flaky", flaky)
    fn(plugins, "other", lambda p: other_ran.set() or {"other": True})
    register(
        advanced,
        workflow(
            "delay",
            Mode.Parallel,
            [node("flaky", configuration={"max_retries": 1, "retry_delay": 300}), node("other")],
        ),
    )
    execution_id = start(advanced, "delay")
    # the single thread is free during the retry delay: "other" runs meanwhile
    assert other_ran.wait(5)
    assert advanced.wait_for_execution(execution_id, 5000)
    ctx = status(advanced, execution_id)
    assert ctx.status is Status.Completed
    ok = node_status(advanced, execution_id, "flaky")
    assert ok["attempts"] == 2 and ok["duration_ms"] >= 250


def test_timeout_fails_the_attempt_and_cancels_the_plugin(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    saw_cancel = threading.Event()

    def hang(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        if not context.wait(5):  # returns True as soon as the attempt is cancelled
            return {"late": True}
        saw_cancel.set()
        return {"discarded": True}

    fn(plugins, "hang", hang)
    register(
        advanced,
        workflow("timeout", Mode.Sequential, [node("hang", configuration={"timeout": 100})]),
    )
    with qtbot.waitSignal(advanced.workflow_failed, timeout=5000) as failed:
        execution_id = start(advanced, "timeout")
    assert "timed out" in failed.args[1]
    assert saw_cancel.wait(5)
    hung = node_status(advanced, execution_id, "hang")
    assert hung["status"] == "failed"
    assert "timed out after 100 ms" in hung["error"]
    assert hung["output"] == {}


def test_timeout_then_successful_retry(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    attempts: list[int] = []

    def slow_first(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        attempts.append(context.attempt)
        if context.attempt == 1:
            context.wait(5)
            return {"late": True}
        return {"attempt": context.attempt}

    fn(plugins, "slow", slow_first)
    register(
        advanced,
        workflow(
            "timeout_retry",
            Mode.Sequential,
            [node("slow", configuration={"timeout": 100, "max_retries": 1, "retry_delay": 0})],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "timeout_retry")
    assert ctx.status is Status.Completed
    assert attempts == [1, 2]
    assert ctx.execution_data["result"] == {"slow": {"attempt": 2}}
    assert node_status(advanced, execution_id, "slow")["attempts"] == 2


def test_non_critical_failure_skips_dependents_and_the_workflow_goes_on(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    def boom(params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("optional enrichment failed")

    fn(plugins, "boom", boom)
    fn(plugins, "ok", lambda p: {"ok": True})
    register(
        advanced,
        workflow(
            "soft",
            Mode.Parallel,
            [
                node("enrich", "boom", configuration={"critical": False}),
                node("after_enrich", "ok"),
                node("main", "ok"),
            ],
            [conn("enrich", "after_enrich")],
        ),
    )
    log = SignalLog(advanced)
    with qtbot.waitSignal(advanced.workflow_completed, timeout=5000) as completed:
        execution_id = start(advanced, "soft")
    assert completed.args == [execution_id, {"main": {"ok": True}}]
    assert states(advanced, execution_id) == {
        "enrich": "failed",
        "after_enrich": "skipped",
        "main": "completed",
    }
    assert "node_failed" in log.names(execution_id)
    assert "workflow_failed" not in log.names(execution_id)
    ctx = status(advanced, execution_id)
    assert ctx.status is Status.Completed
    assert any("optional enrichment failed" in m for m in ctx.error_messages)


def test_critical_failure_cancels_running_and_waiting_nodes(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    advanced.thread_pool().setMaxThreadCount(2)
    gate = HangingPlugin()
    cancelled = threading.Event()

    def long_running(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        gate.entered.set()
        if context.wait(5):
            cancelled.set()
        return {"long": True}

    def boom(params: dict[str, Any]) -> dict[str, Any]:
        assert gate.entered.wait(5)
        raise RuntimeError("critical step failed")

    fn(plugins, "long", long_running)
    fn(plugins, "boom", boom)
    fn(plugins, "ok", lambda p: {})
    register(
        advanced,
        workflow(
            "hard",
            Mode.Parallel,
            [node("long"), node("boom"), node("after", "ok")],
            [conn("boom", "after")],
        ),
    )
    with qtbot.waitSignal(advanced.workflow_failed, timeout=5000) as failed:
        execution_id = start(advanced, "hard")
    assert "critical step failed" in failed.args[1]
    assert cancelled.wait(5), "the running node was not asked to stop"
    assert states(advanced, execution_id) == {
        "long": "cancelled",
        "boom": "failed",
        "after": "cancelled",
    }
    assert status(advanced, execution_id).status is Status.Failed


def test_workflow_timeout_cancels_the_execution(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    def hang(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        context.wait(5)
        return {}

    fn(plugins, "hang", hang)
    register(
        advanced,
        workflow(
            "wf_timeout",
            Mode.Sequential,
            [node("hang")],
            global_configuration={"timeout": 100},
        ),
    )
    with qtbot.waitSignal(advanced.workflow_cancelled, timeout=5000):
        execution_id = start(advanced, "wf_timeout")
    ctx = status(advanced, execution_id)
    assert ctx.status is Status.Cancelled
    assert any("timeout" in m for m in ctx.error_messages)
