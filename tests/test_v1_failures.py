"""Retries, timeouts, critical and non-critical failures, rollbacks and cancellation."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from qtforge_orch import (
    ExecutionMode,
    FunctionPlugin,
    PluginError,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    StepStatus,
    Workflow,
    make_error,
)
from qtforge_orch.testing import FlakyPlugin, HangingPlugin

from .helpers import Recorder, status_of, step

pytestmark = pytest.mark.timeout(30)


def statuses(orch: PluginOrchestrator, execution_id: str) -> dict[str, StepStatus]:
    return {r.step_id: r.status for r in orch.get_step_results(execution_id).value()}


def test_retry_succeeds_and_records_retry_count(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    flaky = FlakyPlugin(failures=2)
    plugins.register_plugin(FunctionPlugin("p", flaky=flaky))
    wf = Workflow("retry")
    s = step("s", "p", "flaky")
    s.max_retries = 2
    s.retry_delay = timedelta(milliseconds=5)
    wf.add_step(s)
    assert orchestrator.register_workflow(wf)
    retrying: list[int] = []
    orchestrator.step_retrying.connect(lambda e, sid, attempt: retrying.append(attempt))
    execution = orchestrator.execute_workflow("retry")
    assert execution, execution
    assert flaky.call_count == 3
    result = orchestrator.get_step_results(execution.value()).value()[0]
    assert result.retry_count == 2
    assert result.result_data == {"calls": 3}
    assert retrying == [1, 2]


def test_retries_exhausted_fail_with_the_plugin_error(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    calls = []

    def broken(params: dict[str, Any]) -> Any:
        calls.append(1)
        return make_error(PluginErrorCode.ResourceUnavailable, "disk unplugged")

    plugins.register_plugin(FunctionPlugin("p", broken=broken))
    wf = Workflow("exhaust")
    s = step("s", "p", "broken")
    s.max_retries = 1
    s.retry_delay = 0
    wf.add_step(s)
    assert orchestrator.register_workflow(wf)
    result = orchestrator.execute_workflow("exhaust")
    assert not result
    error = result.error()
    assert error.code == PluginErrorCode.ResourceUnavailable
    assert "disk unplugged" in error.message
    assert error.context["execution_id"]
    assert len(calls) == 2
    assert status_of(orchestrator, error.context["execution_id"])["status"] == "failed"


def test_step_timeout_fails_with_timeout_and_cancels_the_attempt(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    gate = HangingPlugin()
    plugins.register_plugin(FunctionPlugin("p", hang=gate))
    wf = Workflow("timeout")
    s = step("s", "p", "hang")
    s.timeout = 50
    wf.add_step(s)
    assert orchestrator.register_workflow(wf)
    result = orchestrator.execute_workflow("timeout")
    assert not result
    assert result.error().code == PluginErrorCode.Timeout
    assert gate.cancelled.wait(5)  # the callable was asked to stop through its context
    assert statuses(orchestrator, result.error().context["execution_id"]) == {
        "s": StepStatus.Failed
    }


def test_timed_out_attempt_is_retried_and_late_result_discarded(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    first = threading.Event()
    release = threading.Event()
    calls = [0]

    def slow_then_fast(params: dict[str, Any]) -> dict[str, Any]:
        calls[0] += 1
        if calls[0] == 1:
            first.set()
            release.wait(10)
            return {"attempt": "late"}
        return {"attempt": "second"}

    plugins.register_plugin(FunctionPlugin("p", run=slow_then_fast))
    wf = Workflow("retry_timeout")
    s = step("s", "p", "run")
    s.timeout = 50
    s.max_retries = 1
    s.retry_delay = 0
    wf.add_step(s)
    assert orchestrator.register_workflow(wf)
    execution = orchestrator.execute_workflow("retry_timeout")
    release.set()
    assert execution, execution
    assert orchestrator.get_step_results(execution.value()).value()[0].result_data == {
        "attempt": "second"
    }


def test_workflow_timeout_cancels_with_timeout(
    orchestrator: PluginOrchestrator, plugins: PluginManager, qtbot: Any
) -> None:
    gate = HangingPlugin()
    plugins.register_plugin(FunctionPlugin("p", hang=gate))
    wf = Workflow("wf_timeout").set_timeout(timedelta(milliseconds=60))
    wf.add_step(step("s", "p", "hang"))
    assert orchestrator.register_workflow(wf)
    with qtbot.waitSignal(orchestrator.workflow_cancelled, timeout=5000):
        result = orchestrator.execute_workflow("wf_timeout")
    assert not result
    assert result.error().code == PluginErrorCode.Timeout
    assert status_of(orchestrator, result.error().context["execution_id"])["status"] == "cancelled"


def test_critical_failure_cancels_waiting_steps_and_rolls_back_in_reverse(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    rec = Recorder()

    def fail(params: dict[str, Any]) -> dict[str, Any]:
        raise PluginError(PluginErrorCode.NetworkError, "upload refused")

    plugins.register_plugin(
        FunctionPlugin(
            "p",
            a=rec.command("a", lambda p: {"made": "a"}),
            b=rec.command("b"),
            fail=fail,
            after=rec.command("after"),
            undo_a=rec.command("undo_a"),
            undo_b=rec.command("undo_b"),
            undo_fail=rec.command("undo_fail"),
        )
    )
    wf = Workflow("rollback").set_execution_mode(ExecutionMode.Sequential)
    wf.add_step(step("a", "p", "a")).add_step(step("b", "p", "b", "a"))
    wf.add_step(step("fail", "p", "fail", "b")).add_step(step("after", "p", "after", "fail"))
    wf.add_rollback_step("a", step("undo_a", "p", "undo_a", note="x"))
    wf.add_rollback_step("b", step("undo_b", "p", "undo_b"))
    wf.add_rollback_step("fail", step("undo_fail", "p", "undo_fail"))
    assert orchestrator.register_workflow(wf)
    result = orchestrator.execute_workflow("rollback")
    assert not result
    assert result.error().code == PluginErrorCode.NetworkError
    assert rec.names() == ["a", "b", "undo_b", "undo_a"]
    undo_a_params = rec.calls[-1][1]
    assert undo_a_params == {"made": "a", "note": "x"}
    execution_id = result.error().context["execution_id"]
    assert statuses(orchestrator, execution_id) == {
        "a": StepStatus.Completed,
        "b": StepStatus.Completed,
        "fail": StepStatus.Failed,
        "after": StepStatus.Cancelled,
    }
    rollbacks = status_of(orchestrator, execution_id)["rollbacks"]
    assert [r["step_id"] for r in rollbacks] == ["a", "b"]
    assert all(r["status"] == "completed" for r in rollbacks)


def test_non_critical_failure_skips_dependents_and_goes_on(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    rec = Recorder()

    def fail(params: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("optional thumbnail failed")

    plugins.register_plugin(
        FunctionPlugin("p", fail=fail, dep=rec.command("dep"), other=rec.command("other"))
    )
    wf = Workflow("noncritical")
    optional = step("thumb", "p", "fail")
    optional.critical = False
    wf.add_step(optional).add_step(step("dep", "p", "dep", "thumb")).add_step(
        step("other", "p", "other")
    )
    assert orchestrator.register_workflow(wf)
    execution = orchestrator.execute_workflow("noncritical")
    assert execution, execution
    assert rec.names() == ["other"]
    results = {r.step_id: r for r in orchestrator.get_step_results(execution.value()).value()}
    assert results["thumb"].status is StepStatus.Failed
    assert "optional thumbnail failed" in results["thumb"].error_message
    assert results["dep"].status is StepStatus.Skipped
    assert status_of(orchestrator, execution.value())["status"] == "completed"


def test_cancel_mid_run_marks_the_rest_cancelled_and_compensates_once(
    qtbot: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    gate = HangingPlugin()
    rec = Recorder()
    plugins.register_plugin(
        FunctionPlugin(
            "p", a=rec.command("a"), hang=gate, b=rec.command("b"), undo=rec.command("undo")
        )
    )
    wf = Workflow("cancel_me")
    wf.add_step(step("a", "p", "a")).add_step(step("hang", "p", "hang", "a"))
    wf.add_step(step("b", "p", "b", "hang"))
    wf.add_rollback_step("a", step("undo_a", "p", "undo"))
    assert orchestrator.register_workflow(wf)
    execution = orchestrator.execute_workflow("cancel_me", async_=True)
    assert execution
    execution_id = execution.value()
    assert gate.entered.wait(5)
    with qtbot.waitSignal(orchestrator.workflow_cancelled, timeout=5000) as blocker:
        assert orchestrator.cancel_workflow(execution_id)
    assert blocker.args == [execution_id]
    assert gate.cancelled.wait(5)
    assert rec.names() == ["a", "undo"]
    assert statuses(orchestrator, execution_id) == {
        "a": StepStatus.Completed,
        "hang": StepStatus.Cancelled,
        "b": StepStatus.Cancelled,
    }
    again = orchestrator.cancel_workflow(execution_id)
    assert not again and again.error().code == PluginErrorCode.InvalidState
    assert rec.names().count("undo") == 1
    assert execution_id not in orchestrator.list_active_executions()


def test_unknown_plugin_and_command_fail_the_step(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin("p", real=lambda p: {}))
    wf = Workflow("missing_plugin").add_step(step("s", "ghost", "run"))
    assert orchestrator.register_workflow(wf)
    result = orchestrator.execute_workflow("missing_plugin")
    assert not result and result.error().code == PluginErrorCode.PluginNotFound
    wf2 = Workflow("missing_command").add_step(step("s", "p", "imaginary"))
    assert orchestrator.register_workflow(wf2)
    result = orchestrator.execute_workflow("missing_command")
    assert not result and result.error().code == PluginErrorCode.CommandNotFound
    assert "real" in result.error().message


def test_non_dict_result_is_invalid_parameters(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin("p", bad=lambda p: [1, 2]))
    assert orchestrator.register_workflow(Workflow("bad_result").add_step(step("s", "p", "bad")))
    result = orchestrator.execute_workflow("bad_result")
    assert not result and result.error().code == PluginErrorCode.InvalidParameters


@pytest.mark.parametrize("exc", [SystemExit(3), KeyboardInterrupt(), MemoryError("m")])
def test_base_exceptions_fail_the_step_not_the_process(
    orchestrator: PluginOrchestrator, plugins: PluginManager, exc: BaseException
) -> None:
    def raiser(params: dict[str, Any]) -> dict[str, Any]:
        raise exc

    plugins.register_plugin(FunctionPlugin("p", boom=raiser))
    assert orchestrator.register_workflow(Workflow("boom").add_step(step("s", "p", "boom")))
    result = orchestrator.execute_workflow("boom")
    assert not result and result.error().code == PluginErrorCode.ExecutionFailed
    assert type(exc).__name__ in result.error().message


def test_a_later_step_with_an_earlier_deadline_times_out_on_time(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    """One watchdog per run: a step whose deadline is earlier than the armed one re-arms it."""
    slow_gate, short_gate = HangingPlugin(), HangingPlugin()
    plugins.register_plugin(FunctionPlugin("p", slow=slow_gate, short=short_gate))
    wf = Workflow("deadlines").set_execution_mode(ExecutionMode.Parallel)
    slow = step("slow", "p", "slow")
    slow.timeout = 20_000
    slow.critical = False
    short = step("short", "p", "short")
    short.timeout = 50
    short.critical = False
    wf.add_step(slow).add_step(short)
    assert orchestrator.register_workflow(wf)
    execution_id = orchestrator.execute_workflow("deadlines", async_=True).value()
    assert short_gate.cancelled.wait(5), "the 50 ms step was not timed out"
    slow_gate.release()
    assert orchestrator.wait_for_execution(execution_id, 5000)
    results = {r.step_id: r for r in orchestrator.get_step_results(execution_id).value()}
    assert results["short"].status is StepStatus.Failed
    assert "timed out after 50 ms" in results["short"].error_message
    assert results["slow"].status is StepStatus.Completed
