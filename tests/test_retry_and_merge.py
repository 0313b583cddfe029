"""Issue #8, root cause 9: retry policies with backoff, and a deterministic shared-data merge."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    ExecutionMode,
    FunctionPlugin,
    PluginError,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    RetryPolicy,
    Workflow,
)
from qtforge_orch._engine.timers import ManualTimerService

from .reliability_helpers import step
from .v2_helpers import Mode, node, workflow

Code = PluginErrorCode


@pytest.fixture
def clock() -> ManualTimerService:
    return ManualTimerService()


@pytest.fixture
def timed(
    qapp: Any, plugins: PluginManager, clock: ManualTimerService
) -> Iterator[PluginOrchestrator]:
    orch = PluginOrchestrator(plugin_manager=plugins, timers=clock)
    yield orch
    assert orch.shutdown(5000)


def _armed(clock: ManualTimerService, delay: float) -> bool:
    """Wait (briefly, for the worker that arms it) until a timer of ``delay`` s is armed."""
    armed = threading.Event()
    for _ in range(2000):
        if any(abs(d - delay) < 1e-6 for d in clock.pending()):
            return True
        armed.wait(0.001)
    return False


def test_exponential_backoff_with_a_ceiling_driven_by_a_fake_clock(
    timed: PluginOrchestrator, plugins: PluginManager, clock: ManualTimerService
) -> None:
    attempts: list[int] = []

    def flaky(params: dict[str, Any]) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) < 5:
            raise RuntimeError("transient")
        return {"ok": True}

    plugins.register_plugin(FunctionPlugin("p", flaky=flaky))
    s = step("s", "p", "flaky")
    s.max_retries = 4
    s.retry_delay = 1000
    s.parameters = {"retry_policy": {"backoff": 3.0, "max_delay": 5000}}
    assert timed.register_workflow(Workflow("w").add_step(s))
    execution_id = timed.execute_workflow("w", async_=True).value()
    # 1 s, 3 s, 9 s capped to 5 s, 5 s: each delay is armed exactly, nothing waits in real time.
    for delay in (1.0, 3.0, 5.0, 5.0):
        assert _armed(clock, delay), (delay, clock.pending())
        clock.advance(delay)
    assert timed.wait_for_execution(execution_id, 5000)
    status = timed.get_execution_status(execution_id).value()
    assert status["status"] == "completed"
    assert len(attempts) == 5
    assert "retry_policy" not in status["result"]  # not a plugin parameter


def test_non_transient_errors_are_not_retried_by_default(qapp: Any, plugins: PluginManager) -> None:
    orch = PluginOrchestrator(plugin_manager=plugins)
    calls: list[int] = []

    def refuse(params: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)
        raise PluginError(Code.InvalidParameters, "bad input")

    plugins.register_plugin(FunctionPlugin("p", refuse=refuse))
    missing = step("missing", "nope", "run")
    missing.max_retries = 3
    bad = step("bad", "p", "refuse")
    bad.max_retries = 3
    for wf_id, s in (("a", missing), ("b", bad)):
        assert orch.register_workflow(Workflow(wf_id).add_step(s))
        result = orch.execute_workflow(wf_id)
        assert not result
    assert calls == [1]  # InvalidParameters: one attempt
    assert (
        orch.get_step_results(orch.execute_workflow("a").error().context["execution_id"])
        .value()[0]
        .retry_count
        == 0
    )
    assert orch.shutdown(5000)


def test_retry_on_names_the_codes_worth_retrying(qapp: Any, plugins: PluginManager) -> None:
    orch = PluginOrchestrator(plugin_manager=plugins)
    calls: list[int] = []

    def busy(params: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)
        code = Code.ResourceUnavailable if len(calls) < 3 else Code.ExecutionFailed
        raise PluginError(code, "busy")

    plugins.register_plugin(FunctionPlugin("p", busy=busy))
    s = step("s", "p", "busy")
    s.max_retries = 5
    s.retry_delay = 0
    s.parameters = {"retry_policy": {"retry_on": ["ResourceUnavailable"]}}
    assert orch.register_workflow(Workflow("w").add_step(s))
    assert not orch.execute_workflow("w")
    assert len(calls) == 3  # two ResourceUnavailable retried; ExecutionFailed is not listed
    assert orch.shutdown(5000)


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        ("fast", "must be a mapping"),
        ({"backoff": 0.5}, "backoff must be >= 1.0"),
        ({"jitter": 2}, "jitter must be a fraction"),
        ({"retry_on": ["NoSuchCode"]}, "is not a PluginErrorCode"),
        ({"tries": 3}, "unknown keys ['tries']"),
    ],
)
def test_bad_retry_policies_are_refused_at_registration(
    qapp: Any, plugins: PluginManager, policy: Any, fragment: str
) -> None:
    orch = PluginOrchestrator(plugin_manager=plugins)
    s = step("s", "p", "run")
    s.parameters = {"retry_policy": policy}
    result = orch.register_workflow(Workflow("w").add_step(s))
    assert not result
    assert result.error().code == Code.InvalidConfiguration
    assert fragment in result.error().message
    assert orch.list_workflows() == []
    advanced = AdvancedPluginOrchestrator(plugin_manager=plugins)
    wf = workflow("v2", Mode.Parallel, [node("n", "p", configuration={"retry_policy": policy})])
    refused = advanced.register_workflow(wf)
    assert not refused
    assert refused.error().code == Code.InvalidWorkflowStructure
    assert fragment in refused.error().message


def test_retry_policy_delays() -> None:
    policy = RetryPolicy.build(5, 100, {"backoff": 2, "max_delay": 500, "jitter": 0})
    assert [policy.delay_s(n) for n in range(1, 6)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    jittered = RetryPolicy.build(1, 1000, {"jitter": 0.1})
    assert all(0.9 <= jittered.delay_s(1) <= 1.1 for _ in range(100))


def test_parallel_steps_writing_one_key_merge_in_sequential_order(
    qapp: Any, plugins: PluginManager
) -> None:
    """The later step in declaration (dependency) order wins, whichever finishes last."""
    orch = PluginOrchestrator(plugin_manager=plugins)
    results = []
    for first_to_finish in ("a", "b"):
        gates = {"a": threading.Event(), "b": threading.Event()}
        finished: list[str] = []

        def make(
            name: str, gates: dict[str, threading.Event] = gates, finished: list[str] = finished
        ) -> Any:
            def run(params: dict[str, Any]) -> dict[str, Any]:
                assert gates[name].wait(5)
                finished.append(name)
                other = "b" if name == "a" else "a"
                gates[other].set()
                return {"shared": name, name: True}

            return run

        plugins.unregister_plugin("p")
        plugins.register_plugin(FunctionPlugin("p", a=make("a"), b=make("b")))
        wf = Workflow(f"w{first_to_finish}")
        wf.set_execution_mode(ExecutionMode.Parallel)
        wf.add_step(step("a", "p", "a"))
        wf.add_step(step("b", "p", "b"))
        assert orch.register_workflow(wf)
        gates[first_to_finish].set()
        execution_id = orch.execute_workflow(wf.id()).value()
        status = orch.get_execution_status(execution_id).value()
        assert finished[0] == first_to_finish
        results.append(status["result"]["shared"])
        assert status["overlapping_outputs"] == {"shared": ["a", "b"]}
    assert results == ["b", "b"]
    assert orch.shutdown(5000)
