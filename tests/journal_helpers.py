"""Helpers for the journal tests: a child Python process to crash, and raw file access."""

from __future__ import annotations

import importlib
import os
import queue
import signal
import sqlite3
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qtforge_orch import Workflow, WorkflowStep
from qtforge_orch.journal import ExecutionJournal, RetentionPolicy

ROOT = Path(__file__).resolve().parent.parent
CHILD_PRELUDE = """
import os, sys, time
from qtforge_orch.journal import ExecutionJournal, RetentionPolicy
path = sys.argv[1]
"""
DEADLINE_S = 30.0
V1_DEFINITION = '{"id": "wf", "steps": {"a": {"id": "a", "timeout": 1000}}}'


def open_journal(path: Path, **options: Any) -> ExecutionJournal:
    """A journal that batches nothing on purpose and keeps everything unless told."""
    options.setdefault("max_batch_delay", 0.0)
    options.setdefault("retention", RetentionPolicy(keep_executions=None))
    return ExecutionJournal(path, **options)


class Child:
    """A fresh interpreter running ``code`` (after CHILD_PRELUDE) with the journal path as
    ``path``; its stdout lines are read on a thread so waits have deadlines."""

    def __init__(self, code: str, path: Path, user: int | None = None) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD_PRELUDE + textwrap.dedent(code), str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(ROOT),
            user=user,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _stderr(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def next_line(self, deadline_s: float = DEADLINE_S) -> str:
        """The next line the child prints."""
        try:
            line = self.lines.get(timeout=deadline_s)
        except queue.Empty:
            self.kill()
            raise AssertionError(f"child printed nothing for {deadline_s} s") from None
        if line is None:
            self.process.wait(DEADLINE_S)
            raise AssertionError(
                f"child ended (exit {self.process.returncode}) after {self.seen}\n{self._stderr()}"
            )
        self.seen.append(line)
        return line

    def expect(self, wanted: str) -> None:
        """Wait until the child prints ``wanted``."""
        deadline = time.monotonic() + DEADLINE_S
        while self.next_line(max(0.1, deadline - time.monotonic())) != wanted:
            pass

    def kill(self) -> None:
        """SIGKILL: no exit handler, no flush, no close."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(DEADLINE_S)

    def finish(self) -> tuple[int, str]:
        """Close its stdin and wait for it to exit; (exit code, stderr)."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(DEADLINE_S)
        return self.process.returncode, self._stderr()


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection to inspect or prepare a file."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def task_table(path: Path) -> list[tuple[object, ...]]:
    """Every column of every task row, in rowid order, with each value's SQLite type."""
    with raw(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(tasks)")]
        select = ", ".join(f"{name}, typeof({name})" for name in columns)
        return db.execute(f"SELECT {select} FROM tasks ORDER BY rowid").fetchall()


def uncommitted_wal_frames(database: Path) -> int:
    """Pages of a transaction being written: valid frames after the last commit frame in the
    database's WAL file (frames of the current WAL generation carry the header's salts)."""
    try:
        data = database.with_name(database.name + "-wal").read_bytes()
    except FileNotFoundError:
        return 0
    if len(data) < 32:
        return 0
    page_size = struct.unpack(">I", data[8:12])[0]
    salts = data[16:24]
    valid = after_commit = 0
    offset = 32
    while offset + 24 + page_size <= len(data) and data[offset + 8 : offset + 16] == salts:
        valid += 1
        committed = struct.unpack(">I", data[offset + 4 : offset + 8])[0] != 0
        after_commit = 0 if committed else after_commit + 1
        offset += 24 + page_size
    return after_commit


def owner_files(path: Path) -> list[str]:
    """The owner lock files next to a journal."""
    return sorted(p.name for p in path.parent.iterdir() if ".owner-" in p.name)


def run_until_ready_then_kill(script: str, ready: Path) -> int:
    """Run ``script`` in a fresh interpreter (offscreen Qt) and SIGKILL it once it has created
    the file ``ready`` (then removed); returns the child's exit status."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_API": "pyside6"}
    child = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert child.poll() is None, f"the child exited early ({child.returncode})"
            assert time.monotonic() < deadline, "the child never reached the step"
            time.sleep(0.01)  # polls a file the child creates; not a stand-in for an event
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    ready.unlink()
    return child.returncode


def load_flow_module(folder: Path, name: str, source: str) -> Any:
    """Write ``source`` as ``folder/name.py`` and import it afresh: the module a test's child
    process imports too, so both run the same workflow definition."""
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    sys.path.insert(0, str(folder))
    try:
        return importlib.reload(importlib.import_module(name))
    finally:
        sys.path.remove(str(folder))


def make_then_check(workflow_id: str) -> Workflow:
    """A two-step v1 workflow on plugin ``p``: ``make``, then ``check`` depending on it."""
    workflow = Workflow(workflow_id, workflow_id)
    workflow.add_step(WorkflowStep("make", "p", "make"))
    check = WorkflowStep("check", "p", "check")
    check.dependencies = ["make"]
    workflow.add_step(check)
    return workflow
