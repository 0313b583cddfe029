"""What becomes of a step that was running when it was abandoned (issue #21, section 3).

A step that ignores its context keeps running after its execution is cancelled or times out
(or after its own timeout). Its late success must not be silently kept: its rollback step
runs, once, on the control lane; a late failure is recorded; status and the journal show both,
also after a restart and a resume. Every plugin here blocks on an Event the test sets, so the
late outcome arrives exactly when the test says; ``wait_for_execution(..., late_outcomes=True)``
waits for what it causes. Subscribers of every execution get one ``LATE_OUTCOME`` event per
returned attempt, once what comes of it is settled.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    Workflow,
    WorkflowStep,
)
from qtforge_orch.events import TERMINAL_KINDS, EventKind, ExecutionEvent
from qtforge_orch.testing import FakeClock, TimerKind

from .v2_helpers import Mode, conn, node, register, workflow

pytestmark = pytest.mark.timeout(60)
WAIT_S = 10


class Stuck:
    """A step that ignores cancellation: it returns ``outcome`` (raises it, if an exception)
    once ``release`` is set."""

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(WAIT_S * 3)
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return dict(self.outcome)


class Undo:
    """A rollback step recording what it undid and on which thread; it reads the execution's
    status meanwhile, which would deadlock if it ran under the run's lock."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], str]] = []
        self.orch: Any = None
        self.execution_id = ""
        self.gate: threading.Event | None = None  # set: this rollback waits for it
        self.started = threading.Event()

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT_S)
        if self.orch is not None and self.execution_id:
            assert self.orch.get_execution_status(self.execution_id)
        self.calls.append((dict(params), threading.current_thread().name))
        return {}


def _v1(plugins: PluginManager, journal: Path | None = None, **options: Any) -> PluginOrchestrator:
    return PluginOrchestrator(
        plugin_manager=plugins, journal=str(journal) if journal else None, **options
    )


def _write_workflow(
    stuck: Stuck, undo: Undo, timeout_ms: int | None = None
) -> tuple[Workflow, PluginManager]:
    """``first`` (rollback ``undo_first``) then ``write``, which hangs (rollback ``undo_write``)."""
    plugins = PluginManager()
    plugins.register_plugin(
        FunctionPlugin("db", first=lambda p: {"table": "sales"}, write=stuck, undo=undo)
    )
    wf = Workflow("import")
    wf.add_step(WorkflowStep("first", "db", "first"))
    wf.add_step(WorkflowStep("write", "db", "write", dependencies=["first"]))
    wf.add_rollback_step("first", WorkflowStep("undo_first", "db", "undo"))
    wf.add_rollback_step("write", WorkflowStep("undo_write", "db", "undo"))
    if timeout_ms is not None:
        wf.set_timeout(timeout_ms)
    return wf, plugins


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "runs.sqlite"


def _follow(orch: Any) -> list[ExecutionEvent]:
    """Late outcomes and ends of every execution, as a subscriber of every execution gets them."""
    events: list[ExecutionEvent] = []
    assert orch.subscribe(events.append, None, [EventKind.LATE_OUTCOME, *TERMINAL_KINDS])
    return events


def _late(events: list[ExecutionEvent]) -> list[ExecutionEvent]:
    return [event for event in events if event.kind is EventKind.LATE_OUTCOME]


def _stop(orch: Any, execution_id: str, how: str) -> None:
    if how == "cancel":
        stop = getattr(orch, "cancel_workflow", None) or orch.cancel_execution
        assert stop(execution_id)
    assert orch.wait_for_execution(execution_id, WAIT_S * 1000)


# --------------------------------------------------------------------------------------------
# v1: cancel and workflow timeout


