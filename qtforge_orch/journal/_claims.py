"""Ownership decisions: marking executions of dead owners interrupted, and claims to resume.

Everything here runs on the writer's connection inside its transaction (``BEGIN IMMEDIATE``,
which holds SQLite's write lock), so a check and the update it allows are atomic across
processes: two processes cannot both claim one execution.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import NoReturn

from ..errors import PluginError, PluginErrorCode
from ._owner import owner_alive
from .records import COMPLETED, INTERRUPTED, RUNNING
from .versions import definition_hash, describe_changes

_LAST_ACTIVITY = """max(started_at, coalesce((SELECT max(coalesce(t.ended_at, t.started_at))
    FROM tasks AS t WHERE t.execution = executions.row), started_at))"""
_INTERRUPT = f"""
UPDATE executions SET status = '{INTERRUPTED}', ended_at = {_LAST_ACTIVITY},
    error = coalesce(error, ?)
WHERE status = '{RUNNING}' AND owner IS ?
"""
_CHANGES_SHOWN = 20


def _interrupt(connection: sqlite3.Connection, owner: str | None, why: str) -> list[str]:
    ids = [
        row[0]
        for row in connection.execute(
            "SELECT execution_id FROM executions WHERE status = ? AND owner IS ? ORDER BY row",
            (RUNNING, owner),
        )
    ]
    if ids:
        connection.execute(_INTERRUPT, (why, owner))
    return ids


def mark_dead_owners(connection: sqlite3.Connection, database: Path, own_token: str) -> list[str]:
    """Mark ``interrupted`` every running execution whose owner is gone; returns their ids."""
    owners = connection.execute(
        "SELECT owner, max(owner_pid) FROM executions WHERE status = ? GROUP BY owner",
        (RUNNING,),
    ).fetchall()
    marked: list[str] = []
    for owner, pid in owners:
        if owner == own_token or (owner is not None and owner_alive(database, owner)):
            continue
        marked += _interrupt(
            connection,
            owner,
            f"interrupted: the process that ran it (pid {pid}) ended without finishing it",
        )
    return marked


def mark_own_interrupted(connection: sqlite3.Connection, own_token: str) -> list[str]:
    """At close: this journal's running executions can no longer be recorded."""
    return _interrupt(
        connection, own_token, "interrupted: the journal was closed while it was running"
    )


def _refuse(code: PluginErrorCode, execution_id: str, message: str, **context: object) -> NoReturn:
    raise PluginError(code, message, context={"execution_id": execution_id, **context})


def claim(
    connection: sqlite3.Connection,
    database: Path,
    own_token: str,
    execution_id: str,
    resumed_as: str,
    definition_json: str | None,
    force: bool,
) -> None:
    """Record that ``resumed_as`` resumes ``execution_id``, or raise why it may not."""
    row = connection.execute(
        "SELECT e.status, e.resumed_as, e.owner, e.owner_pid, e.workflow_id, "
        "e.definition_hash, d.json FROM executions AS e "
        "LEFT JOIN definitions AS d ON d.hash = e.definition_hash WHERE e.execution_id = ?",
        (execution_id,),
    ).fetchone()
    if row is None:
        _refuse(
            PluginErrorCode.NotFound,
            execution_id,
            f"execution {execution_id!r} is not in the journal (never recorded, or deleted by "
            "the retention policy)",
        )
    status, already, owner, pid, workflow_id, old_hash, old_json = row
    if already is not None:
        _refuse(
            PluginErrorCode.InvalidState,
            execution_id,
            f"execution {execution_id!r} was already resumed as {already!r}; resume that one "
            "instead if it did not finish",
            resumed_as=already,
        )
    if status == RUNNING:
        if owner == own_token:
            _refuse(
                PluginErrorCode.InvalidState,
                execution_id,
                f"execution {execution_id!r} is still running in this process",
            )
        if owner is not None and owner_alive(database, owner):
            where = (
                "another journal object of this process"
                if pid == os.getpid()
                else f"another process (pid {pid})"
            )
            _refuse(
                PluginErrorCode.InvalidState,
                execution_id,
                f"execution {execution_id!r} is running in {where} that holds the journal; "
                "it can be resumed once that process has ended or closed the journal",
                owner_pid=pid,
            )
        _interrupt(connection, owner, f"interrupted: its process (pid {pid}) ended")
    elif status == COMPLETED:
        _refuse(
            PluginErrorCode.InvalidState,
            execution_id,
            f"execution {execution_id!r} completed; there is nothing to resume",
        )
    if definition_json is not None and not force:
        _check_definition(execution_id, workflow_id, old_hash, old_json, definition_json)
    connection.execute(
        "UPDATE executions SET resumed_as = ? WHERE execution_id = ?", (resumed_as, execution_id)
    )


def _check_definition(
    execution_id: str, workflow_id: str, old_hash: str, old_json: str | None, new_json: str
) -> None:
    try:
        new_hash = definition_hash(new_json)
    except ValueError:
        new_hash = None
    if new_hash == old_hash:
        return
    try:
        changes = describe_changes(old_json or "null", new_json)
    except ValueError:
        changes = ["the definition is not valid JSON"]
    shown = changes[:_CHANGES_SHOWN] + (
        [f"... and {len(changes) - _CHANGES_SHOWN} more"] if len(changes) > _CHANGES_SHOWN else []
    )
    _refuse(
        PluginErrorCode.VersionMismatch,
        execution_id,
        f"workflow {workflow_id!r} changed since execution {execution_id!r} ran; resume with "
        f"force=True to run it against the new definition anyway. Changes: " + "; ".join(shown),
        changes=changes,
    )


def release(connection: sqlite3.Connection, execution_id: str, resumed_as: str) -> bool:
    """Undo a claim whose resumed execution never started; True if there was one."""
    cursor = connection.execute(
        "UPDATE executions SET resumed_as = NULL WHERE execution_id = ? AND resumed_as = ?",
        (execution_id, resumed_as),
    )
    return cursor.rowcount > 0
