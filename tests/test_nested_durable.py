"""Nested workflows, rollback and the journal.

A completed child's compensations are owed by the parent step that ran it: a later critical
failure or a transaction rollback of the parent runs them, exactly once. A parent killed with
SIGKILL in the middle of a child is resumed without running the child's completed steps again,
and a resumed parent that rolls back runs its restored children's compensations once.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    FunctionPlugin,
    PluginManager,
    PluginOrchestrator,
    PluginWorkflow,
    Workflow,
    WorkflowNode,
    WorkflowStep,
)

from .journal_helpers import load_flow_module, run_until_ready_then_kill

pytestmark = pytest.mark.timeout(60)


def _reserving_child(plugins: PluginManager, orchestrator: PluginOrchestrator) -> list[str]:
    """A child workflow whose step ``reserve`` is undone by ``release``; the calls, in order."""
    calls: list[str] = []

    def record(name: str, output: dict[str, Any]) -> Any:
        return lambda params: (calls.append(name), output)[1]

    plugins.register_plugin(
        FunctionPlugin(
            "stock",
            reserve=record("reserve", {"reserved": 1}),
            release=record("release", {}),
            fail=lambda params: (_ for _ in ()).throw(RuntimeError("later step failed")),
            ok=record("ok", {}),
        )
    )
    inner = Workflow("inner").add_step(WorkflowStep("reserve", "stock", "reserve"))
    inner.add_rollback_step("reserve", WorkflowStep("release", "stock", "release"))
    orchestrator.register_workflow(inner)
    plugin = orchestrator.as_plugin("inner").value()
    plugins.register_plugin(plugin)
    return calls


def test_a_later_critical_failure_of_the_parent_runs_the_childs_compensations_once(
    plugins: PluginManager, orchestrator: PluginOrchestrator
) -> None:
    calls = _reserving_child(plugins, orchestrator)
    outer = Workflow("outer").add_step(WorkflowStep("order", "workflow:inner"))
    outer.add_step(WorkflowStep("pay", "stock", "fail", dependencies=["order"]))
    orchestrator.register_workflow(outer)
    failed = orchestrator.execute_workflow("outer", {})
    assert not failed
    parent = failed.error().context["execution_id"]
    status = orchestrator.get_execution_status(parent).value()
    assert calls == ["reserve", "release"]
    assert status["rollbacks"] == [{"step_id": "order", "status": "completed", "error": ""}]
    child = status["child_executions"]["order"]
    child_rollbacks = orchestrator.get_execution_status(child).value()["rollbacks"]
    assert child_rollbacks == [{"step_id": "reserve", "status": "completed", "error": ""}]


def test_a_completed_parent_keeps_its_childs_work(
    plugins: PluginManager, orchestrator: PluginOrchestrator
) -> None:
    calls = _reserving_child(plugins, orchestrator)
    outer = Workflow("outer").add_step(WorkflowStep("order", "workflow:inner"))
    orchestrator.register_workflow(outer)
    assert orchestrator.execute_workflow("outer", {})
    assert calls == ["reserve"]


def test_a_transaction_rollback_of_the_parent_undoes_the_child_once(
    plugins: PluginManager, orchestrator: PluginOrchestrator
) -> None:
    calls = _reserving_child(plugins, orchestrator)
    orchestrator.register_workflow(Workflow("outer").add_step(WorkflowStep("o", "workflow:inner")))
    assert orchestrator.begin_transaction("t1")
    assert orchestrator.execute_workflow("outer", {}, transaction_id="t1")
    assert calls == ["reserve"]
    assert orchestrator.rollback_transaction("t1")
    assert orchestrator.rollback_transaction("t1").error() is not None  # ended: nothing again
    assert calls == ["reserve", "release"]


def test_a_failing_v2_parent_undoes_its_v1_child(
    plugins: PluginManager,
    orchestrator: PluginOrchestrator,
    advanced_orchestrator: AdvancedPluginOrchestrator,
) -> None:
    calls = _reserving_child(plugins, orchestrator)
    outer = PluginWorkflow(workflow_id="outer")
    outer.nodes.append(WorkflowNode(node_id="order", plugin_id="workflow:inner"))
    outer.nodes.append(
        WorkflowNode(node_id="pay", plugin_id="stock", configuration={"method": "fail"})
    )
    advanced_orchestrator.register_workflow(outer)
    execution = advanced_orchestrator.execute_workflow("outer", {}).value()
    assert advanced_orchestrator.wait_for_execution(execution, 10_000)
    status = advanced_orchestrator.get_execution_status(execution).value()
    assert status.status.name == "Failed"
    assert calls == ["reserve", "release"]


# --- SIGKILL and resume -------------------------------------------------------------------------
FLOW = """
import time
from pathlib import Path
from qtforge_orch import FunctionPlugin, PluginManager, PluginOrchestrator, Workflow, WorkflowStep

