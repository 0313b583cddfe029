"""Writing records: the SQL behind each record kind, applied by the writer thread.

A batch is applied in order; consecutive records of one kind go to SQLite together (task
records: ``_task_rows``). Values are encoded here, on the writer thread, not by the caller (see
``_codec``): the caller must not mutate a dict after handing it to the journal, which the
engine never does (a completed task's output is not changed afterwards).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable
from itertools import groupby
from operator import itemgetter
from typing import Any

from . import _codec, _task_rows
from .retention import RetentionPolicy, enforce
from .versions import definition_hash
from .writer import TASK_CHANGED, Op

EXECUTION_STARTED = "execution_started"
ROLLBACK = "rollback"
LATE_OUTCOME = "late_outcome"
TRANSACTION = "transaction"
EXECUTION_FINISHED = "execution_finished"
_AGE_CHECK_EVERY_S = 60.0
_kind = itemgetter(0)  # an op's kind (a C call per op, not a Python one)
_HASH_CACHE = 64
# Executions whose row the writer remembers (the ones it writes tasks for: running ones).
_ROW_CACHE = 256
_EXECUTION_ROW = "SELECT row FROM executions WHERE execution_id = ?"

_INSERT_DEFINITION = "INSERT OR IGNORE INTO definitions (hash, json) VALUES (?, ?)"
_INSERT_EXECUTION = """
INSERT INTO executions (execution_id, workflow_id, kind, status, definition_hash, initial_data,
    initial_encoding, notes, resumable, started_at, resumed_from, owner, owner_pid)
VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (execution_id) DO UPDATE SET
    workflow_id = excluded.workflow_id, kind = excluded.kind, status = 'running',
    definition_hash = excluded.definition_hash, initial_data = excluded.initial_data,
    initial_encoding = excluded.initial_encoding, notes = excluded.notes,
    resumable = excluded.resumable, started_at = excluded.started_at, ended_at = NULL,
    result = NULL, result_encoding = NULL, error = NULL, error_messages = '[]',
    resumed_from = excluded.resumed_from, owner = excluded.owner,
    owner_pid = excluded.owner_pid
"""
_LINK_RESUMED = "UPDATE executions SET resumed_as = ? WHERE execution_id = ? AND resumed_as IS NULL"
_INSERT_ROLLBACK = (
    "INSERT INTO rollbacks (execution_id, task_key, ok, error, at, late) VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_LATE_OUTCOME = """
