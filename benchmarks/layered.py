"""B15: a layered DAG (20 layers x 50 no-op nodes, fan-in 3) on every system (issue #14)."""

from __future__ import annotations

from typing import Any

from ._common import Context, Figure
from ._compare import versus
from ._dag_bench import measure_dag
from ._references import layered_dag

LAYERS = 20
WIDTH = 50
FAN_IN = 3


def b15_layered(ctx: Context) -> list[Figure]:
    dag = layered_dag(LAYERS, WIDTH, FAN_IN)
    n = len(dag)
    reps = ctx.reps(7, 3)
    times, workers = measure_dag(ctx, "layered", dag, parallel=True, reps=reps)
    per_step = {name: s.median / n * 1e6 for name, s in times.items()}
    method = (
        f"median of {reps} interleaved runs after 1 warm-up; wall / {n} nodes. "
        f"{LAYERS} layers of {WIDTH} noop nodes, each node after the first layer depends on "
        f"{FAN_IN} distinct nodes of the previous layer (seeded). Ours: Parallel mode, v1 "
        "sync execute_workflow, v2 execute_workflow + wait_for_execution (DataFlow "
        "connections without ports); Hamilton's default driver; a ThreadPoolExecutor("
        f"{workers}) dependency-counting scheduler; dask.threaded.get(num_workers={workers})"
    )
    extra = {name: s.to_json() for name, s in times.items()} | {
        "per_step_us": per_step,
        "workers": workers,
        "nodes": n,
        "edges": sum(len(predecessors) for predecessors in dag),
    }
    common: dict[str, Any] = {"method": method, "extra": extra}
    title = f"B15 layered DAG {LAYERS}x{WIDTH}, fan-in {FAN_IN}"
    unit = "us/step"
    # Issue #14: at most the thread pool's wall, and at most 1.5x Hamilton's.
    return [
        versus(
            "B15.v1_vs_pool",
            f"{title}: ours v1 / ThreadPoolExecutor",
            unit,
            per_step,
            "v1",
            "pool",
            at_most=1.0,
            **common,
        ),
        versus(
            "B15.v1_vs_hamilton",
            f"{title}: ours v1 / Hamilton",
            unit,
            per_step,
            "v1",
            "hamilton",
            at_most=1.5,
        ),
        versus(
            "B15.v2_vs_pool", f"{title}: ours v2 / ThreadPoolExecutor", unit, per_step, "v2", "pool"
        ),
        versus(
            "B15.v2_vs_hamilton", f"{title}: ours v2 / Hamilton", unit, per_step, "v2", "hamilton"
        ),
        versus("B15.v1_vs_dask", f"{title}: ours v1 / dask", unit, per_step, "v1", "dask"),
        versus("B15.v2_vs_dask", f"{title}: ours v2 / dask", unit, per_step, "v2", "dask"),
    ]
