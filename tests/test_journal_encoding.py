"""How the journal stores values: JSON when exact, pickle if allowed, else a noted preview."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch.journal import ExecutionJournal

from .journal_helpers import V1_DEFINITION, open_journal


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[ExecutionJournal]:
    journal = open_journal(tmp_path / "runs.sqlite")
    yield journal
    assert journal.close()


def _started(journal: ExecutionJournal, eid: str) -> int:
    return journal.execution_started(eid, "wf", "v1", V1_DEFINITION, {"n": 1}, None, 100.0)


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


@pytest.mark.slow
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
    assert journal.flush(10)
    record = journal.execution("e")
    assert record is not None and record.resumable is False
    assert len(record.notes) == 2
    assert record.notes[0].startswith("initial data: tuple at ['when']")
    assert record.notes[1].startswith("result: set at ['r']")
    assert record.initial_data == {"when": [1, 2]}