INSERT INTO late_outcomes (execution_id, task_key, attempt, ok, output, encoding, resumable,
    note, error, error_info, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_UPSERT_TRANSACTION = """
INSERT INTO transactions (transaction_id, state, begun_at, ended_at) VALUES (?, ?, ?, ?)
ON CONFLICT (transaction_id) DO UPDATE SET
    state = excluded.state, ended_at = excluded.ended_at
"""
_JOIN_TRANSACTION = (
    "INSERT OR IGNORE INTO transaction_executions (transaction_id, execution_id) VALUES (?, ?)"
)
_FINISH_EXECUTION = """
UPDATE executions SET status = ?1, result = ?2, result_encoding = ?3, error = ?4,
    error_messages = ?5, ended_at = ?6,
    notes = CASE WHEN ?7 IS NULL THEN notes WHEN notes IS NULL THEN ?7
        ELSE notes || char(10) || ?7 END
WHERE execution_id = ?8
"""


def _notes(*notes: str | None) -> str | None:
    kept = [note for note in notes if note]
    return "\n".join(kept) if kept else None


class Store:
    """Applies batches of records for one open journal (owner token, codec and retention)."""

    def __init__(
        self, owner: str, owner_pid: int, pickle_fallback: bool, retention: RetentionPolicy
    ) -> None:
        self.owner = owner
        self.owner_pid = owner_pid
        self.pickle_fallback = pickle_fallback
        self.retention = retention
        self._hashes: dict[str, str] = {}
        # execution id -> its row in ``executions``, which keys its task rows. An execution
        # keeps its row while it exists; only retention deletes one (then this is cleared), and
        # the engine records no task of an execution that ended.
        self._rows: dict[str, int] = {}
        # The task statements of the writer's connection (its parameter limit): made at the
        # first batch.
        self._task_sql: _task_rows.TaskStatements | None = None
        self._age_checked = 0.0
        self._handlers: dict[str, Callable[[sqlite3.Connection, list[Op]], None]] = {
            EXECUTION_STARTED: self._executions_started,
            TASK_CHANGED: self._tasks_changed,
            ROLLBACK: self._rollbacks,
            LATE_OUTCOME: self._late_outcomes,
            TRANSACTION: self._transactions,
            EXECUTION_FINISHED: self._executions_finished,
        }

    def apply(self, connection: sqlite3.Connection, ops: list[Op]) -> None:
        """Write ``ops`` in order (the writer's transaction is open)."""
        finished = False
        for kind, run in groupby(ops, key=_kind):
            self._handlers[kind](connection, list(run))
            finished = finished or kind == EXECUTION_FINISHED
        if finished and self.retention.limited:
            now = time.time()
            by_age = now - self._age_checked >= _AGE_CHECK_EVERY_S
            if by_age:
                self._age_checked = now
            if enforce(connection, self.retention, now, by_age=by_age):
                self._rows.clear()

    def _hash(self, definition_json: str) -> tuple[str, str | None]:
        known = self._hashes.get(definition_json)
        if known is not None:
            return known, None
        note = None
        try:
            digest = definition_hash(definition_json)
        except ValueError:
            digest = "raw:" + hashlib.sha256(definition_json.encode("utf-8")).hexdigest()
            note = "the definition is not valid JSON; it is stored as text"
        if len(self._hashes) >= _HASH_CACHE:
            self._hashes.clear()
        if note is None:
            self._hashes[definition_json] = digest
        return digest, note

    def _row(self, connection: sqlite3.Connection, execution_id: str) -> int:
        """The row of execution ``execution_id``, which its task rows refer to.

        Raises:
            sqlite3.IntegrityError: the execution was never started in this file (the writer
                then drops the record and logs why).
        """
        row = self._rows.get(execution_id)
        if row is None:
            found = connection.execute(_EXECUTION_ROW, (execution_id,)).fetchone()
            if found is None:
                raise sqlite3.IntegrityError(
                    f"a task record of execution {execution_id!r}, which was never started"
                )
            if len(self._rows) >= _ROW_CACHE:
                self._rows.clear()
            row = self._rows[execution_id] = int(found[0])
        return row

    def _executions_started(self, connection: sqlite3.Connection, ops: list[Op]) -> None:
        definitions: list[tuple[str, str]] = []
        rows: list[tuple[Any, ...]] = []
        links: list[tuple[str, str]] = []
        for _, execution_id, workflow_id, kind, definition_json, data, resumed_from, at in ops:
            digest, definition_note = self._hash(definition_json)
            definitions.append((digest, definition_json))
            encoded = _codec.encode(data, self.pickle_fallback)
            data_note = f"initial data: {encoded.note}" if encoded.note else None
            rows.append(
                (
                    execution_id,
                    workflow_id,
                    kind,
                    digest,
                    encoded.payload,
                    encoded.encoding,
                    _notes(definition_note, data_note),
                    encoded.resumable,
                    at,
                    resumed_from,
                    self.owner,
                    self.owner_pid,
                )
            )
            if resumed_from is not None:
                links.append((execution_id, resumed_from))
        connection.executemany(_INSERT_DEFINITION, definitions)
        connection.executemany(_INSERT_EXECUTION, rows)
        if links:
            connection.executemany(_LINK_RESUMED, links)

    def _tasks_changed(self, connection: sqlite3.Connection, ops: list[Op]) -> None:
        sql = self._task_sql
        if sql is None:
            sql = self._task_sql = _task_rows.TaskStatements(connection)
        # The plain completions the batch starts with (all of it, for tiny steps) go straight
        # to their statements; the rest is folded into rows first. Written in this order, the
        # rows end as the records written one at a time would leave them.
        count, execution, params = _task_rows.plain_prefix(ops, self.pickle_fallback)
        if count:
            _task_rows.write_plain(connection, sql, self._row(connection, execution), params)
        if count < len(ops):
            rows = _task_rows.task_rows(ops[count:] if count else ops, self.pickle_fallback)
            for row in rows:
                row[0] = self._row(connection, row[0])
            _task_rows.upsert(connection, rows, sql)

    def _rollbacks(self, connection: sqlite3.Connection, ops: list[Op]) -> None:
        connection.executemany(
            _INSERT_ROLLBACK,
            [
                (execution, key, int(ok), error, at, int(late))
                for _, execution, key, ok, error, at, late in ops
            ],
        )

    def _late_outcomes(self, connection: sqlite3.Connection, ops: list[Op]) -> None:
        rows: list[tuple[Any, ...]] = []
        for _, execution_id, task_key, attempt, output, error, at in ops:
            ok = error is None
            encoded = _codec.encode(output, self.pickle_fallback) if ok else _codec.NOTHING
            message, info = _task_rows.error_fields(error) if not ok else (None, None)
            rows.append(
                (
                    execution_id,
                    task_key,
                    attempt,
                    int(ok),
                    encoded.payload,
                    encoded.encoding,
                    encoded.resumable,
                    encoded.note,
                    message,
                    info,
                    at,
                )
            )
        connection.executemany(_INSERT_LATE_OUTCOME, rows)

    def _transactions(self, connection: sqlite3.Connection, ops: list[Op]) -> None:
        for _, transaction_id, state, execution_ids, at in ops:
            connection.execute(
                _UPSERT_TRANSACTION,
                (transaction_id, state, at, None if state == "begun" else at),
            )
            connection.executemany(_JOIN_TRANSACTION, [(transaction_id, e) for e in execution_ids])

    def _executions_finished(self, connection: sqlite3.Connection, ops: list[Op]) -> None:
        rows: list[tuple[Any, ...]] = []
        for _, execution_id, status, result, error, messages, at in ops:
            encoded = _codec.encode(result, self.pickle_fallback)
            note = f"result: {encoded.note}" if encoded.note else None
            rows.append(
                (
                    status,
                    encoded.payload,
                    encoded.encoding,
                    error,
                    json.dumps(messages),
                    at,
                    note,
                    execution_id,
                )
            )
        connection.executemany(_FINISH_EXECUTION, rows)
