"""B8's executions for an instruction counter (callgrind), without timing anything.

``python -m benchmarks.b8_instructions CANDIDATE MODE N`` registers the 10-step chain, runs 50
warm-up executions, then ``N`` more, and exits. Run it under
``valgrind --tool=callgrind`` with ``N`` = 0 and ``N`` = 200 (``PYTHONHASHSEED=0``); the
difference of the two totals over 200 is the cost of one execution, whatever the machine's load.

- ``CANDIDATE``: ``v1`` (``execute_workflow_async``, as B8 runs it), ``v2``
  (``execute_workflow``), or ``hamilton`` (its driver, the issue's reference); or one of
  ``benchmarks.profiling``'s DAG workloads (``B1v1``, ``B2v2``...: one synchronous run of the
  benchmark's workflow per count, after 3 warm-up runs; ``MODE`` is then ignored), to check
  that a change per execution costs nothing per step.
- ``MODE``: ``threads`` is the benchmark's path (ours: all started at once, then a
  ``QEventLoop`` until every ``workflow_completed``; Hamilton: submitted at once to a
  ``ThreadPoolExecutor`` of our pool's size); ``inline`` runs every task in this thread
  (``Executor.submit`` a no-op, as ``benchmarks.profiling inline`` does; Hamilton: in a row).

Callgrind runs one thread at a time, so ``threads`` counts vary by a few percent between
identical runs (where the GIL changes hands differs); ``inline`` counts repeat.
"""

from __future__ import annotations

import concurrent.futures
import gc
import os
import sys
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

WARM_UP = 50


def _ours(candidate: str, mode: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    from ._dag_workflows import Ours
    from ._references import chain_dag
    from .concurrency import STEPS, _until_completed

    ours = Ours()
    ours.register("ten", chain_dag(STEPS), False)
    ours.verify("ten")
    orchestrator = ours.v1 if candidate == "v1" else ours.v2
    engine = orchestrator._core.engine

    def start(count: int) -> None:
        for _ in range(count):
            if candidate == "v1":
                orchestrator.execute_workflow_async("ten")
            else:
                orchestrator.execute_workflow("ten")

    def batch(count: int) -> None:
        if mode == "threads":
            _until_completed(orchestrator, lambda: start(count), count)
            return
        start(count)
        for run in engine.active_runs():
            claim = getattr(run, "claim", None)  # a run still waiting in the pool's queue
            if claim is not None:
                claim()
            run.workers.help_until_done()
        engine.pump.drain(None)

    if mode == "inline":
        engine.executor.submit = lambda function: None  # this thread runs every task
    return batch, ours.shutdown


def _hamilton(mode: str, workers: int) -> tuple[Callable[[int], None], Callable[[], None]]:
    from ._references import chain_dag, hamilton_driver, name
    from .concurrency import STEPS

    driver = hamilton_driver(chain_dag(STEPS))
    last = name(STEPS - 1)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)

    def batch(count: int) -> None:
        if mode == "inline":
            for _ in range(count):
                driver.execute([last])
            return
        submitted = [pool.submit(driver.execute, [last]) for _ in range(count)]
        for future in submitted:
            future.result()

    return batch, lambda: pool.shutdown(wait=True)


def _dag(name: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    from .profiling import _ours_with

    ours, _title, version = _ours_with(name)
    run = ours.runners("w")[version]

    def batch(count: int) -> None:
        for _ in range(count):
            run()

    batch(3)
    return batch, ours.shutdown


def main(argv: list[str]) -> None:
    from PySide6.QtWidgets import QApplication

    from .profiling import DAG_WORKLOADS

    candidate, mode, count = argv[0], argv[1], int(argv[2])
    known = ("v1", "v2", "hamilton", *DAG_WORKLOADS)
    if candidate not in known or mode not in ("threads", "inline"):
        raise SystemExit(__doc__)
    app = QApplication.instance() or QApplication([])
    if candidate in DAG_WORKLOADS:
        batch, close = _dag(candidate)
        try:
            gc.collect()
            batch(count)
            gc.collect()
            app.processEvents()
        finally:
            close()
        return
    if candidate == "hamilton":
        from ._dag_workflows import Ours

        ours = Ours()
        workers = ours.workers()
        ours.shutdown()
        batch, close = _hamilton(mode, workers)
    else:
        batch, close = _ours(candidate, mode)
    try:
        batch(WARM_UP)
        gc.collect()
        if count:
            batch(count)
        gc.collect()
        app.processEvents()
    finally:
        close()


if __name__ == "__main__":
    main(sys.argv[1:])
