"""Executions in the ``logging`` hierarchy (docs/logging-and-tracing.md): records of
``qtforge_orch.execution`` with the execution, workflow and step ids, step failures with their
traceback, rollbacks and resumes; no event built for a level nobody logs; nothing printed."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import (
    EventKind,
    ExecutionEvent,
    ExecutionMode,
    FunctionPlugin,
    PluginError,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    Workflow,
)
from qtforge_orch.testing import HangingPlugin

from .helpers import step

ROOT = Path(__file__).resolve().parent.parent
EXECUTION = "qtforge_orch.execution"
IDS = ("execution_id", "workflow_id", "step_id", "event_kind")


def _fail(params: dict[str, Any]) -> dict[str, Any]:
    raise ValueError("the disk is full")


def _workflow(plugins: PluginManager, workflow_id: str = "etl", *, failing: bool) -> Workflow:
    plugins.register_plugin(
        FunctionPlugin("p", ok=lambda p: {"ok": True}, fail=_fail, undo=lambda p: {})
    )
    wf = Workflow(workflow_id).set_execution_mode(ExecutionMode.Sequential)
    wf.add_step(step("load", "p", "ok"))
    wf.add_step(step("save", "p", "fail" if failing else "ok", "load"))
    return wf


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == EXECUTION]


def _listened(orchestrator: PluginOrchestrator) -> set[EventKind]:
    return set(orchestrator._core.engine.listened)


def test_lifecycle_and_steps_are_logged_with_their_ids(
    orchestrator: PluginOrchestrator, plugins: PluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=EXECUTION)
    assert orchestrator.register_workflow(_workflow(plugins, failing=True))
    result = orchestrator.execute_workflow("etl")
    assert not result
    execution_id = result.error().context["execution_id"]
    records = _records(caplog)
    # (first lines: a failure's record goes on with the traceback when its error keeps one)
    seen = [(r.levelname, r.event_kind, r.step_id, r.getMessage().split("\n")[0]) for r in records]
    assert seen == [
        ("INFO", "workflow_started", "", f"execution {execution_id} of workflow etl started"),
        ("DEBUG", "task_started", "load", f"step load of execution {execution_id} started"),
        ("DEBUG", "task_completed", "load", f"step load of execution {execution_id} completed"),
        ("DEBUG", "task_started", "save", f"step save of execution {execution_id} started"),
        (
            "ERROR",
            "task_failed",
            "save",
            f"step save of execution {execution_id} failed: plugin 'p' command 'fail' raised "
            "ValueError: the disk is full",
        ),
        (
            "ERROR",
            "workflow_failed",
            "",
            f"execution {execution_id} of workflow etl failed: step 'save' failed: "
            "plugin 'p' command 'fail' raised ValueError: the disk is full",
        ),
    ]
    assert all(r.execution_id == execution_id and r.workflow_id == "etl" for r in records)


def test_a_completed_execution_at_info_logs_its_lifecycle_only(
    orchestrator: PluginOrchestrator, plugins: PluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=EXECUTION)
    assert orchestrator.register_workflow(_workflow(plugins, failing=False))
    execution_id = orchestrator.execute_workflow("etl").value()
    assert [r.getMessage() for r in _records(caplog)] == [
        f"execution {execution_id} of workflow etl started",
        f"execution {execution_id} of workflow etl completed",
    ]
    assert EventKind.TASK_COMPLETED not in _listened(orchestrator)


def test_at_the_default_level_no_step_event_of_a_success_is_built(
    orchestrator: PluginOrchestrator, plugins: PluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=EXECUTION)
    assert orchestrator.register_workflow(_workflow(plugins, failing=False))
    assert orchestrator.execute_workflow("etl")
    listened = _listened(orchestrator)
    assert not listened & {EventKind.TASK_STARTED, EventKind.TASK_COMPLETED, EventKind.PROGRESS}
    assert {EventKind.TASK_FAILED, EventKind.TASK_RETRYING} <= listened
    assert _records(caplog) == []


def test_a_level_changed_later_applies_from_the_next_execution(
    orchestrator: PluginOrchestrator, plugins: PluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    assert orchestrator.register_workflow(_workflow(plugins, failing=True))
    caplog.set_level(logging.CRITICAL, logger=EXECUTION)
    assert not orchestrator.execute_workflow("etl")
    assert _records(caplog) == []
    assert EventKind.TASK_FAILED not in _listened(orchestrator)  # nobody takes it
    caplog.set_level(logging.DEBUG, logger=EXECUTION)
    assert not orchestrator.execute_workflow("etl")
    assert [r.event_kind for r in _records(caplog)][-2:] == ["task_failed", "workflow_failed"]
    assert EventKind.TASK_STARTED in _listened(orchestrator)


@pytest.mark.slow
def test_a_retry_is_a_warning_with_its_number(
    orchestrator: PluginOrchestrator, plugins: PluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=EXECUTION)
    attempts: list[int] = []

    def flaky(params: dict[str, Any]) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("reset")
        return {}

    plugins.register_plugin(FunctionPlugin("f", flaky=flaky))
    flaky_step = step("fetch", "f", "flaky")
    flaky_step.max_retries = 1
    assert orchestrator.register_workflow(Workflow("retry").add_step(flaky_step))
    execution_id = orchestrator.execute_workflow("retry").value()
    (record,) = _records(caplog)
    assert (record.levelname, record.step_id, record.retry) == ("WARNING", "fetch", 1)
    assert record.getMessage() == f"step fetch of execution {execution_id} failed; retry 1 follows"


def test_a_cancelled_execution_is_logged(
    orchestrator: PluginOrchestrator, plugins: PluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=EXECUTION)
    hanging = HangingPlugin()
    plugins.register_plugin(hanging)
    assert orchestrator.register_workflow(
        Workflow("hang").add_step(step("h", "hanging", "execute"))
    )
    execution_id = orchestrator.execute_workflow("hang", async_=True).value()
    assert hanging.entered.wait(10)
    assert orchestrator.cancel_workflow(execution_id)
    assert orchestrator.wait_for_execution(execution_id, 10_000)
    orchestrator._core.engine.pump.drain(None)
    assert [r.getMessage() for r in _records(caplog)][-1] == (
        f"execution {execution_id} of workflow hang was cancelled"
    )


def test_rollback_steps_are_logged_in_order_before_the_executions_end(
    orchestrator: PluginOrchestrator, plugins: PluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=EXECUTION)
    wf = _workflow(plugins, "undoable", failing=True)
    wf.add_rollback_step("load", step("undo_load", "p", "undo"))
    assert orchestrator.register_workflow(wf)
    result = orchestrator.execute_workflow("undoable")
    execution_id = result.error().context["execution_id"]
    records = _records(caplog)
    assert [r.event_kind for r in records] == [
        "workflow_started",
        "task_failed",
        "rollback_completed",
        "workflow_failed",
    ]
    rollback = records[2]
    assert rollback.getMessage() == (f"rollback of step load of execution {execution_id} completed")
    assert (rollback.levelname, rollback.workflow_id, rollback.step_id) == (
        "INFO",
        "undoable",
        "load",
    )
    assert rollback.rollback_step == "undo_load"


def test_a_transactions_rollback_logs_its_steps_when_it_has_run(
    orchestrator: PluginOrchestrator, plugins: PluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    def refund(params: dict[str, Any]) -> dict[str, Any]:
        if params["who"] == "bob":
            raise RuntimeError("the bank is closed")
        return {}

    plugins.register_plugin(FunctionPlugin("bank", debit=lambda p: dict(p), refund=refund))
    wf = Workflow("pay").add_step(step("debit", "bank", "debit"))
    wf.add_rollback_step("debit", step("refund", "bank", "refund"))
    assert orchestrator.register_workflow(wf)
    assert orchestrator.begin_transaction("tx")
    ids = [
        orchestrator.execute_workflow("pay", {"who": who}, transaction_id="tx").value()
        for who in ("alice", "bob")
    ]
    caplog.set_level(logging.INFO, logger=EXECUTION)
    orchestrator.rollback_transaction("tx")
    seen = [
        (r.levelname, r.execution_id, r.workflow_id, r.event_kind)
        for r in _records(caplog)
        if r.event_kind.startswith("rollback")
    ]
    assert seen == [  # newest first
        ("ERROR", ids[1], "pay", "rollback_failed"),
        ("INFO", ids[0], "pay", "rollback_completed"),
    ]


def test_a_resume_from_the_journal_is_logged(
    qapp: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=EXECUTION)
    plugins = PluginManager()
    broken = {"save": True}

    def save(params: dict[str, Any]) -> dict[str, Any]:
        if broken["save"]:
            raise OSError("the share is offline")
        return {}

    plugins.register_plugin(FunctionPlugin("p", ok=lambda p: {"ok": True}, save=save))
    wf = Workflow("etl").set_execution_mode(ExecutionMode.Sequential)
    wf.add_step(step("load", "p", "ok")).add_step(step("save", "p", "save", "load"))
    orchestrator = PluginOrchestrator(plugin_manager=plugins, journal=tmp_path / "runs.sqlite")
    try:
        assert orchestrator.register_workflow(wf)
        failed = orchestrator.execute_workflow("etl").error().context["execution_id"]
        broken["save"] = False
        resumed = orchestrator.resume_execution(failed)
        assert resumed, resumed
        assert orchestrator.wait_for_execution(resumed.value(), 10_000)
    finally:
        assert orchestrator.shutdown(5000)
    (record,) = [r for r in _records(caplog) if r.event_kind == "resumed_from_journal"]
    assert record.getMessage() == (
        f"execution {resumed.value()} of workflow etl resumes execution {failed} "
        "(1 completed steps reused)"
    )
    assert (record.execution_id, record.workflow_id, record.resumed_from) == (
        resumed.value(),
        "etl",
        failed,
    )


class _FailureWithError(ExecutionEvent):
    """A failure event that carries its step's error, where ``ExecutionEvent`` has no field
    for it."""


def _failure_event(error: PluginError) -> ExecutionEvent:
    """A ``TASK_FAILED`` event of execution ``x1``'s step ``save`` carrying ``error``."""
    args = ("x1", "save", error.message)
    if "error" in ExecutionEvent._fields:
        return ExecutionEvent(EventKind.TASK_FAILED, args, "x1", error=error)  # type: ignore[call-arg]
    event = _FailureWithError(EventKind.TASK_FAILED, args, "x1")
    event.error = error  # type: ignore[attr-defined]
    return event