@pytest.mark.parametrize("how", ["cancel", "timeout"])
def test_v1_late_success_is_undone_once_after_the_end_and_shown_everywhere(
    qapp: Any, qtbot: Any, journal_path: Path, how: str
) -> None:
    stuck, undo = Stuck({"row": 7}), Undo()
    wf, plugins = _write_workflow(stuck, undo, timeout_ms=300 if how == "timeout" else None)
    orch = _v1(plugins, journal_path)
    ended: list[str] = []
    orch.workflow_cancelled.connect(ended.append)
    everywhere = _follow(orch)
    try:
        assert orch.register_workflow(wf)
        execution_id = orch.execute_workflow("import", async_=True).value()
        followed: list[ExecutionEvent] = []  # a subscription to this execution alone
        assert orch.subscribe(followed.append, execution_id, [EventKind.LATE_OUTCOME])
        undo.orch, undo.execution_id = orch, execution_id
        assert stuck.entered.wait(WAIT_S)
        _stop(orch, execution_id, how)
        status = orch.get_execution_status(execution_id).value()
        assert status["status"] == "cancelled"
        # The execution has ended: the completed step is undone, the stuck one is awaited.
        assert status["rollbacks"] == [{"step_id": "first", "status": "completed", "error": ""}]
        assert [(o["step_id"], o["outcome"], o["rollback"]) for o in status["late_outcomes"]] == [
            ("write", "pending", "")
        ]

        stuck.release.set()
        assert orch.wait_for_execution(execution_id, WAIT_S * 1000, late_outcomes=True)

        # Its rollback ran once, with the late output, on the control lane.
        assert [params for params, _ in undo.calls] == [{"table": "sales"}, {"row": 7}]
        assert {thread for _, thread in undo.calls} == {"qtforge-orch-control"}
        status = orch.get_execution_status(execution_id).value()
        assert status["status"] == "cancelled"
        assert status["rollbacks"] == [
            {"step_id": "first", "status": "completed", "error": ""},
            {"step_id": "write", "status": "completed", "error": "", "late": True},
        ]
        (late,) = status["late_outcomes"]
        assert (late["step_id"], late["attempt"], late["outcome"], late["rollback"]) == (
            "write",
            1,
            "completed",
            "completed",
        )
        assert late["returned_at"]
        write = orch.get_step_results(execution_id).value()[1]
        assert write.status.name == "Cancelled"
        assert write.late_outcome is not None and write.late_outcome["rollback"] == "completed"
        assert write.to_json()["late_outcome"]["outcome"] == "completed"
        assert orch.wait_for_execution(execution_id, 100)  # delivers what is queued
        assert ended == [execution_id]  # the terminal signal came once, before the late end

        # Subscribers of every execution hear of it after the end, once it was undone; the
        # subscription to the execution alone ended with its terminal event.
        qtbot.waitUntil(lambda: bool(_late(everywhere)), timeout=WAIT_S * 1000)
        assert [event.kind for event in everywhere] == [
            EventKind.WORKFLOW_CANCELLED,
            EventKind.LATE_OUTCOME,
        ]
        event = everywhere[1]
        assert (event.execution_id, event.step, event.error) == (execution_id, "write", None)
        assert event.late_outcome == late
        assert followed == []

        journal = orch.journal()
        assert journal is not None and journal.flush(5)
        (record,) = journal.late_outcomes(execution_id)
        assert (record.task_key, record.ok, record.output) == ("write", True, {"row": 7})
        assert [(r.task_key, r.ok, r.late) for r in journal.rollback_records(execution_id)] == [
            ("first", True, False),
            ("write", True, True),
        ]
    finally:
        stuck.release.set()
        assert orch.shutdown(5000)

    # After a restart: the same story, read back from the journal.
    later = _v1(plugins, journal_path)
    try:
        status = later.get_execution_status(execution_id).value()
        assert status["rollbacks"][-1] == {
            "step_id": "write",
            "status": "completed",
            "error": "",
            "late": True,
        }
        assert [(o["outcome"], o["rollback"]) for o in status["late_outcomes"]] == [
            ("completed", "completed")
        ]
        write = later.get_step_results(execution_id).value()[1]
        assert write.late_outcome is not None and write.late_outcome["outcome"] == "completed"
    finally:
        assert later.shutdown(5000)


