"""Opening a journal: unusable files fail at open time with a clear error; older schemas are
upgraded with their data intact."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import (
    FunctionPlugin,
    PluginError,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
)
from qtforge_orch.journal import APPLICATION_ID, LATEST_VERSION, ExecutionJournal, definition_hash
from qtforge_orch.journal._schema import create_version_1, create_version_2

from .journal_helpers import (
    V1_DEFINITION,
    Child,
    make_then_check,
    open_journal,
    owner_files,
    raw,
)


def _refused(path: Path, code: PluginErrorCode, reason: str, **options: object) -> PluginError:
    with pytest.raises(PluginError) as raised:
        ExecutionJournal(path, **options)  # type: ignore[arg-type]
    error = raised.value
    assert error.code == code, error
    assert error.context["path"] == str(path)
    assert error.context["reason"] == reason
    assert str(path) in error.message
    if path.parent.is_dir():
        assert owner_files(path) == []  # nothing left behind
    return error


def test_a_new_file_becomes_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with open_journal(path):
        pass
    with raw(path) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert db.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        meta = dict(db.execute("SELECT key, value FROM journal_meta"))
        assert meta["schema_version"] == str(LATEST_VERSION)
        assert meta["created_by"] == "qtforge_orch"


def test_an_empty_file_becomes_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    path.touch()
    with open_journal(path) as journal:
        journal.execution_started("e", "wf", "v1", "{}", None, None, 1.0)


def test_a_missing_folder(tmp_path: Path) -> None:
    error = _refused(tmp_path / "nope" / "runs.sqlite", PluginErrorCode.FileNotFound, "no-folder")
    assert "does not exist" in error.message


def test_a_folder_is_not_a_journal(tmp_path: Path) -> None:
    _refused(tmp_path, PluginErrorCode.InvalidArgument, "is-a-folder")


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 20)
    error = _refused(path, PluginErrorCode.InvalidFormat, "not-a-database")
    assert "not a SQLite database" in error.message
    assert path.read_text().startswith("these are my notes")  # untouched


def _damage_table(path: Path, table: str) -> None:
    with raw(path) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    with path.open("r+b") as file:
        file.seek((root[0] - 1) * page_size)
        file.write(b"\xa7" * 64)  # the b-tree page header and cell pointers


def test_a_damaged_journal(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with open_journal(path) as journal:
        for i in range(300):
            journal.execution_started(f"e{i}", "wf", "v1", "{}", None, None, 1.0)
            journal.task_changed(f"e{i}", "a", "completed", 1, {"x": "y" * 100}, None, 1.0)
    with raw(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _damage_table(path, "tasks")
    error = _refused(path, PluginErrorCode.InvalidFormat, "corrupt")
    assert "damaged" in error.message and ".recover" in error.message


def test_another_applications_database(tmp_path: Path) -> None:
    path = tmp_path / "app.sqlite"
    with raw(path) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        db.execute("INSERT INTO notes (text) VALUES ('keep me')")
    error = _refused(path, PluginErrorCode.InvalidFormat, "foreign")
    assert "another application" in error.message and "notes" in error.message
    with raw(path) as db:
        assert db.execute("SELECT text FROM notes").fetchall() == [("keep me",)]
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not switched


def test_a_database_with_another_application_id(tmp_path: Path) -> None:
    path = tmp_path / "app.sqlite"
    with raw(path) as db:
        db.execute("PRAGMA application_id = 1234")
        db.execute("CREATE TABLE journal_meta (key TEXT PRIMARY KEY, value TEXT)")
    assert "0x4d2" in _refused(path, PluginErrorCode.InvalidFormat, "foreign").message


def test_a_journal_from_a_newer_version(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with open_journal(path):
        pass
    with raw(path) as db:
        db.execute("UPDATE journal_meta SET value = '99' WHERE key = 'schema_version'")
        db.execute("PRAGMA user_version = 99")
    error = _refused(path, PluginErrorCode.IncompatibleVersion, "newer-schema")
    assert "upgrade qtforge_orch" in error.message


def test_a_database_locked_by_another_connection(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with open_journal(path):
        pass
    with raw(path) as other:
        other.execute("BEGIN EXCLUSIVE")
        error = _refused(path, PluginErrorCode.ResourceUnavailable, "locked", busy_timeout=0.05)
        assert "locked by another process" in error.message
        other.execute("COMMIT")
    with open_journal(path, busy_timeout=0.05):
        pass


def test_a_database_locked_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with open_journal(path):
        pass
    child = Child(
        """
        import sqlite3
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA locking_mode = EXCLUSIVE")
        db.execute("BEGIN EXCLUSIVE")
        db.execute("INSERT INTO journal_meta VALUES ('held', 'yes')")
        db.execute("COMMIT")  # exclusive locking mode keeps the lock after the commit
        print("holding", flush=True)
        sys.stdin.read()
        """,
        path,
    )
    try:
        child.expect("holding")
        _refused(path, PluginErrorCode.ResourceUnavailable, "locked", busy_timeout=0.05)
    finally:
        code, err = child.finish()
    assert code == 0, err
    with open_journal(path):
        pass


# ------------------------------------------------------------------------------ read-only


DROP_CAPABILITIES = """
import ctypes
class Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint32) for name in ("effective", "permitted", "inheritable")]
# capset(2), version 3: no capability left, so file modes apply to root as to anyone.
assert ctypes.CDLL(None, use_errno=True).capset(
    ctypes.byref(Header(0x20080522, 0)), (Data * 2)()
) == 0, ctypes.get_errno()
"""
CHECK_READ_ONLY = """
try:
    ExecutionJournal(path)
