"""The journal's records and queries: round trips, value encoding, paging, workflow versions."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch.journal import (
    ExecutionJournal,
    ExecutionRecord,
    definition_hash,
    describe_changes,
)
from tests.journal_helpers import V1_DEFINITION, open_journal, raw

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


# ------------------------------------------------------------------------------ encoding

PLAIN_VALUES: list[Any] = [
    {"a": 1, "b": [1, 2.5, None, True, False, "x"], "c": {"d": {"e": []}}},
    {"unicode": "žluťoučký 🐍", "big": 2**80, "neg": -1.5e-300, "empty": {}},
    {"inf": float("inf"), "list_of_dicts": [{"k": "v"}] * 3},
]


@pytest.mark.parametrize("value", PLAIN_VALUES)
def test_plain_json_values_come_back_equal(journal: ExecutionJournal, value: Any) -> None:
    _started(journal, "e")
    journal.task_changed("e", "t", "completed", 1, value, None, 1.0)
    assert journal.flush(10)
    (task,) = journal.task_records("e")
    assert (task.output, task.encoding, task.resumable, task.note) == (value, "json", True, None)
    assert journal.completed_outputs("e") == {"t": value}


NOT_JSON: list[tuple[Any, str, str]] = [
    ({"pair": (1, 2)}, "tuple", "['pair']"),
    ({1: "one"}, "int key 1", "the value"),
    ({"when": datetime(2024, 1, 2, tzinfo=UTC)}, "datetime.datetime", "['when']"),
    ({"deep": [{"ok": 1}, {"tags": {"a", "b"}}]}, "set", "['deep'][1]['tags']"),
    ({"price": Decimal("1.10")}, "decimal.Decimal", "['price']"),
]


@pytest.mark.parametrize(("value", "what", "where"), NOT_JSON)
def test_values_json_cannot_store_make_the_task_not_resumable(
    journal: ExecutionJournal, value: Any, what: str, where: str
) -> None:
    _started(journal, "e")
    journal.task_changed("e", "t", "completed", 1, value, None, 1.0)
    assert journal.flush(10)
    (task,) = journal.task_records("e")
    assert task.state == "completed"  # recorded, never dropped
    assert (task.resumable, task.encoding) == (False, "lossy")
    assert task.note is not None and what in task.note and where in task.note
    assert "pickle_fallback is off" in task.note
    assert task.output is not None  # a preview of what it was
    assert journal.completed_outputs("e") == {}  # a resume reruns it


def test_the_preview_shows_what_could_not_be_stored(journal: ExecutionJournal) -> None:
    _started(journal, "e")
    journal.task_changed("e", "t", "completed", 1, {"pair": (1, 2), "n": 3}, None, 1.0)
    assert journal.flush(10)
    assert journal.task_records("e")[0].output == {"pair": [1, 2], "n": 3}
    journal.task_changed("e", "u", "completed", 1, {"lock": threading.Lock()}, None, 1.0)
    assert journal.flush(10)
    preview = journal.task_records("e")[1].output["lock"]
    assert preview["__unstorable__"] == "_thread.lock"
    assert "lock" in preview["repr"]


@pytest.mark.parametrize(("value", "what", "where"), NOT_JSON)
def test_pickle_fallback_returns_the_original_values(
    tmp_path: Path, value: Any, what: str, where: str
) -> None:
    with open_journal(tmp_path / "p.sqlite", pickle_fallback=True) as journal:
        _started(journal, "e")
        journal.task_changed("e", "t", "completed", 1, value, None, 1.0)
        assert journal.flush(10)
        (task,) = journal.task_records("e")
        assert (task.encoding, task.resumable, task.note) == ("pickle", True, None)
        assert task.output == value
        assert journal.completed_outputs("e") == {"t": value}
        assert type(next(iter(journal.completed_outputs("e")["t"].values()))) is type(
            next(iter(value.values()))
        )


def test_pickle_fallback_still_notes_what_pickle_cannot_store(tmp_path: Path) -> None:
    with open_journal(tmp_path / "p.sqlite", pickle_fallback=True) as journal:
        _started(journal, "e")
        journal.task_changed("e", "t", "completed", 1, {"lock": threading.Lock()}, None, 1.0)
        assert journal.flush(10)
        (task,) = journal.task_records("e")
        assert (task.resumable, task.encoding) == (False, "lossy")
        assert task.note is not None and "pickle failed" in task.note
        assert "_thread.lock at ['lock']" in task.note


def test_cycles_and_deep_nesting_are_noted_not_fatal(journal: ExecutionJournal) -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    _started(journal, "e")
    journal.task_changed("e", "cyclic", "completed", 1, cyclic, None, 1.0)
    journal.task_changed("e", "deep", "completed", 1, {"deep": deep}, None, 1.0)
    journal.task_changed("e", "fine", "completed", 1, {"ok": True}, None, 1.0)
    assert journal.flush(10)
    tasks = {t.task_key: t for t in journal.task_records("e")}
    assert not tasks["cyclic"].resumable and "cycle" in (tasks["cyclic"].note or "")
    assert not tasks["deep"].resumable and tasks["deep"].note
    assert journal.completed_outputs("e") == {"fine": {"ok": True}}
    assert journal.stats().dropped == 0


def test_initial_data_and_result_that_json_cannot_store_are_noted(
    journal: ExecutionJournal,
) -> None:
    journal.execution_started("e", "wf", "v2", "{}", {"when": (1, 2)}, None, 1.0)
    journal.execution_finished("e", "completed", {"r": {1, 2}}, None, [], 2.0)
    record = _record(journal, "e")
    assert record.resumable is False
    assert len(record.notes) == 2
    assert record.notes[0].startswith("initial data: tuple at ['when']")
    assert record.notes[1].startswith("result: set at ['r']")
    assert record.initial_data == {"when": [1, 2]}


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


# ------------------------------------------------------------------------------ versions


def test_definition_hash_ignores_key_order_and_whitespace() -> None:
    a = '{"id": "wf", "steps": [{"id": "a", "x": 1}]}'
    b = '{\n  "steps": [ {"x": 1, "id": "a"} ],\n  "id": "wf"\n}'
    assert definition_hash(a) == definition_hash(b)
    assert len(definition_hash(a)) == 64
    assert definition_hash(a) != definition_hash(a.replace("1", "2"))
    with pytest.raises(ValueError):
        definition_hash("{")


def test_describe_changes_of_a_v1_workflow() -> None:
    old = json.loads((GOLDEN / "v1_written_here.json").read_text())
    new = json.loads(json.dumps(old))
    new["execution_mode"] = 0
    new["steps"]["save"]["timeout"] = 99
    new["steps"]["validate"]["condition"] = "row_count > 1"
    del new["steps"]["load"]["metadata"]
    new["steps"]["extra"] = {"id": "extra", "plugin_id": "p"}
    del new["rollback_steps"]["load"]
    assert describe_changes(json.dumps(old), json.dumps(old)) == []
    assert describe_changes(json.dumps(old), json.dumps(new)) == [
        "execution_mode changed from 1 to 0",
        "step 'extra' added",
        "step 'load': metadata removed (was {})",
        'step \'validate\': condition changed from "row_count > 0" to "row_count > 1"',
        "step 'save': timeout changed from 1234 to 99",
        "rollback step 'load' removed",
    ]


def test_describe_changes_of_a_v2_workflow() -> None:
    old = json.loads((GOLDEN / "v2_written_here.json").read_text())
    new = json.loads(json.dumps(old))
    new["nodes"] = [n for n in new["nodes"] if n["node_id"] != "audit"]
    new["nodes"][1]["configuration"] = {"threshold": 2}
    new["nodes"][0], new["nodes"][1] = new["nodes"][1], new["nodes"][0]
    new["connections"][1]["target_node_id"] = "filter"
    new["connections"].append({"connection_id": "c9", "source_node_id": "a"})
    changes = describe_changes(json.dumps(old), json.dumps(new))
    assert changes == [
        "node 'audit' removed",
        "node 'filter': configuration changed from {} to {\"threshold\":2}",
        "order of nodes changed",
        "connection 'c9' added",
        'connection \'c2\': target_node_id changed from "sink" to "filter"',
    ]


def test_describe_changes_of_other_documents() -> None:
    assert describe_changes('{"a": 1}', '{"b": 1}') == ["a removed (was 1)", "b added (1)"]
    assert describe_changes('{"steps": []}', '{"steps": [{"id": "x"}]}') == ["step 'x' added"]
    assert describe_changes("[1]", "[2]") == ["definition changed from [1] to [2]"]
    long = describe_changes('{"a": "x"}', json.dumps({"a": "y" * 500}))[0]
    assert len(long) < 120 and long.endswith("...")