@pytest.mark.parametrize("how", ["cancel", "timeout"])
def test_v1_late_failure_is_recorded_with_its_traceback_and_nothing_is_undone(
    qapp: Any, qtbot: Any, journal_path: Path, how: str
) -> None:
    stuck, undo = Stuck(ValueError("disk full")), Undo()
    wf, plugins = _write_workflow(stuck, undo, timeout_ms=300 if how == "timeout" else None)
    orch = _v1(plugins, journal_path)
    everywhere = _follow(orch)
    try:
        assert orch.register_workflow(wf)
        execution_id = orch.execute_workflow("import", async_=True).value()
        assert stuck.entered.wait(WAIT_S)
        _stop(orch, execution_id, how)
        stuck.release.set()
        assert orch.wait_for_execution(execution_id, WAIT_S * 1000, late_outcomes=True)
        assert [params for params, _ in undo.calls] == [{"table": "sales"}]  # only `first`
        (late,) = orch.get_execution_status(execution_id).value()["late_outcomes"]
        assert (late["outcome"], late["rollback"]) == ("failed", "none")
        assert "disk full" in late["error"]
        assert late["error_info"]["exception_type"] == "ValueError"
        assert "raise self.outcome" in late["error_info"]["traceback"]
        qtbot.waitUntil(lambda: bool(_late(everywhere)), timeout=WAIT_S * 1000)
        (event,) = _late(everywhere)
        assert event.late_outcome == late
        assert event.error is not None and isinstance(event.error.exception, ValueError)
        assert event.error.context["exception_type"] == "ValueError"
        journal = orch.journal()
        assert journal is not None and journal.flush(5)
        (record,) = journal.late_outcomes(execution_id)
        assert not record.ok and record.error_info is not None
        assert record.error_info["exception_type"] == "ValueError"
    finally:
        stuck.release.set()
        assert orch.shutdown(5000)
    later = _v1(plugins, journal_path)
    try:
        (late,) = later.get_execution_status(execution_id).value()["late_outcomes"]
        assert (late["outcome"], late["rollback"]) == ("failed", "none")
        assert "raise self.outcome" in late["error_info"]["traceback"]
    finally:
        assert later.shutdown(5000)


