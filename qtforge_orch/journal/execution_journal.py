"""``ExecutionJournal``: the durable record of executions, one SQLite file per journal."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import PluginError, PluginErrorCode
from . import _claims, _opening
from ._owner import OwnerLock, remove_stale_owner_files
from ._ownership import CLOSE_TIMEOUT_S, JournalOwnership
from ._reading import JournalQueries
from ._resources import Resources
from ._store import (
    EXECUTION_FINISHED,
    EXECUTION_STARTED,
    LATE_OUTCOME,
    ROLLBACK,
    TRANSACTION,
    Store,
)
from .records import (
    FINISHED_STATUSES,
    KINDS,
    TASK_STATES,
    TRANSACTION_STATES,
)
from .retention import RetentionPolicy, enforce
from .writer import BatchWriter, WriterStats


class ExecutionJournal(JournalQueries, JournalOwnership):
    """A durable record of executions in a SQLite file (WAL mode, ``synchronous=NORMAL``).

    Record calls (``execution_started``, ``task_changed``, ...) only queue the record and
    return its sequence number: they never wait for the disk and may be called from any thread,
    the Qt GUI thread included. One writer thread writes the queue in batches, one transaction
    per batch; ``flush`` and ``wait_committed`` wait until records are durable, and
    ``on_commit`` is called (on the writer thread, with no lock held) with the last sequence
    number each commit made durable (``add_commit_listener`` adds more callbacks). Values are
    encoded on the writer thread: do not mutate a dict after recording it. Record calls never
    raise for the state of the journal: once it is closed they drop the record (a warning on
    stderr, ``stats().dropped``) and return ``committed_seq()``; they raise ``ValueError`` for
    a state, status or kind that does not exist.

    Opening checks the file (see the ``Raises`` section), upgrades an older schema, and marks
    ``interrupted`` every running execution whose process has ended
    (``interrupted_at_open``). Close the journal with ``close()`` or a ``with`` block; it is
    also closed when collected and at interpreter exit.

    Args:
        path: The database file; created if it does not exist (its folder must exist).
        pickle_fallback: Store values JSON cannot store with pickle, and read pickled values
            back. Unpickling runs code the file names, so only enable it for journals no one
            else can write. Without it nothing is ever unpickled: a row stored with pickle
            reads back as a preview with a note.
        retention: How much history to keep (default: the 1000 newest executions).
        on_commit: Called with the last committed sequence number after every commit.
        busy_timeout: Seconds to wait for another process's lock before giving up (at open:
            a ``PluginError``; while writing: a retry).
        max_batch_delay: Seconds the writer waits after the first record of an idle period so
            that a burst becomes one batch (``flush`` cuts it short).
        quick_check: Run ``PRAGMA quick_check`` when opening an existing file.

    Attributes:
        interrupted_at_open: The ids of the executions this opening marked ``interrupted``
            (their process had ended without finishing them), oldest first.

    Raises:
        PluginError: ``FileNotFound`` (no such folder), ``PermissionDenied`` (read-only file
            or folder), ``ResourceUnavailable`` (locked by another process),
            ``InvalidFormat`` (not a database, damaged, or another application's database),
            ``IncompatibleVersion`` (written by a newer qtforge_orch). ``context["path"]``
            holds the path and ``context["reason"]`` a short reason.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        pickle_fallback: bool = False,
        retention: RetentionPolicy | None = None,
        on_commit: Callable[[int], None] | None = None,
        busy_timeout: float = 5.0,
        max_batch_delay: float = 0.002,
        quick_check: bool = True,
    ) -> None:
        self._path = Path(os.path.abspath(path))
        self._retention = retention if retention is not None else RetentionPolicy()
        connection = _opening.connect(self._path, busy_timeout, quick_check)
        try:
            owner = OwnerLock(self._path)
        except OSError as exc:
            connection.close()
            raise PluginError(
                PluginErrorCode.PermissionDenied,
                f"execution journal {str(self._path)!r}: cannot create its owner lock file "
                f"next to it ({exc})",
                context={"path": str(self._path), "reason": "owner-lock"},
            ) from exc
        try:
            self.interrupted_at_open: list[str] = self._startup(connection, owner)
        except BaseException:
            connection.close()
            owner.release()
            raise
        store = Store(owner.token, owner.pid, pickle_fallback, self._retention)
        writer = BatchWriter(
            connection, store.apply, on_commit=on_commit, max_batch_delay=max_batch_delay
        )
        self._writer = writer
        self._put = writer.put
        self._put_task = writer.put_task
        self._resources = Resources(
            self._path, connection, owner, writer, busy_timeout, pickle_fallback
        )
        self._finalizer = weakref.finalize(self, self._resources.close, CLOSE_TIMEOUT_S)
        self._close_lock = threading.Lock()
        self._closed_ok: bool | None = None

    def _startup(self, connection: sqlite3.Connection, owner: OwnerLock) -> list[str]:
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                marked = _claims.mark_dead_owners(connection, self._path, owner.token)
                if self._retention.limited:
                    enforce(connection, self._retention, time.time())
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            _opening.classify(self._path, exc)
        remove_stale_owner_files(self._path)
        return marked

    # ------------------------------------------------------------------ life cycle

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called (or the journal was finalized)."""
        return not self._finalizer.alive

    @property
    def last_error(self) -> BaseException | None:
        """Why the writer is retrying (a locked or full disk), or None while all is well."""
        return self._writer.last_error

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record made so far is committed; False on timeout."""
        return self._writer.flush(timeout)

    def wait_committed(self, seq: int, timeout: float | None = None) -> bool:
        """Wait until the record with sequence number ``seq`` is committed; False on timeout."""
        return self._writer.wait_committed(seq, timeout)

    def committed_seq(self) -> int:
        """The sequence number of the last committed record (all earlier ones are committed)."""
        return self._writer.committed_seq()

    def add_commit_listener(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(seq)`` after every commit, like ``on_commit``.

        It runs on the writer thread with no journal lock held, must be quick, and must not
        wait for the journal (``flush`` there raises). Exceptions are reported on stderr.
        """
        self._writer.add_listener(callback)

    def remove_commit_listener(self, callback: Callable[[int], None]) -> None:
        """Stop calling a callback added with ``add_commit_listener``."""
        self._writer.remove_listener(callback)

    def last_seq(self) -> int:
        """The sequence number of the last record made (committed or still queued)."""
        return self._writer.last_seq()

    def stats(self) -> WriterStats:
        """The writer's counters: records, batches, commits, retries, dropped records."""
        return self._writer.stats()

    def close(self, timeout: float | None = CLOSE_TIMEOUT_S) -> bool:
        """Write what is queued, then release the file (idempotent).

        The journal's executions still running are marked ``interrupted``, the writer thread
        stops and the owner lock is released.

        Returns True if everything recorded was written within ``timeout``.
        """
        with self._close_lock:
            if self._finalizer.detach() is not None:
                self._closed_ok = self._resources.close(timeout)
            return self._closed_ok is not False

    def __enter__(self) -> ExecutionJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"committed {self.committed_seq()}"
        return f"ExecutionJournal({str(self._path)!r}, {state})"

    # ------------------------------------------------------------------ recording

    def execution_started(
        self,
        execution_id: str,
        workflow_id: str,
        kind: str,
        definition_json: str,
        initial_data: dict[str, Any] | None,
        resumed_from: str | None,
        at: float,
    ) -> int:
        """Record that an execution started (status ``running``); returns the sequence number.

        ``kind`` is ``"v1"`` or ``"v2"``; ``definition_json`` is the workflow's JSON as it ran;
        ``resumed_from`` is the execution this one resumes (it gets ``resumed_as``).
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, not {kind!r}")
        return self._put(
            (
                EXECUTION_STARTED,
                execution_id,
                workflow_id,
                kind,
                definition_json,
                initial_data,
                resumed_from,
                at,
            )
        )

    def task_changed(
        self,
        execution_id: str,
        task_key: str,
        state: str,
        attempt: int,
        output: Any,
        error: str | Mapping[str, Any] | None,
        at: float,
    ) -> int:
        """Record a task's new state; returns the sequence number.

        ``state`` is ``started``, ``completed`` (``output`` is stored), ``failed``,
        ``retrying`` (``error`` is stored for both: a message, or an error as data, whose
        ``message`` is the message and which ``TaskRecord.error_info`` reads back),
        ``skipped`` or ``cancelled``.
        """
        if state not in TASK_STATES:
            raise ValueError(f"state must be one of {sorted(TASK_STATES)}, not {state!r}")
        return self._put_task(execution_id, task_key, state, attempt, output, error, at)

    def task_recorder(self) -> Callable[[str, str, str, int, Any, Any, float], int]:
        """A function that records like ``task_changed``, one call shorter, unchecked.

        It takes ``task_changed``'s arguments and returns the sequence number. For a caller
        that only records the states ``task_changed`` accepts (the engine, twice per step):
        an unknown state would be stored as given.
        """
        return self._put_task

    def rollback_recorded(
        self,
        execution_id: str,
        task_key: str,
        ok: bool,
        error: str | None,
        at: float,
        *,
        late: bool = False,
    ) -> int:
        """Record that the rollback step of ``task_key`` ran; returns the sequence number.

        ``late``: it undid the late success of an abandoned attempt (``late_outcome_recorded``),
        not the task's completion.
        """
        return self._put((ROLLBACK, execution_id, task_key, bool(ok), error, at, bool(late)))

    def late_outcome_recorded(
        self,
        execution_id: str,
        task_key: str,
        attempt: int,
        output: Any,
        error: Mapping[str, Any] | None,
        at: float,
    ) -> int:
        """Record what an abandoned attempt returned after all; returns the sequence number.

        An attempt is abandoned when its execution is cancelled or times out, or when it times
        out itself. ``output`` is stored when ``error`` is None, else the error as data.
        """
        return self._put((LATE_OUTCOME, execution_id, task_key, attempt, output, error, at))

    def transaction_changed(
        self,
        transaction_id: str,
        state: str,
        execution_ids: list[str] | tuple[str, ...],
        at: float,
    ) -> int:
        """Record a transaction's state (``begun``, ``committed``, ``rolled_back``) and members.

        Members accumulate: ``execution_ids`` may list only the ones that joined since.
        """
        if state not in TRANSACTION_STATES:
            raise ValueError(f"state must be one of {sorted(TRANSACTION_STATES)}, not {state!r}")
        return self._put((TRANSACTION, transaction_id, state, tuple(execution_ids), at))

    def execution_finished(
        self,
        execution_id: str,
        status: str,
        result: dict[str, Any] | None,
        error: str | None,
        error_messages: list[str],
        at: float,
    ) -> int:
        """Record an execution's end: ``completed``, ``failed`` or ``cancelled``."""
        if status not in FINISHED_STATUSES:
            raise ValueError(f"status must be one of {sorted(FINISHED_STATUSES)}, not {status!r}")
        return self._put(
            (EXECUTION_FINISHED, execution_id, status, result, error, list(error_messages), at)
        )
