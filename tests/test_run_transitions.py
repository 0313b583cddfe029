"""The run shell's transition table and invariant check, driven by a Hypothesis state machine.

A batch run of a random small DAG (retries, step timeouts, conditions, non-critical steps) is
advanced one event at a time by the test thread itself: the engine's pool is replaced by one
that starts nothing, so the machine takes attempts (``Scheduler.take``), finishes them with a
chosen outcome (``Scheduler.work``, in any order), and moves the fake clock (retry delays,
step timeouts, the stall guard) or cancels, pauses and resumes the run in between. After every
step the run's whole state is validated (``Run.validate``); the suite's transition checks
(tests/conftest.py) also validate after every single transition.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from qtforge_orch import (
    FunctionPlugin,
    PluginError,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    StepContext,
    Workflow,
    WorkflowStep,
)
from qtforge_orch._engine import RunStatus, transition_checks
from qtforge_orch.contract.plan import TERMINAL_STATES, TaskState
from qtforge_orch.testing import FakeClock

pytestmark = pytest.mark.timeout(240)

OUTCOMES = ("ok", "ok", "ok", "fail", "raise", "error")


def _broken_condition(data: dict[str, Any]) -> bool:
    raise ValueError("planned")


CONDITIONS = (lambda data: True, lambda data: False, _broken_condition)
MOVES = ("take",) * 4 + ("finish",) * 6 + ("advance",) * 3 + ("pause", "resume", "cancel")


def _step_function(outcomes: dict[str, str]) -> Any:
    def step(params: dict[str, Any], context: StepContext) -> Any:
        outcome = outcomes.get(context.step_id, "ok")
        if outcome == "raise":
            raise RuntimeError("planned")
        if outcome == "error":
            raise PluginError(PluginErrorCode.ResourceUnavailable, "planned")
        if outcome == "fail":
            return "not a dict"  # fails the step with InvalidParameters (not retried)
        return {context.step_id: True}

    return step


@st.composite
def workflows(draw: st.DrawFn) -> Workflow:
    size = draw(st.integers(1, 7))
    workflow = Workflow("w")
    for index in range(size):
        earlier = [f"s{i}" for i in range(index)]
        deps = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=2)) if earlier else []
        step = WorkflowStep(f"s{index}", "p", "step", dependencies=deps)
        step.max_retries = draw(st.integers(0, 2))
        step.retry_delay = draw(st.sampled_from([0, 10, 100]))
        step.timeout = draw(st.sampled_from([60_000, 60_000, 50, 500]))
        step.critical = draw(st.booleans())
        if draw(st.integers(0, 3)) == 0:
            step.condition = draw(st.sampled_from(CONDITIONS))
        workflow.add_step(step)
    return workflow


class RunMachine(RuleBasedStateMachine):
    @initialize(workflow=workflows())
    def start(self, workflow: Workflow) -> None:
        self.outcomes: dict[str, str] = {}
        manager = PluginManager()
        manager.register_plugin(FunctionPlugin("p", step=_step_function(self.outcomes)))
        self.clock = FakeClock()
        self.orchestrator = PluginOrchestrator(plugin_manager=manager, timers=self.clock)
        assert self.orchestrator.register_workflow(workflow)
        engine = self.orchestrator._core.engine
        engine.executor.submit = lambda function: None  # this thread does every unit of work
        plan = self.orchestrator._core.workflows.get("w").value().plan
        self.run = engine.new_run(plan, {})
        self.run.start()
        self.held: list[Any] = []  # units taken and not yet worked

    def teardown(self) -> None:
        orchestrator = getattr(self, "orchestrator", None)
        if orchestrator is not None:
            self.run.cancel()
            assert orchestrator.shutdown(5000)

    # One rule choosing among the moves, weighted so that most runs get somewhere before a
    # cancel ends them: take and finish attempts, move the clock, pause, resume, cancel.
    @rule(move=st.sampled_from(MOVES), data=st.data())
    def step(self, move: str, data: st.DataObject) -> None:
        run = self.run
        if move == "take":
            with run.lock:
                unit = run.scheduler.take()  # type: ignore[attr-defined]
            if unit is not None:
                self.held.append(unit)
        elif move == "finish" and self.held:
            unit = self.held.pop(data.draw(st.integers(0, len(self.held) - 1)))
            self.outcomes[run.plan.tasks[unit[0]].key] = data.draw(st.sampled_from(OUTCOMES))
            following = run.scheduler.work(unit)  # type: ignore[attr-defined]
            if following is not None:
                self.held.append(following)
        elif move == "advance":
            self.clock.advance_ms(data.draw(st.sampled_from([1, 3, 20, 60, 120, 600])))
        elif move == "cancel":
            run.cancel()
        elif move == "pause":
            run.pause()
        elif move == "resume":
            run.resume()

    @invariant()
    def the_run_is_consistent(self) -> None:
        if not hasattr(self, "run"):
            return
        self.run.validate()
        states = self.run.table.states
        if self.run.status in RunStatus.FINAL:
            assert all(state in TERMINAL_STATES for state in states)
        if self.run.status == RunStatus.COMPLETED:
            assert TaskState.Cancelled not in states

    @invariant()
    def every_transition_kept_it_consistent(self) -> None:
        assert transition_checks.transition_violations() == []


@pytest.mark.slow
def test_random_completions_failures_retries_cancels_pauses_and_timeouts(qapp: Any) -> None:
    settings(
        max_examples=100,
        stateful_step_count=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )(RunMachine).TestCase().runTest()


def test_the_check_finds_an_inconsistent_run(qapp: Any) -> None:
    """The validation can fail: a run whose counts were tampered with is reported."""
    manager = PluginManager()
    manager.register_plugin(FunctionPlugin("p", step=lambda params: {}))
    orchestrator = PluginOrchestrator(plugin_manager=manager)
    try:
        assert orchestrator.register_workflow(
            Workflow("w").add_step(WorkflowStep("a", "p", "step"))
        )
        executed = orchestrator.execute_workflow("w")
        assert executed
        run = orchestrator._core.engine.get_run(executed.value())
        assert run is not None
        run.validate()
        run.table.settled += 1
        with pytest.raises(AssertionError, match="settled count"):
            run.validate()
        run.table.settled -= 1
    finally:
        orchestrator.shutdown()