HOLDER = []


def orchestrator(journal, calls, block_at="", fail_at=""):
    def step(name, output):
        def run(params):
            with open(calls, "a") as f:
                f.write(name + "\\n")
            if name == block_at:
                HOLDER[0].journal().flush(5)  # what completed before is durable
                Path(calls + ".ready").touch()
                time.sleep(60)
            if name == fail_at:
                raise RuntimeError(name + " failed")
            return output
        return run

    plugins = PluginManager()
    names = ("c1", "c2", "undo_c1", "t", "u")
    plugins.register_plugin(FunctionPlugin("p", {n: step(n, {n: 1}) for n in names}))
    o = PluginOrchestrator(plugin_manager=plugins, journal=journal)
    HOLDER[:] = [o]
    inner = Workflow("inner").add_step(WorkflowStep("c1", "p", "c1"))
    inner.add_step(WorkflowStep("c2", "p", "c2", dependencies=["c1"]))
    inner.add_rollback_step("c1", WorkflowStep("undo_c1", "p", "undo_c1"))
    assert o.register_workflow(inner)
    assert plugins.register_plugin(o.as_plugin("inner").value())
    outer = Workflow("outer").add_step(WorkflowStep("s", "workflow:inner"))
    outer.add_step(WorkflowStep("t", "p", "t", dependencies=["s"]))
    outer.add_step(WorkflowStep("u", "p", "u", dependencies=["t"]))
    assert o.register_workflow(outer)
    return o