def test_a_late_success_during_the_rollback_chain_is_undone_next_and_the_end_waits(
    qapp: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Completed steps are undone newest first; a late success arriving meanwhile is the
    newest completion: it is undone next, and the terminal signal follows it."""
    stuck, undo = Stuck({"row": 7}), Undo()
    wf, plugins = _write_workflow(stuck, undo)
    gate = threading.Event()
    undo.gate = gate  # the first rollback (of `first`) waits
    orch = _v1(plugins)
    owed = threading.Event()
    ledger = orch._core.engine.compensations
    record = ledger.record

    def recorded(*args: Any, late: bool = False) -> Any:
        item = record(*args, late=late)
        if late:
            owed.set()
        return item

    monkeypatch.setattr(ledger, "record", recorded)
    try:
        assert orch.register_workflow(wf)
        execution_id = orch.execute_workflow("import", async_=True).value()
        followed: list[ExecutionEvent] = []
        kinds = [EventKind.LATE_OUTCOME, EventKind.WORKFLOW_CANCELLED]
        assert orch.subscribe(followed.append, execution_id, kinds)
        assert stuck.entered.wait(WAIT_S)
        assert orch.cancel_workflow(execution_id)
        assert undo.started.wait(WAIT_S)  # undoing `first`: the execution has not ended
        stuck.release.set()
        assert owed.wait(WAIT_S)  # the late success joined the running chain
        assert not orch.wait_for_execution(execution_id, 0)
        undo.gate = None
        gate.set()
        assert orch.wait_for_execution(execution_id, WAIT_S * 1000)
        assert [params for params, _ in undo.calls] == [{"table": "sales"}, {"row": 7}]
        # When the execution ended, the late rollback had already run.
        status = orch.get_execution_status(execution_id).value()
        assert status["rollbacks"][1] == {
            "step_id": "write",
            "status": "completed",
            "error": "",
            "late": True,
        }
        assert orch._core.engine.get_run(execution_id).wait_late(0)
        # Before the end, so a subscription to the execution alone gets it, then the end.
        qtbot.waitUntil(lambda: len(followed) == 2, timeout=WAIT_S * 1000)
        assert [event.kind for event in followed] == kinds
        assert followed[0].late_outcome["rollback"] == "completed"
    finally:
        gate.set()
        stuck.release.set()
        assert orch.shutdown(5000)


# --------------------------------------------------------------------------------------------
# v1: the step's own timeout


def test_a_timed_out_last_attempt_that_succeeds_late_is_undone(qapp: Any) -> None:
    stuck, undo = Stuck({"row": 1}), Undo()
    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("db", write=stuck, undo=undo))
    wf = Workflow("slow").add_step(WorkflowStep("write", "db", "write", timeout=100))
    wf.steps()[0].critical = False  # the workflow completes; the late success is still undone
    wf.add_rollback_step("write", WorkflowStep("undo_write", "db", "undo"))
    orch = _v1(plugins)
    try:
        assert orch.register_workflow(wf)
        execution_id = orch.execute_workflow("slow").value()
        status = orch.get_execution_status(execution_id).value()
        assert status["status"] == "completed"
        assert status["step_results"][0]["status"] == "Failed"
        stuck.release.set()
        assert orch.wait_for_execution(execution_id, WAIT_S * 1000, late_outcomes=True)
        assert [params for params, _ in undo.calls] == [{"row": 1}]
        (late,) = orch.get_execution_status(execution_id).value()["late_outcomes"]
        assert (late["outcome"], late["rollback"]) == ("completed", "completed")
    finally:
        stuck.release.set()
        assert orch.shutdown(5000)


def test_a_timed_out_attempt_whose_retry_completed_is_kept(qapp: Any, qtbot: Any) -> None:
    """The rollback step would undo what the completed retry did too: the late one is kept."""
    first_attempt = threading.Event()
    release = threading.Event()
    undo = Undo()

    def write(params: dict[str, Any], context: Any) -> dict[str, Any]:
        if context.attempt == 1:
            first_attempt.set()
            assert release.wait(WAIT_S * 3)
            return {"attempt": 1}
        return {"attempt": 2}

    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("db", write=write, undo=undo))
    step = WorkflowStep("write", "db", "write", timeout=100, max_retries=1, retry_delay=0)
    wf = Workflow("retry").add_step(step)
    wf.add_rollback_step("write", WorkflowStep("undo_write", "db", "undo"))
    orch = _v1(plugins)
    everywhere = _follow(orch)
    try:
        assert orch.register_workflow(wf)
        execution_id = orch.execute_workflow("retry").value()
        assert orch.get_execution_status(execution_id).value()["result"] == {"attempt": 2}
        release.set()
        assert orch.wait_for_execution(execution_id, WAIT_S * 1000, late_outcomes=True)
        (late,) = orch.get_execution_status(execution_id).value()["late_outcomes"]
        assert (late["attempt"], late["outcome"], late["rollback"]) == (1, "completed", "kept")
        assert undo.calls == []
        qtbot.waitUntil(lambda: bool(_late(everywhere)), timeout=WAIT_S * 1000)
        assert [event.late_outcome for event in _late(everywhere)] == [late]
    finally:
        release.set()
        assert orch.shutdown(5000)


@pytest.mark.parametrize("retry", ["fails", "completes"])
def test_a_late_success_while_a_retry_runs_is_decided_when_the_step_settles(
    qapp: Any, qtbot: Any, retry: str
) -> None:
    """Attempt 1 times out, attempt 2 runs, attempt 1 returns a success meanwhile: deferred.
    Attempt 2 failing leaves the step not completed (attempt 1's success is undone);
    attempt 2 completing keeps it (undoing it would undo attempt 2's work too)."""
    first_in, first_go = threading.Event(), threading.Event()
    second_in, second_go = threading.Event(), threading.Event()
    undo = Undo()

    def write(params: dict[str, Any], context: Any) -> dict[str, Any]:
        if context.attempt == 1:
            first_in.set()
            assert first_go.wait(WAIT_S * 3)
            return {"attempt": 1}
        second_in.set()
        assert second_go.wait(WAIT_S * 3)
        if retry == "fails":
            raise ValueError("still broken")
        return {"attempt": 2}

    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("db", write=write, undo=undo))
    step = WorkflowStep("write", "db", "write", timeout=1000, max_retries=1, retry_delay=0)
    step.critical = False
    wf = Workflow("retry").add_step(step)
    wf.add_rollback_step("write", WorkflowStep("undo_write", "db", "undo"))
    clock = FakeClock()
    orch = _v1(plugins, timers=clock)
    everywhere = _follow(orch)
    try:
        assert orch.register_workflow(wf)
        execution_id = orch.execute_workflow("retry", async_=True).value()
        assert first_in.wait(WAIT_S)
        clock.advance_to_timer(TimerKind.STEP_TIMEOUT, step_id="write")
        assert second_in.wait(WAIT_S)
        first_go.set()

        def late_rollback() -> str:
            entries = orch.get_execution_status(execution_id).value()["late_outcomes"]
            return str(entries[0]["rollback"])

        qtbot.waitUntil(lambda: late_rollback() == "deferred", timeout=WAIT_S * 1000)
        assert _late(everywhere) == []  # nothing is settled yet
        second_go.set()
        assert orch.wait_for_execution(execution_id, WAIT_S * 1000, late_outcomes=True)
        (late,) = orch.get_execution_status(execution_id).value()["late_outcomes"]
        if retry == "fails":
            assert (late["attempt"], late["rollback"]) == (1, "completed")
            assert [params for params, _ in undo.calls] == [{"attempt": 1}]
        else:
            assert (late["attempt"], late["rollback"]) == (1, "kept")
            assert undo.calls == []
        qtbot.waitUntil(lambda: bool(_late(everywhere)), timeout=WAIT_S * 1000)
        assert [event.late_outcome for event in _late(everywhere)] == [late]
    finally:
        first_go.set()
        second_go.set()
        assert orch.shutdown(5000)


# --------------------------------------------------------------------------------------------
# v1: transactions


@pytest.mark.parametrize("end", ["rollback_before_late", "rollback_after_late", "commit"])
def test_a_late_success_in_a_transaction_is_undone_exactly_once(qapp: Any, end: str) -> None:
    stuck, undo = Stuck({"row": 7}), Undo()
    wf, plugins = _write_workflow(stuck, undo)
    orch = _v1(plugins)
    try:
        assert orch.register_workflow(wf)
        only_first = Workflow("first_only").add_step(WorkflowStep("first", "db", "first"))
        only_first.add_rollback_step("first", WorkflowStep("undo_first", "db", "undo"))
        assert orch.register_workflow(only_first)
        assert orch.begin_transaction("tx")
        assert orch.execute_workflow("first_only", transaction_id="tx")  # held until the end
        execution_id = orch.execute_workflow("import", async_=True, transaction_id="tx").value()
        assert stuck.entered.wait(WAIT_S)
        assert orch.cancel_workflow(execution_id)
        assert orch.wait_for_execution(execution_id, WAIT_S * 1000)
        run = orch._core.engine.get_run(execution_id)
        assert run is not None
        if end == "rollback_after_late":
            stuck.release.set()
            assert run.wait_late(WAIT_S)
        if end == "commit":
            assert orch.commit_transaction("tx")
        else:
            assert orch.rollback_transaction("tx")
        stuck.release.set()
        assert run.wait_late(WAIT_S)
        undone = [params for params, _ in undo.calls]
        assert undone.count({"row": 7}) == 1
        # `first` of the cancelled execution at its cancel, of the completed one if rolled back
        assert undone.count({"table": "sales"}) == (1 if end == "commit" else 2)
        status = orch.get_execution_status(execution_id).value()
        assert [r for r in status["rollbacks"] if r.get("late")] == [
            {"step_id": "write", "status": "completed", "error": "", "late": True}
        ]
    finally:
        stuck.release.set()
        assert orch.shutdown(5000)


# --------------------------------------------------------------------------------------------
# v2: cancel and workflow timeout (nodes have no rollback steps: recorded, not undone)


@pytest.mark.parametrize("how", ["cancel", "timeout"])
@pytest.mark.parametrize("outcome", [{"row": 7}, KeyError("gone")], ids=["success", "failure"])
def test_v2_late_outcomes_are_recorded_and_read_back(
    qapp: Any, qtbot: Any, journal_path: Path, how: str, outcome: Any
) -> None:
    stuck = Stuck(outcome)
    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin.from_callable("slow", stuck))
    graph = workflow("g", Mode.Sequential, [node("n", "slow")])
    if how == "timeout":
        graph.global_configuration = {"timeout": 300}
    orch = AdvancedPluginOrchestrator(plugin_manager=plugins, journal=str(journal_path))
    everywhere = _follow(orch)
    try:
        register(orch, graph)
        execution_id = orch.execute_workflow("g").value()
        assert stuck.entered.wait(WAIT_S)
        _stop(orch, execution_id, how)
        assert orch.get_node_status(execution_id, "n").value()["late_outcome"]["outcome"] == (
            "pending"
        )
        stuck.release.set()
        assert orch.wait_for_execution(execution_id, WAIT_S * 1000, late_outcomes=True)
        node_state = orch.get_node_status(execution_id, "n").value()
        assert node_state["status"] == "cancelled"
        expected = "completed" if isinstance(outcome, dict) else "failed"
        assert (node_state["late_outcome"]["outcome"], node_state["late_outcome"]["rollback"]) == (
            expected,
            "none",
        )
        context = orch.get_execution_status(execution_id).value()
        assert [o["node_id"] for o in context.execution_data["late_outcomes"]] == ["n"]
        assert context.node_states["n"]["late_outcome"]["outcome"] == expected
        qtbot.waitUntil(lambda: bool(_late(everywhere)), timeout=WAIT_S * 1000)
        (event,) = _late(everywhere)
        assert event.step == "n" and event.late_outcome == node_state["late_outcome"]
        assert event.late_outcome["node_id"] == "n"
        assert (event.error is None) is isinstance(outcome, dict)
        journal = orch.journal()
        assert journal is not None and journal.flush(5)
        (record,) = journal.late_outcomes(execution_id)
        assert record.ok is isinstance(outcome, dict)
    finally:
        stuck.release.set()
        assert orch.shutdown(5000)
    later = AdvancedPluginOrchestrator(plugin_manager=plugins, journal=str(journal_path))
    try:
        node_state = later.get_node_status(execution_id, "n").value()
        assert node_state["late_outcome"]["outcome"] == expected
        if not isinstance(outcome, dict):
            assert node_state["late_outcome"]["error_info"]["exception_type"] == "KeyError"
    finally:
        assert later.shutdown(5000)


def test_a_late_outcome_of_an_event_driven_pass_reaches_subscribers(qapp: Any, qtbot: Any) -> None:
    """A pass's node times out and returns later: the pass records it, and subscribers get its
    LATE_OUTCOME under the execution's id while the execution still runs."""
    stuck = Stuck({"row": 7})
    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin.from_callable("slow", stuck))
    graph = workflow("ev", Mode.EventDriven, [node("n", "slow", configuration={"timeout": 100})])
    orch = AdvancedPluginOrchestrator(plugin_manager=plugins)
    everywhere = _follow(orch)
    try:
        register(orch, graph)
        execution_id = orch.execute_workflow("ev").value()
        assert orch.post_event(execution_id, {"n": 1})
        assert stuck.entered.wait(WAIT_S)
        qtbot.waitUntil(
            lambda: orch.get_node_status(execution_id, "n").value()["status"] == "failed",
            timeout=WAIT_S * 1000,
        )
        stuck.release.set()
        qtbot.waitUntil(lambda: bool(_late(everywhere)), timeout=WAIT_S * 1000)
        (event,) = _late(everywhere)
        assert (event.execution_id, event.step) == (execution_id, "n")
        assert (event.late_outcome["outcome"], event.late_outcome["rollback"]) == (
            "completed",
            "none",
        )
        assert orch.cancel_execution(execution_id)
        assert orch.wait_for_execution(execution_id, WAIT_S * 1000)
    finally:
        stuck.release.set()
        assert orch.shutdown(5000)


