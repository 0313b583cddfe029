"""B11-B13: the process and Dask executors (issue #11).

Plugin functions live at module level here so worker processes can import them by name.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from PySide6.QtCore import QThreadPool

from ._common import Context, Figure, checked, guarded, noop, plugins_with, v1_fan_out

B11_STEPS = 8
B11_STEP_S = 0.25
B11_REPS = 5
# The process executor's wall may exceed a plain ProcessPoolExecutor's by at most this share
# of the thread executor's wall (issue #24).
B11_GAP_TARGET = 0.03
B12_STEPS = 1000
B12_TARGET = 1.5
B13_STEPS = 2000
GAP_TARGET_MS = 16.0
# Dask steps spend their time waiting for a future, not computing: a drainer per in-flight
# step, so the orchestrator gets a pool with room for as many as the cluster can run at once.
DASK_THREADS = 64


def spin_loops(params: dict[str, Any]) -> dict[str, Any]:
    """A fixed amount of pure-Python work (holds the GIL throughout). Reports its wall and
    CPU time, which show how much of a core the step got (B11's profile)."""
    began, cpu = time.perf_counter(), time.thread_time()
    n = 0
    for i in range(int(params["loops"])):
        n += i & 7
    return {"n": n, "wall_s": time.perf_counter() - began, "cpu_s": time.thread_time() - cpu}


def _calibrate(seconds: float) -> int:
    """Loops of ``spin_loops`` that take ``seconds`` on one core here."""
    loops = 200_000
    while True:
        began = time.perf_counter()
        spin_loops({"loops": loops})
        took = time.perf_counter() - began
        if took > 0.05:
            return int(loops * seconds / took)
        loops *= 4


def processes_count() -> int:
    return os.cpu_count() or 2


def _core_share(orch: Any, execution_id: str) -> float:
    """The median fraction of a core the steps of an execution got in their workers."""
    status = checked(orch.get_execution_status(execution_id), "status")
    outputs = [r["result_data"] for r in status["step_results"]]
    return statistics.median(o["cpu_s"] / o["wall_s"] for o in outputs if o.get("wall_s"))


def _cpu_workflow(workflow_id: str, loops: int) -> Any:
    workflow = v1_fan_out(workflow_id, B11_STEPS, "spin_loops")
    for step in workflow.steps():
        step.parameters = {"loops": loops}
    return workflow


def b11_process(ctx: Context) -> list[Figure]:
    """8 CPU-bound steps of ~0.25 s in Parallel on the process executor, against the same 8
    calls on a plain ``ProcessPoolExecutor`` measured beside it (and the thread executor)."""
    from qtforge_orch import PluginOrchestrator

    loops = _calibrate(B11_STEP_S)
    manager = plugins_with(spin_loops=spin_loops)
    threads = PluginOrchestrator(plugin_manager=manager)
    processes = PluginOrchestrator(plugin_manager=manager, default_executor="process")
    walls: dict[str, list[float]] = {"thread": [], "process": [], "plain_pool": []}
    plain = ProcessPoolExecutor(processes_count(), mp_context=multiprocessing.get_context("spawn"))
    shares: list[float] = []

    def run_process() -> None:
        began = time.perf_counter()
        execution = checked(processes.execute_workflow("cpu"), "process run")
        walls["process"].append(time.perf_counter() - began)
        shares.append(_core_share(processes, execution))

    def run_plain() -> None:
        # The machine's own limit: the same calls on a plain process pool, no orchestrator.
        began = time.perf_counter()
        list(plain.map(spin_loops, [{"loops": loops}] * B11_STEPS))
        walls["plain_pool"].append(time.perf_counter() - began)

    try:
        list(plain.map(spin_loops, [{"loops": 1000}] * 8))  # warm: workers started
        for orch in (threads, processes):
            checked(orch.register_workflow(_cpu_workflow("cpu", loops)), "register_workflow")
        checked(processes.execute_workflow("cpu"), "warm-up")  # spawns the workers
        for rep in range(ctx.reps(B11_REPS, 1)):
            began = time.perf_counter()
            checked(threads.execute_workflow("cpu"), "thread run")
            walls["thread"].append(time.perf_counter() - began)
            # The two process pools back to back, taking turns to go first: neither always
            # runs right after the thread executor's run.
            for run in (run_process, run_plain) if rep % 2 == 0 else (run_plain, run_process):
                run()
    finally:
        threads.shutdown()
        processes.shutdown()
        plain.shutdown()
    thread_wall = statistics.median(walls["thread"])
    process_wall = statistics.median(walls["process"])
    floor = statistics.median(walls["plain_pool"])
    # Each repetition's own difference: the machine's load drifts between repetitions (the
    # plain pool's walls alone vary by 2x on a shared machine) more than within one.
    gaps = [
        (ours - pool) / thread
        for ours, pool, thread in zip(
            walls["process"], walls["plain_pool"], walls["thread"], strict=True
        )
    ]
    gap = statistics.median(gaps)
    workers = processes._core.engine.executors.options.process_workers
    return [
        Figure(
            "B11.process",
            f"B11 {B11_STEPS} CPU-bound steps of {B11_STEP_S} s in Parallel, process executor",
            "s",
            process_wall,
            peer=thread_wall,
            peer_name="thread executor",
            floor=floor,
            floor_name="plain ProcessPoolExecutor",
            ratio=gap,
            ratio_of="(process - plain pool) / thread wall",
            target=f"<= {B11_GAP_TARGET}",
            met=gap <= B11_GAP_TARGET,
            method=(
                f"median over {len(gaps)} repetitions of (process wall - plain pool wall) / "
                "thread wall within the repetition; each repetition runs the thread executor, "
                "then the process executor and the plain pool back to back, taking turns to go "
                f"first; after one warm-up run that starts the workers (pool: "
                f"{workers or 'one per CPU'}, the plain pool as many); each step runs "
                f"{loops:,} loops of pure Python calibrated to {B11_STEP_S} s on one core; "
                f"workers got {statistics.median(shares):.0%} of a core each (median of the "
                "steps' CPU time / wall time inside the workers; 100% on an idle machine)"
            ),
            extra={
                "walls": walls,
                "loops": loops,
                "gaps": gaps,
                "process_over_thread": process_wall / thread_wall,
                "plain_pool_over_thread": floor / thread_wall,
                "worker_core_share": shares,
                "best_process_over_best_thread": min(walls["process"]) / min(walls["thread"]),
            },
        )
    ]


def _dask_orchestrator(manager: Any) -> Any:
    from qtforge_orch import PluginOrchestrator

    pool = QThreadPool()
    pool.setMaxThreadCount(DASK_THREADS)
    orch = PluginOrchestrator(plugin_manager=manager, thread_pool=pool, default_executor="dask")
    orch._keep_pool = pool  # the orchestrator does not own a pool it was given
    return orch


def b12_dask_overhead(ctx: Context) -> list[Figure]:
    """1,000 no-op steps through the Dask executor against the same 1,000 tasks sent with
    ``client.submit`` directly, on one LocalCluster (2 worker processes, 127.0.0.1)."""
    orch = _dask_orchestrator(plugins_with(noop=noop))
    ours: list[float] = []
    plain: list[float] = []
    try:
        checked(orch.register_workflow(v1_fan_out("fan", B12_STEPS)), "register_workflow")
        checked(orch.execute_workflow("fan"), "warm-up")  # starts the cluster
        client = orch._core.engine.executors.get("dask").client()

        def direct() -> None:
            futures = [client.submit(noop, {}, pure=False) for _ in range(B12_STEPS)]
            client.gather(futures)

        direct()
        for _ in range(ctx.reps(3, 1)):
            began = time.perf_counter()
            checked(orch.execute_workflow("fan"), "run")
            ours.append(time.perf_counter() - began)
            began = time.perf_counter()
            direct()
            plain.append(time.perf_counter() - began)
    finally:
        orch.shutdown(10_000)
    ours_us = statistics.median(ours) / B12_STEPS * 1e6
    plain_us = statistics.median(plain) / B12_STEPS * 1e6
    ratio = ours_us / plain_us
    return [
        Figure(
            "B12.dask_overhead",
            f"B12 {B12_STEPS:,} no-op steps through the Dask executor, per step",
            "us",
            ours_us,
            peer=plain_us,
            peer_name="client.submit",
            ratio=ratio,
            ratio_of="ours / client.submit per step",
            target=f"<= {B12_TARGET}",
            met=ratio <= B12_TARGET,
            method=(
                f"median of {len(ours)} interleaved runs after a warm-up: a {B12_STEPS:,}-step "
                f"v1 Parallel workflow (default executor 'dask', {DASK_THREADS}-thread pool) "
                f"against {B12_STEPS:,} client.submit(noop, pure=False) + client.gather on the "
                "same client; LocalCluster(127.0.0.1, 2 worker processes)"
            ),
            extra={"ours_s": ours, "plain_s": plain},
        )
    ]


def b13_dask_gui(ctx: Context) -> list[Figure]:
    """GUI timer gaps while a 2,000-step Parallel workflow runs on the Dask executor."""
    from .responsiveness import _GcPauses, _percentile, _watch_gaps

    # The scenarios before this one leave cyclic garbage (orchestrators, runs) behind; one
    # collection now keeps it from being collected during the measured runs.
    gc.collect()
    orch = _dask_orchestrator(plugins_with(noop=noop))
    counts = {"step_completed": 0, "workflow_completed": 0}

    def count(name: str) -> Callable[..., None]:
        def slot(*_: Any) -> None:
            counts[name] += 1

        return slot

    orch.step_completed.connect(count("step_completed"))
    orch.workflow_completed.connect(count("workflow_completed"))
    runs: list[dict[str, Any]] = []
    try:
        checked(orch.register_workflow(v1_fan_out("fan", B13_STEPS)), "register_workflow")
        checked(orch.execute_workflow("fan"), "warm-up")  # starts the cluster
        for _ in range(ctx.reps(3, 1)):
            for key in counts:
                counts[key] = 0
            holder: dict[str, Any] = {}

            def start(holder: dict[str, Any] = holder) -> None:
                holder["began"] = time.perf_counter()
                holder["future"] = orch.execute_workflow_async("fan")

            def finished(holder: dict[str, Any] = holder) -> bool:
                future = holder.get("future")
                return bool(future and future.done() and counts["workflow_completed"])

            with _GcPauses() as collector:
                ticks = _watch_gaps(start, finished, 120)
            if not holder["future"].done() or not holder["future"].result():
                raise RuntimeError("the Dask fan-out did not complete")
            gaps = [gap for _, gap in ticks]
            runs.append(
                {
                    "max_gap_ms": max(gaps) * 1000,
                    "p99_gap_ms": _percentile(gaps, 0.99) * 1000,
                    "wall_s": time.perf_counter() - holder["began"],
                    "gc_collections": len(collector.pauses),
                    "longest_gc_pause_ms": collector.longest_ms(),
                    "gaps_over_16ms": sum(gap > GAP_TARGET_MS / 1000 for gap in gaps),
                    **dict(counts),
                }
            )
    finally:
        orch.shutdown(10_000)
    worst = max(r["max_gap_ms"] for r in runs)
    delivered = all(r["step_completed"] == B13_STEPS and r["workflow_completed"] == 1 for r in runs)
    return [
        Figure(
            "B13.dask_gui",
            f"B13 max 1 ms-timer gap while a {B13_STEPS:,}-step Dask fan-out runs",
            "ms",
            worst,
            ratio=worst,
            ratio_of="worst max gap (ms)",
            target=f"<= {GAP_TARGET_MS:.0f} ms, all signals",
            met=worst <= GAP_TARGET_MS and delivered,
            method=(
                f"worst of {len(runs)} runs after a warm-up: execute_workflow_async of a "
                f"{B13_STEPS:,}-step v1 Parallel workflow on the Dask executor "
                f"({DASK_THREADS}-thread pool, LocalCluster of 2 worker processes), a 1 ms "
                "Qt.PreciseTimer recording tick intervals; slots count step_completed and "
                "workflow_completed"
            ),
            extra={"runs": runs, "all_signals_delivered": delivered},
        )
    ]


def b11(ctx: Context) -> list[Figure]:
    return guarded("B11", "process executor", lambda: b11_process(ctx))


def b12(ctx: Context) -> list[Figure]:
    return guarded("B12", "Dask executor overhead", lambda: b12_dask_overhead(ctx))


def b13(ctx: Context) -> list[Figure]:
    return guarded("B13", "Dask executor GUI gaps", lambda: b13_dask_gui(ctx))
