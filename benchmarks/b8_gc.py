"""B8's garbage-collector proxies: what the cyclic collector sees, without timing walls.

``python -m benchmarks.b8_gc CANDIDATE [BATCHES]`` (``CANDIDATE``: ``v1``, ``v2``, or
``hamilton``) prints, as one JSON line:

- ``live_containers``: GC-tracked objects per execution submitted but not started, from
  ``gc.get_objects()`` before and after 1,000 submissions with the pool held (nothing runs),
  and the types that make them up (ours only);
- per batch of 1,000 executions as B8 runs them (after one warm-up batch): collections per
  generation and the total collector time (``gc.callbacks``: the collecting thread's CPU,
  ``time.thread_time``, and the wall, ``time.perf_counter``), median
  and range over ``BATCHES`` (default 5).

The counts do not depend on the machine's load; the pauses do, a little.
"""

from __future__ import annotations

import collections
import concurrent.futures
import gc
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

RUNS = 1000


class GcWatch:
    """Collections per generation and their total pause, while installed."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.pause = 0.0  # wall
        self.cpu = 0.0  # the collecting thread's CPU
        self._started: dict[int, tuple[float, float]] = {}

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        ident = threading.get_ident()
        if phase == "start":
            self._started[ident] = (time.perf_counter(), time.thread_time())
            return
        self.counts[info["generation"]] += 1
        wall, cpu = self._started.pop(ident, (time.perf_counter(), time.thread_time()))
        self.pause += time.perf_counter() - wall
        self.cpu += time.thread_time() - cpu


def _measure(batch: Callable[[], None], batches: int) -> dict[str, Any]:
    batch()  # warm-up
    rows: list[tuple[list[int], float, float]] = []
    for _ in range(batches):
        gc.collect()
        watch = GcWatch()
        gc.callbacks.append(watch)
        try:
            batch()
        finally:
            gc.callbacks.remove(watch)
        rows.append((watch.counts, watch.pause * 1000, watch.cpu * 1000))
    pauses = [pause for _, pause, _ in rows]
    cpus = [cpu for _, _, cpu in rows]
    return {
        "collections_per_generation": [
            statistics.median(c[g] for c, _, _ in rows) for g in range(3)
        ],
        "gc_cpu_ms_median": round(statistics.median(cpus), 2),
        "gc_cpu_ms_range": [round(min(cpus), 2), round(max(cpus), 2)],
        "gc_pause_ms_median": round(statistics.median(pauses), 2),
        "gc_pause_ms_range": [round(min(pauses), 2), round(max(pauses), 2)],
    }


def _live_containers(orchestrator: Any, candidate: str) -> dict[str, Any]:
    """GC-tracked objects per submitted execution while the pool runs none of them."""
    engine = orchestrator._core.engine
    executor = engine.executor
    held: list[Callable[[], None]] = []
    real_submit = executor.submit
    executor.submit = held.append  # the pool takes nothing: every run stays submitted
    try:
        gc.collect()
        before = {id(o) for o in gc.get_objects()}
        kept = []
        for _ in range(RUNS):
            if candidate == "v1":
                kept.append(orchestrator.execute_workflow_async("ten"))
            else:
                kept.append(orchestrator.execute_workflow("ten"))
        gc.collect()
        new = [o for o in gc.get_objects() if id(o) not in before]
        types = collections.Counter(type(o).__qualname__ for o in new)
        per_run = len(new) / RUNS
        top = {name: round(count / RUNS, 2) for name, count in types.most_common(25)}
    finally:
        executor.submit = real_submit
    for function in held:  # let them run and end
        real_submit(function)
    from .concurrency import _until_completed

    _until_completed(orchestrator, lambda: None, 0)
    for run in engine.active_runs():
        engine.wait(run)
    del kept, new
    return {"live_containers_per_run": round(per_run, 2), "by_type": top}


def main(argv: list[str]) -> None:
    from PySide6.QtWidgets import QApplication

    from ._dag_workflows import Ours
    from ._references import chain_dag, hamilton_driver, name
    from .concurrency import STEPS, _until_completed

    candidate = argv[0]
    batches = int(argv[1]) if len(argv) > 1 else 5
    if candidate not in ("v1", "v2", "hamilton"):
        raise SystemExit(__doc__)
    app = QApplication.instance() or QApplication([])
    ours = Ours()
    workers = ours.workers()
    out: dict[str, Any] = {"candidate": candidate}
    try:
        if candidate == "hamilton":
            driver = hamilton_driver(chain_dag(STEPS))
            last = name(STEPS - 1)
            with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:

                def batch() -> None:
                    submitted = [pool.submit(driver.execute, [last]) for _ in range(RUNS)]
                    for future in submitted:
                        future.result()

                out |= _measure(batch, batches)
        else:
            ours.register("ten", chain_dag(STEPS), False)
            ours.verify("ten")
            orchestrator = ours.v1 if candidate == "v1" else ours.v2

            def start() -> None:
                for _ in range(RUNS):
                    if candidate == "v1":
                        orchestrator.execute_workflow_async("ten")
                    else:
                        orchestrator.execute_workflow("ten")

            def batch() -> None:
                if not _until_completed(orchestrator, start, RUNS):
                    raise RuntimeError("a batch did not complete")

            out |= _measure(batch, batches)
            out |= _live_containers(orchestrator, candidate)
    finally:
        ours.shutdown()
        app.processEvents()
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
