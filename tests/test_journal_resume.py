"""Issue #12: durable executions through the orchestrators, with real crashes.

A child process runs a workflow with a journal and is killed with SIGKILL in the middle of a
step (or of a rollback); this process opens the same journal, finds the execution interrupted,
resumes it, and checks the result against an uninterrupted run and the plugin calls (counted
in a file) against what must not run twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
)

from .journal_helpers import load_flow_module, run_until_ready_then_kill

pytestmark = pytest.mark.timeout(60)

FLOW = """
import json, os, time
from pathlib import Path
from qtforge_orch import FunctionPlugin, PluginManager, PluginOrchestrator, Workflow, WorkflowStep

HOLDER = []


def _log(calls, name):
    with open(calls, "a") as f:
        f.write(name + "\\n")


def orchestrator(journal, calls, block_at="", fail_at="", block_rollback_at=""):
    def step(name, compute):
        def run(params):
            _log(calls, name)
            if name == block_at:
                HOLDER[0].journal().flush(5)  # what completed before is durable
                Path(calls + ".ready").touch()
                time.sleep(60)
            if name == fail_at:
                raise RuntimeError(name + " failed")
            return compute(params)
        return run

    def undo(name):
        def run(params):
            _log(calls, "undo-" + name)
            if name == block_rollback_at:
                HOLDER[0].journal().flush(5)
                Path(calls + ".ready").touch()
                time.sleep(60)
            return {}
        return run

    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("p", {
        "a": step("a", lambda p: {"a": 1}),
        "b": step("b", lambda p: {"b": p["a"] + 1}),
        "c": step("c", lambda p: {"c": p["b"] * 10}),
        "d": step("d", lambda p: {"d": p["c"] + p["a"]}),
        "undo_a": undo("a"),
        "undo_b": undo("b"),
    }))
    o = PluginOrchestrator(plugin_manager=plugins, journal=journal)
    HOLDER[:] = [o]
    wf = Workflow("chain", "chain")
    previous = None
    for name in "abcd":
        s = WorkflowStep(name, "p", name)
        if previous:
            s.dependencies = [previous]
        wf.add_step(s)
        if name in "ab":
            wf.add_rollback_step(name, WorkflowStep("undo_" + name, "p", "undo_" + name))
        previous = name
    assert o.register_workflow(wf)
    return o
"""

CHILD = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QCoreApplication
app = QCoreApplication([])
sys.path.insert(0, {folder!r})
import flow
o = flow.orchestrator({journal!r}, {calls!r}, **{options!r})
o.execute_workflow("chain", {{"run": 7}})
"""


def _flow(folder: Path) -> Any:
    return load_flow_module(folder, "flow", FLOW)


def _crash_child(folder: Path, journal: Path, calls: Path, **options: str) -> None:
    """Run the chain in a child process and SIGKILL it once it is inside the chosen step."""
    script = CHILD.format(
        folder=str(folder), journal=str(journal), calls=str(calls), options=options
    )
    run_until_ready_then_kill(script, Path(str(calls) + ".ready"))


def _calls(calls: Path) -> list[str]:
    return calls.read_text().split()


def _uninterrupted_result(flow: Any, folder: Path) -> dict[str, Any]:
    o = flow.orchestrator(None, str(folder / "baseline.calls"))
    try:
        execution_id = o.execute_workflow("chain", {"run": 7}).value()
        status = o.get_execution_status(execution_id).value()
        assert status["status"] == "completed"
        return dict(status["result"])
    finally:
        o.shutdown()


@pytest.mark.slow
def test_a_killed_execution_is_found_interrupted_and_resumed_without_rerunning_steps(
    qapp: Any, tmp_path: Path
) -> None:
    flow = _flow(tmp_path)
    journal, calls = tmp_path / "runs.sqlite", tmp_path / "crash.calls"
    _crash_child(tmp_path, journal, calls, block_at="c")
    assert _calls(calls) == ["a", "b", "c"]

    o = flow.orchestrator(str(journal), str(calls))
    try:
        old = o.journal().interrupted_at_open
        assert len(old) == 1
        page = o.get_execution_history("chain").value()
        assert [(e.execution_id, e.status) for e in page.executions] == [(old[0], "interrupted")]
        before = o.get_execution_status(old[0]).value()
        assert before["status"] == "failed" and "interrupted" in before["error"]
        assert [r["status"] for r in before["step_results"]] == [
            "Completed",
            "Completed",
            "Cancelled",
            "Pending",
        ]

        resumed = o.resume_execution(old[0])
        assert resumed, resumed
        assert o.wait_for_execution(resumed.value(), 10_000)
        status = o.get_execution_status(resumed.value()).value()
        assert status["status"] == "completed"
        assert status["result"] == _uninterrupted_result(flow, tmp_path)
        # a and b ran once (before the crash); c ran again (it never completed); d once
        assert _calls(calls) == ["a", "b", "c", "c", "d"]
        history = o.get_execution_history().value().executions
        by_id = {e.execution_id: e for e in history}
        assert by_id[old[0]].resumed_as == resumed.value()
        assert by_id[resumed.value()].resumed_from == old[0]
        again = o.resume_execution(old[0])
        assert not again and again.error().code is PluginErrorCode.InvalidState
    finally:
        o.shutdown()


