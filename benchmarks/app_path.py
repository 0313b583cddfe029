"""B19: the application's path: run a registered workflow and read its result (issue #24).

An application registers a workflow once, then runs it and reads the result the way the
references' examples do: v1 ``execute_workflow`` (synchronous) and the result through
``get_execution_status``; v2 ``execute_workflow`` + ``wait_for_execution`` and the result
through ``get_execution_status``; and, for both, ``start_workflow`` + the handle's
``result()`` once ``wait()`` returns. Beside them in the same interleaved run: Hamilton's
driver (its ``execute`` returns the result) and a dependency-counting ``ThreadPoolExecutor``
whose result is the sinks' outputs. Three shapes: a chain of 500 no-op steps, a fan-out of
2,000 and a layered DAG of 20 x 50 with fan-in 3.

A second part times the first ``get_execution_status`` of a finished 2,000-step fan-out (per
step), alone and followed by reading every step report.
"""

from __future__ import annotations

import concurrent.futures
import statistics
import time
from collections.abc import Callable
from typing import Any

from ._common import Context, Figure, Samples, checked, interleaved
from ._compare import versus
from ._dag_bench import sinks
from ._dag_workflows import Ours
from ._references import (
    Dag,
    PoolDag,
    all_names,
    chain_dag,
    fan_out_dag,
    hamilton_driver,
    layered_dag,
)

WORKLOADS: tuple[tuple[str, str, Callable[[], Dag], bool], ...] = (
    ("chain", "chain of 500 no-op steps", lambda: chain_dag(500), False),
    ("fan_out", "fan-out of 2,000 no-op steps", lambda: fan_out_dag(2000), True),
    ("layered", "layered DAG 20x50, fan-in 3", lambda: layered_dag(20, 50, 3), True),
)
OURS = ("v1", "v2", "v1_handle", "v2_handle")
# Issue #24's bounds per workload: (reference, at most).
TARGETS: dict[str, tuple[tuple[str, float | None], ...]] = {
    "chain": (("hamilton", 1.0), ("pool", None)),
    "fan_out": (("pool", 1.0), ("hamilton", 1.3)),
    "layered": (("pool", 1.0), ("hamilton", None)),
}
FIRST_READ_STEPS = 2000
FIRST_READ_TARGET_US = 1.0


def app_runners(ours: Ours, workflow_id: str) -> dict[str, Callable[[], object]]:
    """Run once and read the result, as an application does; False for a failed run."""
    from qtforge_orch import WorkflowExecutionStatus

    v1, v2 = ours.v1, ours.v2

    def run_v1() -> bool:
        execution_id = checked(v1.execute_workflow(workflow_id), "execute v1")
        status = checked(v1.get_execution_status(execution_id), "status v1")
        return status["status"] == "completed" and isinstance(status["result"], dict)

    def run_v2() -> bool:
        execution_id = checked(v2.execute_workflow(workflow_id), "execute v2")
        v2.wait_for_execution(execution_id, 120_000)
        context = checked(v2.get_execution_status(execution_id), "status v2")
        return context.status is WorkflowExecutionStatus.Completed and isinstance(
            context.execution_data.get("result"), dict
        )

    def handle_runner(orchestrator: Any) -> Callable[[], bool]:
        def run() -> bool:
            handle = checked(orchestrator.start_workflow(workflow_id), "start_workflow")
            handle.wait(120_000)
            return isinstance(checked(handle.result(), "handle result"), dict)

        return run

    return {
        "v1": run_v1,
        "v2": run_v2,
        "v1_handle": handle_runner(v1),
        "v2_handle": handle_runner(v2),
    }


def _measure(ctx: Context, key: str, dag: Dag, parallel: bool, reps: int) -> dict[str, Samples]:
    ours = Ours()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=ours.workers())
    try:
        ours.register(key, dag, parallel)
        ours.verify(key)
        hamilton = hamilton_driver(dag)
        pool_dag = PoolDag(dag)
        wanted = sinks(dag)
        if len(wanted) == len(dag):
            wanted = all_names(dag)
        sink_indices = [int(sink[1:]) for sink in wanted]

        def run_pool() -> bool:
            outputs = pool_dag.run(pool)
            return isinstance({f"n{i}": outputs[i] for i in sink_indices}, dict)

        candidates: dict[str, Callable[[], object]] = {
            **app_runners(ours, key),
            "hamilton": lambda: isinstance(hamilton.execute(wanted), dict),
            "pool": run_pool,
        }
        return interleaved(candidates, reps)
    finally:
        pool.shutdown(wait=True)
        ours.shutdown()