"""

CHILD = """
import sys
from PySide6.QtCore import QCoreApplication
app = QCoreApplication([])
sys.path.insert(0, {folder!r})
import nested_flow
o = nested_flow.orchestrator({journal!r}, {calls!r}, block_at={block_at!r})
o.execute_workflow("outer", {{}})
"""


def _flow(folder: Path) -> Any:
    return load_flow_module(folder, "nested_flow", FLOW)


def _crash_at(folder: Path, journal: Path, calls: Path, block_at: str) -> None:
    """Run ``outer`` in a child process and SIGKILL it once it is inside ``block_at``."""
    script = CHILD.format(
        folder=str(folder), journal=str(journal), calls=str(calls), block_at=block_at
    )
    status = run_until_ready_then_kill(script, Path(str(calls) + ".ready"))
    assert status == -signal.SIGKILL


def _resume_outer(o: PluginOrchestrator) -> tuple[str, str]:
    """Resume the interrupted ``outer`` execution: (the old id, the new one)."""
    journal = o.journal()
    assert journal is not None
    (parent,) = [
        execution_id
        for execution_id in journal.interrupted_at_open
        if journal.execution(execution_id).workflow_id == "outer"  # type: ignore[union-attr]
    ]
    resumed = o.resume_execution(parent)
    assert resumed, resumed
    assert o.wait_for_execution(resumed.value(), 30_000)
    return parent, resumed.value()


@pytest.mark.slow
def test_a_parent_killed_in_the_middle_of_a_child_resumes_without_rerunning_its_steps(
    qapp: Any, tmp_path: Path
) -> None:
    flow = _flow(tmp_path)
    journal, calls = tmp_path / "runs.sqlite", tmp_path / "calls"
    _crash_at(tmp_path, journal, calls, block_at="c2")
    assert calls.read_text().split() == ["c1", "c2"]
    o = flow.orchestrator(str(journal), str(calls))
    try:
        old, new = _resume_outer(o)
        status = o.get_execution_status(new).value()
        assert status["status"] == "completed", status
        # c1 completed in the killed process and is not run again; c2 was running: again.
        assert calls.read_text().split() == ["c1", "c2", "c2", "t", "u"]
        child = status["child_executions"]["s"]
        assert child == f"{new}/s"
        record = o.journal().execution(child)  # type: ignore[union-attr]
        assert record is not None and record.resumed_from == f"{old}/s"
        assert o.get_execution_status(child).value()["parent_execution_id"] == new
    finally:
        o.shutdown()


@pytest.mark.slow
def test_a_resumed_parent_that_rolls_back_runs_its_restored_childs_compensation_once(
    qapp: Any, tmp_path: Path
) -> None:
    flow = _flow(tmp_path)
    journal, calls = tmp_path / "runs.sqlite", tmp_path / "calls"
    _crash_at(tmp_path, journal, calls, block_at="t")  # the child completed before
    assert calls.read_text().split() == ["c1", "c2", "t"]
    o = flow.orchestrator(str(journal), str(calls), fail_at="u")
    try:
        _, new = _resume_outer(o)
        status = o.get_execution_status(new).value()
        assert status["status"] == "failed", status
        assert calls.read_text().split() == ["c1", "c2", "t", "t", "u", "undo_c1"]
        assert [r["step_id"] for r in status["rollbacks"]] == ["s"]
        # Resuming the failed execution again does not undo the child a second time.
        again = o.resume_execution(new)
        assert again
        assert o.wait_for_execution(again.value(), 30_000)
        assert calls.read_text().split().count("undo_c1") == 1
    finally:
        o.shutdown()


def _nested_pair(journal: Path) -> tuple[PluginOrchestrator, PluginManager]:
    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("p", one=lambda params: {"one": 1}))
    orchestrator = PluginOrchestrator(plugin_manager=plugins, journal=str(journal))
    assert orchestrator.register_workflow(Workflow("inner").add_step(WorkflowStep("a", "p", "one")))
    assert plugins.register_plugin(orchestrator.as_plugin("inner").value())
    outer = Workflow("outer").add_step(WorkflowStep("nest_ed", "workflow:inner"))
    assert orchestrator.register_workflow(outer)
    return orchestrator, plugins


def test_statuses_read_back_from_the_journal_keep_the_links_between_parent_and_child(
    qapp: Any, tmp_path: Path
) -> None:
    journal = tmp_path / "nested.sqlite"
    first, _ = _nested_pair(journal)
    ran = first.execute_workflow("outer", {})
    assert ran, ran.error()
    parent = first.get_execution_history("outer").value().executions[0].execution_id
    live = first.get_execution_status(parent).value()
    child = live["child_executions"]["nest_ed"]
    assert first.shutdown(5000)
    del first

    second, _ = _nested_pair(journal)  # another process's view: nothing of it is live
    try:
        parent_status = second.get_execution_status(parent).value()
        child_status = second.get_execution_status(child).value()
        assert parent_status["child_executions"] == {"nest_ed": child}
        assert parent_status["parent_execution_id"] == ""
        assert child_status["parent_execution_id"] == parent
        assert child_status["child_executions"] == {}
        assert second.get_child_executions(parent).value() == {"nest_ed": child}
    finally:
        assert second.shutdown(5000)