# --------------------------------------------------------------------------------------------
# resume


def test_v2_resume_reuses_a_late_success_nothing_undid(qapp: Any, journal_path: Path) -> None:
    """A node has no rollback step: its late success stays, so a resume keeps it instead of
    running the node again."""
    stuck = Stuck({"value": 5})
    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin.from_callable("slow", stuck))
    plugins.register_plugin(
        FunctionPlugin.from_callable("double", lambda p: {"twice": p["value"] * 2})
    )
    graph = workflow(
        "g",
        Mode.Sequential,
        [node("n", "slow"), node("d", "double")],
        [conn("n", "d")],
    )
    orch = AdvancedPluginOrchestrator(plugin_manager=plugins, journal=str(journal_path))
    try:
        register(orch, graph)
        execution_id = orch.execute_workflow("g").value()
        assert stuck.entered.wait(WAIT_S)
        _stop(orch, execution_id, "cancel")
        stuck.release.set()
        assert orch.wait_for_execution(execution_id, WAIT_S * 1000, late_outcomes=True)
        resumed = orch.resume_from_journal(execution_id)
        assert resumed, resumed.error()
        assert orch.wait_for_execution(resumed.value(), WAIT_S * 1000)
        context = orch.get_execution_status(resumed.value()).value()
        assert context.status.name == "Completed"
        assert context.node_states["d"]["output"] == {"twice": 10}
        assert stuck.calls == 1  # not run again
    finally:
        stuck.release.set()
        assert orch.shutdown(5000)


