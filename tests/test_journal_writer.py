"""The writer thread: batches in one transaction each, concurrency, flush/close, failures."""

from __future__ import annotations

import gc
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import PluginError, PluginErrorCode
from qtforge_orch.journal import ExecutionJournal

from .journal_helpers import V1_DEFINITION, Child, open_journal, owner_files, raw, task_table


def test_a_batch_is_one_transaction(tmp_path: Path) -> None:
    entered, release = threading.Event(), threading.Event()

    def on_commit(seq: int) -> None:
        if seq == 1:  # hold the writer after its first commit
            entered.set()
            assert release.wait(20)

    journal = open_journal(tmp_path / "j.sqlite", on_commit=on_commit)
    try:
        assert journal.execution_started("e", "wf", "v1", "{}", None, None, 1.0) == 1
        assert entered.wait(20)
        seqs = [
            journal.task_changed("e", f"t{i}", "completed", 1, {"i": i}, None, 2.0)
            for i in range(4999)
        ]
        assert seqs == list(range(2, 5001))
        assert journal.committed_seq() == 1  # queued, not written, while the writer waits
        release.set()
        assert journal.flush(20)
        stats = journal.stats()
        assert (stats.records, stats.batches, stats.commits) == (5000, 2, 2)
        assert stats.largest_batch == 4999
        with raw(journal.path) as db:
            assert db.execute("SELECT count(*) FROM tasks").fetchone()[0] == 4999
    finally:
        release.set()
        journal.close()


def test_a_burst_is_batched(tmp_path: Path) -> None:
    with open_journal(tmp_path / "j.sqlite", max_batch_delay=0.05) as journal:
        for i in range(2000):
            journal.task_changed("e", f"t{i}", "started", 1, None, None, 1.0)
        assert journal.flush(20)
        stats = journal.stats()
        assert stats.records == 2000
        assert stats.commits == stats.batches < 2000