@pytest.mark.parametrize("where", ["context", "details", "exception"])
def test_a_step_failure_is_logged_with_the_traceback_its_error_keeps(
    orchestrator: PluginOrchestrator,
    plugins: PluginManager,
    caplog: pytest.LogCaptureFixture,
    where: str,
) -> None:
    caplog.set_level(logging.ERROR, logger=EXECUTION)
    assert orchestrator.register_workflow(_workflow(plugins, failing=False))
    assert orchestrator.execute_workflow("etl")  # the log follows every execution from now on
    try:
        raise ValueError("the disk is full")
    except ValueError as exc:
        raised = exc
    text = 'Traceback (most recent call last):\n  File "etl.py", line 3, in save\nValueError\n'
    error = PluginError(
        PluginErrorCode.ExecutionFailed,
        "plugin 'p' command 'save' raised ValueError: the disk is full",
        details=text if where == "details" else "ValueError",
        context={"traceback": text} if where == "context" else None,
    )
    if where == "exception":
        error.exception = raised  # type: ignore[attr-defined]
    pump = orchestrator._core.engine.pump
    event = _failure_event(error)
    pump.post(event)
    pump.drain(None)
    (record,) = [r for r in _records(caplog) if r.execution_id == "x1"]
    assert record.levelname == "ERROR" and record.step_id == "save"
    formatted = caplog.handler.format(record)
    if where == "exception":
        assert record.exc_info is not None and record.exc_info[1] is raised
        assert 'raise ValueError("the disk is full")' in formatted
    else:
        assert record.traceback == text
        assert formatted.endswith(text.rstrip())


