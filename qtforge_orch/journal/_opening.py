"""Opening a journal file: every way it can be unusable becomes a ``PluginError`` at open time.

| problem | code |
|---|---|
| the directory does not exist | ``FileNotFound`` |
| the file or its directory is not writable | ``PermissionDenied`` |
| another process holds a lock past the busy timeout | ``ResourceUnavailable`` |
| not a SQLite file, or damaged (``quick_check`` fails, a tampered version) | ``InvalidFormat`` |
| a SQLite database of another application | ``InvalidFormat`` |
| a schema version from a newer qtforge_orch | ``IncompatibleVersion`` |

Each error carries ``context = {"path": ..., "reason": ...}``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import NoReturn

from ..errors import PluginError, PluginErrorCode
from . import _schema

_HEADER = b"SQLite format 3\x00"
# Primary result codes (the low byte of an extended code).
_PERM, _BUSY, _LOCKED, _READONLY, _CORRUPT, _CANTOPEN, _NOTADB = 3, 5, 6, 8, 11, 14, 26
_PROBLEMS_SHOWN = 5


def _fail(code: PluginErrorCode, path: Path, reason: str, message: str) -> NoReturn:
    raise PluginError(
        code,
        f"execution journal {str(path)!r}: {message}",
        context={"path": str(path), "reason": reason},
    )


def _locked(path: Path) -> NoReturn:
    _fail(
        PluginErrorCode.ResourceUnavailable,
        path,
        "locked",
        "the database is locked by another process (another application, or a tool such as "
        "a database browser with an open write transaction); close it and try again, or use "
        "another file",
    )


def _read_only(path: Path) -> NoReturn:
    _fail(
        PluginErrorCode.PermissionDenied,
        path,
        "read-only",
        "the file or its folder is read-only; the journal needs write access to both (SQLite "
        "keeps the -wal and -shm files next to the database)",
    )


def _corrupt(path: Path, details: str) -> NoReturn:
    _fail(
        PluginErrorCode.InvalidFormat,
        path,
        "corrupt",
        f"the database is damaged ({details}); move it aside to start a new journal, or try "
        "recovering it with the sqlite3 command-line tool's .recover",
    )


def is_corruption(exc: sqlite3.Error) -> bool:
    """Whether SQLite reports a damaged file (``SQLITE_CORRUPT``, a malformed image)."""
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    return code == _CORRUPT or "malformed" in str(exc)


def classify(path: Path, exc: sqlite3.Error) -> NoReturn:
    """Turn a sqlite3 error met while opening into the matching ``PluginError``."""
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    text = str(exc)
    if code in (_BUSY, _LOCKED) or "locked" in text:
        _locked(path)
    if code in (_READONLY, _PERM) or "readonly" in text:
        _read_only(path)
    if code == _NOTADB or "not a database" in text:
        _fail(
            PluginErrorCode.InvalidFormat,
            path,
            "not-a-database",
            "the file is not a SQLite database; pass a new file name or move this file aside",
        )
    if is_corruption(exc):
        _corrupt(path, text)
    if code == _CANTOPEN:
        if not path.parent.is_dir():
            _missing_folder(path)
        _read_only(path)
    _fail(PluginErrorCode.FileSystemError, path, "sqlite", f"SQLite failed: {text}")


def _missing_folder(path: Path) -> NoReturn:
    _fail(
        PluginErrorCode.FileNotFound,
        path,
        "no-folder",
        f"the folder {str(path.parent)!r} does not exist; create it first",
    )


def _check_file(path: Path) -> None:
    if not path.parent.is_dir():
        _missing_folder(path)
    if path.is_dir():
        _fail(PluginErrorCode.InvalidArgument, path, "is-a-folder", "this is a folder, not a file")
    try:
        with path.open("rb") as file:
            header = file.read(len(_HEADER))
    except FileNotFoundError:
        header = b""
    except PermissionError:
        _read_only(path)
    if header and header != _HEADER:
        classify(path, sqlite3.DatabaseError("file is not a database"))
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        _read_only(path)


def _stored_version(value: object) -> int | None:
    """``journal_meta``'s schema version as written (decimal digits), else None (tampered)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10:
        return int(value)
    return None


def _check_identity(path: Path, connection: sqlite3.Connection) -> int:
    """The file's schema version; 0 for an empty database. Refuses foreign and newer files."""
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        )
    ]
    if application_id == 0 and not tables:
        return 0
    if application_id != _schema.APPLICATION_ID or _schema.META_TABLE not in tables:
        shown = ", ".join(tables[:_PROBLEMS_SHOWN]) or "none"
        _fail(
            PluginErrorCode.InvalidFormat,
            path,
            "foreign",
            f"this SQLite database belongs to another application (application_id "
            f"{application_id:#x}, tables: {shown}); the journal needs a file of its own",
        )
    row = connection.execute(
        "SELECT value FROM journal_meta WHERE key = 'schema_version'"
    ).fetchone()
    stored = _stored_version(row[0]) if row else None
    if stored is None or stored != version or version < 1:
        shown = repr(row[0])[:40] if row else "missing"
        _corrupt(path, f"schema version {shown} in journal_meta, user_version {version}")
    if version > _schema.LATEST_VERSION:
        _fail(
            PluginErrorCode.IncompatibleVersion,
            path,
            "newer-schema",
            f"the journal has schema version {version}, written by a newer qtforge_orch; this "
            f"one reads versions up to {_schema.LATEST_VERSION}: upgrade qtforge_orch",
        )
    return int(version)


def _quick_check(path: Path, connection: sqlite3.Connection) -> None:
    problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
    if problems != ["ok"]:
        _corrupt(path, "; ".join(problems[:_PROBLEMS_SHOWN]))


def _prepare(path: Path, connection: sqlite3.Connection, quick_check: bool) -> None:
    version = _check_identity(path, connection)
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        _fail(
            PluginErrorCode.NotSupported,
            path,
            "no-wal",
            f"SQLite could not switch the database to WAL mode (it stayed in {mode!r}); is it "
            "on a network drive? Keep the journal on a local disk",
        )
    connection.execute("PRAGMA synchronous = NORMAL")
    if version and quick_check:
        _quick_check(path, connection)
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = _check_identity(path, connection)  # another process may have created it
        if version == 0:
            _schema.create(connection, time.time())
        elif version < _schema.LATEST_VERSION:
            _schema.migrate(connection, version)
        else:
            _schema.complete(connection)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def connect(path: Path, busy_timeout: float, quick_check: bool = True) -> sqlite3.Connection:
    """A connection to a usable journal at ``path``: WAL, ``synchronous=NORMAL``, latest schema.

    Creates the file if it does not exist.

    Raises:
        PluginError: the file cannot be used as a journal (see the module's table).
    """
    _check_file(path)
    try:
        connection = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        classify(path, exc)
    try:
        _prepare(path, connection, quick_check)
    except sqlite3.Error as exc:
        connection.close()
        classify(path, exc)
    except BaseException:
        connection.close()
        raise
    return connection


def read_connection(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """A second connection for queries, on a file :func:`connect` already opened."""
    connection = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    connection.execute("PRAGMA query_only = ON")
    return connection