def test_resume_is_refused_while_an_abandoned_step_is_still_out(
    qapp: Any, journal_path: Path
) -> None:
    stuck, undo = Stuck({"row": 7}), Undo()
    wf, plugins = _write_workflow(stuck, undo)
    orch = _v1(plugins, journal_path)
    try:
        assert orch.register_workflow(wf)
        execution_id = orch.execute_workflow("import", async_=True).value()
        assert stuck.entered.wait(WAIT_S)
        _stop(orch, execution_id, "cancel")
        refused = orch.resume_execution(execution_id)
        assert not refused and refused.error().code == PluginErrorCode.InvalidState
        assert "not returned yet" in refused.error().message
        stuck.release.set()
        assert orch.wait_for_execution(execution_id, WAIT_S * 1000, late_outcomes=True)
        resumed = orch.resume_execution(execution_id)
        assert resumed, resumed.error()
        assert orch.wait_for_execution(resumed.value(), WAIT_S * 1000)
    finally:
        stuck.release.set()
        assert orch.shutdown(5000)


RESUME_CHILD = """
import json, os, sys, threading
from PySide6.QtCore import QCoreApplication
from qtforge_orch import FunctionPlugin, PluginManager, PluginOrchestrator, Workflow, WorkflowStep
app = QCoreApplication([])
entered, release = threading.Event(), threading.Event()
def write(p):
    entered.set()
    release.wait(30)
    return {{"row": 7}}
def undo(p):
    if p.get("row") == 7:
        orch.journal().flush(5)
        os._exit(3)  # the process dies before the late rollback step is done
    return {{}}
plugins = PluginManager()
first, after = (lambda p: {{"table": "sales"}}), (lambda p: {{"after": p["row"]}})
plugins.register_plugin(FunctionPlugin("db", first=first, write=write, undo=undo, after=after))
orch = PluginOrchestrator(plugin_manager=plugins, journal={journal!r})
wf = Workflow("import")
wf.add_step(WorkflowStep("first", "db", "first"))
wf.add_step(WorkflowStep("write", "db", "write", dependencies=["first"]))
wf.add_step(WorkflowStep("after", "db", "after", dependencies=["write"]))
wf.add_rollback_step("write", WorkflowStep("undo_write", "db", "undo"))
orch.register_workflow(wf)
eid = orch.execute_workflow("import", async_=True).value()
print(eid, flush=True)
entered.wait(30)
orch.cancel_workflow(eid)
orch.wait_for_execution(eid, 10000)
release.set()
threading.Event().wait(30)
"""


