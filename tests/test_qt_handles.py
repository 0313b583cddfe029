"""WorkflowExecution handles: signal order, late connection replay, skipped/cancelled/rolled
back steps, control, callbacks, Streaming item counts, v2 execute_workflow_async."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from qtforge_orch import (
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    Workflow,
    WorkflowExecution,
    WorkflowStep,
)
from qtforge_orch.testing.plugins import HangingPlugin

from .v2_helpers import Mode, NodeType, conn, fn, node, register, workflow

pytestmark = pytest.mark.timeout(30)


def step(step_id: str, command: str = "run", *deps: str, **fields: Any) -> WorkflowStep:
    made = WorkflowStep(step_id, "p", command, **fields)
    made.dependencies = list(deps)
    return made


def v1(orch: PluginOrchestrator, plugins: PluginManager, *steps: WorkflowStep, **kw: Any) -> None:
    gate = kw.pop("gate", None)
    commands: dict[str, Any] = {"run": lambda p: {"ran": True}, "boom": lambda p: 1 / 0}
    if gate is not None:
        commands["wait"] = gate
    plugins.register_plugin(FunctionPlugin("p", **commands))
    wf = Workflow("wf")
    for made in steps:
        wf.add_step(made)
    for target, undo in kw.pop("rollback", {}).items():
        wf.add_rollback_step(target, undo)
    assert orch.register_workflow(wf)


def started(orch: Any, workflow_id: str = "wf", data: Any = None) -> WorkflowExecution:
    handle = orch.start_workflow(workflow_id, data)
    assert handle, handle.error()
    return handle.value()


def test_v1_signals_arrive_in_strict_order(qtbot: Any, orchestrator: Any, plugins: Any) -> None:
    v1(orchestrator, plugins, step("a"), step("b", "run", "a"))
    handle = started(orchestrator)
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
            lambda st, result: st == "completed" and result["ran"] is True,
        ],
    ):
        pass
    assert handle.status() == "completed"
    assert handle.result().value()["ran"] is True
    assert handle.snapshot().steps["b"].attempts == 1


def test_late_connection_gets_replay_in_order(qtbot: Any, orchestrator: Any, plugins: Any) -> None:
    v1(orchestrator, plugins, step("a"), step("b", "run", "a"))
    handle = started(orchestrator)
    assert handle.wait(10_000)  # everything already happened; nobody was connected
    seen: list[tuple[Any, ...]] = []
    handle.step_finished.connect(lambda *args: seen.append(("step_finished", *args[:2])))
    handle.finished.connect(lambda status, _: seen.append(("finished", status)))
    handle.started.connect(lambda: seen.append(("started",)))
    qtbot.waitUntil(lambda: len(seen) == 4, timeout=5000)
    assert seen == [
        ("started",),
        ("step_finished", "a", "completed"),
        ("step_finished", "b", "completed"),
        ("finished", "completed"),
    ]
    # A second slot on an already-connected signal gets no duplicate replay.
    again: list[str] = []
    handle.finished.connect(lambda status, _: again.append(status))
    with qtbot.waitSignal(handle.message, timeout=5000, raising=False):
        pass  # the message signal replays (first connection), the finished one must not
    assert again == []
    assert handle.snapshot().steps["a"].status == "completed"


def test_failure_reports_cancelled_and_rolled_back_steps(
    qtbot: Any, orchestrator: Any, plugins: Any
) -> None:
    v1(
        orchestrator,
        plugins,
        step("a"),
        step("b", "boom", "a"),
        step("c", "run", "b"),
        rollback={"a": WorkflowStep("undo_a", "p", "run")},
    )
    handle = started(orchestrator)
    finished: list[tuple[str, str]] = []
    rolled_back: list[tuple[str, Any]] = []
    handle.step_finished.connect(lambda s, st, _: finished.append((s, st)))
    handle.step_rolled_back.connect(lambda s, detail: rolled_back.append((s, detail)))
    with qtbot.waitSignal(handle.finished, timeout=10_000) as blocker:
        pass
    assert blocker.args[0] == "failed"
    # Each step finishes once; the rollback is its own report.
    assert finished == [("a", "completed"), ("b", "failed"), ("c", "cancelled")]
    assert rolled_back == [("a", {"rollback_status": "completed", "error": ""})]
    record = handle.step("a")
    assert record is not None and (record.status, record.rollback) == ("rolled_back", "completed")
    error = handle.result().error()
    assert error.code == PluginErrorCode.ExecutionFailed
    assert error.context["execution_id"] == handle.execution_id()


def test_skipped_steps_are_reported(qtbot: Any, orchestrator: Any, plugins: Any) -> None:
    v1(orchestrator, plugins, step("a", "boom", critical=False), step("b", "run", "a"))
    handle = started(orchestrator)
    finished: dict[str, str] = {}
    handle.step_finished.connect(lambda s, st, _: finished.setdefault(s, st))
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    assert finished == {"a": "failed", "b": "skipped"}


def test_retries_are_reported(qtbot: Any, orchestrator: Any, plugins: Any) -> None:
    calls = {"n": 0}

    def flaky(params: dict[str, Any]) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] < 3:
            raise RuntimeError("not yet")
        return {"ok": True}

    plugins.register_plugin(FunctionPlugin("f", run=flaky))
    wf = Workflow("wf")
    wf.add_step(WorkflowStep("x", "f", "run", max_retries=3, retry_delay=1))
    assert orchestrator.register_workflow(wf)
    handle = started(orchestrator)
    with qtbot.waitSignals(
        [handle.step_retrying, handle.step_retrying, handle.finished],
        order="strict",
        timeout=10_000,
    ):
        pass
    assert handle.step("x") is not None
    assert handle.snapshot().steps["x"].attempts == 3


def test_cancel_through_the_handle(qtbot: Any, orchestrator: Any, plugins: Any) -> None:
    gate = HangingPlugin()
    v1(orchestrator, plugins, step("g", "wait"), step("after", "run", "g"), gate=gate)
    handle = started(orchestrator)
    qtbot.waitUntil(gate.entered.is_set, timeout=5000)
    with qtbot.waitSignal(handle.finished, timeout=10_000) as blocker:
        assert handle.cancel()
    assert blocker.args[0] == "cancelled"
    assert handle.result().error().code == PluginErrorCode.OperationCancelled
    assert handle.snapshot().steps["after"].status == "cancelled"
    assert not handle.cancel()  # InvalidState once ended
    assert handle.pause().error().code == PluginErrorCode.NotSupported  # v1 has no pause


def test_done_callbacks_run_and_exceptions_are_contained(
    qtbot: Any, orchestrator: Any, plugins: Any, caplog: Any
) -> None:
    v1(orchestrator, plugins, step("a"))
    handle = started(orchestrator)
    calls: list[str] = []

    def bad(_: WorkflowExecution) -> None:
        raise ValueError("callback bug")

    handle.add_done_callback(bad)
    handle.add_done_callback(lambda h: calls.append(h.status()))
    assert handle.wait(10_000)
    assert calls == ["completed"]
    assert any("callback bug" in m for m in handle.snapshot().messages)
    assert "callback bug" in caplog.text  # logged with its traceback, never printed
    handle.add_done_callback(lambda h: calls.append("late"))  # already finished: runs at once
    assert calls == ["completed", "late"]


def test_bad_inputs_are_errors(qtbot: Any, orchestrator: Any, plugins: Any) -> None:
    assert orchestrator.start_workflow("nope").error().code == PluginErrorCode.NotFound
    v1(orchestrator, plugins, step("a"))
    bad = orchestrator.start_workflow("wf", ["not", "a", "dict"])  # type: ignore[arg-type]
    assert bad.error().code == PluginErrorCode.InvalidParameters
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(orchestrator.start_workflow("wf")))
    thread.start()
    thread.join(10)
    assert box[0].error().code == PluginErrorCode.ThreadingError
    pending = started(orchestrator)
    if not pending.is_finished():
        assert pending.result().error().code == PluginErrorCode.InvalidState
    assert pending.wait(10_000)


@pytest.mark.slow
def test_v2_pause_resume_and_item_counts(qtbot: Any, advanced: Any, plugins: Any) -> None:
    def source(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield from ({"v": i} for i in range(300))

    def double(params: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.002)  # work, not synchronisation: the stream lasts long enough to pause
        return {"out": params["in"]["v"] * 2}

    fn(plugins, "src", source)
    fn(plugins, "double", double)
    fn(plugins, "sink", lambda p: {})
    register(
        advanced,
        workflow(
            "stream",
            Mode.Streaming,
            [
                node("src", node_type=NodeType.Source, output_ports=["item"]),
                node("double", input_ports=["in"], output_ports=["out"]),
                node("sink", node_type=NodeType.Sink, input_ports=["x"]),
            ],
            [
                conn("src", "double", source_port="item", target_port="in"),
                conn("double", "sink", source_port="out", target_port="x"),
            ],
        ),
    )
    handle = started(advanced, "stream")
    counts: list[dict[str, Any]] = []
    handle.item_counts.connect(counts.append)
    qtbot.waitUntil(lambda: bool(counts) and counts[-1]["src"]["items_out"] > 0, timeout=5000)
    assert handle.pause()
    qtbot.waitUntil(lambda: handle.status() == "paused", timeout=5000)
    assert handle.resume()
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    qtbot.waitUntil(lambda: counts[-1]["sink"]["items_in"] == 300, timeout=5000)
    assert handle.snapshot().steps["double"].items["items_out"] == 300  # type: ignore[index]


def test_v2_execute_workflow_async(qapp: object, advanced: Any, plugins: Any) -> None:
    fn(plugins, "one", lambda p: {"x": 1})
    register(advanced, workflow("w", Mode.Parallel, [node("one")]))
    future = advanced.execute_workflow_async("w")
    assert future.execution_id
    assert future.result(10)  # resolved from a worker thread: no event loop needed
    assert future.result(10).value() == {"one": {"x": 1}}
    missing = advanced.execute_workflow_async("missing").result(1)
    assert missing.error().code == PluginErrorCode.NotFound
