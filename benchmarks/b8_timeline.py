"""B8 per thread: where each thread's time goes in one batch, and what each batch does.

``python -m benchmarks.b8_timeline MODE CANDIDATES [BATCHES] [SWITCH_MS] [WAVE]`` (``CANDIDATES``:
comma-separated ``v1``, ``v2``, ``hamilton``; B8's batch each: 1,000 executions of the 10-step
no-op chain submitted at once, ours until every ``workflow_completed`` arrived, Hamilton's
driver submitted to a ``ThreadPoolExecutor`` of our pool's size) prints one JSON line per
candidate:

- ``threads``: per batch, median of ``BATCHES`` (default 5, interleaved, after a warm-up),
  for each thread role (``owner``: the thread that submits and delivers signals; ``pool``: the
  pool threads together; ``other``): CPU (``schedstat``'s on-CPU time), time runnable but
  waiting for a core (``schedstat``'s run-queue wait), voluntary and involuntary context
  switches (``/proc/self/task/*/status``), and the batch's wall. A thread blocked on the GIL
  sleeps in a futex, so it counts as a voluntary switch and neither CPU nor run-queue time.
- ``counts`` (``MODE`` ``counts``, ours only): per batch, the pump's drains (each a slice of
  delivery in the owner thread), events delivered, signal emits, pool tasks started, drainer
  calls, and the drainers' ``time.sleep(0)`` hand-overs. The counters wrap those calls, so
  this mode's walls are not comparable.
- ``calls`` (``MODE`` ``calls``, ours only): the Python functions and builtins called per
  execution in each thread role (``sys.setprofile``; a pool thread takes it at its next drainer
  call), every one.
- ``SWITCH_MS``: ``sys.setswitchinterval`` for the whole process (``-`` or left out: Python's
  5 ms).
- ``WAVE``: submit the batch's 1,000 executions ``WAVE`` at a time, each wave run to its end
  before the next is submitted (default 1,000: all at once, as B8 does).

The per-thread figures come from the kernel, so they hold under load except the run-queue
wait, which is the load.
"""

from __future__ import annotations

import collections
import concurrent.futures
import gc
import json
import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

RUNS = 1000
# Each timed batch's (start, end) in ``time.monotonic()``: to cut an external profiler's
# samples (``perf record -k CLOCK_MONOTONIC``) down to the batches.
WINDOWS: list[list[float]] = []
# The owner thread's CPU in the submitting calls of the batch under way (ours only).
SUBMIT_CPU = [0.0]


def _thread_stats() -> dict[int, tuple[int, int, int, int]]:
    """Per native thread id: on-CPU ns, run-queue wait ns, voluntary and involuntary switches."""
    out: dict[int, tuple[int, int, int, int]] = {}
    for name in os.listdir("/proc/self/task"):
        tid = int(name)
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                on_cpu, waiting, _ = (int(x) for x in f.read().split())
            voluntary = involuntary = 0
            with open(f"/proc/self/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches"):
                        voluntary = int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches"):
                        involuntary = int(line.split()[1])
        except OSError:  # the thread ended meanwhile
            continue
        out[tid] = (on_cpu, waiting, voluntary, involuntary)
    return out