@pytest.mark.slow
def test_rollbacks_that_ran_before_a_crash_do_not_run_again_after_resume(
    qapp: Any, tmp_path: Path
) -> None:
    """A crash while rolling back: b's rollback was running (it runs again, it never
    completed), a's had not started; the resumed execution fails again and rolls back each
    completed step exactly once more than what the journal recorded as done."""
    flow = _flow(tmp_path)
    journal, calls = tmp_path / "runs.sqlite", tmp_path / "rb.calls"
    _crash_child(tmp_path, journal, calls, fail_at="c", block_rollback_at="a")
    # c failed, the rollbacks ran newest first: b's completed, a's was running at the crash
    assert _calls(calls) == ["a", "b", "c", "undo-b", "undo-a"]

    o = flow.orchestrator(str(journal), str(calls), fail_at="c")
    try:
        (old,) = o.journal().interrupted_at_open
        resumed = o.resume_execution(old)
        assert resumed, resumed
        assert o.wait_for_execution(resumed.value(), 10_000)
        assert o.get_execution_status(resumed.value()).value()["status"] == "failed"
        # b's rollback completed before the crash: not again; a's had not: it runs now
        assert _calls(calls) == ["a", "b", "c", "undo-b", "undo-a", "c", "undo-a"]
    finally:
        o.shutdown()


@pytest.mark.slow
def test_resuming_against_a_changed_definition_is_refused_unless_forced(
    qapp: Any, tmp_path: Path
) -> None:
    flow = _flow(tmp_path)
    journal, calls = tmp_path / "runs.sqlite", tmp_path / "v.calls"
    _crash_child(tmp_path, journal, calls, block_at="b")
    o = flow.orchestrator(str(journal), str(calls))
    try:
        (old,) = o.journal().interrupted_at_open
        changed = o.get_workflow("chain").value()
        step = changed.get_step("d")
        assert step is not None
        step.timeout = 1234
        assert o.unregister_workflow("chain")
        assert o.register_workflow(changed)
        refused = o.resume_execution(old)
        assert not refused
        assert refused.error().code is PluginErrorCode.VersionMismatch
        assert "d" in refused.error().message  # says what changed
        forced = o.resume_execution(old, force=True)
        assert forced, forced
        assert o.wait_for_execution(forced.value(), 10_000)
        assert o.get_execution_status(forced.value()).value()["status"] == "completed"
    finally:
        o.shutdown()


def test_a_signal_is_emitted_only_once_its_record_is_in_the_journal(
    qapp: Any, qtbot: Any, tmp_path: Path
) -> None:
    flow = _flow(tmp_path)
    o = flow.orchestrator(str(tmp_path / "runs.sqlite"), str(tmp_path / "s.calls"))
    seen: list[tuple[str, str | None]] = []

    def on_step(execution_id: str, step_id: str, _output: object) -> None:
        # Reads what is committed: the step's completion must already be there.
        records = {r.task_key: r.state for r in o.journal().task_records(execution_id)}
        seen.append((step_id, records.get(step_id)))

    o.step_completed.connect(on_step)
    try:
        execution_id = o.execute_workflow("chain").value()
        assert o.get_execution_status(execution_id).value()["status"] == "completed"
        assert seen == [(name, "completed") for name in "abcd"]
    finally:
        o.shutdown()


