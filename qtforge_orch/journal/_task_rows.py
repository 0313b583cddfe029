"""Task records as rows of the ``tasks`` table: merged per task, written a chunk per statement.

A batch holds one row per task: a task's records in one batch (``started`` then ``completed``,
a retry) are folded as the upsert would apply them one after the other. The rows then go to
SQLite many per ``INSERT ... VALUES (...), (...) ON CONFLICT DO UPDATE`` statement rather than
one ``executemany`` step each: the writer thread releases and retakes the GIL around every
statement step, and each retake waits for the thread that holds it (the one running the
steps), so a step per row made the writer crawl while a workflow ran. Rows go in chunks of
powers of two up to 64 (within the connection's ``SQLITE_LIMIT_VARIABLE_NUMBER``), so few
distinct statements reach the connection's statement cache.

Binding is most of the Python side's cost (the ``sqlite3`` module copies every text parameter
into SQLite under SQLite's mutex). The common row, a completion with a JSON output, no error
and no note, of the same execution as its neighbours, has its own statement: the execution id
bound once per statement, the state, encoding, resumable flag and the NULL columns written in
the SQL, five parameters a row instead of twelve. It stores exactly what the general statement
stores (the tests compare every column's value and ``typeof``).

NULLs are bound as a float NaN, which SQLite stores as NULL: the ``sqlite3`` module adapts a
``None`` parameter (it looks for ``__adapt__``/``__conform__`` and builds and clears an
``AttributeError`` each time), which cost more than the row's own insert.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from operator import itemgetter
from typing import Any

from . import _codec
from .records import TASK_ENDED_STATES
from .writer import Op

# Bound for a NULL (see the module's docstring); never a value of these columns. Rows hold
# this very object, so "is _NULL" tells a NULL.
_NULL = float("nan")
_COLUMNS = 12
_PLAIN = _COLUMNS  # a row's last item: whether it is a plain completion (not a column)
# A plain completion's parameters: task_key, attempts, output, started_at, ended_at (the
# execution id is the statement's first parameter).
_plain_params = itemgetter(1, 3, 4, 9, 10)
_PLAIN_COLUMNS = 5
# Rows per statement at most, below the parameter limit of any SQLite (999 before 3.32):
# preparing a statement grows faster than its rows (64 rows: ~1 ms, 256: ~14 ms, 1024:
# ~130 ms, once per statement and connection), and a larger chunk's rows do not insert any
# faster.
_MOST_ROWS = 64
_COMPLETED = "completed"

_CONFLICT = """
ON CONFLICT (execution, task_key) DO UPDATE SET
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
_INSERT = """
INSERT INTO tasks (execution, task_key, state, attempts, output, encoding, resumable, note,
    error, started_at, ended_at, error_info)
VALUES """
_ROW = "(" + ", ".join("?" * _COLUMNS) + ")"


def _plain_row(number: int) -> str:
    """Row ``number`` (from 0) of a plain completions' statement (``?1``: the execution's row)."""
    first = 2 + number * _PLAIN_COLUMNS
    key, attempts, output, started, ended = (f"?{first + i}" for i in range(_PLAIN_COLUMNS))
    return (
        f"(?1, {key}, 'completed', {attempts}, {output}, 'json', 1, NULL, NULL, {started}, "
        f"{ended}, NULL)"
    )


def _sizes(largest: int) -> tuple[int, ...]:
    """Chunk sizes, largest first: the powers of two up to ``largest`` (at least 1)."""
    size = 1
    while size * 2 <= largest:
        size *= 2
    sizes = []
    while size:
        sizes.append(size)
        size //= 2
    return tuple(sizes)