def _comm(tid: int) -> str:
    try:
        with open(f"/proc/self/task/{tid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


class Roles:
    """Which role each native thread id plays: owner, pool (ours or Hamilton's) or other."""

    def __init__(self) -> None:
        self.owner = threading.main_thread().native_id
        self.hamilton_pool: set[int] = set()

    def of(self, tid: int) -> str:
        if tid == self.owner:
            return "owner"
        if tid in self.hamilton_pool or _comm(tid).startswith("Thread (pooled)"):
            return "pool"
        return "other"


def _per_batch(
    batch: Callable[[], None], roles: Roles
) -> tuple[float, dict[str, dict[str, float]], dict[str, int]]:
    """Run ``batch`` once: its wall and, per role, the deltas of the thread counters."""
    SUBMIT_CPU[0] = 0.0
    watch = _GcByThread()
    gc.collect()
    gc.callbacks.append(watch)
    before = _thread_stats()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    WINDOWS.append([time.monotonic(), 0.0])
    try:
        batch()
    finally:
        wall = time.perf_counter() - started
        WINDOWS[-1][1] = time.monotonic()
        after = _thread_stats()
        usage_after = resource.getrusage(resource.RUSAGE_SELF)
        gc.callbacks.remove(watch)
    sums: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    threads: dict[str, int] = collections.Counter()
    for tid, now in after.items():
        then = before.get(tid, (0, 0, 0, 0))
        delta = [b - a for a, b in zip(then, now, strict=True)]
        if not any(delta):
            continue
        role = roles.of(tid)
        threads[role] += 1
        row = sums[role]
        for i, value in enumerate(delta):
            row[i] += value
    table = {
        role: {
            "cpu_ms": row[0] / 1e6,
            "runqueue_ms": row[1] / 1e6,
            "voluntary": row[2],
            "involuntary": row[3],
            "gc_cpu_ms": 0.0,
            "gc_collections": 0,
        }
        for role, row in sums.items()
    }
    table["process"] = {
        "user_ms": (usage_after.ru_utime - usage.ru_utime) * 1000,
        "sys_ms": (usage_after.ru_stime - usage.ru_stime) * 1000,
        "minor_faults": usage_after.ru_minflt - usage.ru_minflt,
    }
    if SUBMIT_CPU[0] and "owner" in table:
        table["owner"]["submit_cpu_ms"] = SUBMIT_CPU[0] * 1000
    for tid, (cpu, collections_) in watch.by_thread.items():
        row_ = table.setdefault(roles.of(tid), {"gc_cpu_ms": 0.0, "gc_collections": 0})
        row_["gc_cpu_ms"] += cpu * 1000
        row_["gc_collections"] += collections_
    return wall, table, dict(threads)


class _GcByThread:
    """The cyclic collector's passes and CPU (``time.thread_time``) per native thread."""

    def __init__(self) -> None:
        self.by_thread: dict[int, tuple[float, int]] = {}
        self._started: dict[int, float] = {}

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        tid = threading.get_native_id()
        if phase == "start":
            self._started[tid] = time.thread_time()
            return
        spent = time.thread_time() - self._started.pop(tid, time.thread_time())
        cpu, count = self.by_thread.get(tid, (0.0, 0))
        self.by_thread[tid] = (cpu + spent, count + 1)


def _median_tables(rows: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    roles = {role for row in rows for role in row}
    out: dict[str, dict[str, float]] = {}
    for role in sorted(roles):
        keys = {key for row in rows for key in row.get(role, {})}
        out[role] = {
            key: round(statistics.median(row.get(role, {}).get(key, 0.0) for row in rows), 2)
            for key in sorted(keys)
        }
    return out


def _ours_batch(ours: Any, candidate: str, wave: int) -> Callable[[], None]:
    from .concurrency import _until_completed

    orchestrator = ours.v1 if candidate == "v1" else ours.v2

    def start() -> None:
        cpu = time.thread_time()
        for _ in range(wave):
            if candidate == "v1":
                orchestrator.execute_workflow_async("ten")
            elif not orchestrator.execute_workflow("ten"):
                raise RuntimeError("v2 execute_workflow failed")
        SUBMIT_CPU[0] += time.thread_time() - cpu

    def batch() -> None:
        for _ in range(RUNS // wave):
            if not _until_completed(orchestrator, start, wave):
                raise RuntimeError("a batch did not complete")

    return batch


class _Counters:
    """Counts calls of a few engine functions by wrapping them (restored by ``undo``)."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, attribute: str, label: str) -> None:
        original = getattr(owner, attribute)
        counts = self.counts

        def counted(*args: Any, **kwargs: Any) -> Any:
            counts[label] += 1
            return original(*args, **kwargs)

        setattr(owner, attribute, counted)
        self._undo.append(lambda: setattr(owner, attribute, original))

    def undo(self) -> None:
        for step in reversed(self._undo):
            step()
        self._undo.clear()


def _install_counters() -> _Counters:
    from qtforge_orch._engine import events, worker_pool, workers
    from qtforge_orch.orchestration import _signals

    counters = _Counters()
    counters.wrap(events.EventPump, "_drain", "owner: delivery slices (pump drains)")
    counters.wrap(events.EventPump, "_dispatch", "owner: events delivered")
    counters.wrap(_signals.SignalRelay, "_emit", "owner: signal emits (relay)")
    counters.wrap(worker_pool.WorkerPool, "_start_loop", "any: pool tasks started")
    counters.wrap(workers.Workers, "drain", "pool: drainer calls")
    counts = counters.counts
    real_time = workers.time

    class _CountingTime:
        perf_counter = staticmethod(real_time.perf_counter)
        monotonic = staticmethod(real_time.monotonic)

        @staticmethod
        def sleep(seconds: float) -> None:
            counts["pool: time.sleep(0) hand-overs"] += 1
            real_time.sleep(seconds)

    workers.time = _CountingTime  # type: ignore[assignment]
    counters._undo.append(lambda: setattr(workers, "time", real_time))
    return counters


def _calls(batch: Callable[[], None], roles: Roles) -> dict[str, dict[str, float]]:
    """Function calls per execution in each role during one batch (``setprofile``)."""
    by_role: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    owner = roles.owner

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            name = f"{code.co_qualname} ({os.path.basename(code.co_filename)})"
        elif event == "c_call":
            name = f"{getattr(arg, '__qualname__', repr(arg))} [C]"
        else:
            return
        tid = threading.get_native_id()
        role = "owner" if tid == owner else roles.of(tid)
        by_role[role][name] += 1

    # Threads already running (the pool's) take the profile at their next drainer call.
    from qtforge_orch._engine import workers

    original = workers.Workers.drain

    def profiled_drain(self: Any) -> None:
        if sys.getprofile() is not profile:
            sys.setprofile(profile)
        original(self)

    workers.Workers.drain = profiled_drain  # type: ignore[method-assign]
    sys.setprofile(profile)
    try:
        batch()
    finally:
        sys.setprofile(None)
        workers.Workers.drain = original  # type: ignore[method-assign]
    # The pool threads keep the profile until the next batch's drainers: it only counts.
    return {
        role: {name: round(n / RUNS, 2) for name, n in counter.most_common()}
        for role, counter in by_role.items()
    }


def main(argv: list[str]) -> None:
    from PySide6.QtWidgets import QApplication

    from ._dag_workflows import Ours
    from ._references import chain_dag, hamilton_driver, name
    from .concurrency import STEPS

    if len(argv) < 2 or argv[0] not in ("threads", "counts", "calls"):
        raise SystemExit(__doc__)
    mode, candidates = argv[0], argv[1].split(",")
    batches = int(argv[2]) if len(argv) > 2 else 5
    if len(argv) > 3 and argv[3] != "-":
        sys.setswitchinterval(float(argv[3]) / 1000)
    wave = int(argv[4]) if len(argv) > 4 else RUNS
    app = QApplication.instance() or QApplication([])
    ours = Ours()
    roles = Roles()
    workers = ours.workers()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
    batch_of: dict[str, Callable[[], None]] = {}
    try:
        ours.register("ten", chain_dag(STEPS), False)
        ours.verify("ten")
        for candidate in candidates:
            if candidate == "hamilton":
                driver = hamilton_driver(chain_dag(STEPS))
                last = name(STEPS - 1)

                def hamilton_batch(driver: Any = driver, last: str = last) -> None:
                    for _ in range(RUNS // wave):
                        submitted = [pool.submit(driver.execute, [last]) for _ in range(wave)]
                        for future in submitted:
                            future.result()

                batch_of[candidate] = hamilton_batch
            else:
                batch_of[candidate] = _ours_batch(ours, candidate, wave)
        for batch in batch_of.values():
            batch()  # warm-up (and Hamilton's pool threads exist from here)
        roles.hamilton_pool = {
            t.native_id or 0 for t in threading.enumerate() if t.name.startswith("ThreadPool")
        }
        results: dict[str, dict[str, Any]] = {c: {"candidate": c} for c in batch_of}
        order = {candidate: i for i, candidate in enumerate(batch_of)}
        if mode == "threads":
            walls: dict[str, list[float]] = collections.defaultdict(list)
            tables: dict[str, list[dict[str, dict[str, float]]]] = collections.defaultdict(list)
            counts_of: dict[str, dict[str, int]] = {}
            for _ in range(batches):
                for candidate, batch in batch_of.items():
                    wall, table, threads = _per_batch(batch, roles)
                    walls[candidate].append(wall * 1000)
                    tables[candidate].append(table)
                    counts_of[candidate] = threads
            for candidate in batch_of:
                results[candidate]["windows"] = [
                    window
                    for i, window in enumerate(WINDOWS)
                    if i % len(batch_of) == order[candidate]
                ]
                results[candidate] |= {
                    "wall_ms": round(statistics.median(walls[candidate]), 1),
                    "wall_ms_all": [round(w, 1) for w in walls[candidate]],
                    "threads_seen": counts_of[candidate],
                    "per_role": _median_tables(tables[candidate]),
                }
        elif mode == "counts":
            counters = _install_counters()
            try:
                for candidate, batch in batch_of.items():
                    if candidate == "hamilton":
                        continue
                    rows = []
                    for _ in range(batches):
                        counters.counts.clear()
                        batch()
                        rows.append(dict(counters.counts))
                    keys = sorted({k for row in rows for k in row})
                    results[candidate]["counts_per_batch"] = {
                        k: statistics.median(row.get(k, 0) for row in rows) for k in keys
                    }
            finally:
                counters.undo()
        else:
            for candidate, batch in batch_of.items():
                if candidate != "hamilton":
                    results[candidate]["calls_per_execution"] = _calls(batch, roles)
        for result in results.values():
            result["switch_interval_ms"] = sys.getswitchinterval() * 1000
            result["wave"] = wave
            result["load"] = os.getloadavg()[0]
            print(json.dumps(result))
    finally:
        pool.shutdown(wait=True)
        ours.shutdown()
        app.processEvents()


if __name__ == "__main__":
    main(sys.argv[1:])