@pytest.mark.slow
def test_resume_reuses_a_late_success_whose_rollback_was_due_when_the_process_died(
    qapp: Any, tmp_path: Path
) -> None:
    """The child's late rollback step kills it: the late success is recorded, its rollback is
    due. Status says so; a resume keeps and uses what the step did instead of running it
    again."""
    import subprocess
    import sys

    journal = tmp_path / "runs.sqlite"
    child = subprocess.run(
        [sys.executable, "-c", RESUME_CHILD.format(journal=str(journal))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 3, child.stderr
    execution_id = child.stdout.split()[0]

    ran: list[str] = []
    plugins = PluginManager()
    plugins.register_plugin(
        FunctionPlugin(
            "db",
            first=lambda p: {"table": "sales"},
            write=lambda p: ran.append("write") or {"row": 8},
            undo=lambda p: {},
            after=lambda p: {"after": p["row"]},
        )
    )
    orch = _v1(plugins, journal)
    try:
        wf = Workflow("import")
        wf.add_step(WorkflowStep("first", "db", "first"))
        wf.add_step(WorkflowStep("write", "db", "write", dependencies=["first"]))
        wf.add_step(WorkflowStep("after", "db", "after", dependencies=["write"]))
        wf.add_rollback_step("write", WorkflowStep("undo_write", "db", "undo"))
        assert orch.register_workflow(wf)
        status = orch.get_execution_status(execution_id).value()
        assert [(o["outcome"], o["rollback"]) for o in status["late_outcomes"]] == [
            ("completed", "due")
        ]
        resumed = orch.resume_execution(execution_id)
        assert resumed, resumed.error()
        assert orch.wait_for_execution(resumed.value(), WAIT_S * 1000)
        after = orch.get_execution_status(resumed.value()).value()
        assert after["status"] == "completed", after["error"]
        assert ran == []  # the late success was reused, not run again
        assert after["result"]["after"] == 7
    finally:
        assert orch.shutdown(5000)
