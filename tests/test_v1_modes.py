"""The four execution modes behave differently, and data moves as DESIGN section 4 says."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from qtforge_orch import (
    ExecutionMode,
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    StepStatus,
    Workflow,
)

from .helpers import Recorder, status_of, step

pytestmark = pytest.mark.timeout(30)


def test_sequential_runs_one_at_a_time_in_dependency_then_declaration_order(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    rec = Recorder()
    active = [0]
    peak = [0]
    lock = threading.Lock()

    def tracked(name: str) -> Any:
        inner = rec.command(name)

        def run(params: dict[str, Any]) -> dict[str, Any]:
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            try:
                return inner(params)
            finally:
                with lock:
                    active[0] -= 1

        return run

    plugins.register_plugin(FunctionPlugin("p", **{n: tracked(n) for n in "abcde"}))
    wf = Workflow("seq").set_execution_mode(ExecutionMode.Sequential)
    # declared out of dependency order on purpose: c depends on e
    wf.add_step(step("a", "p", "a")).add_step(step("c", "p", "c", "e"))
    wf.add_step(step("b", "p", "b")).add_step(step("e", "p", "e", "a")).add_step(
        step("d", "p", "d")
    )
    assert orchestrator.register_workflow(wf)
    result = orchestrator.execute_workflow("seq")
    assert result, result
    assert rec.names() == ["a", "b", "e", "c", "d"]
    assert peak[0] == 1


def test_shared_data_initial_overlay_and_merge(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    seen: dict[str, dict[str, Any]] = {}

    def load(params: dict[str, Any]) -> dict[str, Any]:
        seen["load"] = dict(params)
        return {"rows": 3, "source": "loaded"}

    def transform(params: dict[str, Any]) -> dict[str, Any]:
        seen["transform"] = dict(params)
        return {"rows": params["rows"] * 2}

    plugins.register_plugin(FunctionPlugin("data", load=load, transform=transform))
    wf = Workflow("data_processing", "Data Processing Pipeline")
    wf.add_step(step("load", "data", "load", source="input.csv"))
    wf.add_step(step("transform", "data", "transform", "load", operation="normalize"))
    assert orchestrator.register_workflow(wf)
    execution = orchestrator.execute_workflow("data_processing", {"source": "initial", "user": "u"})
    assert execution
    # the step's own parameters win over the shared data
    assert seen["load"] == {"source": "input.csv", "user": "u"}
    assert seen["transform"]["source"] == "loaded"
    assert seen["transform"]["operation"] == "normalize"
    final = status_of(orchestrator, execution.value())
    assert final["result"] == {"source": "loaded", "user": "u", "rows": 6}
    results = orchestrator.get_step_results(execution.value()).value()
    assert [r.step_id for r in results] == ["load", "transform"]
    assert results[1].result_data == {"rows": 6}
    assert all(r.status is StepStatus.Completed for r in results)
    assert results[0].execution_time().total_seconds() >= 0


def test_parallel_really_overlaps_io_bound_steps(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    """Four steps that each wait for all four to be running at once: only real concurrency
    lets them finish (a sequential scheduler would time out on the barrier)."""
    barrier = threading.Barrier(4, timeout=10)
    threads: set[int] = set()

    def meet(params: dict[str, Any]) -> dict[str, Any]:
        threads.add(threading.get_ident())
        barrier.wait()
        return {}

    plugins.register_plugin(FunctionPlugin("io", wait=meet, combine=lambda p: {"combined": True}))
    wf = Workflow("parallel_processing").set_execution_mode(ExecutionMode.Parallel)
    for name in ("images", "text", "audio", "video"):
        wf.add_step(step(name, "io", "wait"))
    wf.add_step(step("combine", "io", "combine", "images", "text", "audio", "video"))
    orchestrator.thread_pool().setMaxThreadCount(4)
    assert orchestrator.register_workflow(wf)
    execution = orchestrator.execute_workflow("parallel_processing")
    assert execution, execution
    assert len(threads) == 4
    assert status_of(orchestrator, execution.value())["result"]["combined"] is True


def test_sequential_does_not_overlap_the_same_barrier(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    barrier = threading.Barrier(2, timeout=0.3)

    def meet(params: dict[str, Any]) -> dict[str, Any]:
        barrier.wait()
        return {}

    plugins.register_plugin(FunctionPlugin("io", wait=meet))
    wf = Workflow("seq_barrier").set_execution_mode(ExecutionMode.Sequential)
    wf.add_step(step("x", "io", "wait")).add_step(step("y", "io", "wait"))
    assert orchestrator.register_workflow(wf)
    result = orchestrator.execute_workflow("seq_barrier")
    assert not result
    assert result.error().code == PluginErrorCode.ExecutionFailed
    assert "BrokenBarrierError" in result.error().message


def test_conditional_or_join_merges_branches(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    rec = Recorder()
    plugins.register_plugin(
        FunctionPlugin(
            "p",
            check=rec.command("check", lambda p: {"file_valid": p["size"] > 0}),
            good=rec.command("good"),
            bad=rec.command("bad"),
            merge=rec.command("merge"),
        )
    )
    wf = Workflow("branching").set_execution_mode(ExecutionMode.Conditional)
    wf.add_step(step("check", "p", "check"))
    good = step("good", "p", "good", "check")
    good.condition = "file_valid == true"
    bad = step("bad", "p", "bad", "check")
    bad.condition = lambda data: data["file_valid"] is False
    wf.add_step(good).add_step(bad).add_step(step("merge", "p", "merge", "good", "bad"))
    assert orchestrator.register_workflow(wf)

    ok = orchestrator.execute_workflow("branching", {"size": 10})
    assert ok
    assert rec.names() == ["check", "good", "merge"]
    statuses = {r.step_id: r.status for r in orchestrator.get_step_results(ok.value()).value()}
    assert statuses == {
        "check": StepStatus.Completed,
        "good": StepStatus.Completed,
        "bad": StepStatus.Skipped,
        "merge": StepStatus.Completed,
    }


def test_other_modes_skip_dependents_of_skipped_steps(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    rec = Recorder()
    plugins.register_plugin(FunctionPlugin("p", a=rec.command("a"), b=rec.command("b")))
    wf = Workflow("and_join").set_execution_mode(ExecutionMode.Parallel)
    skipped = step("a", "p", "a")
    skipped.condition = "go == true"
    wf.add_step(skipped).add_step(step("b", "p", "b", "a"))
    assert orchestrator.register_workflow(wf)
    execution = orchestrator.execute_workflow("and_join", {"go": False})
    assert execution
    assert rec.names() == []
    statuses = [r.status for r in orchestrator.get_step_results(execution.value()).value()]
    assert statuses == [StepStatus.Skipped, StepStatus.Skipped]
    assert status_of(orchestrator, execution.value())["progress"] == 1.0


def test_pipeline_passes_outputs_not_shared_data(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    seen: dict[str, dict[str, Any]] = {}

    def record(name: str, output: dict[str, Any]) -> Any:
        def run(params: dict[str, Any]) -> dict[str, Any]:
            seen[name] = dict(params)
            return output

        return run

    plugins.register_plugin(
        FunctionPlugin(
            "p",
            first=record("first", {"x": 1}),
            second=record("second", {"y": 2}),
            third=record("third", {"z": 3}),
            last=record("last", {"final": True}),
        )
    )
    wf = Workflow("pipe").set_execution_mode(ExecutionMode.Pipeline)
    wf.add_step(step("first", "p", "first"))
    wf.add_step(step("second", "p", "second", "first", k="v"))
    wf.add_step(step("third", "p", "third", "first"))
    wf.add_step(step("last", "p", "last", "third", "second"))
    assert orchestrator.register_workflow(wf)
    execution = orchestrator.execute_workflow("pipe", {"seed": 0})
    assert execution
    assert seen["first"] == {"seed": 0}
    assert seen["second"] == {"x": 1, "k": "v"}
    # merged in declaration order of the dependencies: third first, then second
    assert seen["last"] == {"z": 3, "y": 2}
    assert status_of(orchestrator, execution.value())["result"] == {"final": True}


def test_condition_reading_a_missing_variable_fails_the_step(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin("p", a=lambda p: {}))
    wf = Workflow("missing_var")
    s = step("a", "p", "a")
    s.condition = "nothing_here == 1"
    wf.add_step(s)
    assert orchestrator.register_workflow(wf)
    result = orchestrator.execute_workflow("missing_var")
    assert not result
    assert "condition" in result.error().message


def test_parallel_overlap_survives_a_burst_of_tiny_steps(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    """Tiny steps make the run drop to one drainer; steps that then need to run together
    (a barrier) must still all start: the stall guard lifts the cap."""
    barrier = threading.Barrier(4, timeout=10)

    def meet(params: dict[str, Any]) -> dict[str, Any]:
        barrier.wait()
        return {}

    plugins.register_plugin(FunctionPlugin("p", tiny=lambda p: {}, meet=meet))
    orchestrator.thread_pool().setMaxThreadCount(4)
    wf = Workflow("burst").set_execution_mode(ExecutionMode.Parallel)
    for i in range(200):
        wf.add_step(step(f"tiny{i}", "p", "tiny"))
    for i in range(4):
        wf.add_step(step(f"meet{i}", "p", "meet", "tiny199"))
    assert orchestrator.register_workflow(wf)
    result = orchestrator.execute_workflow("burst")
    assert result, result
