"""B1-B3: per-step overhead of a chain, fan-out throughput, I/O-bound overlap."""

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
    v1_chain,
    v1_fan_out,
)

CHAIN_STEPS = 500
FAN_OUT_STEPS = 2000
IO_STEPS = 64
IO_SLEEP_S = 0.05
IO_THREADS = 16


def _dask_get() -> Any:
    import dask.threaded

    return dask.threaded.get


def b1_chain(ctx: Context) -> list[Figure]:
    """Sequential chain of 500 no-op steps, sync ``execute_workflow``: wall per step."""
    from qtforge_orch import PluginOrchestrator

    n = CHAIN_STEPS
    orch = PluginOrchestrator(plugin_manager=plugins_with(noop=noop))
    try:
        checked(orch.register_workflow(v1_chain("chain", n)), "register_workflow")
        workers = orch.thread_pool().maxThreadCount()
        get = _dask_get()
        graph: dict[str, Any] = {"s0": (noop, {})}
        for index in range(1, n):
            graph[f"s{index}"] = (noop, f"s{index - 1}")
        last = f"s{n - 1}"

        def ours() -> bool:
            return bool(orch.execute_workflow("chain"))

        def dask() -> None:
            get(graph, last, num_workers=workers)

        def floor() -> None:
            data: dict[str, Any] = {}
            for _ in range(n):
                data = noop(data)

        reps = ctx.reps(7, 3)
        times = interleaved({"ours": ours, "dask": dask, "floor": floor}, reps)
    finally:
        orch.shutdown()
    per_step = {name: s.median / n * 1e6 for name, s in times.items()}
    ratio = per_step["ours"] / per_step["dask"]
    method = (
        f"median of {reps} interleaved runs after 1 warm-up; wall of execute_workflow(sync) "
        f"/ {n}; dask.threaded.get(num_workers={workers}) on the same chain of noop tasks; "
        "floor: plain loop data = noop(data)"
    )
    extra = {name: s.to_json() for name, s in times.items()} | {
        "dask_num_workers": workers,
        "ours_cpu_us_per_step": times["ours"].cpu_median / n * 1e6,
    }
    common = {
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
            per_step["ours"],
            ratio=per_step["ours"],
            ratio_of="ours (us/step)",
            target="<= 25 us/step",
            met=per_step["ours"] <= 25.0,
            **common,
        ),
        Figure(
            "B1.vs_dask",
            "B1 chain: ours / dask per step",
            "us/step",
            per_step["ours"],
            ratio=ratio,
            ratio_of="ours/dask",
            target="<= 0.333",
            met=ratio <= 1 / 3,
            **common,
        ),
    ]


def b2_fan_out(ctx: Context) -> list[Figure]:
    """Parallel workflow of 2,000 independent no-op steps, sync execute: steps per second."""
    from qtforge_orch import PluginOrchestrator

    n = FAN_OUT_STEPS
    orch = PluginOrchestrator(plugin_manager=plugins_with(noop=noop))
    try:
        checked(orch.register_workflow(v1_fan_out("fan", n)), "register_workflow")
        workers = orch.thread_pool().maxThreadCount()
        get = _dask_get()
        graph: dict[str, Any] = {f"s{index}": (noop, {}) for index in range(n)}
        keys = list(graph)

        def ours() -> bool:
            return bool(orch.execute_workflow("fan"))

        def dask() -> None:
            get(graph, keys, num_workers=workers)

        def floor() -> None:
            params: dict[str, Any] = {}
            for _ in range(n):
                noop(params)

        reps = ctx.reps(7, 3)
        times = interleaved({"ours": ours, "dask": dask, "floor": floor}, reps)
    finally:
        orch.shutdown()
    rate = {name: n / s.median for name, s in times.items()}
    ratio = rate["ours"] / rate["dask"]
    method = (
        f"median of {reps} interleaved runs after 1 warm-up; {n} / wall of "
        f"execute_workflow(sync) of a Parallel workflow with no dependencies; "
        f"dask.threaded.get(num_workers={workers}) on {n} independent noop tasks; "
        "floor: plain loop calling noop"
    )
    extra = {name: s.to_json() for name, s in times.items()} | {
        "dask_num_workers": workers,
        "ours_cpu_us_per_step": times["ours"].cpu_median / n * 1e6,
    }
    common = {
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
            rate["ours"],
            ratio=rate["ours"],
            ratio_of="ours (steps/s)",
            target=">= 40,000 steps/s",
            met=rate["ours"] >= 40_000,
            **common,
        ),
        Figure(
            "B2.vs_dask",
            "B2 fan-out: ours / dask throughput",
            "steps/s",
            rate["ours"],
            ratio=ratio,
            ratio_of="ours/dask",
            target=">= 2.0",
            met=ratio >= 2.0,
            **common,
        ),
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
