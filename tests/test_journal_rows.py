"""Task rows written many per statement: the plain-completion statements, chunks up to the
parameter limit, and an engine run's rows against its records written one at a time."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import FunctionPlugin, PluginManager, PluginOrchestrator, Workflow, WorkflowStep
from qtforge_orch.journal._task_rows import TaskStatements, plain_prefix
from qtforge_orch.journal.writer import TASK_CHANGED

from .journal_helpers import open_journal, task_table

Record = tuple[Any, ...]  # task_changed's arguments


def _write(
    path: Path,
    executions: list[str],
    records: list[Record],
    one_per_batch: bool,
    earlier: tuple[Record, ...] = (),
) -> None:
    """Record ``records`` after starting ``executions`` (and recording ``earlier`` in the
    same batch): each in a batch of its own, or all in one batch (a long batching delay: only
    flush() ends a batch)."""
    with open_journal(path, max_batch_delay=30) as journal:
        for execution_id in executions:
            journal.execution_started(execution_id, "wf", "v1", "{}", None, None, 0.0)
        for record in earlier:
            journal.task_changed(*record)
        assert journal.flush(10)
        for record in records:
            journal.task_changed(*record)
            if one_per_batch:
                assert journal.flush(10)
        assert journal.flush(10)
        assert journal.stats().batches == 1 + (len(records) if one_per_batch else 1)


def test_runs_of_plain_completions_past_the_largest_chunk_store_what_single_records_store(
    tmp_path: Path,
) -> None:
    """More rows than one statement takes, plain completions of two executions in runs (a
    start and its completion, or a completion alone, updating a row a started record made),
    broken by rows the general statement writes (an error, a lossy output, a note)."""
    records: list[Record] = []
    for i in range(1100):
        execution_id = "e1" if i < 700 or i % 50 == 7 else "e2"
        key = f"t{i}"
        if i % 97 != 5:
            records.append((execution_id, key, "started", 1, None, None, float(i)))
        if i % 211 == 3:
            records.append((execution_id, key, "failed", 1, None, f"boom {i}", i + 0.5))
        elif i % 173 == 11:
            records.append((execution_id, key, "completed", 1, {"t": (i,)}, None, i + 0.5))
        else:
            output = {} if i % 3 else {"i": i, "s": "é\n\x01", "f": 1.5, "n": None}
            records.append((execution_id, key, "completed", 1, output, None, i + 0.5))
    one, batched = tmp_path / "one.sqlite", tmp_path / "all.sqlite"
    _write(one, ["e1", "e2"], records, one_per_batch=True)
    _write(batched, ["e1", "e2"], records, one_per_batch=False)
    rows = task_table(batched)
    assert rows == task_table(one)
    assert len(rows) == 1100
    plain = rows[1]  # t1: started, then completed with {}
    assert plain[2:24] == (
        "t1", "text", "completed", "text", 1, "integer", "{}", "text", "json", "text", 1,
        "integer", None, "null", None, "null", 1.0, "real", 1.5, "real", None, "null",
    )  # fmt: skip


def test_a_batch_starting_with_plain_completions_stores_what_single_records_store(
    tmp_path: Path,
) -> None:
    """A batch's leading plain completions go straight to the plain statements, the rest is
    folded: the prefix ends at a task seen already in it, at another execution, at a record
    that is not a plain completion; later records of its tasks still update their rows."""
    earlier: tuple[Record, ...] = (("e1", "t3", "started", 1, None, None, 1.0),)
    records: list[Record] = [
        ("e1", "t0", "completed", 1, {}, None, 2.0),  # no start recorded: started_at NULL
        ("e1", "t1", "started", 1, None, None, 3.0),
        ("e1", "t1", "completed", 1, {"a": [1, 2]}, None, 4.0),  # merged with its start
        ("e1", "t3", "completed", 1, {}, None, 5.0),  # keeps the earlier batch's start
        ("e1", "t0", "completed", 2, {"again": True}, None, 6.0),  # t0 again: prefix ends
        ("e1", "t2", "started", 1, None, None, 7.0),
        ("e1", "t2", "failed", 1, None, "boom", 8.0),
        ("e1", "t1", "started", 2, None, None, 9.0),
        ("e1", "t1", "completed", 2, {}, None, 10.0),
        ("e2", "t0", "completed", 1, {}, None, 11.0),
    ]
    tables = []
    for name, one_per_batch in (("one", True), ("all", False)):
        path = tmp_path / f"{name}.sqlite"
        _write(path, ["e1", "e2"], records, one_per_batch, earlier=earlier)
        tables.append(task_table(path))
    assert tables[0] == tables[1]
    by_key = {(row[0], row[2]): row for row in tables[1]}  # e1 is execution row 1
    assert by_key[1, "t0"][8:10] == ('{"again":true}', "text")
    assert by_key[1, "t0"][18:20] == (None, "null")  # never started
    assert by_key[1, "t3"][18:20] == (1.0, "real")
    assert by_key[1, "t1"][4:10] == ("completed", "text", 2, "integer", "{}", "text")
    assert by_key[1, "t2"][4:6] == ("failed", "text")


def test_plain_prefix_stops_at_the_first_record_that_needs_folding() -> None:
    ops = [
        (TASK_CHANGED, "e", "a", "completed", 1, {}, None, 2.0, 1.0),
        (TASK_CHANGED, "e", "b", "completed", 3, {"x": 1}, None, 4.0),
        (TASK_CHANGED, "e", "c", "completed", 1, {"t": (1,)}, None, 5.0),  # json-int
    ]
    count, execution, params = plain_prefix(ops, pickle_fallback=False)
    assert (count, execution) == (2, "e")
    assert params[:7] == ["a", 1, "{}", 1.0, 2.0, "b", 3]
    assert params[7] == '{"x":1}' and params[8] != params[8] and params[9] == 4.0  # NaN: NULL
    for stop in (
        (TASK_CHANGED, "e", "a", "completed", 1, {}, None, 2.0),  # a task seen already
        (TASK_CHANGED, "f", "d", "completed", 1, {}, None, 2.0),  # another execution
        (TASK_CHANGED, "e", "d", "started", 1, None, None, 2.0),
        (TASK_CHANGED, "e", "d", "completed", 1, {}, "a note", 2.0),  # with an error
        (TASK_CHANGED, "e", "d", "completed", 1, None, None, 2.0),  # no output
    ):
        assert plain_prefix([ops[0], stop], pickle_fallback=False)[0] == 1
    assert plain_prefix([], pickle_fallback=False)[0] == 0


def test_statements_stay_within_the_connections_parameter_limit(tmp_path: Path) -> None:
    path = tmp_path / "limit.sqlite"
    open_journal(path).close()
    connection = sqlite3.connect(path)
    try:
        usual = TaskStatements(connection)  # 999 or more: 64 rows a statement
        assert list(usual.general) == list(usual.plain) == [64, 32, 16, 8, 4, 2, 1]
        connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 200)
        low = TaskStatements(connection)
        # 12 parameters a general row, 5 a plain one plus the execution id: 16 and 39 rows.
        assert list(low.general) == [16, 8, 4, 2, 1]
        assert list(low.plain) == [32, 16, 8, 4, 2, 1]
        for size, sql in low.general.items():  # each compiles within the limit
            connection.execute("EXPLAIN " + sql, [0] * (12 * size)).fetchall()
        for size, sql in low.plain.items():
            connection.execute("EXPLAIN " + sql, [0] * (5 * size + 1)).fetchall()
        with pytest.raises(sqlite3.OperationalError, match="too many SQL variables"):
            connection.execute("EXPLAIN " + usual.general[32], [0] * 12 * 32)
    finally:
        connection.close()


def _mixed_workflow(steps: int) -> tuple[Workflow, FunctionPlugin]:
    tries: dict[str, int] = {}

    def flaky(params: dict[str, Any]) -> dict[str, Any]:
        tries["flaky"] = tries.get("flaky", 0) + 1
        if tries["flaky"] % 2:
            raise RuntimeError("first attempt fails")
        return {"v": [1, 2], "s": "é"}

    def bad(params: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("always fails")

    plugin = FunctionPlugin(
        "p",
        {
            "noop": lambda params: {},
            "value": lambda params: {"n": 3, "x": None},
            "tuple": lambda params: {"t": (1, 2)},
            "flaky": flaky,
            "bad": bad,
        },
    )
    workflow = Workflow("mixed", "mixed")
    previous = ""

    def add(step: WorkflowStep) -> None:
        nonlocal previous
        if previous:
            step.dependencies = [previous]
        workflow.add_step(step)
        previous = step.id

    for i in range(steps):
        add(WorkflowStep(f"n{i}", "p", "noop"))
        if i == steps // 4:
            add(WorkflowStep("flaky", "p", "flaky", max_retries=1, retry_delay=0))
            add(WorkflowStep("value", "p", "value"))
        if i == steps // 2:
            add(WorkflowStep("tuple", "p", "tuple"))
            add(WorkflowStep("bad", "p", "bad", critical=False))
            add(WorkflowStep("skipped", "p", "noop", condition="n > 5"))
    return workflow, plugin


def test_an_engine_run_stores_what_its_records_store_one_at_a_time(
    qapp: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine records through ``task_recorder`` and the writer folds, merges and chunks:
    a workflow with a retry, a failure, a skipped step, outputs of every kind and runs of
    no-op steps leaves exactly the task rows its records leave written one by one."""
    journal = open_journal(tmp_path / "engine.sqlite", max_batch_delay=0.002)
    records: list[Record] = []
    record = journal.task_recorder()

    def recording(*args: Any) -> int:
        records.append(args)
        return record(*args)

    monkeypatch.setattr(journal, "task_recorder", lambda: recording)
    workflow, plugin = _mixed_workflow(150)
    plugins = PluginManager()
    plugins.register_plugin(plugin)
    orchestrator = PluginOrchestrator(plugin_manager=plugins, journal=journal)
    executions = []
    try:
        assert orchestrator.register_workflow(workflow)
        for _ in range(2):
            result = orchestrator.execute_workflow("mixed", {"n": 1})
            assert result, result
            executions.append(result.value())
    finally:
        orchestrator.shutdown()
        journal.close()
    states = {(r[1], r[2]) for r in records}
    assert {("flaky", "retrying"), ("bad", "failed"), ("skipped", "skipped")} <= states
    reference = tmp_path / "reference.sqlite"
    _write(reference, executions, records, one_per_batch=True)
    rows = task_table(tmp_path / "engine.sqlite")
    assert rows == task_table(reference)
    assert len(rows) == 2 * (150 + 5)


def test_a_task_record_of_an_execution_never_started_is_dropped_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Task rows refer to their execution's row: a record for an id the file does not have is
    dropped (counted, logged); the batch's other records are written."""
    path = tmp_path / "runs.sqlite"
    with open_journal(path, max_batch_delay=30) as journal:
        journal.execution_started("e1", "wf", "v1", "{}", None, None, 0.0)
        journal.task_changed("e1", "a", "completed", 1, {}, None, 1.0)
        journal.task_changed("ghost", "a", "completed", 1, {}, None, 2.0)
        journal.task_changed("e1", "b", "completed", 1, {}, None, 3.0)
        assert journal.flush(10)
        assert journal.stats().dropped == 1
        assert [t.task_key for t in journal.task_records("e1")] == ["a", "b"]
        assert journal.task_records("ghost") == []
    assert "never started" in caplog.text