def _first_reads(ctx: Context) -> dict[str, list[float]]:
    """us per step of the first status read of a finished fan-out, alone and with every
    step report read after it; one fresh execution per sample."""
    ours = Ours()
    ours.register("first", fan_out_dag(FIRST_READ_STEPS), True)
    n = FIRST_READ_STEPS
    v1, v2 = ours.v1, ours.v2
    samples: dict[str, list[float]] = {}

    def timed(label: str, read: Callable[[], object]) -> None:
        started = time.perf_counter()
        read()
        samples.setdefault(label, []).append((time.perf_counter() - started) * 1e6 / n)

    try:
        for _ in range(ctx.reps(7, 3)):
            for full in (False, True):
                v1_id = checked(ours.v1.execute_workflow("first"), "execute v1")
                v2_id = checked(ours.v2.execute_workflow("first"), "execute v2")
                ours.v2.wait_for_execution(v2_id, 120_000)
                ctx.app.processEvents()
                if full:
                    timed(
                        "v1_full",
                        lambda i=v1_id: len(v1.get_execution_status(i).value()["step_results"]),
                    )
                    timed(
                        "v2_full",
                        lambda i=v2_id: len(v2.get_execution_status(i).value().node_states),
                    )
                else:
                    timed("v1", lambda i=v1_id: v1.get_execution_status(i).value()["result"])
                    timed("v2", lambda i=v2_id: v2.get_execution_status(i).value().execution_data)
    finally:
        ours.shutdown()
    return samples


def b19_app_path(ctx: Context) -> list[Figure]:
    reps = ctx.reps(7, 3)
    figures: list[Figure] = []
    for key, title, make, parallel in WORKLOADS:
        dag = make()
        n = len(dag)
        times = _measure(ctx, key, dag, parallel, reps)
        per_step = {name: s.median / n * 1e6 for name, s in times.items()}
        extra = {name: s.to_json() for name, s in times.items()} | {"per_step_us": per_step}
        method = (
            f"median of {reps} interleaved runs after 1 warm-up, wall / {n} steps. Ours: v1 "
            "execute_workflow (sync) + get_execution_status()['result']; v2 execute_workflow "
            "+ wait_for_execution + get_execution_status().execution_data['result']; handles: "
            "start_workflow + wait() + result(). Hamilton: driver.execute(sinks); "
            "ThreadPoolExecutor: dependency-counting scheduler, result = sinks' outputs"
        )
        first = True
        for variant in OURS:
            for reference, bound in TARGETS[key]:
                figures.append(
                    versus(
                        f"B19.{key}.{variant}_vs_{reference}",
                        f"B19 app path, {title}: {variant.replace('_', ' ')} / {reference}",
                        "us/step",
                        per_step,
                        variant,
                        reference,
                        at_most=bound,
                        issue="#24",
                        method=method if first else "",
                        extra=extra if first else None,
                    )
                )
                first = False
    reads = _first_reads(ctx)
    for variant, label in (("v1", "v1"), ("v2", "v2")):
        value = statistics.median(reads[variant])
        figures.append(
            Figure(
                f"B19.first_status_read_{variant}",
                f"B19 first get_execution_status of a finished {FIRST_READ_STEPS:,}-step "
                f"execution, {label}, per step",
                "us/step",
                value,
                ratio=value,
                ratio_of="us per step",
                target=f"<= {FIRST_READ_TARGET_US:g} us/step (#24)",
                met=value <= FIRST_READ_TARGET_US,
                method=(
                    f"median of {len(reads[variant])} fresh executions: the first status call "
                    "and reading the result from it"
                ),
                extra={"samples_us_per_step": reads[variant]},
            )
        )
        full = statistics.median(reads[f"{variant}_full"])
        figures.append(
            Figure(
                f"B19.first_status_read_{variant}_reports",
                f"B19 first get_execution_status + every step report, {label}, per step",
                "us/step",
                full,
                ratio=full,
                ratio_of="us per step",
                target="reported",
                method="as above, then len(step_results) (v1) or len(node_states) (v2)",
                extra={"samples_us_per_step": reads[f"{variant}_full"]},
            )
        )
    return figures
