"""v2 EventDriven mode: post_event, plain and event-source Source nodes, the built-in file
watcher, cancellation and post_event errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import AdvancedPluginOrchestrator, PluginManager, WorkflowExecutionStatus
from qtforge_orch.testing import HangingPlugin, SignalRecorder, wait_until_idle

from .v2_helpers import (
    Code,
    ManualTrigger,
    Mode,
    NodeType,
    conn,
    control,
    error_code,
    fn,
    node,
    node_status,
    register,
    run_to_end,
    start,
    status,
    workflow,
)

pytestmark = pytest.mark.timeout(30)

Status = WorkflowExecutionStatus
ROOT = str(Path(__file__).resolve().parent.parent)


class Sink:
    """Records each call's params; sets ``seen`` when ``expected`` calls arrived."""

    def __init__(self, expected: int = 1, output: Any = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.expected = expected
        self.seen = threading.Event()
        self.output = output
        self._lock = threading.Lock()

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append(dict(params))
            if len(self.calls) >= self.expected:
                self.seen.set()
        return self.output(params) if self.output else {"handled": params.get("n")}


def settle(qtbot: Any, orch: AdvancedPluginOrchestrator, execution_id: str, events: int) -> None:
    """Wait until ``events`` event passes have ended (completed or failed)."""

    def ended() -> bool:
        data = status(orch, execution_id).execution_data
        return data["events_completed"] + data["events_failed"] >= events

    qtbot.waitUntil(ended, timeout=5000)


def manual_workflow(
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    sink: Sink,
    workflow_id: str = "events",
) -> ManualTrigger:
    trigger = ManualTrigger()
    assert plugins.register_plugin(trigger)
    fn(plugins, "double", lambda p: {"n": p["n"] * 2})
    fn(plugins, "sink", sink)
    register(
        advanced,
        workflow(
            workflow_id,
            Mode.EventDriven,
            [
                node("trigger", "manual_trigger", NodeType.Source, configuration={"topic": "t"}),
                node("double"),
                node("sink", node_type=NodeType.Sink),
            ],
            [conn("trigger", "double"), conn("double", "sink")],
        ),
    )
    return trigger


# --------------------------------------------------------------------------------------------
# post_event


def test_post_event_runs_the_downstream_graph_once_per_event(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    sink = Sink(expected=3)
    trigger = manual_workflow(advanced, plugins, sink)
    execution_id = start(advanced, "events")
    assert trigger.started.is_set()  # started in the orchestrator's thread, before returning
    assert trigger.start_thread == advanced.thread()
    assert trigger.configuration == {"topic": "t"}
    for n in (1, 2, 3):
        assert advanced.post_event(execution_id, {"n": n})
    assert sink.seen.wait(5)
    qtbot.waitUntil(
        lambda: status(advanced, execution_id).execution_data["events_completed"] == 3,
        timeout=5000,
    )
    assert sorted(c["n"] for c in sink.calls) == [2, 4, 6]
    assert [
        node_status(advanced, execution_id, n)["runs"] for n in ("trigger", "double", "sink")
    ] == [3, 3, 3]
    ctx = status(advanced, execution_id)
    assert ctx.status is Status.Running  # stays running between events
    assert ctx.execution_data["events_received"] == 3
    assert ctx.execution_data["events_failed"] == 0
    assert execution_id in advanced.get_active_executions()

    with qtbot.waitSignal(advanced.workflow_cancelled, timeout=5000) as cancelled:
        assert advanced.cancel_execution(execution_id)
    assert cancelled.args == [execution_id]
    assert status(advanced, execution_id).status is Status.Cancelled
    assert trigger.stopped.is_set()  # the event source was told to stop
    assert execution_id not in advanced.get_active_executions()


def test_each_event_emits_node_signals_with_its_own_data(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    sink = Sink()
    manual_workflow(advanced, plugins, sink)
    execution_id = start(advanced, "events")
    with qtbot.waitSignal(
        advanced.node_completed,
        timeout=5000,
        check_params_cb=lambda e, n, r: e == execution_id and n == "sink" and r == {"handled": 42},
    ):
        assert advanced.post_event(execution_id, {"n": 21})
    settle(qtbot, advanced, execution_id, 1)  # node records update when the pass ends
    assert node_status(advanced, execution_id, "double")["output"] == {"n": 42}
    assert node_status(advanced, execution_id, "trigger")["output"] == {"n": 21}
    assert advanced.cancel_execution(execution_id)


def test_a_failing_pass_is_counted_and_the_execution_keeps_running(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    def picky(params: dict[str, Any]) -> dict[str, Any]:
        if params["n"] < 0:
            raise ValueError("negative event")
        return {"ok": params["n"]}

    sink = Sink(output=picky)
    manual_workflow(advanced, plugins, sink)
    execution_id = start(advanced, "events")
    with qtbot.waitSignal(advanced.node_failed, timeout=5000) as failed:
        assert advanced.post_event(execution_id, {"n": -1})
    assert failed.args[1] == "sink" and "negative event" in failed.args[2]
    with qtbot.waitSignal(
        advanced.node_completed, timeout=5000, check_params_cb=lambda e, n, r: n == "sink"
    ):
        assert advanced.post_event(execution_id, {"n": 5})
    qtbot.waitUntil(
        lambda: status(advanced, execution_id).execution_data["events_completed"] == 1,
        timeout=5000,
    )
    ctx = status(advanced, execution_id)
    assert ctx.status is Status.Running
    assert ctx.execution_data["events_failed"] == 1
    assert any("negative event" in m for m in ctx.error_messages)
    assert advanced.cancel_execution(execution_id)


def test_post_event_errors(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    manual_workflow(advanced, plugins, Sink())
    fn(plugins, "plain", lambda p: {})
    register(advanced, workflow("batch", Mode.Sequential, [node("plain")]))

    assert error_code(advanced.post_event("no-such-execution", {})) is Code.NotFound

    batch_id, _ = run_to_end(advanced, "batch")
    assert error_code(advanced.post_event(batch_id, {})) is Code.ExecutionModeNotSupported

    execution_id = start(advanced, "events")
    assert error_code(advanced.post_event(execution_id, {"n": 1}, "nope")) is Code.NodeNotFound
    assert error_code(advanced.post_event(execution_id, {"n": 1}, "double")) is Code.InvalidArgument
    bad_payload: Any = [1, 2]
    assert error_code(advanced.post_event(execution_id, bad_payload)) is Code.InvalidParameters
    assert advanced.post_event(execution_id, {"n": 1}, "trigger")  # explicit Source: fine
    settle(qtbot, advanced, execution_id, 1)

    assert advanced.cancel_execution(execution_id)
    assert advanced.wait_for_execution(execution_id, 5000)
    assert error_code(advanced.post_event(execution_id, {"n": 1})) is Code.InvalidState
    assert error_code(advanced.cancel_execution(execution_id)) is Code.InvalidState


def test_events_posted_while_paused_run_after_resume(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    sink = Sink()
    manual_workflow(advanced, plugins, sink)
    execution_id = start(advanced, "events")
    with qtbot.waitSignal(advanced.workflow_paused, timeout=5000):
        assert advanced.pause_execution(execution_id)
    assert status(advanced, execution_id).status is Status.Paused
    assert advanced.post_event(execution_id, {"n": 7})  # accepted, queued
    assert wait_until_idle(advanced)
    assert not sink.seen.is_set(), "an event pass started while paused"
    with qtbot.waitSignal(advanced.workflow_resumed, timeout=5000):
        assert advanced.resume_execution(execution_id)
    assert sink.seen.wait(5)
    assert sink.calls == [{"n": 14}]
    settle(qtbot, advanced, execution_id, 1)
    assert advanced.cancel_execution(execution_id)


def test_post_event_into_a_workflow_without_source_nodes(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    """Without Source nodes the execution waits for posted events; each runs the whole graph
    with the payload as its input (this used to be refused with InvalidWorkflowStructure)."""
    sink = Sink()
    fn(plugins, "handler", sink)
    register(advanced, workflow("no_source", Mode.EventDriven, [node("handler")]))
    execution_id = start(advanced, "no_source")
    try:
        assert status(advanced, execution_id).status is Status.Running
        posted = advanced.post_event(execution_id, {"n": 3})
        assert posted, posted.error()
        assert sink.seen.wait(5)
        assert sink.calls == [{"n": 3}]
        settle(qtbot, advanced, execution_id, 1)
        assert node_status(advanced, execution_id, "handler")["runs"] == 1
    finally:
        advanced.cancel_execution(execution_id)


# --------------------------------------------------------------------------------------------
# plain Source plugins


def test_plain_iterator_source_feeds_events_until_exhausted(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    sink = Sink(expected=5)
    fn(plugins, "feed", lambda p: iter([{"n": i} for i in range(p["count"])]))
    fn(plugins, "double", lambda p: {"n": p["n"] * 2})
    fn(plugins, "sink", sink)
    register(
        advanced,
        workflow(
            "feed",
            Mode.EventDriven,
            [node("feed", node_type=NodeType.Source), node("double"), node("sink")],
            [conn("feed", "double"), conn("double", "sink")],
        ),
    )
    with qtbot.waitSignal(advanced.workflow_completed, timeout=5000) as completed:
        execution_id = start(advanced, "feed", {"count": 5})
    expected = {"events_received": 5, "events_completed": 5, "events_failed": 0}
    assert completed.args == [execution_id, expected]
    assert sorted(c["n"] for c in sink.calls) == [0, 2, 4, 6, 8]
    assert node_status(advanced, execution_id, "sink")["runs"] == 5
    assert node_status(advanced, execution_id, "feed")["runs"] == 5
    assert status(advanced, execution_id).status is Status.Completed


def test_non_dict_items_arrive_under_the_output_port(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    sink = Sink(expected=2, output=lambda p: {"got": p["reading"]})
    fn(plugins, "sensor", lambda p: iter([1.5, 2.5]))
    fn(plugins, "sink", sink)
    register(
        advanced,
        workflow(
            "sensor",
            Mode.EventDriven,
            [
                node("sensor", node_type=NodeType.Source, output_ports=["reading"]),
                node("sink", input_ports=["reading"]),
            ],
            [conn("sensor", "sink", source_port="reading", target_port="reading")],
        ),
    )
    _, ctx = run_to_end(advanced, "sensor")
    assert ctx.status is Status.Completed
    assert sorted(c["reading"] for c in sink.calls) == [1.5, 2.5]


def test_a_source_without_connections_feeds_every_other_root(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    """The reference's event workflow: the trigger has no outgoing connection."""
    left = Sink(expected=2, output=lambda p: {"left": p["n"]})
    right = Sink(expected=2, output=lambda p: {"right": p["n"]})
    fn(plugins, "feed", lambda p: iter([{"n": 1}, {"n": 2}]))
    fn(plugins, "left", left)
    fn(plugins, "right", right)
    register(
        advanced,
        workflow(
            "implicit",
            Mode.EventDriven,
            [node("feed", node_type=NodeType.Source), node("left"), node("right")],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "implicit")
    assert ctx.status is Status.Completed
    assert sorted(c["n"] for c in left.calls) == [1, 2]
    assert sorted(c["n"] for c in right.calls) == [1, 2]
    assert node_status(advanced, execution_id, "left")["runs"] == 2


def test_a_source_that_raises_while_feeding_is_reported_failed(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    """Regression (fixed in 05b42b0): a later pass overwrote the failed status."""
    advanced.thread_pool().setMaxThreadCount(4)

    def broken(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        def generate() -> Iterator[dict[str, Any]]:
            yield {"n": 1}
            yield {"n": 2}
            raise ValueError("feed broke")

        return generate()

    sink = Sink(expected=2)
    failures: list[tuple[str, str]] = []
    advanced.node_failed.connect(lambda e, n, err: failures.append((n, err)))
    fn(plugins, "broken", broken)
    fn(plugins, "sink", sink)
    register(
        advanced,
        workflow(
            "broken_feed",
            Mode.EventDriven,
            [node("broken", node_type=NodeType.Source), node("sink")],
            [conn("broken", "sink")],
        ),
    )
    execution_id, ctx = run_to_end(advanced, "broken_feed")
    qtbot.waitUntil(lambda: len(failures) == 1, timeout=5000)
    assert failures[0][0] == "broken" and "feed broke" in failures[0][1]
    assert sorted(c["n"] for c in sink.calls) == [1, 2]  # what it fed before failing ran
    assert any("feed broke" in m for m in ctx.error_messages)
    source = node_status(advanced, execution_id, "broken")
    assert source["status"] == "failed"
    assert "feed broke" in source["error"]


# --------------------------------------------------------------------------------------------
# the built-in file watcher (reference: "Event-Driven Workflow")


def _file_workflow(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, folder: Path
) -> list[dict[str, Any]]:
    validated: list[dict[str, Any]] = []

    def validate(params: dict[str, Any]) -> dict[str, Any]:
        validated.append(dict(params))
        text = Path(params["path"]).read_text()
        return {"file_valid": "," in text.splitlines()[0] if text else False, **params}

    fn(plugins, "file_validator", validate)
    fn(plugins, "csv_processor", lambda p: {"processed": p["file_name"]})
    fn(plugins, "error_handler", lambda p: {"rejected": p["file_name"]})
    register(
        advanced,
        workflow(
            "event_driven_automation",
            Mode.EventDriven,
            [
                node(
                    "file_watcher",
                    "file_system_monitor",
                    NodeType.Source,
                    configuration={"watch_path": str(folder), "file_pattern": "*.csv"},
                ),
                node("file_validator", node_type=NodeType.Decision),
                node("process_valid_file", "csv_processor"),
                node("handle_invalid_file", "error_handler"),
            ],
            [
                control("file_validator", "process_valid_file", "file_valid == true"),
                control("file_validator", "handle_invalid_file", "file_valid == false"),
            ],
        ),
    )
    return validated


@pytest.mark.slow
def test_file_watcher_runs_the_reference_event_workflow(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager, tmp_path: Path
) -> None:
    (tmp_path / "before.csv").write_text("a,b\n")  # present before the start: no event
    validated = _file_workflow(advanced, plugins, tmp_path)
    execution_id = start(advanced, "event_driven_automation")

    def completed(node_id: str, key: str, name: str) -> Any:
        return lambda e, n, r: e == execution_id and n == node_id and r.get(key) == name

    with qtbot.waitSignal(
        advanced.node_completed,
        timeout=5000,
        check_params_cb=completed("process_valid_file", "processed", "good.csv"),
    ):
        (tmp_path / "good.csv").write_text("id,value\n1,2\n")
    (tmp_path / "notes.txt").write_text("not watched")
    with qtbot.waitSignal(
        advanced.node_completed,
        timeout=5000,
        check_params_cb=completed("handle_invalid_file", "rejected", "bad.csv"),
    ):
        (tmp_path / "bad.csv").write_text("no separator here\n")

    assert sorted(v["file_name"] for v in validated) == ["bad.csv", "good.csv"]
    assert all(v["path"] == str(tmp_path / v["file_name"]) for v in validated)
    qtbot.waitUntil(
        lambda: status(advanced, execution_id).execution_data["events_completed"] == 2,
        timeout=5000,
    )
    ctx = status(advanced, execution_id)
    assert ctx.status is Status.Running
    assert ctx.execution_data["events_received"] == 2
    assert node_status(advanced, execution_id, "file_validator")["runs"] == 2
    assert node_status(advanced, execution_id, "process_valid_file")["runs"] == 1
    assert node_status(advanced, execution_id, "handle_invalid_file")["runs"] == 1

    with qtbot.waitSignal(advanced.workflow_cancelled, timeout=5000):
        assert advanced.cancel_execution(execution_id)
    # Negative check: a stopped watcher must not report a new file. A second watch on the same
    # folder is the witness: once it has reported late.csv, the stopped one would have too
    # (same notification, same settle time), so no fixed wait is needed.
    witness_id = _start_witness(advanced, plugins, tmp_path)
    with qtbot.waitSignal(
        advanced.node_completed,
        timeout=5000,
        check_params_cb=lambda e, n, r: e == witness_id and r.get("seen") == "late.csv",
    ):
        (tmp_path / "late.csv").write_text("x,y\n")
    assert status(advanced, execution_id).execution_data["events_received"] == 2
    assert len(validated) == 2
    assert advanced.cancel_execution(witness_id)


def _start_witness(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, folder: Path
) -> str:
    """Watch ``folder`` for ``*.csv`` like ``_file_workflow`` does; each file reaches ``seen``."""
    fn(plugins, "witness_sink", lambda p: {"seen": p["file_name"]})
    register(
        advanced,
        workflow(
            "witness",
            Mode.EventDriven,
            [
                node(
                    "watch",
                    "file_system_monitor",
                    NodeType.Source,
                    configuration={"watch_path": str(folder), "file_pattern": "*.csv"},
                ),
                node("seen", "witness_sink"),
            ],
            [conn("watch", "seen")],
        ),
    )
    return start(advanced, "witness")


def test_file_watcher_emit_existing_reports_files_already_there(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager, tmp_path: Path
) -> None:
    (tmp_path / "old.csv").write_text("a,b\n")
    (tmp_path / "old.txt").write_text("a,b\n")
    fn(plugins, "sink", lambda p: {"seen": p["file_name"]})
    register(
        advanced,
        workflow(
            "existing",
            Mode.EventDriven,
            [
                node(
                    "watch",
                    "file_system_monitor",
                    NodeType.Source,
                    configuration={
                        "watch_path": str(tmp_path),
                        "file_pattern": "*.csv",
                        "emit_existing": True,
                    },
                ),
                node("sink"),
            ],
            [conn("watch", "sink")],
        ),
    )
    with qtbot.waitSignal(
        advanced.node_completed,
        timeout=5000,
        check_params_cb=lambda e, n, r: n == "sink" and r == {"seen": "old.csv"},
    ):
        execution_id = start(advanced, "existing")
    settle(qtbot, advanced, execution_id, 1)
    assert status(advanced, execution_id).execution_data["events_received"] == 1
    assert advanced.cancel_execution(execution_id)


# --------------------------------------------------------------------------------------------
# regressions (each of these was a bug found while writing this suite)


_CANCEL_DURING_PASS = textwrap.dedent(
    """
    import os, sys, threading
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    sys.path.insert(0, {root!r})
    from PySide6.QtCore import QCoreApplication
    from qtforge_orch import AdvancedPluginOrchestrator, PluginManager
    from qtforge_orch.testing import HangingPlugin
    from tests.v2_helpers import ManualTrigger, Mode, NodeType, conn, fn, node
    from tests.v2_helpers import register, start, workflow

    app = QCoreApplication(sys.argv)
    plugins = PluginManager()
    plugins.register_plugin(ManualTrigger())
    gate = HangingPlugin()
    fn(plugins, "slow", gate)
    orch = AdvancedPluginOrchestrator(plugin_manager=plugins)
    register(orch, workflow("ev", Mode.EventDriven,
        [node("trigger", "manual_trigger", NodeType.Source), node("slow")],
        [conn("trigger", "slow")]))
    execution_id = start(orch, "ev")
    assert orch.post_event(execution_id, {{}})
    assert gate.entered.wait(5)
    done = threading.Event()
    def cancel():
        orch.cancel_execution(execution_id)
        done.set()
    threading.Thread(target=cancel, daemon=True).start()
    print("CANCELLED" if done.wait(3) else "DEADLOCK", flush=True)
    os._exit(0)
    """
)


@pytest.mark.slow
def test_cancel_while_an_event_pass_is_running_does_not_deadlock() -> None:
    """Regression (fixed in 05b42b0): EventRun._abort cancelled the pass under its own lock
    and the pass's finish callback took that (non-reentrant) lock again."""
    # Run in a subprocess: the deadlocked threads could never be joined here.
    try:
        result = subprocess.run(
            [sys.executable, "-c", _CANCEL_DURING_PASS.format(root=ROOT)],
            capture_output=True,
            text=True,
            timeout=20,
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the script hung")
    assert "CANCELLED" in result.stdout, result.stdout + result.stderr


def test_pause_during_an_event_pass_emits_workflow_paused_once(
    qtbot: Any,
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    signal_recorder: SignalRecorder,
) -> None:
    """Regression (fixed in 05b42b0): each running pass posted its own workflow_paused."""
    trigger = ManualTrigger()
    assert plugins.register_plugin(trigger)
    gate = HangingPlugin()
    fn(plugins, "slow", gate)
    register(
        advanced,
        workflow(
            "ev",
            Mode.EventDriven,
            [node("trigger", "manual_trigger", NodeType.Source), node("slow")],
            [conn("trigger", "slow")],
        ),
    )
    paused: list[str] = []
    resumed: list[str] = []
    advanced.workflow_paused.connect(paused.append)
    advanced.workflow_resumed.connect(resumed.append)
    execution_id = start(advanced, "ev")
    assert advanced.post_event(execution_id, {})
    assert gate.entered.wait(5)
    try:
        with qtbot.waitSignal(advanced.workflow_paused, timeout=5000):
            assert advanced.pause_execution(execution_id)
        with qtbot.waitSignal(advanced.workflow_resumed, timeout=5000):
            assert advanced.resume_execution(execution_id)
    finally:
        gate.release()
        settle(qtbot, advanced, execution_id, 1)
        assert advanced.cancel_execution(execution_id)
    # Ended, workers joined, everything they posted delivered: a duplicate posted at any
    # point of the execution's life would be in the lists now.
    signal_recorder.settle(execution_id)
    assert paused == [execution_id]
    assert resumed == [execution_id]
