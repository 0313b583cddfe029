"""What an open journal holds, and how it is released: the writer, the connections, the lock."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .._log import logger
from ..errors import PluginError, PluginErrorCode
from . import _claims, _opening
from ._owner import OwnerLock
from .writer import BatchWriter

T = TypeVar("T")


class Resources:
    """What an open journal holds; closed by ``close()``, by garbage collection, or at exit.

    Holds no reference to the ``ExecutionJournal``, so the journal can be collected (and its
    finalizer run) while the writer thread is alive.
    """

    def __init__(
        self,
        path: Path,
        connection: sqlite3.Connection,
        owner: OwnerLock,
        writer: BatchWriter,
        busy_timeout: float,
        unpickle: bool,
    ) -> None:
        self.path = path
        # Whether queries may unpickle (``pickle_fallback``): unpickling runs code.
        self.unpickle = unpickle
        self.connection = connection
        self.owner = owner
        self.writer = writer
        self.busy_timeout = busy_timeout
        self.lock = threading.Lock()  # guards the reader and ``closed``
        self.reader: sqlite3.Connection | None = None
        self.closed = False

    def read(self, query: Callable[..., T], *args: Any) -> T:
        with self.lock:
            if self.closed:
                raise PluginError(
                    PluginErrorCode.InvalidState,
                    f"execution journal {str(self.path)!r} is closed",
                    context={"path": str(self.path)},
                )
            try:
                if self.reader is None:
                    self.reader = _opening.read_connection(self.path, self.busy_timeout)
                self.reader.execute("BEGIN")
                try:
                    return query(self.reader, *args)
                finally:
                    self.reader.execute("COMMIT")
            except sqlite3.Error as exc:
                if _opening.is_corruption(exc):
                    raise PluginError(
                        PluginErrorCode.InvalidFormat,
                        f"reading execution journal {str(self.path)!r} failed: the database "
                        f"is damaged ({exc}); move it aside, or try the sqlite3 tool's .recover",
                        context={"path": str(self.path), "reason": "corrupt"},
                    ) from exc
                raise PluginError(
                    PluginErrorCode.FileSystemError,
                    f"reading execution journal {str(self.path)!r} failed: {exc}",
                    context={"path": str(self.path), "reason": "sqlite"},
                ) from exc

    def close(self, timeout: float | None) -> bool:
        ok = self.writer.close(timeout)
        with self.lock:
            self.closed = True
            if self.reader is not None:
                self.reader.close()
        if not self.writer.running():  # the connection is ours again
            try:
                self.connection.execute("BEGIN IMMEDIATE")
                _claims.mark_own_interrupted(self.connection, self.owner.token)
                self.connection.execute("COMMIT")
                self.connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:
                ok = False
                logger("journal").error("closing %s: %s", self.path, exc)
            self.connection.close()
        self.owner.release()
        return ok
