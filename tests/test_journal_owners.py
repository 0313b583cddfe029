"""Ownership across processes: real crashes (SIGKILL), interrupted executions, claims to resume,
and a crash in the middle of a batch write."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from qtforge_orch import PluginError, PluginErrorCode
from qtforge_orch.journal import ExecutionJournal

from .journal_helpers import (
    V1_DEFINITION,
    Child,
    open_journal,
    owner_files,
    raw,
    uncommitted_wal_frames,
)

RUN_AND_WAIT = """
journal = ExecutionJournal(path, max_batch_delay=0)
journal.execution_started("e1", "wf", "v1", sys.argv[2], {"n": 1}, None, 100.0)
journal.task_changed("e1", "a", "started", 1, None, None, 101.0)
journal.task_changed("e1", "a", "completed", 1, {"x": 1}, None, 102.0)
journal.task_changed("e1", "b", "started", 1, None, None, 103.0)
assert journal.flush(10)
print("ready", os.getpid(), flush=True)
sys.stdin.read()  # until the parent closes stdin, or kills this process
journal.close()
print("closed", flush=True)
"""


def _child(path: Path) -> tuple[Child, int]:
    child = Child(RUN_AND_WAIT.replace("sys.argv[2]", repr(V1_DEFINITION)), path)
    word, pid = child.next_line().split()
    assert word == "ready"
    return child, int(pid)


def _refusal(journal: ExecutionJournal, execution_id: str, **options: object) -> PluginError:
    with pytest.raises(PluginError) as raised:
        journal.claim_for_resume(execution_id, "resumer", **options)  # type: ignore[arg-type]
    return raised.value


def test_a_killed_owner_leaves_its_execution_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    child, pid = _child(path)
    try:
        with open_journal(path) as journal:  # while the owner lives
            assert journal.interrupted_at_open == []
            record = journal.execution("e1")
            assert record is not None and record.status == "running"
            assert record.owner_pid == pid
            error = _refusal(journal, "e1")
            assert error.code == PluginErrorCode.InvalidState
            assert f"running in another process (pid {pid})" in error.message
            assert error.context["owner_pid"] == pid
    finally:
        child.kill()  # SIGKILL: no close, no exit hook, the lock file stays behind
    assert len(owner_files(path)) == 1

    with open_journal(path) as journal:
        assert journal.interrupted_at_open == ["e1"]
        record = journal.execution("e1")
        assert record is not None and record.status == "interrupted"
        assert record.error is not None and f"(pid {pid}) ended" in record.error
        assert record.ended_at == 103.0  # its last recorded activity
        assert journal.completed_outputs("e1") == {"a": {"x": 1}}
        assert [(t.task_key, t.state) for t in journal.task_records("e1")] == [
            ("a", "completed"),
            ("b", "started"),
        ]
        assert len(owner_files(path)) == 1  # the dead owner's file is gone, ours remains
        claimed = journal.claim_for_resume("e1", "e2", definition_json=V1_DEFINITION)
        assert claimed.resumed_as == "e2" and claimed.status == "interrupted"
        error = _refusal(journal, "e1")
        assert error.code == PluginErrorCode.InvalidState
        assert "already resumed as 'e2'" in error.message


def test_an_owner_that_closes_normally_can_be_resumed_after(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    child, _ = _child(path)
    with open_journal(path) as journal:
        assert "another process" in _refusal(journal, "e1").message
        code, err = child.finish()  # the child closes its journal and exits
        assert code == 0, err
        assert child.next_line() == "closed"
        record = journal.execution("e1")
        assert record is not None and record.status == "interrupted"
        assert journal.claim_for_resume("e1", "e2").resumed_as == "e2"


def test_an_owner_that_dies_while_the_journal_is_open_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with open_journal(path) as journal:
        child, _ = _child(path)
        assert journal.detect_interrupted() == []
        child.kill()
        assert journal.detect_interrupted() == ["e1"]
        assert journal.execution("e1").status == "interrupted"  # type: ignore[union-attr]


def test_claim_refusals(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with open_journal(path) as journal:
        for eid, status in (("done", "completed"), ("failed", "failed"), ("live", None)):
            journal.execution_started(eid, "wf", "v1", V1_DEFINITION, None, None, 1.0)
            if status:
                journal.execution_finished(eid, status, None, None, [], 2.0)

        unknown = _refusal(journal, "nope")
        assert unknown.code == PluginErrorCode.NotFound and "not in the journal" in unknown.message
        done = _refusal(journal, "done")
        assert done.code == PluginErrorCode.InvalidState and "completed" in done.message
        live = _refusal(journal, "live")
        assert "still running in this process" in live.message

        changed = V1_DEFINITION.replace("1000", "5")
        mismatch = _refusal(journal, "failed", definition_json=changed)
        assert mismatch.code == PluginErrorCode.VersionMismatch
        assert mismatch.context["changes"] == ["step 'a': timeout changed from 1000 to 5"]
        assert "step 'a': timeout changed from 1000 to 5" in mismatch.message
        assert "force=True" in mismatch.message
        assert journal.execution("failed").resumed_as is None  # type: ignore[union-attr]

        same = json.dumps(json.loads(V1_DEFINITION), indent=2)  # same content, other text
        assert journal.claim_for_resume("failed", "r1", definition_json=same).resumed_as == "r1"
        assert "already resumed as 'r1'" in _refusal(journal, "failed").message
        assert journal.release_claim("failed", "r1")
        assert not journal.release_claim("failed", "r1")
        forced = journal.claim_for_resume("failed", "r2", definition_json=changed, force=True)
        assert forced.resumed_as == "r2"


def test_a_second_journal_object_in_one_process_is_another_owner(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with open_journal(path) as first:
        first.execution_started("e", "wf", "v1", "{}", None, None, 1.0)
        assert first.flush(10)
        with open_journal(path) as second:
            assert second.interrupted_at_open == []
            assert "another journal object of this process" in _refusal(second, "e").message
        first.execution_finished("e", "failed", None, "x", ["x"], 2.0)
    with open_journal(path) as third:
        assert third.execution("e").status == "failed"  # type: ignore[union-attr]


def test_claims_from_two_processes_cannot_both_win(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with open_journal(path) as journal:
        journal.execution_started("e", "wf", "v1", "{}", None, None, 1.0)
        journal.execution_finished("e", "failed", None, "x", ["x"], 2.0)
    children = [
        Child(
            f"""
            journal = ExecutionJournal(path)
            print("open", flush=True)
            sys.stdin.readline()
            try:
                journal.claim_for_resume("e", "by-{n}")
                print("won", flush=True)
            except Exception as exc:
                print("lost", exc.code.name, flush=True)
            journal.close()
            """,
            path,
        )
        for n in range(2)
    ]
    for child in children:
        child.expect("open")
    for child in children:  # both go at once
        assert child.process.stdin is not None
        child.process.stdin.write("go\n")
        child.process.stdin.flush()
    outcomes = sorted(child.next_line() for child in children)
    for child in children:
        assert child.finish()[0] == 0
    assert outcomes == ["lost InvalidState", "won"]


# ------------------------------------------------------------------------------ crash mid-write

TASKS = 40
PER_EXECUTION = TASKS + 2  # started, the tasks, finished
WRITE_FOREVER = f"""
journal = ExecutionJournal(
    path, max_batch_delay=0, retention=RetentionPolicy(keep_executions=None),
    on_commit=lambda seq: print("commit", seq, flush=True),
)
payload = "x" * 1500
for e in range(10**9):
    eid = f"e{{e:07d}}"
    journal.execution_started(eid, "wf", "v1", "{{}}", {{"n": e}}, None, time.time())
    for t in range({TASKS}):
        journal.task_changed(eid, f"t{{t:03d}}", "completed", 1, {{"p": payload, "t": t}},
                             None, time.time())
    journal.execution_finished(eid, "completed", {{"n": e}}, None, [], time.time())
    if journal.last_seq() - journal.committed_seq() > 20_000:  # keep memory bounded
        journal.wait_committed(journal.last_seq() - 10_000)
