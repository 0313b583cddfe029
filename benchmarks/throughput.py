"""B1-B3: per-step overhead of a chain, fan-out throughput, I/O-bound overlap.

B1 and B2 also time ours v2, Hamilton and a plain ThreadPoolExecutor (issue #14).
"""

from __future__ import annotations

import time
from typing import Any

from ._common import (
    Context,
    Figure,
    checked,
    interleaved,
    noop,
    plugins_with,
    v1_fan_out,
)
from ._compare import versus
from ._dag_bench import measure_dag
from ._references import chain_dag, fan_out_dag

CHAIN_STEPS = 500
FAN_OUT_STEPS = 2000
IO_STEPS = 64
IO_SLEEP_S = 0.05
IO_THREADS = 16


def _dask_get() -> Any:
    import dask.threaded

    return dask.threaded.get


def _reference_rows(
    key: str, title: str, per_step: dict[str, float], method: str, extra: dict[str, Any]
) -> list[Figure]:
    """Issue #14's rows: v1 against Hamilton and the thread pool (targets), v2 reported."""
    # B1's targets: at most Hamilton's per step. B2's: at most the thread pool's wall and at
    # most 1.5x Hamilton's.
    chain = key == "B1"
    common: dict[str, Any] = {"method": method, "extra": extra}
    unit = "us/step"
    rows = [
        versus(
            f"{key}.v1_vs_hamilton",
            f"{key} {title}: ours v1 / Hamilton",
            unit,
            per_step,
            "v1",
            "hamilton",
            floor="pool",
            at_most=1.0 if chain else 1.5,
            **common,
        ),
        versus(
            f"{key}.v1_vs_pool",
            f"{key} {title}: ours v1 / ThreadPoolExecutor",
            unit,
            per_step,
            "v1",
            "pool",
            at_most=None if chain else 1.0,
            **common,
        ),
        versus(
            f"{key}.v2_vs_hamilton",
            f"{key} {title}: ours v2 / Hamilton",
            unit,
            per_step,
            "v2",
            "hamilton",
            floor="pool",
            **common,
        ),
        versus(f"{key}.v2_vs_v1", f"{key} {title}: ours v2 / v1", unit, per_step, "v2", "v1"),
    ]
    if chain:
        rows.append(
            Figure(
                "B1.per_step_10us",
                "B1 chain: ours v1 per step, round-two bound",
                unit,
                per_step["v1"],
                ratio=per_step["v1"],
                ratio_of="ours v1 (us/step)",
                target="<= 10 us/step (#14)",
                met=per_step["v1"] <= 10.0,
                **common,
            )
        )
    return rows


def b1_chain(ctx: Context) -> list[Figure]:
    """Sequential chain of 500 no-op steps, sync ``execute_workflow``: wall per step."""
    n = CHAIN_STEPS

    def floor() -> None:
        data: dict[str, Any] = {}
        for _ in range(n):
            data = noop(data)

    reps = ctx.reps(7, 3)
    times, workers = measure_dag(ctx, "chain", chain_dag(n), parallel=False, reps=reps, floor=floor)
    per_step = {name: s.median / n * 1e6 for name, s in times.items()}
    ratio = per_step["v1"] / per_step["dask"]
    method = (
        f"median of {reps} interleaved runs after 1 warm-up; wall of execute_workflow(sync) "
        f"/ {n}; v2: execute_workflow + wait_for_execution; dask.threaded.get("
        f"num_workers={workers}), Hamilton's default (sequential) driver and a "
        f"ThreadPoolExecutor({workers}) dependency-counting scheduler on the same chain of "
        "noop tasks; floor: plain loop data = noop(data)"
    )
    extra = {name: s.to_json() for name, s in times.items()} | {
        "dask_num_workers": workers,
        "ours_cpu_us_per_step": times["v1"].cpu_median / n * 1e6,
        "per_step_us": per_step,
    }
    common: dict[str, Any] = {
        "peer": per_step["dask"],
        "peer_name": "dask",
        "floor": per_step["floor"],
        "floor_name": "loop",
        "method": method,
        "extra": extra,
    }
    return [
        Figure(
            "B1.per_step",
            f"B1 chain of {n} no-op steps, per-step wall",
            "us/step",
            per_step["v1"],
            ratio=per_step["v1"],
            ratio_of="ours (us/step)",
            target="<= 25 us/step",
            met=per_step["v1"] <= 25.0,
            **common,
        ),
        Figure(
            "B1.vs_dask",
            "B1 chain: ours / dask per step",
            "us/step",
            per_step["v1"],
            ratio=ratio,
            ratio_of="ours/dask",
            target="<= 0.333",
            met=ratio <= 1 / 3,
            **common,
        ),
        *_reference_rows("B1", "chain", per_step, method, {}),
    ]


