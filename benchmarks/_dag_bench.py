"""Times one DAG on every system, interleaved: ours v1 and v2, Hamilton, a ThreadPoolExecutor
and dask's threaded scheduler (plus an optional plain-Python floor)."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable

from ._common import Context, Samples, interleaved
from ._dag_workflows import Ours
from ._references import Dag, PoolDag, all_names, dask_graph, hamilton_driver, name


def sinks(dag: Dag) -> list[str]:
    """The nodes nothing depends on: asking Hamilton and dask for them runs every node (each
    node is a sink or an ancestor of one), which is what our orchestrators do."""
    has_successor = {p for predecessors in dag for p in predecessors}
    return [name(index) for index in range(len(dag)) if index not in has_successor]


def measure_dag(
    ctx: Context,
    workflow_id: str,
    dag: Dag,
    *,
    parallel: bool,
    reps: int,
    floor: Callable[[], object] | None = None,
) -> tuple[dict[str, Samples], int]:
    """Samples per system (``floor`` under "floor") and the worker count every pool got."""
    import dask.threaded

    ours = Ours()
    workers = ours.workers()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
    try:
        ours.register(workflow_id, dag, parallel)
        ours.verify(workflow_id)
        runners = ours.runners(workflow_id)
        hamilton = hamilton_driver(dag)
        pool_dag = PoolDag(dag)
        graph = dask_graph(dag)
        wanted = sinks(dag)
        if len(wanted) == len(dag):
            wanted = all_names(dag)
        get = dask.threaded.get

        candidates: dict[str, Callable[[], object]] = {
            "v1": runners["v1"],
            "v2": runners["v2"],
            "hamilton": lambda: hamilton.execute(wanted),
            "pool": lambda: pool_dag.run(pool),
            "dask": lambda: get(graph, wanted, num_workers=workers),
        }
        if floor is not None:
            candidates["floor"] = floor
        return interleaved(candidates, reps), workers
    finally:
        pool.shutdown(wait=True)
        ours.shutdown()
