"""``ExecutionJournal``: the durable record of executions, one SQLite file per journal."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .._errors import PluginError, PluginErrorCode
from . import _claims, _opening, _queries
from ._owner import OwnerLock, remove_stale_owner_files
from ._records import (
    EXECUTION_STATUSES,
    FINISHED_STATUSES,
    KINDS,
    TASK_STATES,
    TRANSACTION_STATES,
    ExecutionPage,
    ExecutionRecord,
    TaskRecord,
    TransactionRecord,
)
from ._retention import RetentionPolicy, enforce
from ._store import (
    EXECUTION_FINISHED,
    EXECUTION_STARTED,
    ROLLBACK,
    TASK_CHANGED,
    TRANSACTION,
    Store,
)
from ._writer import BatchWriter, WriterStats

T = TypeVar("T")
CLOSE_TIMEOUT_S = 10.0


class _Resources:
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
    ) -> None:
        self.path = path
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
                raise PluginError(
                    PluginErrorCode.FileSystemError,
                    f"reading execution journal {str(self.path)!r} failed: {exc}",
                    context={"path": str(self.path)},
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
                print(f"qtforge_orch journal: closing {self.path}: {exc}", file=sys.stderr)
            self.connection.close()
        self.owner.release()
        return ok


class ExecutionJournal:
    """A durable record of executions in a SQLite file (WAL mode, ``synchronous=NORMAL``).

    Record calls (``execution_started``, ``task_changed``, ...) only queue the record and
    return its sequence number: they never wait for the disk and may be called from any thread,
    the Qt GUI thread included. One writer thread writes the queue in batches, one transaction
    per batch; ``flush`` and ``wait_committed`` wait until records are durable, and
    ``on_commit`` is called (on the writer thread, with no lock held) with the last sequence
    number each commit made durable. Values are encoded on the writer thread: do not mutate a
    dict after recording it.

    Opening checks the file (see the ``Raises`` section), upgrades an older schema, and marks
    ``interrupted`` every running execution whose process has ended
    (``interrupted_at_open``). Close the journal with ``close()`` or a ``with`` block; it is
    also closed when collected and at interpreter exit.

    Args:
        path: The database file; created if it does not exist (its folder must exist).
        pickle_fallback: Store values JSON cannot store with pickle. Unpickling runs code the
            file names, so only enable it for journals no one else can write.
        retention: How much history to keep (default: the 1000 newest executions).
        on_commit: Called with the last committed sequence number after every commit.
        busy_timeout: Seconds to wait for another process's lock before giving up (at open:
            a ``PluginError``; while writing: a retry).
        max_batch_delay: Seconds the writer waits after the first record of an idle period so
            that a burst becomes one batch (``flush`` cuts it short).
        quick_check: Run ``PRAGMA quick_check`` when opening an existing file.

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
        self._resources = _Resources(self._path, connection, owner, writer, busy_timeout)
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
        error: str | None,
        at: float,
    ) -> int:
        """Record a task's new state; returns the sequence number.

        ``state`` is ``started``, ``completed`` (``output`` is stored), ``failed``,
        ``retrying`` (``error`` is stored for both), ``skipped`` or ``cancelled``.
        """
        if state not in TASK_STATES:
            raise ValueError(f"state must be one of {sorted(TASK_STATES)}, not {state!r}")
        return self._put((TASK_CHANGED, execution_id, task_key, state, attempt, output, error, at))

    def rollback_recorded(
        self, execution_id: str, task_key: str, ok: bool, error: str | None, at: float
    ) -> int:
        """Record that the rollback step of ``task_key`` ran; returns the sequence number."""
        return self._put((ROLLBACK, execution_id, task_key, bool(ok), error, at))

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

    # ------------------------------------------------------------------ queries

    def list_executions(
        self,
        workflow_id: str | None = None,
        limit: int = 50,
        before: str | None = None,
        *,
        status: str | None = None,
    ) -> ExecutionPage:
        """A page of executions, newest first; pass ``page.next_cursor`` as ``before``.

        Reads what is committed (``flush()`` first to include what was just recorded).
        """
        if status is not None and status not in EXECUTION_STATUSES:
            raise ValueError(f"status must be one of {sorted(EXECUTION_STATUSES)}")
        return self._resources.read(_queries.list_executions, workflow_id, status, limit, before)

    def execution(self, execution_id: str) -> ExecutionRecord | None:
        """Everything recorded about one execution, or None if the journal does not hold it."""
        return self._resources.read(_queries.execution, execution_id)

    def task_records(self, execution_id: str) -> list[TaskRecord]:
        """The latest record of each of its tasks, in the order they were first recorded."""
        return self._resources.read(_queries.task_records, execution_id)

    def completed_outputs(self, execution_id: str) -> dict[str, Any]:
        """``{task_key: output}`` of its completed tasks whose outputs were stored exactly.

        This is what a resume reuses instead of running those tasks again.
        """
        return self._resources.read(_queries.completed_outputs, execution_id)

    def rollbacks_done(self, execution_id: str) -> set[str]:
        """The tasks whose rollback step already ran (so a resume must not run it again)."""
        return self._resources.read(_queries.rollbacks_done, execution_id)

    def transaction(self, transaction_id: str) -> TransactionRecord | None:
        """A recorded transaction and its executions, or None."""
        return self._resources.read(_queries.transaction, transaction_id)

    # ------------------------------------------------------------------ ownership

    def claim_for_resume(
        self,
        execution_id: str,
        resumed_as: str,
        *,
        definition_json: str | None = None,
        force: bool = False,
        timeout: float | None = CLOSE_TIMEOUT_S,
    ) -> ExecutionRecord:
        """Claim ``execution_id`` for a resume that will run as ``resumed_as``.

        Atomic across processes: of two claims, one fails. Everything recorded before is
        written first. With ``definition_json`` (the definition the resume will run), a
        definition whose hash differs from the recorded one is refused unless ``force``.

        Returns:
            The claimed execution (its ``resumed_as`` set).

        Raises:
            PluginError: ``NotFound`` (not in the journal), ``InvalidState`` (completed,
                already resumed, or running here or in another live process),
                ``VersionMismatch`` (the definition changed; ``context["changes"]`` and the
                message list what changed), ``Timeout`` (the writer could not write in time).
        """
        path, token = self._path, self._resources.owner.token

        def claim(connection: sqlite3.Connection) -> ExecutionRecord | None:
            _claims.claim(connection, path, token, execution_id, resumed_as, definition_json, force)
            return _queries.execution(connection, execution_id)

        claimed: ExecutionRecord = self._writer.call(claim, timeout)
        return claimed

    def release_claim(
        self, execution_id: str, resumed_as: str, timeout: float | None = CLOSE_TIMEOUT_S
    ) -> bool:
        """Undo ``claim_for_resume`` when the resume could not start; True if it was claimed."""
        released: bool = self._writer.call(
            lambda c: _claims.release(c, execution_id, resumed_as), timeout
        )
        return released

    def detect_interrupted(self, timeout: float | None = CLOSE_TIMEOUT_S) -> list[str]:
        """Mark ``interrupted`` the running executions whose process has ended since opening.

        Returns:
            The ids of the executions marked.
        """
        path, token = self._path, self._resources.owner.token
        marked: list[str] = self._writer.call(
            lambda c: _claims.mark_dead_owners(c, path, token), timeout
        )
        return marked

    def apply_retention(
        self, now: float | None = None, timeout: float | None = CLOSE_TIMEOUT_S
    ) -> int:
        """Enforce the retention policy now, by count and by age.

        Args:
            now: The current time in seconds since the epoch (default: ``time.time()``).
            timeout: How long to wait for the writer.

        Returns:
            How many executions were deleted.
        """
        policy = self._retention
        deleted: int = self._writer.call(
            lambda c: enforce(c, policy, time.time() if now is None else now), timeout
        )
        return deleted