def b2_fan_out(ctx: Context) -> list[Figure]:
    """Parallel workflow of 2,000 independent no-op steps, sync execute: steps per second."""
    n = FAN_OUT_STEPS

    def floor() -> None:
        params: dict[str, Any] = {}
        for _ in range(n):
            noop(params)

    reps = ctx.reps(7, 3)
    times, workers = measure_dag(ctx, "fan", fan_out_dag(n), parallel=True, reps=reps, floor=floor)
    rate = {name: n / s.median for name, s in times.items()}
    per_step = {name: s.median / n * 1e6 for name, s in times.items()}
    ratio = rate["v1"] / rate["dask"]
    method = (
        f"median of {reps} interleaved runs after 1 warm-up; {n} / wall of "
        f"execute_workflow(sync) of a Parallel workflow with no dependencies; v2: "
        f"execute_workflow + wait_for_execution; dask.threaded.get(num_workers={workers}), "
        f"Hamilton's default (sequential) driver and a ThreadPoolExecutor({workers}) on {n} "
        "independent noop tasks; floor: plain loop calling noop"
    )
    extra = {name: s.to_json() for name, s in times.items()} | {
        "dask_num_workers": workers,
        "ours_cpu_us_per_step": times["v1"].cpu_median / n * 1e6,
        "per_step_us": per_step,
    }
    common: dict[str, Any] = {
        "peer": rate["dask"],
        "peer_name": "dask",
        "floor": rate["floor"],
        "floor_name": "loop",
        "method": method,
        "extra": extra,
    }
    return [
        Figure(
            "B2.throughput",
            f"B2 fan-out of {n} no-op steps, throughput",
            "steps/s",
            rate["v1"],
            ratio=rate["v1"],
            ratio_of="ours (steps/s)",
            target=">= 40,000 steps/s",
            met=rate["v1"] >= 40_000,
            **common,
        ),
        Figure(
            "B2.vs_dask",
            "B2 fan-out: ours / dask throughput",
            "steps/s",
            rate["v1"],
            ratio=ratio,
            ratio_of="ours/dask",
            target=">= 2.0",
            met=ratio >= 2.0,
            **common,
        ),
        *_reference_rows("B2", "fan-out", per_step, method, {}),
    ]


def _sleep_step(params: Any = None, *_: Any) -> dict[str, Any]:
    time.sleep(IO_SLEEP_S)
    return {}


def b3_io_bound(ctx: Context) -> list[Figure]:
    """64 steps of time.sleep(50 ms) in Parallel on a 16-thread pool: wall against 4 x 50 ms."""
    from PySide6.QtCore import QThreadPool

    from qtforge_orch import PluginOrchestrator

    n = IO_STEPS
    pool = QThreadPool()
    pool.setMaxThreadCount(IO_THREADS)
    orch = PluginOrchestrator(plugin_manager=plugins_with(sleeper=_sleep_step), thread_pool=pool)
    try:
        checked(orch.register_workflow(v1_fan_out("io", n, "sleeper")), "register_workflow")
        get = _dask_get()
        graph: dict[str, Any] = {f"s{index}": (_sleep_step, {}) for index in range(n)}
        keys = list(graph)

        def ours() -> bool:
            return bool(orch.execute_workflow("io"))

        def dask() -> None:
            get(graph, keys, num_workers=IO_THREADS)

        reps = ctx.reps(5, 2)
        times = interleaved({"ours": ours, "dask": dask}, reps)
    finally:
        orch.shutdown()
        pool.waitForDone()
    ideal = -(-n // IO_THREADS) * IO_SLEEP_S
    wall = {name: s.median * 1000 for name, s in times.items()}
    ratio = wall["ours"] / (ideal * 1000)
    return [
        Figure(
            "B3.io_wall",
            f"B3 {n} x {IO_SLEEP_S * 1000:.0f} ms sleeps, {IO_THREADS} threads, wall",
            "ms",
            wall["ours"],
            peer=wall["dask"],
            peer_name="dask",
            floor=ideal * 1000,
            floor_name="ideal",
            ratio=ratio,
            ratio_of="ours/ideal",
            target="<= 1.15",
            met=ratio <= 1.15,
            method=(
                f"median of {reps} interleaved runs after 1 warm-up; execute_workflow(sync) of a "
                f"Parallel workflow on a QThreadPool with maxThreadCount={IO_THREADS}"
            ),
            extra={name: s.to_json() for name, s in times.items()},
        )
    ]
