"""A journal file is data, never code: pickle is read only when opted in, damaged rows are
reported instead of raised, a full disk does not hang a synchronous execution, and what comes
back after a restart is what was recorded (declaration order, huge integers)."""

from __future__ import annotations

import pickle
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import (
    FunctionPlugin,
    PluginError,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    Workflow,
    WorkflowStep,
)
from qtforge_orch._engine import events
from qtforge_orch.journal import ExecutionJournal

from .journal_helpers import V1_DEFINITION, make_then_check, open_journal, raw

pytestmark = pytest.mark.timeout(60)


class _Marker:
    """Unpickling this opens (creates) the marker file: code run by reading the journal."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.path, "w"))


def _plugins(fail: list[bool]) -> PluginManager:
    def make(_: dict[str, Any]) -> dict[str, Any]:
        return {"pair": (1, 2)}  # a tuple: JSON cannot store it exactly

    def check(_: dict[str, Any]) -> dict[str, Any]:
        if fail[0]:
            raise RuntimeError("check failed")
        return {"checked": True}

    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("p", {"make": make, "check": check}))
    return plugins


def _failed_trusted_run(path: Path, fail: list[bool]) -> str:
    """A failed execution recorded by a journal that pickles (its ``make`` output is a tuple);
    the journal is closed afterwards. Returns the execution id."""
    trusted = PluginOrchestrator(
        plugin_manager=_plugins(fail), journal=ExecutionJournal(path, pickle_fallback=True)
    )
    assert trusted.register_workflow(make_then_check("pickled"))
    failed = trusted.execute_workflow("pickled", {"n": 1})
    execution_id: str = failed.error().context["execution_id"]
    trusted.shutdown()
    journal = trusted.journal()
    assert journal is not None and journal.close()
    return execution_id


def test_a_journal_without_pickle_fallback_never_unpickles_a_crafted_row(
    qapp: Any, tmp_path: Path
) -> None:
    path, marker = tmp_path / "runs.sqlite", tmp_path / "ran-code"
    fail = [True]
    execution_id = _failed_trusted_run(path, fail)
    evil = pickle.dumps(_Marker(marker))
    with raw(path) as db:  # an attacker rewrites every pickle-capable column
        assert db.execute("UPDATE tasks SET output = ? WHERE encoding = 'pickle'", (evil,)).rowcount
        db.execute(
            "UPDATE executions SET initial_data = ?, initial_encoding = 'pickle', result = ?, "
            "result_encoding = 'pickle'",
            (evil, evil),
        )

    orchestrator = PluginOrchestrator(plugin_manager=_plugins(fail), journal=str(path))
    try:
        assert orchestrator.register_workflow(make_then_check("pickled"))
        assert orchestrator.get_execution_history().value().executions
        status = orchestrator.get_execution_status(execution_id).value()
        assert status["status"] == "failed"
        results = orchestrator.get_step_results(execution_id).value()
        assert [r.step_id for r in results] == ["make", "check"]
        resumed = orchestrator.resume_execution(execution_id)
        assert resumed.error().code == PluginErrorCode.InvalidState  # its input is a preview
        assert "pickle_fallback" in resumed.error().message
        journal = orchestrator.journal()
        assert journal is not None
        (make, _) = journal.task_records(execution_id)
        assert make.resumable is False and make.note is not None
        assert "pickle_fallback" in make.note
        assert make.output["__unstorable__"] == "pickle"
        assert journal.completed_outputs(execution_id) == {}
        record = journal.execution(execution_id)
        assert record is not None and record.resumable is False
        assert any("pickle_fallback" in note for note in record.notes)
    finally:
        orchestrator.shutdown()
    assert not marker.exists(), "reading the journal ran code named by the file"


def test_resume_reruns_a_step_whose_output_was_pickled_when_pickle_is_off(
    qapp: Any, tmp_path: Path
) -> None:
    path, marker = tmp_path / "runs.sqlite", tmp_path / "ran-code"
    fail = [True]
    execution_id = _failed_trusted_run(path, fail)
    with raw(path) as db:
        db.execute(
            "UPDATE tasks SET output = ? WHERE encoding = 'pickle'",
            (pickle.dumps(_Marker(marker)),),
        )
    fail[0] = False
    orchestrator = PluginOrchestrator(plugin_manager=_plugins(fail), journal=str(path))
    try:
        assert orchestrator.register_workflow(make_then_check("pickled"))
        resumed = orchestrator.resume_execution(execution_id).value()
        assert orchestrator.wait_for_execution(resumed, 10_000)
        assert orchestrator.get_execution_status(resumed).value()["status"] == "completed"
    finally:
        orchestrator.shutdown()
    assert not marker.exists()


def _full_disk(*_: Any) -> None:
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode = 13  # type: ignore[attr-defined]  # SQLITE_FULL, as SQLite raises it
    raise error


def test_a_synchronous_execution_on_a_full_disk_returns_within_the_flush_bound(
    qapp: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "JOURNAL_FLUSH_BOUND_S", 0.3)
    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("p", {"ok": lambda params: {"ok": True}}))
    journal = open_journal(tmp_path / "runs.sqlite")
    orchestrator = PluginOrchestrator(plugin_manager=plugins, journal=journal)
    workflow = Workflow("w", "w").add_step(WorkflowStep("a", "p", "ok"))
    assert orchestrator.register_workflow(workflow)
    apply = journal._writer._apply
    journal._writer._apply = _full_disk  # every write from now on fails as a full disk does
    try:
        started = time.monotonic()
        result = orchestrator.execute_workflow("w")
        took = time.monotonic() - started
        assert took < 3.0, f"a synchronous execution waited {took:.1f} s for a full disk"
        error = result.error()
        assert error.code == PluginErrorCode.FileSystemError
        assert "disk is full" in error.message
        execution_id = error.context["execution_id"]
        assert error.context["status"] == "completed"
        assert orchestrator.get_execution_status(execution_id).value()["status"] == "completed"
    finally:
        journal._writer._apply = apply  # the disk has room again: the records go in
    assert journal.flush(10)
    record = journal.execution(execution_id)
    assert record is not None and record.status == "completed"
    orchestrator.shutdown()


def test_step_results_read_back_after_a_restart_keep_declaration_order(
    qapp: Any, tmp_path: Path
) -> None:
    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("p", {"ok": lambda params: {}}))
    workflow = Workflow("order", "order")
    for step_id in ("zeta", "alpha", "mid", "beta"):
        workflow.add_step(WorkflowStep(step_id, "p", "ok"))
    first = PluginOrchestrator(plugin_manager=plugins, journal=str(tmp_path / "runs.sqlite"))
    assert first.register_workflow(workflow)
    execution_id = first.execute_workflow("order").value()
    first.shutdown()
    journal = first.journal()
    assert journal is not None and journal.close()
    later = PluginOrchestrator(plugin_manager=plugins, journal=str(tmp_path / "runs.sqlite"))
    try:
        results = later.get_step_results(execution_id).value()
        assert [r.step_id for r in results] == ["zeta", "alpha", "mid", "beta"]
        steps = later.get_execution_status(execution_id).value()["step_results"]
        assert [step["step_id"] for step in steps] == ["zeta", "alpha", "mid", "beta"]
    finally:
        later.shutdown()


def test_an_integer_past_pythons_string_limit_is_stored_exactly(tmp_path: Path) -> None:
    huge = 7**6000  # about 5,070 digits: str() refuses it by default
    value = {"n": huge, "list": [1, -huge, {"deep": huge + 1}], "small": 3}
    with open_journal(tmp_path / "runs.sqlite") as journal:
        journal.execution_started("e", "wf", "v1", V1_DEFINITION, {"seed": huge}, None, 1.0)
        journal.task_changed("e", "t", "completed", 1, value, None, 1.0)
        journal.execution_finished("e", "completed", value, None, [], 2.0)
        assert journal.flush(10)
        (task,) = journal.task_records("e")
        assert task.output == value and task.resumable and task.note is None
        assert journal.completed_outputs("e") == {"t": value}
        record = journal.execution("e")
        assert record is not None
        assert record.initial_data == {"seed": huge} and record.result == value
        assert record.resumable and record.notes == []


def test_a_tampered_schema_version_is_a_corrupt_journal(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with open_journal(path):
        pass
    for tampered in ("abc", "", "2.5", "1e9"):
        with raw(path) as db:
            db.execute(
                "UPDATE journal_meta SET value = ? WHERE key = 'schema_version'", (tampered,)
            )
        with pytest.raises(PluginError) as raised:
            ExecutionJournal(path)
        assert raised.value.code == PluginErrorCode.InvalidFormat
        assert raised.value.context["reason"] == "corrupt", tampered
    with raw(path) as db:
        db.execute("DELETE FROM journal_meta WHERE key = 'schema_version'")
        db.execute("INSERT INTO journal_meta (key, value) VALUES ('schema_version', x'ff00')")
    with pytest.raises(PluginError) as raised:
        ExecutionJournal(path)
    assert raised.value.context["reason"] == "corrupt"


def _damaged(path: Path, pickle_fallback: bool) -> None:
    with open_journal(path, pickle_fallback=pickle_fallback) as journal:
        journal.execution_started("e", "wf", "v1", V1_DEFINITION, {"n": 1}, None, 1.0)
        for key in ("json", "pickle", "lossy", "unknown", "fine"):
            journal.task_changed(
                "e", key, "completed", 1, {"v": (1,) if key == "pickle" else 1}, None, 1.0
            )
        journal.execution_finished("e", "failed", {"r": 1}, "boom", ["boom"], 2.0)
    with raw(path) as db:
        db.execute(
            "UPDATE tasks SET output = '{\"v\": ', encoding = 'json' WHERE task_key = 'json'"
        )
        db.execute(
            "UPDATE tasks SET output = x'80049500', encoding = 'pickle' WHERE task_key = 'pickle'"
        )
        db.execute("UPDATE tasks SET output = 'nope', encoding = 'lossy' WHERE task_key = 'lossy'")
        db.execute("UPDATE tasks SET encoding = 'yaml' WHERE task_key = 'unknown'")
        db.execute(
            "UPDATE executions SET initial_data = '[', result = x'00ff', error_messages = '{]'"
        )


@pytest.mark.parametrize("pickle_fallback", [False, True])
def test_damaged_rows_are_reported_in_the_row_not_raised(
    tmp_path: Path, pickle_fallback: bool
) -> None:
    path = tmp_path / "runs.sqlite"
    _damaged(path, pickle_fallback)
    with open_journal(path, pickle_fallback=pickle_fallback) as journal:
        tasks = {task.task_key: task for task in journal.task_records("e")}
        for key in ("json", "pickle", "lossy", "unknown"):
            task = tasks[key]
            assert task.resumable is False, key
            # Without the opt-in a pickle is not even looked at, damaged or not.
            why = "pickle_fallback" if key == "pickle" and not pickle_fallback else "damaged"
            assert task.note is not None and why in task.note, (key, task.note)
        assert "yaml" in (tasks["unknown"].note or "")
        assert tasks["fine"].output == {"v": 1} and tasks["fine"].note is None
        assert journal.completed_outputs("e") == {"fine": {"v": 1}}
        record = journal.execution("e")
        assert record is not None
        assert record.resumable is False
        assert record.initial_data is None and record.result is None
        assert record.error_messages == ["{]"]
        assert sum("damaged" in note for note in record.notes) == 3, record.notes


def test_status_of_a_damaged_execution_is_reported_not_raised(qapp: Any, tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("p", {"ok": lambda params: {"v": 1}}))
    workflow = Workflow("w", "w").add_step(WorkflowStep("a", "p", "ok"))
    first = PluginOrchestrator(plugin_manager=plugins, journal=str(path))
    assert first.register_workflow(workflow)
    execution_id = first.execute_workflow("w", {"n": 1}).value()
    first.shutdown()
    journal = first.journal()
    assert journal is not None and journal.close()
    with raw(path) as db:
        db.execute("UPDATE tasks SET output = '{'")
        db.execute("UPDATE executions SET result = '[', error_messages = 'x'")
    later = PluginOrchestrator(plugin_manager=plugins, journal=str(path))
    try:
        status = later.get_execution_status(execution_id).value()
        assert status["status"] == "completed"
        assert later.get_step_results(execution_id).value()[0].result_data == {}
        assert later.get_execution_history().value().executions[0].execution_id == execution_id
    finally:
        later.shutdown()