"""


def _committed_prefix(path: Path) -> int:
    """How many records of the child's sequence the file holds, checking that they are
    exactly a prefix of it: every execution before the last complete, the last one with its
    first tasks in order."""
    with raw(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        executions = db.execute(
            "SELECT execution_id, status, initial_data, result FROM executions ORDER BY row"
        ).fetchall()
        counts = dict(
            db.execute(
                "SELECT e.execution_id, count(*) FROM tasks AS t "
                "JOIN executions AS e ON e.row = t.execution GROUP BY e.execution_id"
            )
        )
        keys = {
            eid: [
                k
                for (k,) in db.execute(
                    "SELECT task_key FROM tasks WHERE execution = "
                    "(SELECT row FROM executions WHERE execution_id = ?) ORDER BY rowid",
                    (eid,),
                )
            ]
            for eid, *_ in executions[-1:]
        }
    records = 0
    for n, (eid, status, data, result) in enumerate(executions):
        assert eid == f"e{n:07d}" and json.loads(data) == {"n": n}
        last = n == len(executions) - 1
        if not last:
            assert (status, counts.get(eid), json.loads(result)) == ("completed", TASKS, {"n": n})
        else:
            tasks = counts.get(eid, 0)
            assert keys[eid] == [f"t{t:03d}" for t in range(tasks)]
            if status == "completed":
                assert tasks == TASKS
            else:
                assert status in ("running", "interrupted") and result is None
        records += 1 + counts.get(eid, 0) + (status == "completed")
    return records


def _crash_while_writing(path: Path) -> tuple[int, bool]:
    """Start the writing child, kill it with SIGKILL while it spills a batch's pages into the
    WAL; returns the last sequence number it reported committed, and whether the kill landed
    inside a transaction (the batch may have committed between looking and killing)."""
    child = Child(WRITE_FOREVER, path)
    commits = reported = pending = 0
    try:
        while commits < 2:  # batches are large by now: more records than SQLite's page cache
            word, seq = child.next_line().split()
            assert word == "commit"
            commits, reported = commits + 1, int(seq)
        deadline = time.monotonic() + 20
        while pending == 0 and time.monotonic() < deadline:
            pending = uncommitted_wal_frames(path)  # the writer is spilling a batch's pages
            time.sleep(0.0005)
    finally:
        child.kill()
    assert child.process.returncode == -9
    mid_transaction = uncommitted_wal_frames(path) > 0
    while not child.lines.empty():  # commits reported before the kill
        line = child.lines.get()
        if line:
            reported = int(line.split()[1])
    return reported, mid_transaction


@pytest.mark.slow
def test_a_crash_during_batch_writes_leaves_a_consistent_journal(tmp_path: Path) -> None:
    landed = 0
    for attempt in range(5):
        path = tmp_path / f"runs-{attempt}.sqlite"
        reported, mid_transaction = _crash_while_writing(path)
        landed += mid_transaction
        held = _committed_prefix(path)
        assert held >= reported  # nothing the child was told is committed was lost
        with open_journal(path) as journal:
            newest = journal.list_executions(limit=1).executions[0]
            assert newest.status in ("completed", "interrupted")
            assert journal.interrupted_at_open == (
                [] if newest.status == "completed" else [newest.execution_id]
            )
        assert _committed_prefix(path) == held
        if landed:
            break
    assert landed, "no kill landed inside a transaction in 5 attempts"


def test_a_forked_child_does_not_keep_a_dead_owner_alive(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    child = Child(
        """
        journal = ExecutionJournal(path, max_batch_delay=0)
        journal.execution_started("e1", "wf", "v1", "{}", None, None, 1.0)
        assert journal.flush(10)
        worker = os.fork()  # like a process-pool worker that outlives its parent
        if worker == 0:  # at-fork handlers have run by now
            print("worker", os.getpid(), flush=True)
            sys.stdin.read()
            os._exit(0)
        sys.stdin.read()
        """,
        path,
    )
    word, worker = child.next_line().split()
    assert word == "worker"
    try:
        child.kill()
        os.kill(int(worker), 0)  # the forked worker is still alive
        with open_journal(path) as journal:
            assert journal.interrupted_at_open == ["e1"]
    finally:
        os.kill(int(worker), 9)
