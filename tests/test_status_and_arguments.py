"""Issue #8, root cause 6: status is cheap and complete, polls leak nothing, no public method
raises for any argument, and an execution that left the history is known to have ended."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    Workflow,
)

from .reliability_helpers import step
from .v2_helpers import Mode, fn, node, register, start, workflow

Code = PluginErrorCode


def test_outputs_with_integer_keys_are_reported(
    orchestrator: PluginOrchestrator,
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
) -> None:
    plugins.register_plugin(FunctionPlugin("years", run=lambda p: {2024: 17}))
    assert orchestrator.register_workflow(Workflow("w").add_step(step("s", "years", "run")))
    execution_id = orchestrator.execute_workflow("w").value()
    status = orchestrator.get_execution_status(execution_id)
    assert status, status.error()
    assert status.value()["step_results"][0]["result_data"] == {2024: 17}
    assert orchestrator.get_step_results(execution_id).value()[0].result_data == {2024: 17}
    fn(plugins, "years2", lambda p: {2024: 17})
    register(advanced, workflow("v2", Mode.Parallel, [node("n", "years2")]))
    v2_id = start(advanced, "v2")
    assert advanced.wait_for_execution(v2_id, 5000)
    ctx = advanced.get_execution_status(v2_id)
    assert ctx, ctx.error()
    assert ctx.value().node_states["n"]["output"] == {2024: 17}


def test_step_results_are_what_model_construct_makes(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    """get_step_results builds StepResult objects without model_construct's per-field loop
    (issue #14); they must be indistinguishable from model_construct's."""
    from datetime import UTC, datetime

    from qtforge_orch import StepResult, StepStatus

    plugins.register_plugin(FunctionPlugin("out", run=lambda p: {"x": [1]}))
    plugins.register_plugin(FunctionPlugin("bad", run=lambda p: 1 / 0))
    wf = Workflow("w").add_step(step("a", "out", "run"))
    wf.add_step(step("b", "bad", "run", "a", critical=False))
    wf.add_step(step("c", "out", "run", "b"))
    assert orchestrator.register_workflow(wf)
    execution_id = orchestrator.execute_workflow("w").value()
    results = orchestrator.get_step_results(execution_id).value()
    assert [r.status for r in results] == [
        StepStatus.Completed,
        StepStatus.Failed,
        StepStatus.Skipped,
    ]
    for result in results:
        expected = StepResult.model_construct(**{k: result.__dict__[k] for k in result.__dict__})
        assert result == expected
        assert list(result.__dict__) == list(expected.__dict__) == list(StepResult.model_fields)
        assert result.model_fields_set == expected.model_fields_set
        assert result.__pydantic_extra__ is expected.__pydantic_extra__
        assert result.__pydantic_private__ == expected.__pydantic_private__
        assert type(result.status) is StepStatus
        for stamp in (result.start_time, result.end_time):
            assert stamp is None or (isinstance(stamp, datetime) and stamp.tzinfo is UTC)
        assert result.to_json()["status"] == result.status.name
    # Outputs are copies: changing one changes neither the engine's record nor a later call.
    results[0].result_data["x"] = "changed"
    assert orchestrator.get_step_results(execution_id).value()[0].result_data == {"x": [1]}
    # Assignment still validates.
    results[0].retry_count = 2
    with pytest.raises(ValueError):
        results[0].retry_count = -1


def test_zero_timeout_polls_leak_nothing(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    release: list[bool] = []

    def hold(params: dict[str, Any], context: Any) -> dict[str, Any]:
        while not release and not context.wait(0.005):
            pass
        return {}

    plugins.register_plugin(FunctionPlugin("p", hold=hold))
    assert orchestrator.register_workflow(Workflow("w").add_step(step("s", "p", "hold")))
    execution_id = orchestrator.execute_workflow("w", async_=True).value()
    for _ in range(200):  # warm up
        assert orchestrator.wait_for_execution(execution_id, 0) is False
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(5000):
            assert orchestrator.wait_for_execution(execution_id, 0) is False
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        release.append(True)
    assert grown < 64 * 1024, f"{grown} bytes kept by 5,000 polls"
    assert orchestrator.wait_for_execution(execution_id, 5000)


BAD_IDS: list[Any] = [["a"], {"x": 1}, None, 3, b"id", object()]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_no_v1_method_raises_for_bad_ids(orchestrator: PluginOrchestrator, bad: Any) -> None:
    for method in (
        orchestrator.get_execution_status,
        orchestrator.get_step_results,
        orchestrator.cancel_workflow,
        orchestrator.get_workflow,
        orchestrator.unregister_workflow,
        orchestrator.execute_workflow,
        orchestrator.begin_transaction,
        orchestrator.commit_transaction,
        orchestrator.rollback_transaction,
    ):
        result = method(bad)
        assert not result, method.__name__
        assert result.error().code in (Code.InvalidArgument, Code.NotFound), method.__name__
    assert orchestrator.wait_for_execution(bad, 0) is False
    assert orchestrator.wait_for_execution("x", bad) is False or bad is None
    future = orchestrator.execute_workflow_async(bad)
    assert not future.result(5)


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_no_v2_method_raises_for_bad_ids(advanced: AdvancedPluginOrchestrator, bad: Any) -> None:
    for method in (
        advanced.get_execution_status,
        advanced.cancel_execution,
        advanced.pause_execution,
        advanced.resume_execution,
        advanced.get_workflow,
        advanced.unregister_workflow,
        advanced.execute_workflow,
        advanced.post_event,
    ):
        result = method(bad)
        assert not result, method.__name__
    assert not advanced.get_node_status(bad, "n")
    assert not advanced.remove_node_from_workflow(bad, "n")
    assert advanced.wait_for_execution(bad, 0) is False


@pytest.mark.parametrize("limit", [None, -1, "10", 2.5, True])
def test_bad_history_limits_are_refused(orchestrator: PluginOrchestrator, limit: Any) -> None:
    before = orchestrator.history_limit()
    result = orchestrator.set_history_limit(limit)
    assert not result
    assert result.error().code == Code.InvalidArgument
    assert orchestrator.history_limit() == before


def test_an_execution_that_left_the_history_has_ended(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin("p", run=lambda p: {}))
    assert orchestrator.register_workflow(Workflow("w").add_step(step("s", "p", "run")))
    assert orchestrator.set_history_limit(2)
    ids = [orchestrator.execute_workflow("w", async_=True).value() for _ in range(20)]
    for execution_id in ids:  # waiting on each in turn, as an app would
        assert orchestrator.wait_for_execution(execution_id, 5000) is True
    # Executions finish in any order on the pool: the two that finished last are kept.
    answers = [orchestrator.get_execution_status(i) for i in ids]
    assert sum(bool(a) for a in answers) == 2
    for gone in (a for a in answers if not a):
        assert gone.error().code == Code.NotFound
        assert "ended" in gone.error().message and "history" in gone.error().message
        assert gone.error().context["ended"] is True
    never = orchestrator.get_execution_status("not-an-id")
    assert never.error().code == Code.NotFound and "ended" not in never.error().context
    assert orchestrator.wait_for_execution("not-an-id", 0) is False