@pytest.mark.skipif(
    "error" not in ExecutionEvent._fields,
    reason="the stream's failure events carry no error here (ExecutionEvent.error)",
)
def test_a_plugins_exception_is_logged_with_its_traceback(
    orchestrator: PluginOrchestrator, plugins: PluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger=EXECUTION)
    assert orchestrator.register_workflow(_workflow(plugins, failing=True))
    assert not orchestrator.execute_workflow("etl")
    (record,) = [r for r in _records(caplog) if r.event_kind == "task_failed"]
    lines = record.getMessage().splitlines()
    assert lines[1] == "Traceback (most recent call last):"
    assert 'raise ValueError("the disk is full")' in record.getMessage()
    assert lines[-1] == "ValueError: the disk is full"
    assert record.traceback.startswith("Traceback (most recent call last):")


@pytest.mark.slow
def test_a_failing_execution_prints_nothing_when_the_app_configures_no_logging(
    tmp_path: Path,
) -> None:
    script = textwrap.dedent(
        """
        from qtforge_orch import FunctionPlugin, PluginManager, PluginOrchestrator, Workflow
        from qtforge_orch import WorkflowStep

        def fail(params):
            raise ValueError("the disk is full")

        plugins = PluginManager()
        plugins.register_plugin(FunctionPlugin("p", fail=fail))
        orchestrator = PluginOrchestrator(plugin_manager=plugins)
        orchestrator.register_workflow(Workflow("w").add_step(WorkflowStep("s", "p", "fail")))
        print(orchestrator.execute_workflow("w").error().message)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr
    assert "the disk is full" in done.stdout
    assert done.stderr == ""