class TaskStatements:
    """The upsert statements of one connection, by chunk size: general and plain rows."""

    __slots__ = ("general", "plain")

    def __init__(self, connection: sqlite3.Connection) -> None:
        limit = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self.general = {
            size: _INSERT + ", ".join([_ROW] * size) + _CONFLICT
            for size in _sizes(min(_MOST_ROWS, limit // _COLUMNS))
        }
        self.plain = {
            size: _INSERT + ", ".join(_plain_row(n) for n in range(size)) + _CONFLICT
            for size in _sizes(min(_MOST_ROWS, (limit - 1) // _PLAIN_COLUMNS))
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
# A plain completion's output columns after the payload: JSON, resumable, no note.
_PLAIN_OUTPUT = _EMPTY_DICT[1:]


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
    row[_PLAIN] = later[_PLAIN]  # false unless later is a plain completion, which decides


def task_rows(ops: list[Op], pickle_fallback: bool) -> list[list[Any]]:
    """One row per task of ``ops``, in first-record order.

    A row is the ``tasks`` columns, NULL as ``_NULL``, then whether the row is a plain
    completion (``upsert``).

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
            plain = False
        elif output.__class__ is dict and not output:
            columns = _EMPTY_DICT
            plain = error is None
        else:
            columns = _columns(encode(output, pickle_fallback))
            plain = error is None and columns[1:] == _PLAIN_OUTPUT
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
            plain,
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


def plain_prefix(ops: list[Op], pickle_fallback: bool) -> tuple[int, Any, list[Any]]:
    """The plain completions ``ops`` start with: how many, their execution, their parameters.

    The prefix holds completions of one execution and of distinct tasks. A batch of tiny steps
    is mostly such completions (each a start merged into its end): they have nothing to fold,
    so they skip ``task_rows``' rows and go straight to parameters.
    """
    params: list[Any] = []
    if not ops:
        return 0, None, params
    execution = ops[0][1]
    seen: set[str] = set()
    add, extend = seen.add, params.extend
    encode, json = _codec.encode, _codec.JSON
    count = 0
    for op in ops:
        key = op[2]
        if op[3] != _COMPLETED or op[6] is not None or op[1] != execution or key in seen:
            break
        output = op[5]
        if output.__class__ is dict and not output:
            payload = _EMPTY_DICT[0]
        else:
            encoded = encode(output, pickle_fallback)
            if encoded.encoding != json or encoded.resumable != 1 or encoded.note is not None:
                break
            payload = encoded.payload
        add(key)
        # A merged op carries its start time last; a completion alone leaves started_at as
        # the row has it.
        extend((key, op[4], payload, op[8] if len(op) == 9 else _NULL, op[7]))
        count += 1
    return count, execution, params


def write_plain(
    connection: sqlite3.Connection, sql: TaskStatements, execution: Any, params: list[Any]
) -> None:
    """Write ``plain_prefix``'s parameters through the plain statements."""
    _write(connection, sql.plain, _PLAIN_COLUMNS, params, [execution])


def _row_of(op: Op, pickle_fallback: bool) -> list[Any]:
    (row,) = task_rows([op], pickle_fallback)
    return row


def _write(
    connection: sqlite3.Connection,
    statements: dict[int, str],
    width: int,
    params: list[Any],
    first: list[Any],
) -> None:
    """Write ``params`` (rows of ``width`` values) a chunk per statement, after ``first``."""
    start, left = 0, len(params) // width
    execute = connection.execute
    for size, statement in statements.items():
        span = size * width
        while left >= size:
            execute(statement, first + params[start : start + span])
            start += span
            left -= size


def upsert(connection: sqlite3.Connection, rows: list[list[Any]], sql: TaskStatements) -> None:
    """Write ``rows`` in order: ``task_rows``, their execution ids replaced by the rows.

    Each run of plain completions of one execution goes through the plain statements, the
    other rows through the general ones.
    """
    general: list[Any] = []
    plain: list[Any] = []
    plain_execution: Any = None
    for row in rows:
        if row[_PLAIN]:
            if general:
                _write(connection, sql.general, _COLUMNS, general, [])
                general = []
            execution = row[0]
            if execution != plain_execution:
                if plain:
                    _write(connection, sql.plain, _PLAIN_COLUMNS, plain, [plain_execution])
                    plain = []
                plain_execution = execution
            plain.extend(_plain_params(row))
        else:
            if plain:
                _write(connection, sql.plain, _PLAIN_COLUMNS, plain, [plain_execution])
                plain = []
            general.extend(row[:_COLUMNS])
    if general:
        _write(connection, sql.general, _COLUMNS, general, [])
    if plain:
        _write(connection, sql.plain, _PLAIN_COLUMNS, plain, [plain_execution])