except Exception as exc:
    print(type(exc).__name__, exc.code.name, exc.context["reason"], "write access" in str(exc),
          flush=True)
else:
    print("opened", flush=True)
"""


def _open_without_write_access(path: Path) -> str:
    """How opening goes for a process that may not write ``path``. Root ignores file modes,
    so as root the attempt runs in a child process that first drops its capabilities."""
    if os.geteuid() != 0:
        try:
            ExecutionJournal(path)
        except PluginError as exc:
            reason = exc.context["reason"]
            return f"PluginError {exc.code.name} {reason} {'write access' in exc.message}"
        return "opened"
    child = Child(DROP_CAPABILITIES + CHECK_READ_ONLY, path)
    line = child.next_line()
    code, err = child.finish()
    assert code == 0, err
    return line


@pytest.fixture
def restore_modes(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    for folder in (tmp_path, *tmp_path.iterdir()):
        folder.chmod(0o755 if folder.is_dir() else 0o644)


def test_a_read_only_file(restore_modes: Path) -> None:
    path = restore_modes / "runs.sqlite"
    with open_journal(path) as journal:
        journal.execution_started("e", "wf", "v1", "{}", None, None, 1.0)
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    assert _open_without_write_access(path) == "PluginError PermissionDenied read-only True"


def test_a_read_only_folder(restore_modes: Path) -> None:
    folder = restore_modes / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    assert (
        _open_without_write_access(folder / "runs.sqlite")
        == "PluginError PermissionDenied read-only True"
    )
    assert list(folder.iterdir()) == []


# ------------------------------------------------------------------------------ migrations


def _version_1_file(path: Path) -> None:
    """A journal as schema version 1 wrote it: definitions inline, no rollbacks table."""
    with raw(path) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("BEGIN")
        create_version_1(db, 1.0)
        other = V1_DEFINITION.replace("1000", "2000")
        db.executemany(
            "INSERT INTO executions (execution_id, workflow_id, kind, status, definition_json, "
            "initial_data, initial_encoding, result, result_encoding, error, error_messages, "
            "started_at, ended_at, owner, owner_pid) "
            "VALUES (?, 'wf', 'v1', ?, ?, ?, 'json', ?, ?, ?, ?, ?, ?, 'gone', 1)",
            [
                (
                    "old-1",
                    "completed",
                    V1_DEFINITION,
                    '{"n":1}',
                    '{"a":1}',
                    "json",
                    None,
                    "[]",
                    10.0,
                    11.0,
                ),
                (
                    "old-2",
                    "failed",
                    V1_DEFINITION,
                    '{"n":2}',
                    None,
                    None,
                    "boom",
                    '["boom"]',
                    20.0,
                    21.0,
                ),
                ("old-3", "completed", other, '{"n":3}', '{"a":3}', "json", None, "[]", 30.0, 31.0),
            ],
        )
        db.executemany(
            "INSERT INTO tasks (execution_id, task_key, state, attempts, output, encoding, "
            "resumable, error, started_at, ended_at) VALUES (?, ?, ?, 1, ?, ?, 1, ?, 1.0, 2.0)",
            [
                ("old-1", "a", "completed", '{"x":1}', "json", None),
                ("old-2", "a", "completed", '{"x":2}', "json", None),
                ("old-2", "b", "failed", None, None, "boom"),
            ],
        )
        db.execute("INSERT INTO transactions VALUES ('tx', 'committed', 1.0, 2.0)")
        db.execute("INSERT INTO transaction_executions VALUES ('tx', 'old-1')")
        db.execute("COMMIT")
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1


def test_a_version_1_journal_is_upgraded_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    _version_1_file(path)
    with open_journal(path) as journal:
        page = journal.list_executions()
        assert [e.execution_id for e in page.executions] == ["old-3", "old-2", "old-1"]
        one, two = journal.execution("old-1"), journal.execution("old-2")
        assert one is not None and two is not None
        assert (one.status, one.initial_data, one.result) == ("completed", {"n": 1}, {"a": 1})
        assert one.definition_json == V1_DEFINITION
        assert one.definition_hash == definition_hash(V1_DEFINITION)
        assert (two.status, two.error, two.error_messages) == ("failed", "boom", ["boom"])
        assert journal.completed_outputs("old-2") == {"a": {"x": 2}}
        assert [t.state for t in journal.task_records("old-2")] == ["completed", "failed"]
        tx = journal.transaction("tx")
        assert tx is not None and tx.execution_ids == ["old-1"]
        # What version 2 added works on the upgraded file.
        journal.rollback_recorded("old-2", "a", True, None, 3.0)
        journal.execution_started("new", "wf", "v1", V1_DEFINITION, None, "old-2", 40.0)
        assert journal.flush(10)
        assert journal.rollbacks_done("old-2") == {"a"}
        assert journal.execution("old-2").resumed_as == "new"  # type: ignore[union-attr]
    with raw(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION == 3
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM definitions").fetchone()[0] == 2
        columns = [row[1] for row in db.execute("PRAGMA table_info(executions)")]
        assert "definition_json" not in columns and "definition_hash" in columns
        rows = dict(db.execute("SELECT execution_id, row FROM executions"))
        assert rows == {"old-1": 1, "old-2": 2, "old-3": 3, "new": 4}


def test_a_failed_migration_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qtforge_orch.journal import _schema

    path = tmp_path / "runs.sqlite"
    _version_1_file(path)

    def broken(connection: sqlite3.Connection) -> None:
        connection.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("simulated failure in the middle of a migration")

    monkeypatch.setattr(_schema, "MIGRATIONS", (broken,))
    with pytest.raises(PluginError):
        ExecutionJournal(path)
    with raw(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert "half_done" not in names and "definitions" not in names


def _steps(calls: list[str], fail: list[bool]) -> PluginManager:
    def make(_: dict[str, Any]) -> dict[str, Any]:
        calls.append("make")
        return {"made": 1}

    def check(params: dict[str, Any]) -> dict[str, Any]:
        calls.append("check")
        if fail[0]:
            raise RuntimeError("check failed")
        return {"checked": params.get("made")}

    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("p", {"make": make, "check": check}))
    return plugins


def _as_version_2(source: Path, path: Path) -> None:
    """``source``'s data in a file of schema version 2 (tasks keyed by the execution's id),
    made from version 2's DDL, plus a task row of an execution the file does not have."""
    with raw(source) as old:
        executions = old.execute("SELECT * FROM executions ORDER BY row").fetchall()
        definitions = old.execute("SELECT hash, json FROM definitions").fetchall()
        tasks = old.execute(
            "SELECT e.execution_id, t.task_key, t.state, t.attempts, t.output, t.encoding, "
            "t.resumable, t.note, t.error, t.started_at, t.ended_at, t.error_info FROM tasks AS t "
            "JOIN executions AS e ON e.row = t.execution ORDER BY t.rowid"
        ).fetchall()
    with raw(path) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("BEGIN")
        create_version_2(db, 1.0)
        db.executemany(f"INSERT INTO executions VALUES ({', '.join('?' * 20)})", executions)
        db.executemany("INSERT INTO definitions VALUES (?, ?)", definitions)
        db.execute(
            "INSERT INTO tasks (execution_id, task_key, state, attempts) "
            "VALUES ('never-started', 'x', 'started', 1)"
        )
        db.executemany(f"INSERT INTO tasks VALUES ({', '.join('?' * 12)})", tasks)
        db.execute("COMMIT")
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert next(row[1] for row in db.execute("PRAGMA table_info(tasks)")) == "execution_id"


