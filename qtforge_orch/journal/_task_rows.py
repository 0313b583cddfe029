"""Task records as rows of the ``tasks`` table: merged per task, written a chunk per statement.

A batch holds one row per task: a task's records in one batch (``started`` then ``completed``,
a retry) are folded as the upsert would apply them one after the other. The rows then go to
SQLite many per ``INSERT ... VALUES (...), (...) ON CONFLICT DO UPDATE`` statement rather than
one ``executemany`` step each: the writer thread releases and retakes the GIL around every
statement step, and each retake waits for the thread that holds it (the one running the
steps), so a step per row made the writer crawl while a workflow ran.

NULLs are bound as a float NaN, which SQLite stores as NULL: the ``sqlite3`` module adapts a
``None`` parameter (it looks for ``__adapt__``/``__conform__`` and builds and clears an
``AttributeError`` each time), which cost more than the row's own insert.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from itertools import chain
from typing import Any

from . import _codec
from .records import TASK_ENDED_STATES
from .writer import Op

# Bound for a NULL (see the module's docstring); never a value of these columns. Rows hold
# this very object, so "is _NULL" tells a NULL.
_NULL = float("nan")
_COLUMNS = 12
# Chunk sizes, largest first: a batch is written in at most one chunk of each smaller size,
# so few distinct statements reach the connection's statement cache. 64 rows x 12 columns
# stays below SQLite's oldest parameter limit (999).
_CHUNKS = (64, 32, 16, 8, 4, 2, 1)
_COMPLETED = "completed"

_UPSERT = """
INSERT INTO tasks (execution_id, task_key, state, attempts, output, encoding, resumable, note,
    error, started_at, ended_at, error_info)
VALUES {rows}
ON CONFLICT (execution_id, task_key) DO UPDATE SET
    state = excluded.state,
    attempts = max(tasks.attempts, excluded.attempts),
    output = CASE WHEN excluded.state = 'completed' THEN excluded.output ELSE tasks.output END,
    encoding = CASE WHEN excluded.state = 'completed' THEN excluded.encoding
        ELSE tasks.encoding END,
    resumable = CASE WHEN excluded.state = 'completed' THEN excluded.resumable
        ELSE tasks.resumable END,
    note = CASE WHEN excluded.state = 'completed' THEN excluded.note ELSE tasks.note END,
    error = CASE WHEN excluded.state = 'completed' THEN excluded.error
        ELSE coalesce(excluded.error, tasks.error) END,
    error_info = CASE WHEN excluded.state = 'completed' THEN excluded.error_info
        WHEN excluded.error IS NOT NULL THEN excluded.error_info ELSE tasks.error_info END,
    started_at = coalesce(tasks.started_at, excluded.started_at),
    ended_at = excluded.ended_at
"""
_STATEMENTS = {
    size: _UPSERT.format(rows=", ".join(["(" + ", ".join("?" * _COLUMNS) + ")"] * size))
    for size in _CHUNKS
}


def error_fields(error: Any) -> tuple[str | None, str | None]:
    """A record's error as (message, ``error_info`` JSON text or None).

    The caller gives a message, or an error as data (``_errors.error_info``).
    """
    if isinstance(error, Mapping):
        try:
            info = json.dumps(dict(error), default=str)
        except (TypeError, ValueError):
            info = None
        return str(error.get("message", "")), info
    return error, None


def _columns(encoded: _codec.Encoded) -> tuple[Any, ...]:
    """An encoded output as its four columns, NULLs as ``_NULL``."""
    return tuple(_NULL if value is None else value for value in encoded)


_NO_OUTPUT = _columns(_codec.NOTHING)
_EMPTY_DICT = _columns(_codec.EMPTY_DICT)


def _merge(row: list[Any], later: list[Any]) -> None:
    """Fold ``later`` into ``row`` (same task, same batch) as the upsert would apply both."""
    row[2] = later[2]  # state
    row[3] = max(row[3], later[3])  # attempts
    if later[2] == _COMPLETED:  # its output replaces any other
        row[4:8] = later[4:8]
        row[8] = _NULL
        row[11] = _NULL
    elif later[8] is not _NULL:
        row[8] = later[8]  # the last error
        row[11] = later[11]
    if row[9] is _NULL:
        row[9] = later[9]  # the first start
    row[10] = later[10]  # ended_at


def task_rows(ops: list[Op], pickle_fallback: bool) -> list[list[Any]]:
    """One row per task of ``ops``, in first-record order: ``tasks`` columns, NULL as ``_NULL``.

    An op is ``(kind, execution_id, task_key, state, attempt, output, error, at)``, with a
    ninth field, the start time, when the writer's queue merged a start into its end.
    """
    rows: dict[tuple[str, str], list[Any]] = {}
    encode = _codec.encode
    for op in ops:
        if len(op) == 9:
            _, execution_id, task_key, state, attempt, output, error, at, started_at = op
        else:
            _, execution_id, task_key, state, attempt, output, error, at = op
            started_at = at if state == "started" else _NULL
        if state != _COMPLETED:
            columns = _NO_OUTPUT
        elif output.__class__ is dict and not output:
            columns = _EMPTY_DICT
        else:
            columns = _columns(encode(output, pickle_fallback))
        message: Any = _NULL
        info: Any = _NULL
        if error is not None:
            text, data = error_fields(error)
            message = _NULL if text is None else text
            info = _NULL if data is None else data
        ended_at = at if state in TASK_ENDED_STATES else _NULL
        row = [
            execution_id,
            task_key,
            state,
            attempt,
            *columns,
            message,
            started_at,
            ended_at,
            info,
        ]
        key = (execution_id, task_key)
        earlier = rows.get(key)
        if earlier is None:
            rows[key] = row
        elif earlier[2] == _COMPLETED and state != _COMPLETED:
            # A completion followed by another state in one batch (the engine never does
            # this): the upsert would keep the completion's output under the later state,
            # which the chunked statement cannot say. Write these records one by one.
            return [_row_of(op, pickle_fallback) for op in ops]
        else:
            _merge(earlier, row)
    return list(rows.values())


def _row_of(op: Op, pickle_fallback: bool) -> list[Any]:
    (row,) = task_rows([op], pickle_fallback)
    return row


def upsert(connection: sqlite3.Connection, rows: list[list[Any]]) -> None:
    """Write ``rows`` (``task_rows``) in order, a chunk of rows per statement."""
    params = list(chain.from_iterable(rows))
    start, left = 0, len(rows)
    for size in _CHUNKS:
        statement = _STATEMENTS[size]
        width = size * _COLUMNS
        while left >= size:
            connection.execute(statement, params[start : start + width])
            start += width
            left -= size
