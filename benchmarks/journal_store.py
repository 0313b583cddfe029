"""The execution journal's storage layer on its own (issue #12, phase 1), without the engine.

``python -m benchmarks.journal_store [--tasks N] [--json]`` measures:

- the cost of a record call on the calling thread (what the engine will pay per state change);
- end-to-end throughput: records per second from the first call until ``flush()`` returns,
  for task records shaped like a tiny step's (``started``, then ``completed`` with a small
  output), with the default batching delay and with none;
- commit latency: one record at a time, each waited for (``wait_committed``);
- the size on disk per task (database file after close, divided by tasks), and per execution.

Not part of ``python -m benchmarks`` yet: B14 (the B1 chain with the journal on) comes with
the engine integration and will reuse ``measure``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from qtforge_orch.journal import ExecutionJournal, RetentionPolicy

DEFINITION = json.dumps(
    {"id": "chain", "steps": [{"id": f"s{i}", "plugin_id": "p"} for i in range(10)]}
)
KEEP_ALL = RetentionPolicy(keep_executions=None)


def _record_run(journal: ExecutionJournal, eid: str, tasks: int, now: float) -> int:
    journal.execution_started(eid, "chain", "v1", DEFINITION, {"n": 1}, None, now)
    for t in range(tasks):
        key = f"s{t}"
        journal.task_changed(eid, key, "started", 1, None, None, now)
        journal.task_changed(eid, key, "completed", 1, {"value": t, "ok": True}, None, now)
    return journal.execution_finished(eid, "completed", {"value": tasks}, None, [], now)


def throughput(folder: Path, tasks: int, per_execution: int, delay: float) -> dict[str, float]:
    """Record ``tasks`` tasks (2 records each) in executions of ``per_execution``; flush."""
    path = folder / f"throughput-{delay}.sqlite"
    journal = ExecutionJournal(path, retention=KEEP_ALL, max_batch_delay=delay)
    now = time.time()
    executions = max(1, tasks // per_execution)
    started = time.perf_counter()
    for e in range(executions):
        _record_run(journal, f"e{e:07d}", per_execution, now)
    recorded = time.perf_counter()
    assert journal.flush(120)
    flushed = time.perf_counter()
    stats = journal.stats()
    assert journal.close()
    records = stats.records
    size = path.stat().st_size
    return {
        "records": records,
        "call_us_per_record": (recorded - started) / records * 1e6,
        "records_per_s": records / (flushed - started),
        "batches": stats.batches,
        "mean_batch": records / stats.batches,
        # The whole file (execution rows included: one per ``per_execution`` tasks) per task.
        "bytes_per_task": size / (executions * per_execution),
        "file_bytes": size,
    }


def execution_overhead(folder: Path, executions: int) -> float:
    """Bytes on disk per execution without tasks (row, indexes; definitions are shared)."""
    path = folder / "executions.sqlite"
    with ExecutionJournal(path, retention=KEEP_ALL) as journal:
        for e in range(executions):
            _record_run(journal, f"e{e:07d}", 0, time.time())
    return path.stat().st_size / executions


def commit_latency(folder: Path, samples: int) -> dict[str, float]:
    """Seconds from a record call until it is committed, one record at a time."""
    with ExecutionJournal(folder / "latency.sqlite", retention=KEEP_ALL) as journal:
        journal.execution_started("e", "chain", "v1", DEFINITION, None, None, time.time())
        times: list[float] = []
        for t in range(samples):
            started = time.perf_counter()
            seq = journal.task_changed("e", f"s{t}", "completed", 1, {"v": t}, None, 0.0)
            assert journal.wait_committed(seq, 10)
            times.append(time.perf_counter() - started)
    times.sort()
    return {
        "median_ms": statistics.median(times) * 1e3,
        "p95_ms": times[int(len(times) * 0.95)] * 1e3,
    }


def measure(tasks: int = 100_000, per_execution: int = 100) -> dict[str, Any]:
    """Every figure of this module, as a dict (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="journal-bench-") as name:
        folder = Path(name)
        batched = throughput(folder, tasks, per_execution, delay=0.002)
        eager = throughput(folder, tasks, per_execution, delay=0.0)
        overhead = execution_overhead(folder, 2000)
        latency = commit_latency(folder, 300)
    return {
        "tasks": tasks,
        "tasks_per_execution": per_execution,
        "batched_2ms": batched,
        "no_delay": eager,
        "commit_latency": latency,
        "bytes_per_execution_without_tasks": overhead,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }


def _table(figures: dict[str, Any]) -> str:
    rows = []
    for label in ("batched_2ms", "no_delay"):
        f = figures[label]
        rows.append(
            f"{label:12} {f['records_per_s']:>12,.0f} rec/s  {f['call_us_per_record']:6.2f} us/call"
            f"  {f['batches']:>6} batches (mean {f['mean_batch']:,.0f})"
            f"  {f['bytes_per_task']:6.1f} B/task"
        )
    lat = figures["commit_latency"]
    rows.append(
        f"commit latency, one record at a time: median {lat['median_ms']:.3f} ms, "
        f"p95 {lat['p95_ms']:.3f} ms"
    )
    rows.append(
        f"per execution without tasks: {figures['bytes_per_execution_without_tasks']:.0f} B on disk"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--per-execution", type=int, default=100)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = measure(args.tasks, args.per_execution)
    print(json.dumps(figures, indent=2) if args.json else _table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
