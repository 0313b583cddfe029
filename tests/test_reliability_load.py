"""Issue #5: random concurrent load on both orchestrators, a cancel storm with compensations,
and a bounded leak/soak run with a small history."""

from __future__ import annotations

import gc
import os
import random
import threading
import tracemalloc
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import QObject

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    ExecutionMode,
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    StepContext,
    Workflow,
    WorkflowExecutionStatus,
)

from .reliability_helpers import CallCounter, step, v1_status
from .v2_helpers import Mode, conn, node, workflow

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]  # soak and load runs

Code = PluginErrorCode
V2Status = WorkflowExecutionStatus
STRESS = os.environ.get("QTFORGE_STRESS") == "1"


def _work(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
    # simulated work (not synchronisation): a short, cancellable wait
    context.wait(0.001)
    context.check_cancelled()
    return {"w": params.get("i", 0)}


def _v1_workflow(wf_id: str, rng: random.Random) -> Workflow:
    mode = rng.choice(list(ExecutionMode))
    wf = Workflow(wf_id).set_execution_mode(mode)
    count = rng.randint(1, 4)
    for i in range(count):
        deps = (f"s{i - 1}",) if i and rng.random() < 0.7 else ()
        wf.add_step(
            step(
                f"s{i}",
                "load",
                rng.choice(["quick", "work", "fail"]),
                *deps,
                critical=rng.random() < 0.8,
            )
        )
        if rng.random() < 0.4:
            wf.add_rollback_step(f"s{i}", step(f"u{i}", "load", "quick"))
    return wf


def _v2_workflow(wf_id: str, rng: random.Random) -> Any:
    mode = rng.choice([Mode.Sequential, Mode.Parallel, Mode.Conditional])
    count = rng.randint(1, 4)
    nodes = [node(f"n{i}", rng.choice(["v2quick", "v2work"])) for i in range(count)]
    conns = [conn(f"n{i - 1}", f"n{i}") for i in range(1, count) if rng.random() < 0.7]
    return workflow(wf_id, mode, nodes, conns)


def test_random_concurrent_load_on_both_orchestrators(
    orchestrator: PluginOrchestrator, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(
        FunctionPlugin(
            "load",
            quick=lambda p: {"q": 1},
            work=_work,
            fail=lambda p: (_ for _ in ()).throw(RuntimeError("planned")),
        )
    )
    plugins.register_plugin(FunctionPlugin.from_callable("v2quick", lambda p: {"q": 1}))
    plugins.register_plugin(FunctionPlugin.from_callable("v2work", _work))
    orchestrator.thread_pool().setMaxThreadCount(4)
    advanced.thread_pool().setMaxThreadCount(4)
    threads, ops = 8, (600 if STRESS else 150)
    v1_ids: list[str] = []
    v2_ids: list[str] = []
    futures: list[Any] = []
    ids_lock = threading.Lock()
    escaped: list[BaseException] = []
    barrier = threading.Barrier(threads)
    for i in range(3):
        orchestrator.register_workflow(_v1_workflow(f"w{i}", random.Random(i)))
        advanced.register_workflow(_v2_workflow(f"g{i}", random.Random(i)))

    def pick(pool: list[str], rng: random.Random) -> str:
        with ids_lock:
            return rng.choice(pool) if pool else "none"

    def remember(pool: list[str], result: Any) -> None:
        if result:
            with ids_lock:
                pool.append(result.value())

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        actions: list[Callable[[], Any]] = [
            lambda: orchestrator.register_workflow(_v1_workflow(f"w{rng.randint(0, 4)}", rng)),
            lambda: orchestrator.unregister_workflow(f"w{rng.randint(0, 4)}"),
            lambda: orchestrator.execute_workflow(f"w{rng.randint(0, 4)}", {"i": seed}),
            lambda: remember(
                v1_ids,
                orchestrator.execute_workflow(f"w{rng.randint(0, 4)}", {"i": seed}, async_=True),
            ),
            lambda: futures.append(orchestrator.execute_workflow_async(f"w{rng.randint(0, 4)}")),
            lambda: orchestrator.cancel_workflow(pick(v1_ids, rng)),
            lambda: orchestrator.get_execution_status(pick(v1_ids, rng)),
            lambda: orchestrator.get_step_results(pick(v1_ids, rng)),
            lambda: orchestrator.list_active_executions(),
            lambda: advanced.register_workflow(_v2_workflow(f"g{rng.randint(0, 4)}", rng)),
            lambda: advanced.unregister_workflow(f"g{rng.randint(0, 4)}"),
            lambda: remember(v2_ids, advanced.execute_workflow(f"g{rng.randint(0, 4)}")),
            lambda: advanced.cancel_execution(pick(v2_ids, rng)),
            lambda: advanced.pause_execution(pick(v2_ids, rng)),
            lambda: advanced.resume_execution(pick(v2_ids, rng)),
            lambda: advanced.get_execution_status(pick(v2_ids, rng)),
            lambda: advanced.get_node_status(pick(v2_ids, rng), "n0"),
            lambda: advanced.add_node_to_workflow(
                f"g{rng.randint(0, 4)}", node(f"x{rng.randint(0, 9)}", "v2quick")
            ),
            lambda: advanced.add_connection_to_workflow(
                f"g{rng.randint(0, 4)}", conn(f"n{rng.randint(0, 3)}", f"x{rng.randint(0, 9)}")
            ),
            lambda: advanced.remove_node_from_workflow(
                f"g{rng.randint(0, 4)}", f"x{rng.randint(0, 9)}"
            ),
            lambda: advanced.get_active_executions(),
        ]
        barrier.wait(10)
        for _ in range(ops):
            try:
                rng.choice(actions)()
            except BaseException as exc:
                escaped.append(exc)

    workers = [threading.Thread(target=worker, args=(s,)) for s in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(45)
    assert not any(w.is_alive() for w in workers), "a worker is stuck (deadlock?)"
    assert escaped == [], escaped[:3]
    # paused executions would never end: resume whatever is still active, then wait for all
    for execution_id in advanced.get_active_executions():
        advanced.resume_execution(execution_id)
    for execution_id in v1_ids:
        assert orchestrator.wait_for_execution(execution_id, 10_000), execution_id
        assert v1_status(orchestrator, execution_id)["status"] in (
            "completed",
            "failed",
            "cancelled",
        )
    for execution_id in v2_ids:
        assert advanced.wait_for_execution(execution_id, 10_000), execution_id
        assert advanced.get_execution_status(execution_id).value().status in (
            V2Status.Completed,
            V2Status.Failed,
            V2Status.Cancelled,
        )
    for future in futures:
        outcome = future.result(timeout=10)
        assert outcome or isinstance(outcome.error().code, PluginErrorCode)
    assert orchestrator.list_active_executions() == []
    assert advanced.get_active_executions() == []


# --- 9. cancel storm -------------------------------------------------------------------------


@pytest.mark.parametrize("cancellers", [4])
def test_cancel_storm_compensates_each_completed_step_exactly_once(
    orchestrator: PluginOrchestrator, plugins: PluginManager, cancellers: int
) -> None:
    executions = 100
    orchestrator.thread_pool().setMaxThreadCount(8)
    undo = CallCounter()
    release = threading.Event()  # never set before the storm: "hold" runs until cancelled
    made = threading.Semaphore(0)

    def make(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        made.release()
        return {"made_by": context.execution_id}

    def hold(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        while not release.wait(0.005):
            context.check_cancelled()
        return {}

    def undo_make(params: dict[str, Any]) -> dict[str, Any]:
        undo.hit((params["made_by"], "make"))
        return {}

    def undo_late(params: dict[str, Any]) -> dict[str, Any]:
        undo.hit((params.get("made_by"), "late"))
        return {}

    plugins.register_plugin(
        FunctionPlugin(
            "p", make=make, hold=hold, late=lambda p: {}, undo_make=undo_make, undo_late=undo_late
        )
    )
    wf = Workflow("storm").set_execution_mode(ExecutionMode.Parallel)
    wf.add_step(step("make", "p", "make")).add_step(step("hold", "p", "hold", "make"))
    wf.add_step(step("late", "p", "late", "hold"))
    wf.add_rollback_step("make", step("undo_make", "p", "undo_make"))
    wf.add_rollback_step("late", step("undo_late", "p", "undo_late"))
    assert orchestrator.register_workflow(wf)
    ids = [orchestrator.execute_workflow("storm", async_=True).value() for _ in range(executions)]
    # some executions have completed "make" and are holding; the rest are still queued
    for _ in range(4):
        assert made.acquire(timeout=5)
    barrier = threading.Barrier(cancellers)
    outcomes: list[tuple[str, bool, Any]] = []
    lock = threading.Lock()

    def storm(seed: int) -> None:
        order = list(ids)
        random.Random(seed).shuffle(order)
        barrier.wait(10)
        for execution_id in order:
            result = orchestrator.cancel_workflow(execution_id)
            with lock:
                outcomes.append((execution_id, bool(result), None if result else result.error()))

    threads = [threading.Thread(target=storm, args=(s,)) for s in range(cancellers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    for execution_id in ids:
        assert orchestrator.wait_for_execution(execution_id, 10_000)
    # a second round of cancels is refused cleanly
    for execution_id in ids[:10]:
        again = orchestrator.cancel_workflow(execution_id)
        assert not again and again.error().code == Code.InvalidState
    successes = Counter(e for e, ok, _ in outcomes if ok)
    assert all(successes[e] == 1 for e in ids), successes.most_common(3)
    assert all(err.code == Code.InvalidState for _, ok, err in outcomes if not ok), [
        err for _, ok, err in outcomes if not ok
    ][:3]
    counts = undo.snapshot()
    assert not any(kind == "late" for _, kind in counts), counts
    completed_make = 0
    for execution_id in ids:
        status = v1_status(orchestrator, execution_id)
        assert status["status"] == "cancelled"
        make_status = next(r for r in status["step_results"] if r["step_id"] == "make")["status"]
        expected = 1 if make_status == "Completed" else 0
        completed_make += expected
        assert counts[(execution_id, "make")] == expected, (execution_id, make_status, counts)
    assert completed_make >= 4
    assert orchestrator.list_active_executions() == []


def test_v2_cancel_storm_from_several_threads(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    advanced.thread_pool().setMaxThreadCount(8)
    entered = threading.Semaphore(0)

    def hold(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        entered.release()
        while not context.wait(0.005):
            pass
        context.check_cancelled()
        return {}

    plugins.register_plugin(FunctionPlugin.from_callable("hold", hold))
    plugins.register_plugin(FunctionPlugin.from_callable("leaf", lambda p: {}))
    wf = workflow("w", Mode.Parallel, [node("a", "hold"), node("b", "leaf")], [conn("a", "b")])
    assert advanced.register_workflow(wf)
    ids = [advanced.execute_workflow("w").value() for _ in range(60)]
    assert entered.acquire(timeout=5)
    barrier = threading.Barrier(4)
    wins: list[str] = []
    lock = threading.Lock()

    def storm(seed: int) -> None:
        order = list(ids)
        random.Random(seed).shuffle(order)
        barrier.wait(10)
        for execution_id in order:
            if seed % 2:
                advanced.pause_execution(execution_id)
            if advanced.cancel_execution(execution_id):
                with lock:
                    wins.append(execution_id)

    threads = [threading.Thread(target=storm, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert sorted(wins) == sorted(ids)
    for execution_id in ids:
        assert advanced.wait_for_execution(execution_id, 10_000)
        assert advanced.get_execution_status(execution_id).value().status == V2Status.Cancelled
        assert advanced.get_node_status(execution_id, "b").value()["status"] != "completed"
    assert advanced.get_active_executions() == []


# --- 11. leak / soak --------------------------------------------------------------------------


def _soak_v1(orch: PluginOrchestrator, count: int) -> list[str]:
    ids = []
    for i in range(count):
        if i % 2:
            result = orch.execute_workflow("small", {"i": i})
            assert result, result
            ids.append(result.value())
        else:
            ids.append(orch.execute_workflow("small", {"i": i}, async_=True).value())
    for execution_id in ids[-60:]:
        orch.wait_for_execution(execution_id, 10_000)
    return ids


def _live_qobjects() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, QObject))


def test_soak_v1_threads_memory_and_history_return_to_baseline(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    count = 10_000  # the figure; about 7 s on 2 cores
    orchestrator.set_history_limit(50)
    plugins.register_plugin(FunctionPlugin("p", a=lambda p: {"a": p["i"]}, b=lambda p: {"b": 1}))
    wf = Workflow("small").set_execution_mode(ExecutionMode.Parallel)
    wf.add_step(step("a", "p", "a")).add_step(step("b", "p", "b", "a"))
    assert orchestrator.register_workflow(wf)
    _soak_v1(orchestrator, 200)  # warm-up: caches, pool threads, interned strings
    assert orchestrator.thread_pool().waitForDone(5000)
    gc.collect()
    threads_before = threading.active_count()
    qobjects_before = _live_qobjects()
    children_before = len(orchestrator.findChildren(QObject))
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        ids = _soak_v1(orchestrator, count)
        assert orchestrator.thread_pool().waitForDone(5000)
        assert orchestrator.list_active_executions() == []
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert grown < 3 * 1024 * 1024, f"memory grew by {grown} bytes over {count} executions"
    assert threading.active_count() <= threads_before + 1
    assert len(orchestrator.findChildren(QObject)) == children_before
    assert _live_qobjects() <= qobjects_before + 5
    assert orchestrator.thread_pool().activeThreadCount() == 0
    retained = [i for i in ids if orchestrator.get_execution_status(i)]
    assert len(retained) <= 50
    assert ids[-1] in retained
    for old in ids[:100]:
        assert orchestrator.get_execution_status(old).error().code == Code.NotFound
    assert orchestrator.cancel_workflow(ids[0]).error().code == Code.NotFound
    # It ended: waiting on it must never look like a timeout (issue #8).
    assert orchestrator.wait_for_execution(ids[0], 10) is True


def test_soak_v2_history_and_threads(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    count = 5_000 if STRESS else 1_000
    advanced.set_history_limit(50)
    plugins.register_plugin(FunctionPlugin.from_callable("p", lambda p: {"x": 1}))
    assert advanced.register_workflow(
        workflow("small", Mode.Parallel, [node("a", "p"), node("b", "p")], [conn("a", "b")])
    )
    threads_before = threading.active_count()
    ids = []
    for i in range(count):
        ids.append(advanced.execute_workflow("small", {"i": i}).value())
        if i % 100 == 99:  # bound the backlog
            assert advanced.wait_for_execution(ids[-1], 10_000)
    for execution_id in ids[-60:]:
        advanced.wait_for_execution(execution_id, 10_000)
    assert advanced.thread_pool().waitForDone(5000)
    assert advanced.get_active_executions() == []
    assert threading.active_count() <= threads_before + 1
    retained = [i for i in ids if advanced.get_execution_status(i)]
    assert len(retained) <= 50
    assert advanced.get_execution_status(ids[0]).error().code == Code.NotFound
    assert advanced.get_execution_status(ids[-1]).value().status == V2Status.Completed
