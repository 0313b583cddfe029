"""The journal's one writer thread: a queue of records, written in batches, one transaction each.

``put`` appends a record under a lock held for a few microseconds and returns its sequence
number; it never touches the disk, so any thread (the GUI thread included) may call it. The
writer thread takes everything queued (up to ``max_batch``), writes it in one ``BEGIN
IMMEDIATE`` ... ``COMMIT``, publishes the last sequence number it committed, and calls
every commit listener (``on_commit``) with it (on the writer thread, with no lock held).

While a batch is being written the next one accumulates, so the batch size follows the load by
itself (group commit). ``max_batch_delay`` lets the writer wait a little after the first record
of an idle period, so a burst becomes one batch rather than several; ``flush`` cuts the wait.

Failures: a busy, locked, full or failing disk (SQLite's BUSY, LOCKED, READONLY, IOERR, FULL,
CANTOPEN, PROTOCOL) rolls the batch back and retries it, with backoff, keeping every record
(``last_error`` says why it waits). Any other error rolls back and writes the batch again one
record at a time, each in a savepoint: the records that fail are reported on stderr, counted in
``stats().dropped`` and skipped, and the rest are committed.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

from .._log import logger
from ..errors import PluginError, PluginErrorCode

Op = tuple[Any, ...]
# apply(connection, ops) writes ops in order inside the writer's transaction.
Apply = Callable[[sqlite3.Connection, list[Op]], None]
TASK_CHANGED = "task_changed"  # the op kind the writer may merge (see put)
CALL = "call"  # an op ("call", fn, future): fn(connection) runs in the batch's transaction
_TRANSIENT = frozenset({5, 6, 8, 10, 13, 14, 15})
_TRANSIENT_WORDS = ("locked", "busy", "disk is full", "disk I/O error", "unable to open")
_BACKOFF_FIRST, _BACKOFF_MAX = 0.05, 1.0


@dataclass(frozen=True, slots=True)
class WriterStats:
    """What the writer has done since the journal was opened."""

    records: int = 0  # records written (calls included)
    batches: int = 0  # batches committed
    commits: int = 0  # COMMIT statements that succeeded
    largest_batch: int = 0
    retries: int = 0  # batches rolled back and retried after a transient error
    dropped: int = 0  # records skipped because writing them failed


def is_transient(exc: BaseException) -> bool:
    """Whether a sqlite3 error is about the disk or a lock, so retrying may succeed."""
    if not isinstance(exc, sqlite3.Error):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # raised without SQLite's code: judge by SQLite's own messages
        text = str(exc)
        return isinstance(exc, sqlite3.OperationalError) and any(
            words in text for words in _TRANSIENT_WORDS
        )
    return (int(code) & 0xFF) in _TRANSIENT


def _merged(op: Op) -> bool:
    """Whether ``op`` is a start and an end merged by ``put`` (it carries the start time)."""
    return op[0] == TASK_CHANGED and len(op) == 9


def _report(what: str, exc: BaseException) -> None:
    logger("journal").error("%s", what, exc_info=exc)


class BatchWriter:
    """A queue drained by one daemon thread into ``apply``, a transaction per batch."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        apply: Apply,
        *,
        on_commit: Callable[[int], None] | None = None,
        max_batch_delay: float = 0.0,
        max_batch: int = 10_000,
        name: str = "qtforge-journal-writer",
    ) -> None:
        self._connection = connection
        self._apply = apply
        # Called after each commit, in order; replaced (never mutated) under the lock.
        self._listeners: tuple[Callable[[int], None], ...] = (on_commit,) if on_commit else ()
        self._dropped_after_close = 0
        self._delay = max_batch_delay
        self._max_batch = max_batch
        # put() takes the bare lock (no Python frame per record); everything that waits or
        # notifies goes through the condition over the same lock.
        self._lock = threading.Lock()
        self._acquire, self._release = self._lock.acquire, self._lock.release
        self._cond = threading.Condition(self._lock)
        self._queue: list[Op] = []
        # The last sequence number taken by the writer. An op stands for one number, a merged
        # start and end for two (see put), so a partial take counts what it took.
        self._taken = 0
        self._seq = 0  # last sequence number handed out
        self._committed = 0  # last sequence number written
        self._idle = False  # the writer waits for the first record of a batch
        self._urgent = False  # a flush or close waits: no batching delay
        self._stopping = False
        self._closed = False
        self._stats = WriterStats()
        self._lost_reported = False
        self.last_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- any thread

    def put(self, op: Op) -> int:
        """Queue ``op``; returns its sequence number.

        Never raises (callers hold locks of their own): once the writer is closed the record is
        dropped with a warning on stderr (the first time), counted in ``stats().dropped``, and
        the last committed sequence number is returned, so nobody waits for it.
        """
        if op[0] == TASK_CHANGED:
            return self.put_task(*op[1:])
        with self._cond:
            if self._stopping:
                return self._dropped(op)
            return self._append(op)

    def put_task(
        self,
        execution_id: str,
        task_key: str,
        state: str,
        attempt: int,
        output: Any,
        error: Any,
        at: float,
    ) -> int:
        """Queue a task record as ``put`` does; returns its sequence number.

        The fields are ``ExecutionJournal.task_changed``'s, not checked.
        """
        # Two records per step come here: the op is built here (one call fewer than a put of a
        # built op), and the lock's acquire and release are called directly (a with block looks
        # both special methods up and binds them each time), read as attributes first
        # (``self._acquire()`` is a method-call lookup that the interpreter does not
        # specialise for a callable held by the instance).
        acquire, release = self._acquire, self._release
        acquire()
        try:
            if self._stopping:
                return self._dropped((TASK_CHANGED, execution_id, task_key, state))
            seq = self._seq = self._seq + 1
            queue = self._queue
            if queue and state != "started":
                last = queue[-1]
                if (
                    last[0] == TASK_CHANGED
                    and last[3] == "started"
                    and last[2] == task_key
                    and len(last) == 8  # not merged already
                    and last[1] == execution_id
                ):
                    # A tiny step's start and end, both still waiting: one op, as the writer
                    # would have merged them in one batch anyway (the start time rides
                    # along). The queue was not empty, so the writer is awake already.
                    queue[-1] = (
                        TASK_CHANGED,
                        execution_id,
                        task_key,
                        state,
                        attempt,
                        output,
                        error,
                        at,
                        last[7],
                    )
                    return seq
            queue.append((TASK_CHANGED, execution_id, task_key, state, attempt, output, error, at))
            if self._idle:
                self._idle = False
                self._cond.notify()
            return seq
        finally:
            release()

    def _dropped(self, op: Op) -> int:
        """(lock held) A record made after close: counted, warned about once."""
        self._dropped_after_close += 1
        self._stats = replace(self._stats, dropped=self._stats.dropped + 1)
        if self._dropped_after_close == 1:
            logger("journal").warning(
                "a record was made after the journal was closed; it is dropped, as "
                "are later ones (%r)",
                op[:2],
            )
        return self._committed

    def _append(self, op: Op) -> int:
        """(lock held) Append ``op``; wake the writer if it waits for work."""
        self._seq += 1
        self._queue.append(op)
        if self._idle:
            self._idle = False
            self._cond.notify()
        return self._seq

    def call(self, fn: Callable[[sqlite3.Connection], Any], timeout: float | None) -> Any:
        """Run ``fn(connection)`` in the writer's transaction, after everything queued before.

        ``fn`` runs in a savepoint: if it raises, what it wrote is undone and the exception is
        raised here. Returns its result once the transaction has committed.
        """
        self._not_on_writer("a write request")
        future: Future[Any] = Future()
        with self._cond:
            if self._stopping:
                raise PluginError(PluginErrorCode.InvalidState, "the execution journal is closed")
            seq = self._append((CALL, fn, future))
        if not self.wait_committed(seq, timeout):
            raise PluginError(
                PluginErrorCode.Timeout,
                f"the execution journal did not write within {timeout} s "
                f"(last error: {self.last_error!r})",
            )
        return future.result(timeout=0)

    def add_listener(self, callback: Callable[[int], None]) -> None:
        """Also call ``callback(seq)`` after each commit (writer thread, no lock held)."""
        with self._cond:
            self._listeners = (*self._listeners, callback)

    def remove_listener(self, callback: Callable[[int], None]) -> None:
        """Stop calling ``callback`` (its first registration)."""
        with self._cond:
            listeners = list(self._listeners)
            if callback in listeners:
                listeners.remove(callback)
            self._listeners = tuple(listeners)

    def committed_seq(self) -> int:
        """The sequence number of the last record written (every earlier one is written too)."""
        return self._committed

    def last_seq(self) -> int:
        """The sequence number of the last record queued."""
        return self._seq

    def wait_committed(self, seq: int, timeout: float | None = None) -> bool:
        """Wait until record ``seq`` is written; False on timeout or if the writer stopped."""
        self._not_on_writer("flush() or wait_committed()")
        with self._cond:
            if self._committed >= seq:
                return True
            self._urgent = True
            self._cond.notify_all()
            return (
                self._cond.wait_for(lambda: self._committed >= seq or self._closed, timeout)
                and self._committed >= seq
            )

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is written; False on timeout."""
        return self.wait_committed(self._seq, timeout)

    def stats(self) -> WriterStats:
        """A snapshot of the counters."""
        with self._cond:
            return self._stats

    def close(self, timeout: float | None) -> bool:
        """Write what is queued (waiting up to ``timeout``), stop the thread (idempotent).

        Returns True when everything queued was written and the thread has ended.
        """
        self._not_on_writer("close()")
        with self._cond:
            self._stopping = True
            self._urgent = True
            self._cond.notify_all()
        flushed = self.flush(timeout)
        with self._cond:
            self._closed = True  # stop retrying, even with records left
            self._cond.notify_all()
        self._thread.join(timeout)
        lost = self._seq - self._committed
        if lost and not self._lost_reported:
            self._lost_reported = True
            logger("journal").warning(
                "closed with %d record(s) not written (last error: %r)", lost, self.last_error
            )
        return flushed and not self._thread.is_alive()

    def _not_on_writer(self, what: str) -> None:
        if threading.current_thread() is self._thread:
            raise PluginError(
                PluginErrorCode.InvalidState,
                f"{what} called on the journal's writer thread (in an on_commit callback): "
                "it would wait for itself",
            )

    def running(self) -> bool:
        """Whether the thread is still alive (it is not after ``close`` returned True)."""
        return self._thread.is_alive()

    # ---------------------------------------------------------------- writer thread

    def _take(self, batch: list[Op]) -> tuple[list[Op], int] | None:
        """Wait for records; returns the batch (``batch`` plus new ones) and its last seq."""
        with self._cond:
            while not self._queue and not batch:
                if self._closed or self._stopping:
                    return None
                self._idle = True
                self._cond.wait()
            if self._delay > 0 and not self._urgent and not batch:
                self._cond.wait_for(
                    lambda: self._urgent or len(self._queue) >= self._max_batch, self._delay
                )
            room = self._max_batch - len(batch)
            taken, self._queue = self._queue[:room], self._queue[room:]
            self._urgent = self._urgent and bool(self._queue)
            if self._queue:  # a part: count the sequence numbers it stands for
                self._taken += sum(2 if _merged(op) else 1 for op in taken)
            else:
                self._taken = self._seq
            return batch + taken, self._taken

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # a bug: stop accepting records rather than lose them
            _report("the writer thread failed; the journal is closed", exc)
            with self._cond:
                self.last_error = exc
                self._stopping = self._closed = True
                self._cond.notify_all()

    def _loop(self) -> None:
        batch: list[Op] = []
        backoff = _BACKOFF_FIRST
        while True:
            taken = self._take(batch)
            if taken is None:
                return
            batch, last = taken
            try:
                results = self._write(batch)
            except sqlite3.Error as exc:  # transient: keep the batch, retry after a pause
                self.last_error = exc
                with self._cond:
                    self._stats = replace(self._stats, retries=self._stats.retries + 1)
                    if self._closed:
                        return
                    self._cond.wait(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                continue
            self.last_error = None
            backoff = _BACKOFF_FIRST
            self._published(batch, last, results)
            batch = []

    def _published(self, batch: list[Op], last: int, results: list[Any]) -> None:
        # Calls' results first: whoever waits for the commit then finds its future resolved.
        for op, result in zip(batch, results, strict=True):
            if op[0] == CALL:
                future: Future[Any] = op[2]
                if isinstance(result, _Raised):
                    future.set_exception(result.exc)
                else:
                    future.set_result(result)
        with self._cond:
            self._committed = last
            s = self._stats
            self._stats = replace(
                s,
                records=s.records + len(batch),
                batches=s.batches + 1,
                commits=s.commits + 1,
                largest_batch=max(s.largest_batch, len(batch)),
                dropped=s.dropped + sum(1 for r in results if r is _DROPPED),
            )
            self._cond.notify_all()
            listeners = self._listeners
        for listener in listeners:
            try:
                listener(last)
            except BaseException as exc:
                _report("a commit listener (on_commit) raised", exc)

    def _write(self, batch: list[Op]) -> list[Any]:
        """Write ``batch`` in one transaction; one result per op (a call's, or None).

        Raises only transient sqlite3 errors (the transaction rolled back).
        """
        connection = self._connection
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                results = self._apply_all(connection, batch)
            except Exception as exc:
                if is_transient(exc):
                    raise
                connection.execute("ROLLBACK")
                connection.execute("BEGIN IMMEDIATE")
                results = self._apply_one_by_one(connection, batch)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return results

    def _apply_all(self, connection: sqlite3.Connection, batch: list[Op]) -> list[Any]:
        results: list[Any] = [None] * len(batch)
        start = 0
        for index, op in enumerate(batch):
            if op[0] == CALL:
                if start < index:
                    self._apply(connection, batch[start:index])
                results[index] = _call(connection, op)
                start = index + 1
        if start < len(batch):
            self._apply(connection, batch[start:] if start else batch)
        return results

    def _apply_one_by_one(self, connection: sqlite3.Connection, batch: list[Op]) -> list[Any]:
        results: list[Any] = []
        for op in batch:
            if op[0] == CALL:
                results.append(_call(connection, op))
                continue
            connection.execute("SAVEPOINT record")
            try:
                self._apply(connection, [op])
            except Exception as exc:
                if is_transient(exc):
                    raise
                connection.execute("ROLLBACK TO record")
                _report(f"dropped a record that could not be written: {op[:3]!r}", exc)
                results.append(_DROPPED)
            else:
                results.append(None)
            connection.execute("RELEASE record")
        return results


class _Raised:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DROPPED = object()


def _call(connection: sqlite3.Connection, op: Op) -> Any:
    connection.execute("SAVEPOINT call")
    try:
        result = op[1](connection)
    except Exception as exc:
        if is_transient(exc):
            raise
        connection.execute("ROLLBACK TO call")
        result = _Raised(exc)
    connection.execute("RELEASE call")
    return result