def test_eight_threads_record_concurrently(tmp_path: Path) -> None:
    journal = open_journal(tmp_path / "j.sqlite")
    threads, per_thread, tasks = 8, 150, 3
    barrier = threading.Barrier(threads)
    seqs: list[list[int]] = [[] for _ in range(threads)]

    def record(n: int) -> None:
        barrier.wait()
        mine = seqs[n]
        for i in range(per_thread):
            eid = f"t{n}-e{i}"
            mine.append(journal.execution_started(eid, f"wf{n}", "v2", "{}", {"i": i}, None, 1.0))
            for t in range(tasks):
                mine.append(journal.task_changed(eid, f"k{t}", "started", 1, None, None, 2.0))
                mine.append(
                    journal.task_changed(eid, f"k{t}", "completed", 1, [n, i, t], None, 3.0)
                )
            mine.append(journal.execution_finished(eid, "completed", {"n": n}, None, [], 4.0))

    workers = [threading.Thread(target=record, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    try:
        total = threads * per_thread * (2 + 2 * tasks)
        assert sorted(s for mine in seqs for s in mine) == list(range(1, total + 1))
        assert all(mine == sorted(mine) for mine in seqs)  # each thread's records in its order
        assert journal.flush(30)
        assert journal.committed_seq() == total
        page = journal.list_executions(limit=10_000)
        assert len(page.executions) == threads * per_thread
        assert {e.status for e in page.executions} == {"completed"}
        for n in range(threads):
            for i in (0, per_thread - 1):
                assert journal.completed_outputs(f"t{n}-e{i}") == {
                    f"k{t}": [n, i, t] for t in range(tasks)
                }
        assert journal.stats().dropped == 0
    finally:
        assert journal.close()


def test_flush_wait_and_committed_seq(tmp_path: Path) -> None:
    with open_journal(tmp_path / "j.sqlite") as journal:
        assert journal.flush(0) and journal.committed_seq() == 0  # nothing to wait for
        seq = journal.execution_started("e", "wf", "v1", V1_DEFINITION, None, None, 1.0)
        assert journal.wait_committed(seq, 10)
        assert journal.committed_seq() >= seq == journal.last_seq()
        assert journal.execution("e") is not None


def test_close_writes_everything_and_is_idempotent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.sqlite"
    journal = open_journal(path)
    journal.execution_started("e", "wf", "v1", "{}", None, None, 1.0)
    for i in range(1000):
        journal.task_changed("e", f"t{i}", "completed", 1, i, None, 2.0)
    journal.execution_finished("e", "completed", None, None, [], 3.0)
    assert journal.close()  # no flush before: close writes the queue
    assert journal.close() and journal.closed
    # A record after close never raises (the engine records with its own locks held): it is
    # dropped with a warning, and its number is one nobody has to wait for.
    last = journal.committed_seq()
    assert journal.task_changed("e", "late", "started", 1, None, None, 4.0) == last
    assert journal.rollback_recorded("e", "late", True, None, 4.0) == last
    assert journal.flush(0) and journal.wait_committed(last, 0)
    assert journal.stats().dropped == 2
    assert caplog.text.count("after the journal was closed") == 1
    assert all(r.name == "qtforge_orch.journal" for r in caplog.records)
    with pytest.raises(PluginError, match="closed") as raised:
        journal.execution("e")
    assert raised.value.code == PluginErrorCode.InvalidState
    with pytest.raises(PluginError, match="closed"):
        journal.apply_retention()
    assert owner_files(path) == []
    with open_journal(path) as again:
        assert len(again.completed_outputs("e")) == 1000
        assert again.execution("e").status == "completed"  # type: ignore[union-attr]


def test_closing_with_executions_running_marks_them_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with open_journal(path) as journal:
        journal.execution_started("e", "wf", "v1", "{}", None, None, 1.0)
        journal.task_changed("e", "a", "completed", 1, {"x": 1}, None, 5.0)
    with open_journal(path) as again:
        record = again.execution("e")
        assert record is not None and record.status == "interrupted"
        assert record.ended_at == 5.0  # its last recorded activity
        assert record.error is not None and "closed while it was running" in record.error
        assert again.interrupted_at_open == []  # its owner had already marked it


def test_on_commit_runs_on_the_writer_without_the_lock(tmp_path: Path) -> None:
    seen: list[int] = []
    refused: list[BaseException] = []
    holder: list[ExecutionJournal] = []

    def on_commit(seq: int) -> None:
        journal = holder[0]
        assert journal.committed_seq() == seq  # takes no lock; stats() does:
        assert journal.stats().records >= 1
        seen.append(seq)
        if len(seen) == 1:
            journal.task_changed("e", "from-callback", "started", 1, None, None, 1.0)
            try:
                journal.flush(1)
            except PluginError as exc:
                refused.append(exc)

    journal = open_journal(tmp_path / "j.sqlite", on_commit=on_commit)
    holder.append(journal)
    try:
        for i in range(50):
            journal.task_changed("e", f"t{i}", "started", 1, None, None, 1.0)
        assert journal.wait_committed(51, 10)  # the callback's own record
    finally:
        assert journal.close()  # joins the writer: every callback has returned
    assert seen == sorted(seen) and seen[-1] == 51
    assert len(refused) == 1 and "writer thread" in str(refused[0])


def test_commit_listeners_can_be_added_and_removed(tmp_path: Path) -> None:
    first: list[int] = []
    second: list[int] = []
    with open_journal(tmp_path / "j.sqlite", on_commit=first.append) as journal:
        journal.add_commit_listener(second.append)
        seq = journal.task_changed("e", "a", "started", 1, None, None, 1.0)
        assert journal.flush(10)
        journal.remove_commit_listener(second.append)
        journal.remove_commit_listener(second.append)  # not registered any more: no error
        last = journal.task_changed("e", "b", "started", 1, None, None, 1.0)
    # close() has joined the writer: every listener call has returned.
    assert first[-1] == last and first[0] >= seq
    assert second and second[-1] < last


def test_a_raising_on_commit_is_reported_and_writing_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def on_commit(seq: int) -> None:
        raise RuntimeError("callback bug")

    with open_journal(tmp_path / "j.sqlite", on_commit=on_commit) as journal:
        journal.task_changed("e", "a", "started", 1, None, None, 1.0)
        assert journal.flush(10)
        journal.task_changed("e", "b", "started", 1, None, None, 1.0)
        assert journal.flush(10)
    assert "callback bug" in caplog.text  # the traceback is logged


def test_the_writer_retries_while_another_connection_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with open_journal(path, busy_timeout=0.02) as journal, raw(path) as other:
        other.execute("BEGIN EXCLUSIVE")
        journal.execution_started("e", "wf", "v1", "{}", None, None, 1.0)
        assert not journal.flush(0.3)  # cannot commit while the lock is held
        assert isinstance(journal.last_error, sqlite3.OperationalError)
        assert "locked" in str(journal.last_error)
        journal.task_changed("e", "a", "completed", 1, {"x": 1}, None, 2.0)
        other.execute("COMMIT")
        assert journal.flush(20)
        assert journal.last_error is None
        assert journal.stats().retries >= 1 and journal.stats().dropped == 0
        assert journal.completed_outputs("e") == {"a": {"x": 1}}


def test_a_record_sqlite_cannot_take_is_dropped_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    entered, release = threading.Event(), threading.Event()

    def on_commit(seq: int) -> None:
        if seq == 1:
            entered.set()
            assert release.wait(20)

    with open_journal(tmp_path / "j.sqlite", on_commit=on_commit) as journal:
        journal.execution_started("e", "wf", "v1", "{}", None, None, 1.0)
        assert entered.wait(20)
        journal.task_changed("e", "a", "completed", 1, 1, None, 2.0)
        journal.task_changed("e", object(), "completed", 1, 2, None, 2.0)  # type: ignore[arg-type]
        journal.task_changed("e", "c", "completed", 1, 3, None, 2.0)
        release.set()
        assert journal.flush(20)
        assert journal.completed_outputs("e") == {"a": 1, "c": 3}
        assert journal.stats().dropped == 1
    assert "dropped a record" in caplog.text


def test_a_collected_journal_closes_itself(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = open_journal(path)
    journal.execution_started("e", "wf", "v1", "{}", None, None, 1.0)
    assert len(owner_files(path)) == 1
    del journal
    gc.collect()
    assert owner_files(path) == []
    with open_journal(path) as again:
        assert again.execution("e").status == "interrupted"  # type: ignore[union-attr]


def test_interpreter_exit_closes_an_open_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    child = Child(
        """
        journal = ExecutionJournal(path)
        journal.execution_started("e", "wf", "v1", "{}", None, None, 1.0)
        journal.task_changed("e", "a", "completed", 1, {"x": 1}, None, 2.0)
        journal.execution_finished("e", "completed", {"x": 1}, None, [], 3.0)
        print("recorded", flush=True)
        # no flush, no close: the exit hook writes the queue
        """,
        path,
    )
    child.expect("recorded")
    code, err = child.finish()
    assert code == 0, err
    assert "Traceback" not in err
    assert owner_files(path) == []
    with ExecutionJournal(path) as journal:
        record = journal.execution("e")
        assert record is not None and (record.status, record.result) == ("completed", {"x": 1})


TASK_HISTORY = [
    ("a", "started", 1, None, None),
    ("a", "retrying", 1, None, "flaky"),
    ("a", "started", 2, None, None),
    ("a", "completed", 2, {"rows": 3}, None),
    ("b", "started", 1, None, None),
    ("b", "retrying", 1, None, "first"),
    ("b", "started", 2, None, None),
    ("b", "failed", 2, None, "second"),
    ("c", "skipped", 0, None, None),
    ("d", "started", 1, None, None),
    ("d", "cancelled", 1, None, None),
    ("e", "started", 1, None, None),
    ("e", "completed", 1, {"t": (1, 2)}, None),
    ("f", "started", 1, None, None),
]


@pytest.mark.parametrize("split", [1, 2, 3, 5, 7])
def test_batching_does_not_change_what_is_stored(tmp_path: Path, split: int) -> None:
    """A task's records in one batch are merged into one row; the rows must be the same as
    when every record is written on its own."""
    stored = []
    for batch_size in (1, split, len(TASK_HISTORY)):
        # A long batching delay: only flush() ends a batch.
        with open_journal(tmp_path / f"j{batch_size}.sqlite", max_batch_delay=30) as journal:
            journal.execution_started("e", "wf", "v1", "{}", None, None, 0.0)
            assert journal.flush(10)
            for n, (key, state, attempt, output, error) in enumerate(TASK_HISTORY):
                journal.task_changed("e", key, state, attempt, output, error, float(n))
                if (n + 1) % batch_size == 0:
                    assert journal.flush(10)
            assert journal.flush(10)
            stored.append(journal.task_records("e"))
            expected_batches = 1 + -(-len(TASK_HISTORY) // batch_size)
            assert journal.stats().batches == expected_batches
    assert stored[0] == stored[1] == stored[2]
    tasks = {t.task_key: t for t in stored[0]}
    assert (tasks["a"].state, tasks["a"].attempts, tasks["a"].error) == ("completed", 2, None)
    assert (tasks["a"].started_at, tasks["a"].ended_at) == (0.0, 3.0)
    assert (tasks["b"].state, tasks["b"].error, tasks["b"].ended_at) == ("failed", "second", 7.0)
    assert (tasks["d"].state, tasks["d"].started_at, tasks["d"].ended_at) == (
        "cancelled",
        9.0,
        10.0,
    )
    assert (tasks["e"].resumable, tasks["e"].output) == (False, {"t": [1, 2]})
    assert (tasks["f"].state, tasks["f"].ended_at) == ("started", None)


def test_a_start_and_end_still_queued_become_one_op_with_exact_sequence_numbers(
    tmp_path: Path,
) -> None:
    """A tiny step's ``started`` and ``completed`` waiting in the queue are written as one op
    (B14); what is stored is the same as for two ops, and a partial take (a batch limit)
    still commits exactly the sequence numbers it wrote."""
    from qtforge_orch.journal.writer import BatchWriter

    written: list[tuple[object, ...]] = []
    commits: list[int] = []
    entered, release = threading.Event(), threading.Event()
    connection = sqlite3.connect(tmp_path / "w.sqlite", check_same_thread=False)

    def apply(_connection: sqlite3.Connection, ops: list[tuple[object, ...]]) -> None:
        written.extend(ops)

    def hold(seq: int) -> None:
        commits.append(seq)
        if seq == 1:
            entered.set()
            assert release.wait(20)

    writer = BatchWriter(connection, apply, on_commit=hold, max_batch=2)
    try:
        assert writer.put(("x", 0)) == 1
        assert entered.wait(20)  # the writer holds after committing seq 1
        a_started = writer.put(("task_changed", "e", "a", "started", 1, None, None, 1.0))
        b_started = writer.put(("task_changed", "e", "b", "started", 1, None, None, 2.0))
        b_done = writer.put(("task_changed", "e", "b", "completed", 1, {}, None, 3.0))
        c_started = writer.put(("task_changed", "e", "c", "started", 1, None, None, 4.0))
        assert (a_started, b_started, b_done, c_started) == (2, 3, 4, 5)
        release.set()
        assert writer.wait_committed(4, 20)
        assert writer.flush(20)
        assert written == [
            ("x", 0),
            ("task_changed", "e", "a", "started", 1, None, None, 1.0),
            ("task_changed", "e", "b", "completed", 1, {}, None, 3.0, 2.0),  # merged
            ("task_changed", "e", "c", "started", 1, None, None, 4.0),
        ]
        assert writer.stats().batches == 3  # max_batch=2: the queue was taken in two parts
        assert commits == [1, 4, 5]  # the first part stood for 2, 3 and 4
    finally:
        release.set()
        writer.close(10)
        connection.close()


@pytest.mark.parametrize("through", ["task_changed", "task_recorder"])
def test_a_merged_start_is_stored_like_two_records(tmp_path: Path, through: str) -> None:
    """Also through ``task_recorder()`` (what the engine records with): the same records,
    the same sequence numbers."""
    with open_journal(tmp_path / "j.sqlite") as journal:
        record = journal.task_changed if through == "task_changed" else journal.task_recorder()
        journal.execution_started("e", "wf", "v1", V1_DEFINITION, {}, None, 1.0)
        assert record("e", "a", "started", 1, None, None, 2.0) == 2
        assert record("e", "a", "completed", 1, {"v": 1}, None, 3.0) == journal.last_seq() == 3
        assert journal.flush(20)
        (record,) = journal.task_records("e")
        assert (record.state, record.output, record.started_at, record.ended_at) == (
            "completed",
            {"v": 1},
            2.0,
            3.0,
        )


def _record_history(
    path: Path, history: list[tuple[Any, ...]], one_per_batch: bool, flush_after: int = -1
) -> None:
    """Record ``history``: a batch per record, or one batch (two when ``flush_after`` ends
    one after that record)."""
    # A long batching delay: only flush() ends a batch.
    with open_journal(path, max_batch_delay=30) as journal:
        journal.execution_started("e", "wf", "v1", "{}", None, None, 0.0)
        assert journal.flush(10)
        for n, (key, state, attempt, output, error) in enumerate(history):
            journal.task_changed("e", key, state, attempt, output, error, float(n))
            if one_per_batch or n == flush_after:
                assert journal.flush(10)
        assert journal.flush(10)
        batches = 1 + len(history) if one_per_batch else 2 + (flush_after >= 0)
        assert journal.stats().batches == batches


def _many_tasks(count: int) -> list[tuple[Any, ...]]:
    history: list[tuple[Any, ...]] = []
    for i in range(count):
        key = f"t{i}"
        history.append((key, "started", 1, None, None))
        if i % 3 == 0:
            history.append((key, "completed", 1, {"i": i, "s": "é\n\x01"} if i % 2 else {}, None))
        elif i % 3 == 1:
            error = {"message": f"boom {i}", "code": 7}
            history.append((key, "failed", 1, None, error if i % 2 else f"boom {i}"))
    return history


@pytest.mark.parametrize("tasks", [1, 2, 7, 64, 65, 150])
def test_a_batch_of_many_tasks_stores_what_one_record_per_batch_stores(
    tmp_path: Path, tasks: int
) -> None:
    """A batch's task rows go to SQLite many per statement (NULLs included): the table must
    hold exactly what writing every record on its own holds."""
    history = _many_tasks(tasks)
    _record_history(tmp_path / "one.sqlite", history, one_per_batch=True)
    _record_history(tmp_path / "all.sqlite", history, one_per_batch=False)
    rows = task_table(tmp_path / "all.sqlite")
    assert rows == task_table(tmp_path / "one.sqlite")
    assert len(rows) == tasks
    first = rows[0]  # t0: started, then completed with {}; never an error
    assert first[4:8] == ("completed", "text", 1, "integer")  # state, attempts
    assert first[16:18] == (None, "null")  # error: NULL, not a NaN or an empty text


def test_a_completion_followed_by_another_state_in_one_batch_is_stored_record_by_record(
    tmp_path: Path,
) -> None:
    history: list[tuple[Any, ...]] = [
        ("a", "started", 1, None, None),
        ("b", "started", 1, None, None),
        # a second batch: both rows exist, so these records update them
        ("a", "completed", 1, {"kept": True}, None),
        ("a", "cancelled", 1, None, None),
        ("b", "completed", 1, {}, None),
        ("b", "failed", 1, None, {"message": "late", "code": 3}),
    ]
    _record_history(tmp_path / "one.sqlite", history, one_per_batch=True)
    _record_history(tmp_path / "all.sqlite", history, one_per_batch=False, flush_after=1)
    assert task_table(tmp_path / "all.sqlite") == task_table(tmp_path / "one.sqlite")
    with ExecutionJournal(tmp_path / "all.sqlite") as journal:
        tasks = {t.task_key: t for t in journal.task_records("e")}
    assert (tasks["a"].state, tasks["a"].output) == ("cancelled", {"kept": True})
    assert (tasks["b"].state, tasks["b"].error) == ("failed", "late")