def test_a_version_2_journal_is_upgraded_resumes_and_keeps_recording(
    qapp: Any, tmp_path: Path
) -> None:
    """Version 3 keys task rows by the execution's row: a version-2 file (made from its DDL)
    keeps every task in its order, its failed execution resumes without running the step
    that completed, and new executions are recorded next to the old ones."""
    calls: list[str] = []
    fail = [False]
    source, path = tmp_path / "v3.sqlite", tmp_path / "v2.sqlite"
    recorder = PluginOrchestrator(plugin_manager=_steps(calls, fail), journal=str(source))
    try:
        assert recorder.register_workflow(make_then_check("pair"))
        assert recorder.execute_workflow("pair", {"n": 1})
        fail[0] = True
        failed = recorder.execute_workflow("pair", {"n": 2})
        execution_id = failed.error().context["execution_id"]
    finally:
        recorder.shutdown()
        journal = recorder.journal()
        assert journal is not None and journal.close()
    _as_version_2(source, path)
    fail[0] = False
    calls.clear()
    orchestrator = PluginOrchestrator(plugin_manager=_steps(calls, fail), journal=str(path))
    try:
        journal = orchestrator.journal()
        assert journal is not None
        assert [t.task_key for t in journal.task_records(execution_id)] == ["make", "check"]
        assert [t.state for t in journal.task_records(execution_id)] == ["completed", "failed"]
        assert journal.completed_outputs(execution_id) == {"make": {"made": 1}}
        assert orchestrator.register_workflow(make_then_check("pair"))
        resumed = orchestrator.resume_execution(execution_id).value()
        assert orchestrator.wait_for_execution(resumed, 10_000)
        status = orchestrator.get_execution_status(resumed).value()
        assert status["status"] == "completed", status
        assert calls == ["check"]  # make completed before: not run again
        assert orchestrator.execute_workflow("pair", {"n": 3})
        assert calls == ["check", "make", "check"]
        assert [t.state for t in journal.task_records(resumed)] == ["completed", "completed"]
    finally:
        orchestrator.shutdown()
    with raw(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION == 3
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        columns = [row[1] for row in db.execute("PRAGMA table_info(tasks)")]
        assert columns[:2] == ["execution", "task_key"] and "execution_id" not in columns
        per_execution: dict[str, list[str]] = {}
        for execution, key in db.execute(
            "SELECT e.execution_id, t.task_key FROM tasks AS t "
            "JOIN executions AS e ON e.row = t.execution ORDER BY t.rowid"
        ):
            per_execution.setdefault(execution, []).append(key)
        assert len(per_execution) == 4, per_execution  # two old, resumed, new; no orphan
        assert all(keys == ["make", "check"] for keys in per_execution.values()), per_execution
        assert db.execute("SELECT count(*) FROM tasks").fetchone()[0] == 8
