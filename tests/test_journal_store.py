"""The journal's records and queries: round trips, rollbacks, transactions, paging."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from qtforge_orch.journal import (
    ExecutionJournal,
    ExecutionRecord,
    definition_hash,
)

from .journal_helpers import V1_DEFINITION, open_journal, raw

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[ExecutionJournal]:
    journal = open_journal(tmp_path / "runs.sqlite")
    yield journal
    assert journal.close()


def _started(journal: ExecutionJournal, eid: str, workflow: str = "wf", at: float = 100.0) -> int:
    return journal.execution_started(eid, workflow, "v1", V1_DEFINITION, {"n": 1}, None, at)


def _record(journal: ExecutionJournal, eid: str) -> ExecutionRecord:
    assert journal.flush(10)
    record = journal.execution(eid)
    assert record is not None
    return record


# ------------------------------------------------------------------------------ round trips


def test_an_execution_and_its_tasks_round_trip(journal: ExecutionJournal) -> None:
    journal.execution_started("e1", "wf", "v1", V1_DEFINITION, {"rows": [1, 2]}, None, 100.0)
    journal.task_changed("e1", "load", "started", 1, None, None, 101.0)
    journal.task_changed("e1", "load", "retrying", 1, None, "flaky", 102.0)
    journal.task_changed("e1", "load", "started", 2, None, None, 103.0)
    journal.task_changed("e1", "load", "completed", 2, {"rows": 3}, None, 104.0)
    journal.task_changed("e1", "check", "started", 1, None, None, 105.0)
    journal.task_changed("e1", "check", "failed", 1, None, "bad row", 106.0)
    journal.task_changed("e1", "save", "skipped", 0, None, None, 107.0)
    last = journal.execution_finished(
        "e1", "failed", {"load": {"rows": 3}}, "bad row", ["check: bad row"], 108.0
    )
    assert last == 9
    assert journal.wait_committed(last, 10)
    assert journal.committed_seq() >= last

    record = _record(journal, "e1")
    assert (record.workflow_id, record.kind, record.status) == ("wf", "v1", "failed")
    assert (record.started_at, record.ended_at) == (100.0, 108.0)
    assert record.definition_json == V1_DEFINITION
    assert record.definition_hash == definition_hash(V1_DEFINITION)
    assert record.initial_data == {"rows": [1, 2]}
    assert record.result == {"load": {"rows": 3}}
    assert record.error == "bad row"
    assert record.error_messages == ["check: bad row"]
    assert (record.resumed_from, record.resumed_as, record.resumable) == (None, None, True)
    assert record.notes == []

    tasks = journal.task_records("e1")
    assert [t.task_key for t in tasks] == ["load", "check", "save"]  # first-recorded order
    load, check, save = tasks
    assert (load.state, load.attempts, load.output, load.error) == (
        "completed",
        2,
        {"rows": 3},
        None,
    )
    assert (load.started_at, load.ended_at, load.resumable, load.encoding) == (
        101.0,
        104.0,
        True,
        "json",
    )
    assert (check.state, check.error, check.started_at, check.ended_at) == (
        "failed",
        "bad row",
        105.0,
        106.0,
    )
    assert (save.state, save.started_at, save.ended_at, save.output) == (
        "skipped",
        None,
        107.0,
        None,
    )
    assert journal.completed_outputs("e1") == {"load": {"rows": 3}}


def test_unknown_ids_give_empty_answers(journal: ExecutionJournal) -> None:
    assert journal.execution("nope") is None
    assert journal.task_records("nope") == []
    assert journal.completed_outputs("nope") == {}
    assert journal.rollbacks_done("nope") == set()
    assert journal.transaction("nope") is None


def test_rollbacks_and_transactions_round_trip(journal: ExecutionJournal) -> None:
    _started(journal, "e1")
    _started(journal, "e2")
    journal.transaction_changed("tx", "begun", ["e1"], 100.0)
    journal.transaction_changed("tx", "begun", ("e2",), 101.0)
    journal.rollback_recorded("e1", "load", True, None, 102.0)
    journal.rollback_recorded("e1", "save", False, "disk gone", 103.0)
    journal.transaction_changed("tx", "rolled_back", [], 104.0)
    assert journal.flush(10)
    assert journal.rollbacks_done("e1") == {"load", "save"}
    assert journal.rollbacks_done("e2") == set()
    tx = journal.transaction("tx")
    assert tx is not None
    assert (tx.state, tx.execution_ids, tx.begun_at, tx.ended_at) == (
        "rolled_back",
        ["e1", "e2"],
        100.0,
        104.0,
    )


def test_record_arguments_are_checked_at_once(journal: ExecutionJournal) -> None:
    with pytest.raises(ValueError, match="state must be one of"):
        journal.task_changed("e", "t", "done", 1, None, None, 1.0)
    with pytest.raises(ValueError, match="kind must be one of"):
        journal.execution_started("e", "wf", "v3", "{}", None, None, 1.0)
    with pytest.raises(ValueError, match="status must be one of"):
        journal.execution_finished("e", "running", None, None, [], 1.0)
    with pytest.raises(ValueError, match="state must be one of"):
        journal.transaction_changed("tx", "open", [], 1.0)
    assert journal.last_seq() == 0


def test_a_resume_links_both_executions(journal: ExecutionJournal) -> None:
    _started(journal, "e1")
    journal.execution_finished("e1", "failed", None, "boom", ["boom"], 101.0)
    journal.execution_started("e2", "wf", "v1", V1_DEFINITION, {"n": 1}, "e1", 102.0)
    assert _record(journal, "e1").resumed_as == "e2"
    assert _record(journal, "e2").resumed_from == "e1"


def test_each_distinct_definition_is_stored_once(journal: ExecutionJournal) -> None:
    for i in range(5):
        _started(journal, f"e{i}")
    spaced = json.dumps(json.loads(V1_DEFINITION), indent=4)
    journal.execution_started("e9", "wf", "v1", spaced, None, None, 1.0)
    journal.execution_started("bad", "wf", "v1", "{not json", None, None, 1.0)
    assert journal.flush(10)
    with raw(journal.path) as db:
        assert db.execute("SELECT count(*) FROM definitions").fetchone()[0] == 2
    # The same content: stored once, under the text that was recorded first.
    assert _record(journal, "e9").definition_json == V1_DEFINITION
    assert _record(journal, "e9").definition_hash == definition_hash(spaced)
    bad = _record(journal, "bad")
    assert bad.definition_json == "{not json"
    assert bad.definition_hash.startswith("raw:")
    assert any("not valid JSON" in note for note in bad.notes)


# ------------------------------------------------------------------------------ paging


def test_list_executions_pages_newest_first(journal: ExecutionJournal) -> None:
    for i in range(120):
        _started(journal, f"e{i:03d}", workflow="a" if i % 3 else "b", at=1000.0 + i)
        if i % 2:
            journal.execution_finished(f"e{i:03d}", "completed", None, None, [], 2000.0 + i)
    assert journal.flush(10)

    seen: list[str] = []
    cursor: str | None = None
    sizes = []
    while True:
        page = journal.list_executions(limit=50, before=cursor)
        sizes.append(len(page.executions))
        seen += [e.execution_id for e in page.executions]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sizes == [50, 50, 20]
    assert seen == [f"e{i:03d}" for i in reversed(range(120))]

    b = journal.list_executions("b", limit=1000)
    assert [e.execution_id for e in b.executions] == [
        f"e{i:03d}" for i in reversed(range(0, 120, 3))
    ]
    assert b.next_cursor is None
    first = journal.list_executions("a", limit=5)
    second = journal.list_executions("a", limit=5, before=first.next_cursor)
    assert [e.execution_id for e in first.executions + second.executions] == [
        f"e{i:03d}" for i in reversed(range(120)) if i % 3
    ][:10]
    running = journal.list_executions(status="running", limit=1000).executions
    assert len(running) == 60 and all(e.status == "running" for e in running)
    summary = journal.list_executions(limit=1).executions[0]
    assert (summary.execution_id, summary.status, summary.started_at, summary.ended_at) == (
        "e119",
        "completed",
        1119.0,
        2119.0,
    )


def test_bad_paging_arguments_are_refused(journal: ExecutionJournal) -> None:
    with pytest.raises(ValueError, match="cursor"):
        journal.list_executions(before="yesterday")
    with pytest.raises(ValueError, match="limit"):
        journal.list_executions(limit=0)
    with pytest.raises(ValueError, match="status"):
        journal.list_executions(status="paused")


def test_the_journal_offers_what_the_engine_records_into() -> None:
    """``ExecutionJournal`` against the engine's ``JournalSink`` protocol (once it exists):
    every method, with the same parameter names."""
    journaling = pytest.importorskip("qtforge_orch._engine.journal_link")
    sink = journaling.JournalSink
    methods = [n for n, v in vars(sink).items() if callable(v) and not n.startswith("_")]
    assert "task_changed" in methods
    for name in methods:
        wanted = list(inspect.signature(getattr(sink, name)).parameters)
        assert list(inspect.signature(getattr(ExecutionJournal, name)).parameters) == wanted
