"""The journal's schema: its DDL per version and the migrations between versions.

A journal file is marked as ours twice: ``PRAGMA application_id`` holds :data:`APPLICATION_ID`
and the ``journal_meta`` table holds the schema version, which ``PRAGMA user_version`` repeats.
The version is raised by appending to :data:`MIGRATIONS`; a migration runs inside the opening
transaction, so a file is either fully upgraded or left as it was.

Version 1 stored each execution's definition inline. Version 2 stores each distinct definition
once, in ``definitions`` keyed by its content hash, and adds the ``rollbacks`` table. Version 3
keys ``tasks`` by the execution's ``row`` (an integer) instead of its 36-character id: a task
row is written for every step, and a shorter key makes its insert and its index entry cheaper.

Additive changes that an older qtforge_orch of the same schema version reads and writes
unharmed (a new table, a nullable or defaulted column: its statements name their columns) do
not raise the version: ``complete`` makes them when missing, at every open (``ADDITIONS``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from .versions import definition_hash

# "QTOJ": qtforge_orch journal. Registered nowhere; only has to differ from other applications'.
APPLICATION_ID = 0x51544F4A
META_TABLE = "journal_meta"

# The first schema, kept verbatim: a file written by a version-1 journal has exactly this.
SCHEMA_V1: tuple[str, ...] = (
    """CREATE TABLE journal_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE executions (
        row INTEGER PRIMARY KEY,
        execution_id TEXT NOT NULL UNIQUE,
        workflow_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        definition_json TEXT NOT NULL,
        initial_data,
        initial_encoding TEXT,
        result,
        result_encoding TEXT,
        error TEXT,
        error_messages TEXT NOT NULL DEFAULT '[]',
        notes TEXT,
        resumable INTEGER NOT NULL DEFAULT 1,
        started_at REAL NOT NULL,
        ended_at REAL,
        resumed_from TEXT,
        resumed_as TEXT,
        owner TEXT,
        owner_pid INTEGER
    )""",
    "CREATE INDEX executions_by_workflow ON executions (workflow_id, row)",
    "CREATE INDEX executions_by_status ON executions (status, row)",
    """CREATE TABLE tasks (
        execution_id TEXT NOT NULL,
        task_key TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        output,
        encoding TEXT,
        resumable INTEGER NOT NULL DEFAULT 1,
        note TEXT,
        error TEXT,
        started_at REAL,
        ended_at REAL,
        PRIMARY KEY (execution_id, task_key)
    )""",
    """CREATE TABLE transactions (
        transaction_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        begun_at REAL NOT NULL,
        ended_at REAL
    )""",
    """CREATE TABLE transaction_executions (
        transaction_id TEXT NOT NULL,
        execution_id TEXT NOT NULL,
        PRIMARY KEY (transaction_id, execution_id)
    )""",
)

# Version 2's executions table: the definition moves to ``definitions``, referenced by hash.
_EXECUTIONS_V2 = """CREATE TABLE executions (
        row INTEGER PRIMARY KEY,
        execution_id TEXT NOT NULL UNIQUE,
        workflow_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        definition_hash TEXT NOT NULL,
        initial_data,
        initial_encoding TEXT,
        result,
        result_encoding TEXT,
        error TEXT,
        error_messages TEXT NOT NULL DEFAULT '[]',
        notes TEXT,
        resumable INTEGER NOT NULL DEFAULT 1,
        started_at REAL NOT NULL,
        ended_at REAL,
        resumed_from TEXT,
        resumed_as TEXT,
        owner TEXT,
        owner_pid INTEGER
    )"""
_EXECUTION_INDEXES = (
    "CREATE INDEX executions_by_workflow ON executions (workflow_id, row)",
    "CREATE INDEX executions_by_status ON executions (status, row)",
)
_DEFINITIONS = """CREATE TABLE definitions (
        hash TEXT PRIMARY KEY,
        json TEXT NOT NULL
    )"""
_ROLLBACKS = """CREATE TABLE rollbacks (
        execution_id TEXT NOT NULL,
        task_key TEXT NOT NULL,
        ok INTEGER NOT NULL,
        error TEXT,
        at REAL NOT NULL
    )"""
_ROLLBACKS_INDEX = "CREATE INDEX rollbacks_by_execution ON rollbacks (execution_id)"

# The columns both versions' executions tables share, in order.
_SHARED_COLUMNS = (
    "row, execution_id, workflow_id, kind, status, initial_data, initial_encoding, result, "
    "result_encoding, error, error_messages, notes, resumable, started_at, ended_at, "
    "resumed_from, resumed_as, owner, owner_pid"
)


def _migrate_1_to_2(connection: sqlite3.Connection) -> None:
    """Move inline definitions into ``definitions`` (deduplicated by hash); add ``rollbacks``.

    SQLite before 3.35 cannot drop a column, so the executions table is rebuilt (the documented
    create-copy-drop-rename procedure), keeping every row and its ``row`` number.
    """
    connection.create_function("qtforge_definition_hash", 1, definition_hash, deterministic=True)
    connection.execute(_DEFINITIONS)
    connection.execute(
        "INSERT OR IGNORE INTO definitions (hash, json) "
        "SELECT qtforge_definition_hash(definition_json), definition_json FROM executions"
    )
    connection.execute(_EXECUTIONS_V2.replace("TABLE executions", "TABLE executions_v2", 1))
    connection.execute(
        f"INSERT INTO executions_v2 ({_SHARED_COLUMNS}, definition_hash) "
        f"SELECT {_SHARED_COLUMNS}, qtforge_definition_hash(definition_json) FROM executions"
    )
    connection.execute("DROP TABLE executions")
    connection.execute("ALTER TABLE executions_v2 RENAME TO executions")
    for statement in _EXECUTION_INDEXES:
        connection.execute(statement)
    connection.execute(_ROLLBACKS)
    connection.execute(_ROLLBACKS_INDEX)


# Added within version 2: each task's error as data (code, exception type, traceback), the
# outcomes of abandoned attempts that returned anyway, and which rollbacks undid those.
_LATE_OUTCOMES = """CREATE TABLE late_outcomes (
        execution_id TEXT NOT NULL,
        task_key TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        output,
        encoding TEXT,
        resumable INTEGER NOT NULL DEFAULT 1,
        note TEXT,
        error TEXT,
        error_info TEXT,
        at REAL NOT NULL
    )"""
_LATE_OUTCOMES_INDEX = "CREATE INDEX late_outcomes_by_execution ON late_outcomes (execution_id)"
# (table, column, declaration) of the columns added within version 2.
ADDED_COLUMNS = (
    ("tasks", "error_info", "TEXT"),
    ("rollbacks", "late", "INTEGER NOT NULL DEFAULT 0"),
)
ADDITIONS = (_LATE_OUTCOMES, _LATE_OUTCOMES_INDEX)


def complete(connection: sqlite3.Connection) -> None:
    """Make the additions a file of the latest version lacks, in the caller's transaction.

    A file written by an older qtforge_orch of this version gets them here.
    """
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    if "late_outcomes" not in tables:
        for statement in ADDITIONS:
            connection.execute(statement)
    for table, column, declaration in ADDED_COLUMNS:
        columns = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            connection.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


# Version 3's tasks table: keyed by ``executions.row``; rows keep the order they were first
# recorded in (``rowid``).
_TASKS_V3 = """CREATE TABLE tasks (
        execution INTEGER NOT NULL,
        task_key TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        output,
        encoding TEXT,
        resumable INTEGER NOT NULL DEFAULT 1,
        note TEXT,
        error TEXT,
        started_at REAL,
        ended_at REAL,
        error_info TEXT,
        PRIMARY KEY (execution, task_key)
    )"""
# The columns both versions' tasks tables share, in order (error_info: added within version 2).
_TASK_COLUMNS = (
    "task_key, state, attempts, output, encoding, resumable, note, error, started_at, "
    "ended_at, error_info"
)


def _migrate_2_to_3(connection: sqlite3.Connection) -> None:
    """Rebuild ``tasks`` keyed by the execution's row, keeping every row's order (``rowid``).

    A task row whose execution is not in the file (only a direct ``task_changed`` call for an
    id never started could make one) has no row to refer to and no reader: it is not kept.
    """
    columns = {row[1] for row in connection.execute("PRAGMA table_info(tasks)")}
    if "error_info" not in columns:  # a file written before the column was added
        connection.execute("ALTER TABLE tasks ADD COLUMN error_info TEXT")
    connection.execute(_TASKS_V3.replace("TABLE tasks", "TABLE tasks_v3", 1))
    connection.execute(
        f"INSERT INTO tasks_v3 (rowid, execution, {_TASK_COLUMNS}) "
        f"SELECT t.rowid, e.row, {', '.join('t.' + c for c in _TASK_COLUMNS.split(', '))} "
        "FROM tasks AS t JOIN executions AS e ON e.execution_id = t.execution_id "
        "ORDER BY t.rowid"
    )
    connection.execute("DROP TABLE tasks")
    connection.execute("ALTER TABLE tasks_v3 RENAME TO tasks")


# MIGRATIONS[n - 1] upgrades a version-n file to version n + 1.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_migrate_1_to_2, _migrate_2_to_3)
LATEST_VERSION = len(MIGRATIONS) + 1

# Version 2's schema as a fresh file got it (its additions: ``complete``).
SCHEMA_V2: tuple[str, ...] = (
    SCHEMA_V1[0],
    _EXECUTIONS_V2,
    *_EXECUTION_INDEXES,
    *SCHEMA_V1[4:],
    _DEFINITIONS,
    _ROLLBACKS,
    _ROLLBACKS_INDEX,
)
# A fresh file gets the latest schema directly.
SCHEMA_LATEST: tuple[str, ...] = tuple(
    _TASKS_V3 if statement is SCHEMA_V1[4] else statement for statement in SCHEMA_V2
)


def stamp(connection: sqlite3.Connection, version: int) -> None:
    """Record ``version`` in the meta table and in ``user_version``, and mark the file as ours."""
    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version = {int(version)}")
    connection.execute(
        "INSERT INTO journal_meta (key, value) VALUES ('schema_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(version),),
    )


def create(connection: sqlite3.Connection, created_at: float) -> None:
    """Create the latest schema in an empty database (inside the caller's transaction)."""
    for statement in SCHEMA_LATEST:
        connection.execute(statement)
    complete(connection)
    connection.executemany(
        "INSERT INTO journal_meta (key, value) VALUES (?, ?)",
        [("created_by", "qtforge_orch"), ("created_at", repr(created_at))],
    )
    stamp(connection, LATEST_VERSION)


def create_version_1(connection: sqlite3.Connection, created_at: float) -> None:
    """Create the version-1 schema (what a journal of that version wrote; used by tests)."""
    for statement in SCHEMA_V1:
        connection.execute(statement)
    connection.executemany(
        "INSERT INTO journal_meta (key, value) VALUES (?, ?)",
        [("created_by", "qtforge_orch"), ("created_at", repr(created_at))],
    )
    stamp(connection, 1)


def create_version_2(connection: sqlite3.Connection, created_at: float) -> None:
    """Create the version-2 schema with its additions (used by tests).

    This is what a journal of that version wrote.
    """
    for statement in SCHEMA_V2:
        connection.execute(statement)
    for statement in ADDITIONS:
        connection.execute(statement)
    for table, column, declaration in ADDED_COLUMNS:
        connection.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
    connection.executemany(
        "INSERT INTO journal_meta (key, value) VALUES (?, ?)",
        [("created_by", "qtforge_orch"), ("created_at", repr(created_at))],
    )
    stamp(connection, 2)


def migrate(connection: sqlite3.Connection, from_version: int) -> None:
    """Upgrade from ``from_version`` to the latest (inside the caller's transaction)."""
    for version in range(from_version, LATEST_VERSION):
        MIGRATIONS[version - 1](connection)
        stamp(connection, version + 1)
    complete(connection)
