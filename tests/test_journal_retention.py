"""Retention: keep N executions or N days, never what still runs or can still be resumed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from qtforge_orch.journal import ExecutionJournal, RetentionPolicy

from .journal_helpers import V1_DEFINITION, open_journal, raw

DAY = 86_400.0
NOW = time.time()  # the writer checks ages against the clock


def _run(
    journal: ExecutionJournal,
    eid: str,
    status: str | None,
    at: float = NOW,
    definition: str = V1_DEFINITION,
) -> None:
    journal.execution_started(eid, "wf", "v1", definition, {"id": eid}, None, at)
    journal.task_changed(eid, "a", "completed", 1, {"x": 1}, None, at + 1)
    journal.rollback_recorded(eid, "a", True, None, at + 2)
    if status is not None:
        journal.execution_finished(eid, status, None, None, [], at + 3)


def _ids(journal: ExecutionJournal) -> list[str]:
    assert journal.flush(10)
    return [e.execution_id for e in journal.list_executions(limit=1000).executions]


def _rows(path: Path, table: str) -> int:
    with raw(path) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_the_writer_keeps_the_newest_executions(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with open_journal(path, retention=RetentionPolicy(keep_executions=3)) as journal:
        _run(journal, "running", None)
        _run(journal, "interrupted", None)
        with raw(path) as db:  # as if its process had died
            assert journal.flush(10)
            db.execute(
                "UPDATE executions SET status = 'interrupted' WHERE execution_id = ?",
                ("interrupted",),
            )
        _run(journal, "old-a", "completed", definition=V1_DEFINITION.replace("1000", "1"))
        journal.transaction_changed("tx", "begun", ["old-a"], NOW)
        journal.transaction_changed("tx", "committed", [], NOW + 1)
        for n in range(5):
            _run(journal, f"e{n}", "failed" if n % 2 else "completed")
        assert _ids(journal) == ["e4", "e3", "e2", "interrupted", "running"]
        assert _rows(path, "tasks") == _rows(path, "rollbacks") == 5
        assert journal.task_records("old-a") == [] and journal.rollbacks_done("e0") == set()
        assert _rows(path, "definitions") == 1  # old-a's definition went with it
        assert journal.transaction("tx") is None  # every member is gone
        assert journal.completed_outputs("e4") == {"a": {"x": 1}}


def test_an_interrupted_execution_goes_once_it_was_resumed(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with open_journal(path) as journal:
        _run(journal, "crashed", None)
    with open_journal(path, retention=RetentionPolicy(keep_executions=1)) as journal:
        assert journal.execution("crashed").status == "interrupted"  # type: ignore[union-attr]
        _run(journal, "other", "completed")
        assert _ids(journal) == ["other", "crashed"]  # not resumed yet: kept
        journal.claim_for_resume("crashed", "resumed")
        journal.execution_started("resumed", "wf", "v1", V1_DEFINITION, None, "crashed", NOW)
        _run(journal, "more", "completed")
        assert _ids(journal) == ["more", "resumed", "crashed"]  # its resumption still runs
        journal.execution_finished("resumed", "completed", None, None, [], NOW + 1)
        _run(journal, "last", "completed")
        assert _ids(journal) == ["last"]


def test_a_failed_execution_stays_while_its_resumption_runs(tmp_path: Path) -> None:
    with open_journal(tmp_path / "runs.sqlite", retention=RetentionPolicy(1)) as journal:
        _run(journal, "failed", "failed")
        journal.claim_for_resume("failed", "again")
        journal.execution_started("again", "wf", "v1", V1_DEFINITION, None, "failed", NOW)
        _run(journal, "other", "completed")
        assert _ids(journal) == ["other", "again", "failed"]
        assert journal.rollbacks_done("failed") == {"a"}


def test_retention_by_age(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    policy = RetentionPolicy(keep_executions=None, keep_days=7)
    with open_journal(path, retention=policy) as journal:
        _run(journal, "ancient", "completed", at=NOW - 30 * DAY)
        _run(journal, "old-running", None, at=NOW - 30 * DAY)
        _run(journal, "last-week", "failed", at=NOW - 6 * DAY)
        _run(journal, "today", "cancelled", at=NOW)
        # The writer checked ages after the first batch that finished an execution.
        assert _ids(journal) == ["today", "last-week", "old-running"]
        assert journal.apply_retention(now=NOW) == 0
        assert journal.apply_retention(now=NOW + 2 * DAY) == 1
        assert _ids(journal) == ["today", "old-running"]
        assert journal.apply_retention(now=NOW + 2 * DAY) == 0


def test_retention_applies_when_a_journal_is_opened(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with open_journal(path) as journal:
        for n in range(6):
            _run(journal, f"e{n}", "completed")
    with open_journal(path, retention=RetentionPolicy(keep_executions=2)) as journal:
        assert _ids(journal) == ["e5", "e4"]


def test_no_limits_keep_everything(tmp_path: Path) -> None:
    unlimited = RetentionPolicy(keep_executions=None, keep_days=None)
    assert not unlimited.limited
    with open_journal(tmp_path / "runs.sqlite", retention=unlimited) as journal:
        for n in range(30):
            _run(journal, f"e{n}", "completed", at=0.0)
        assert journal.apply_retention() == 0
        assert len(_ids(journal)) == 30


def test_the_default_policy_keeps_a_thousand(tmp_path: Path) -> None:
    assert RetentionPolicy() == RetentionPolicy(keep_executions=1000, keep_days=None)
    with ExecutionJournal(tmp_path / "runs.sqlite") as journal:
        for n in range(1003):
            journal.execution_started(f"e{n}", "wf", "v1", "{}", None, None, NOW)
            journal.execution_finished(f"e{n}", "completed", None, None, [], NOW)
        assert len(_ids(journal)) == 1000


def test_bad_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="keep_executions"):
        RetentionPolicy(keep_executions=-1)
    with pytest.raises(ValueError, match="keep_days"):
        RetentionPolicy(keep_days=float("nan"))
