"""Reading the journal: history pages, one execution, its tasks, outputs to reuse, rollbacks.

Queries see what is committed. A record still queued for the writer is not visible yet:
``flush()`` first to read your own writes.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ._codec import decode
from .records import (
    ExecutionPage,
    ExecutionRecord,
    ExecutionSummary,
    LateOutcomeRecord,
    RollbackRecord,
    TaskRecord,
    TransactionRecord,
)

# Task rows refer to their execution by its row.
_EXECUTION_ROW = "SELECT row FROM executions WHERE execution_id = ?"
_SUMMARY = (
    "row, execution_id, workflow_id, kind, status, started_at, ended_at, error, resumed_from, "
    "resumed_as"
)


def _cursor_row(before: str | None) -> int | None:
    if before is None:
        return None
    try:
        return int(before)
    except ValueError:
        raise ValueError(f"not a cursor from list_executions: {before!r}") from None


def list_executions(
    connection: sqlite3.Connection,
    workflow_id: str | None,
    status: str | None,
    limit: int,
    before: str | None,
) -> ExecutionPage:
    """Up to ``limit`` executions older than the cursor ``before``, newest first."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, not {limit}")
    clauses: list[str] = []
    params: list[Any] = []
    for clause, value in (
        ("row < ?", _cursor_row(before)),
        ("workflow_id = ?", workflow_id),
        ("status = ?", status),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = connection.execute(
        f"SELECT {_SUMMARY} FROM executions {where} ORDER BY row DESC LIMIT ?",
        [*params, limit + 1],
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return ExecutionPage(
        [ExecutionSummary(*row[1:]) for row in rows],
        str(rows[-1][0]) if more else None,
    )


def _messages(text: Any) -> tuple[list[str], str | None]:
    """The stored error messages, or the raw text and a note when they cannot be read."""
    try:
        messages = json.loads(text)
        if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
            return messages, None
        problem = "not a list of strings"
    except (ValueError, TypeError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    return [str(text)], f"error messages: damaged: they cannot be read ({problem})"


def child_execution_ids(connection: sqlite3.Connection, execution_id: str) -> list[str]:
    """The executions whose id extends ``execution_id`` by ``/``, oldest first.

    Those are its nested children and theirs.
    """
    prefix = execution_id + "/"
    # substr, not LIKE: LIKE folds ASCII case and reads % and _ in ids as wildcards.
    rows = connection.execute(
        "SELECT execution_id FROM executions WHERE substr(execution_id, 1, ?) = ? ORDER BY row",
        (len(prefix), prefix),
    )
    return [row[0] for row in rows]


def execution(
    connection: sqlite3.Connection, execution_id: str, allow_pickle: bool
) -> ExecutionRecord | None:
    """The execution ``execution_id``, or None if the journal does not hold it.

    Values that cannot be read (pickle without ``allow_pickle``, damaged rows) are previews
    or None, with a note each in ``notes``; the execution is then not resumable.
    """
    row = connection.execute(
        "SELECT e.execution_id, e.workflow_id, e.kind, e.status, e.started_at, e.ended_at, "
        "d.json, e.definition_hash, e.initial_data, e.initial_encoding, e.result, "
        "e.result_encoding, e.error, e.error_messages, e.resumed_from, e.resumed_as, "
        "e.resumable, e.notes, e.owner_pid FROM executions AS e "
        "LEFT JOIN definitions AS d ON d.hash = e.definition_hash WHERE e.execution_id = ?",
        (execution_id,),
    ).fetchone()
    if row is None:
        return None
    (
        eid,
        workflow_id,
        kind,
        status,
        started,
        ended,
        definition,
        digest,
        data,
        data_encoding,
        result,
        result_encoding,
        error,
        messages,
        resumed_from,
        resumed_as,
        resumable,
        notes,
        pid,
    ) = row
    initial = decode(data, data_encoding, allow_pickle)
    outcome = decode(result, result_encoding, allow_pickle)
    error_messages, messages_note = _messages(messages)
    read_notes = [
        note
        for note in (
            initial.note and f"initial data: {initial.note}",
            outcome.note and f"result: {outcome.note}",
            messages_note,
        )
        if note
    ]
    return ExecutionRecord(
        execution_id=eid,
        workflow_id=workflow_id,
        kind=kind,
        status=status,
        started_at=started,
        ended_at=ended,
        definition_json=definition or "",
        definition_hash=digest,
        initial_data=initial.value,
        result=outcome.value,
        error=error,
        error_messages=error_messages,
        resumed_from=resumed_from,
        resumed_as=resumed_as,
        resumable=bool(resumable) and initial.note is None,
        notes=(str(notes).split("\n") if notes else []) + read_notes,
        owner_pid=pid,
    )


def _error_info(text: Any) -> dict[str, Any] | None:
    """A stored error as data, or None (none stored, or damaged: the message remains)."""
    if not isinstance(text, str):
        return None
    try:
        info = json.loads(text)
    except ValueError:
        return None
    return info if isinstance(info, dict) else None


def _task(row: tuple[Any, ...], allow_pickle: bool) -> TaskRecord:
    key, state, attempts, output, encoding, error, started, ended, resumable, note, info = row
    decoded = decode(output, encoding, allow_pickle)
    return TaskRecord(
        task_key=key,
        state=state,
        attempts=attempts if type(attempts) is int else 1,
        output=decoded.value,
        error=error,
        started_at=started,
        ended_at=ended,
        resumable=bool(resumable) and decoded.note is None,
        encoding=encoding,
        note="; ".join(str(n) for n in (note, decoded.note) if n) or None,
        error_info=_error_info(info),
    )


def task_records(
    connection: sqlite3.Connection, execution_id: str, allow_pickle: bool
) -> list[TaskRecord]:
    """The latest record of each task, in the order the tasks were first recorded."""
    rows = connection.execute(
        "SELECT task_key, state, attempts, output, encoding, error, started_at, ended_at, "
        "resumable, note, error_info FROM tasks WHERE execution = "
        f"({_EXECUTION_ROW}) ORDER BY rowid",
        (execution_id,),
    ).fetchall()
    return [_task(row, allow_pickle) for row in rows]


def completed_outputs(
    connection: sqlite3.Connection, execution_id: str, allow_pickle: bool
) -> dict[str, Any]:
    """``{task_key: output}`` of the completed tasks whose output reads back exactly.

    Stored exactly, undamaged, and for a pickled one only with ``allow_pickle``.
    """
    rows = connection.execute(
        f"SELECT task_key, output, encoding FROM tasks WHERE execution = ({_EXECUTION_ROW}) "
        "AND state = 'completed' AND resumable ORDER BY rowid",
        (execution_id,),
    )
    outputs: dict[str, Any] = {}
    for key, output, encoding in rows:
        decoded = decode(output, encoding, allow_pickle)
        if decoded.note is None:
            outputs[key] = decoded.value
    return outputs


def rollbacks(connection: sqlite3.Connection, execution_id: str) -> list[tuple[str, bool, str]]:
    """Each rollback step run for the execution: (task key, whether it succeeded, error)."""
    return [
        (str(r.task_key), r.ok, str(r.error or ""))
        for r in rollback_records(connection, execution_id)
    ]


def rollbacks_done(connection: sqlite3.Connection, execution_id: str) -> set[str]:
    """The tasks whose rollback already ran (successfully or not) for their completion.

    Rollbacks of an abandoned attempt's late success do not count.
    """
    rows = connection.execute(
        "SELECT DISTINCT task_key FROM rollbacks WHERE execution_id = ? AND NOT late",
        (execution_id,),
    )
    return {key for (key,) in rows}


def rollback_records(connection: sqlite3.Connection, execution_id: str) -> list[RollbackRecord]:
    """The rollback steps that ran, in the order recorded."""
    rows = connection.execute(
        "SELECT task_key, ok, error, at, late FROM rollbacks WHERE execution_id = ? ORDER BY rowid",
        (execution_id,),
    )
    return [
        RollbackRecord(key, bool(ok), error, at, bool(late)) for key, ok, error, at, late in rows
    ]


def late_outcomes(
    connection: sqlite3.Connection, execution_id: str, allow_pickle: bool
) -> list[LateOutcomeRecord]:
    """What abandoned attempts returned after all, in the order recorded."""
    rows = connection.execute(
        "SELECT task_key, attempt, ok, output, encoding, error, error_info, at, resumable, note "
        "FROM late_outcomes WHERE execution_id = ? ORDER BY rowid",
        (execution_id,),
    ).fetchall()
    found: list[LateOutcomeRecord] = []
    for key, attempt, ok, output, encoding, error, info, at, resumable, note in rows:
        decoded = decode(output, encoding, allow_pickle)
        found.append(
            LateOutcomeRecord(
                task_key=key,
                attempt=attempt if type(attempt) is int else 1,
                ok=bool(ok),
                output=decoded.value,
                error=error,
                error_info=_error_info(info),
                at=at,
                resumable=bool(resumable) and decoded.note is None,
                note="; ".join(str(n) for n in (note, decoded.note) if n) or None,
            )
        )
    return found


def late_outputs(
    connection: sqlite3.Connection, execution_id: str, allow_pickle: bool
) -> dict[str, Any]:
    """``{task_key: output}`` of the late successes nothing undid, stored exactly.

    The latest per task: what a resume reuses as the task's completion.
    """
    undone = {
        key
        for (key,) in connection.execute(
            "SELECT DISTINCT task_key FROM rollbacks WHERE execution_id = ? AND late",
            (execution_id,),
        )
    }
    outputs: dict[str, Any] = {}
    for record in late_outcomes(connection, execution_id, allow_pickle):
        if record.ok and record.resumable and record.task_key not in undone:
            outputs[record.task_key] = record.output
    return outputs


def transaction(connection: sqlite3.Connection, transaction_id: str) -> TransactionRecord | None:
    """The transaction ``transaction_id``, or None."""
    row = connection.execute(
        "SELECT state, begun_at, ended_at FROM transactions WHERE transaction_id = ?",
        (transaction_id,),
    ).fetchone()
    if row is None:
        return None
    members = connection.execute(
        "SELECT execution_id FROM transaction_executions WHERE transaction_id = ? ORDER BY rowid",
        (transaction_id,),
    )
    return TransactionRecord(transaction_id, row[0], [m for (m,) in members], row[1], row[2])