def test_executions_from_eight_threads_are_all_journaled(qapp: Any, tmp_path: Path) -> None:
    flow = _flow(tmp_path)
    o = flow.orchestrator(str(tmp_path / "runs.sqlite"), str(tmp_path / "t.calls"))
    ids: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        for _ in range(5):
            started = o.execute_workflow("chain", {"run": 1})
            with lock:
                ids.append(started.value())

    threads = [threading.Thread(target=run) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(ids) == 40
        assert o.journal().flush(10)
        page = o.get_execution_history("chain", limit=100).value()
        assert sorted(e.execution_id for e in page.executions) == sorted(ids)
        assert all(e.status == "completed" for e in page.executions)
        for execution_id in ids[:5]:
            records = o.journal().task_records(execution_id)
            assert [(r.task_key, r.state) for r in records] == [
                (name, "completed") for name in "abcd"
            ]
    finally:
        o.shutdown()


@pytest.mark.slow
def test_a_committed_transaction_stays_committed_after_a_crash(qapp: Any, tmp_path: Path) -> None:
    journal = tmp_path / "runs.sqlite"
    script = f"""
import os, signal, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QCoreApplication
app = QCoreApplication([])
sys.path.insert(0, {str(tmp_path)!r})
import flow
o = flow.orchestrator({str(journal)!r}, {str(tmp_path / "tx.calls")!r})
assert o.begin_transaction("tx1")
first = o.execute_workflow("chain", {{}}, transaction_id="tx1").value()
assert o.commit_transaction("tx1")
o.journal().flush(5)
print(first, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # dies right after the commit
"""
    _flow(tmp_path)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_API": "pyside6"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    execution_id = done.stdout.strip()
    flow = _flow(tmp_path)
    o = flow.orchestrator(str(journal), str(tmp_path / "tx.calls"))
    try:
        record = o.journal().transaction("tx1")
        assert record is not None and record.state == "committed"
        assert record.execution_ids == [execution_id]
        assert o.get_execution_status(execution_id).value()["status"] == "completed"
        refused = o.resume_execution(execution_id)
        assert not refused and refused.error().code is PluginErrorCode.InvalidState
    finally:
        o.shutdown()


def test_without_a_journal_durable_calls_say_how_to_get_one(qapp: Any) -> None:
    o = PluginOrchestrator(plugin_manager=PluginManager())
    try:
        assert o.journal() is None
        for result in (o.get_execution_history(), o.resume_execution("x")):
            assert not result
            assert result.error().code is PluginErrorCode.InvalidState
            assert "journal=" in result.error().message
    finally:
        o.shutdown()


def test_a_journal_that_cannot_be_opened_is_a_clear_error_and_the_app_can_go_on(
    qapp: Any, tmp_path: Path
) -> None:
    bad = tmp_path / "not-a-db.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(Exception) as raised:
        PluginOrchestrator(plugin_manager=PluginManager(), journal=str(bad))
    assert getattr(raised.value, "code", None) is PluginErrorCode.InvalidFormat
    assert str(bad) in str(raised.value.context.get("path", ""))  # type: ignore[attr-defined]
    fallback = PluginOrchestrator(plugin_manager=PluginManager())  # carry on without one
    fallback.shutdown()


def test_v2_history_and_resume_of_a_graph_execution(qapp: Any, tmp_path: Path) -> None:
    from qtforge_orch import (
        FunctionPlugin,
        PluginWorkflow,
        WorkflowConnection,
        WorkflowExecutionMode,
        WorkflowExecutionStatus,
        WorkflowNode,
    )

    journal = tmp_path / "graph.sqlite"
    calls: list[str] = []
    fail = {"b": True}

    def b(params: dict[str, Any]) -> dict[str, Any]:
        calls.append("b")
        if fail["b"]:
            raise RuntimeError("b is down")
        return {"out": params["in"] * 2}

    plugins = PluginManager()
    plugins.register_plugin(
        FunctionPlugin("g", {"a": lambda p: (calls.append("a"), {"out": 21})[1], "b": b})
    )
    workflow = PluginWorkflow(
        workflow_id="graph",
        execution_mode=WorkflowExecutionMode.Sequential,
        nodes=[
            WorkflowNode(
                node_id="a", plugin_id="g", configuration={"method": "a"}, output_ports=["out"]
            ),
            WorkflowNode(
                node_id="b",
                plugin_id="g",
                configuration={"method": "b"},
                input_ports=["in"],
                output_ports=["out"],
            ),
        ],
        connections=[
            WorkflowConnection(
                source_node="a", source_port="out", target_node="b", target_port="in"
            )
        ],
    )
    o = AdvancedPluginOrchestrator(plugin_manager=plugins, journal=str(journal))
    try:
        assert o.register_workflow(workflow)
        failed = o.execute_workflow("graph").value()
        assert o.wait_for_execution(failed, 10_000)
        assert o.get_execution_status(failed).value().status is WorkflowExecutionStatus.Failed
        fail["b"] = False
        resumed = o.resume_from_journal(failed)
        assert resumed, resumed
        assert o.wait_for_execution(resumed.value(), 10_000)
        ctx = o.get_execution_status(resumed.value()).value()
        assert ctx.status is WorkflowExecutionStatus.Completed
        assert ctx.node_states["b"]["output"] == {"out": 42}
        assert calls == ["a", "b", "b"]  # a completed before: not run again
    finally:
        o.shutdown()
    reopened = AdvancedPluginOrchestrator(plugin_manager=plugins, journal=str(journal))
    try:
        page = reopened.get_execution_history("graph").value()
        assert [e.status for e in page.executions] == ["completed", "failed"]
        ctx = reopened.get_execution_status(page.executions[0].execution_id).value()
        assert ctx.status is WorkflowExecutionStatus.Completed
        assert json.dumps(ctx.node_states["b"]["output"]) == '{"out": 42}'
    finally:
        reopened.shutdown()
