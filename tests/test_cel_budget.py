"""CEL costs are bounded: nested macros that would run for hours are refused at registration,
every accepted expression stops within the documented budget whatever data it walks, and
cancelling (or timing out) the run stops an evaluation in progress."""

from __future__ import annotations

import threading
import time
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
from qtforge_orch._conditions import (
    MAX_COST,
    MAX_EVALUATION_S,
    ConditionError,
    compile_condition,
    stop_evaluations_when,
)

from .reliability_helpers import step
from .v2_helpers import Mode, conn, control, node, workflow

pytestmark = pytest.mark.timeout(60)

DIGITS = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"
# Seconds an evaluation may overrun its budget: the last operation and a check interval.
SLACK_S = 0.5


def nested_all(depth: int, collection: str = DIGITS) -> str:
    """``depth`` nested ``all`` macros over ``collection``: 10**depth bodies for the digits."""
    expression = "true"
    for level in range(depth):
        expression = f"{collection}.all(v{level}, {expression})"
    return expression


HOURS_OF_WORK = nested_all(8)  # about 250 characters, 10**8 bodies


def test_nested_macros_are_refused_with_the_expression_and_the_limit() -> None:
    with pytest.raises(ConditionError) as refused:
        compile_condition(HOURS_OF_WORK)
    message = str(refused.value)
    assert HOURS_OF_WORK[:40] in message and f"{MAX_COST:,}" in message
    assert compile_condition(nested_all(2))  # a modest nesting is fine
    assert compile_condition("items.all(i, i.tags.exists(t, t == 'x'))")


def test_v1_registration_refuses_a_condition_of_nested_macros(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin("p", run=lambda p: {}))
    refused = orchestrator.register_workflow(
        Workflow("cel").add_step(step("s", "p", "run", condition=HOURS_OF_WORK))
    )
    assert refused.error().code == PluginErrorCode.InvalidConfiguration
    assert f"{MAX_COST:,}" in refused.error().message
    assert HOURS_OF_WORK[:30] in refused.error().message


def test_v2_registration_refuses_nested_macros_in_conditions_and_transformations(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin.from_callable("p", lambda p: {"x": 1}))
    conditioned = workflow(
        "cond",
        Mode.Conditional,
        [node("a", "p"), node("b", "p")],
        [control("a", "b", HOURS_OF_WORK)],
    )
    transformed = workflow(
        "transform",
        Mode.Parallel,
        [node("a", "p"), node("b", "p")],
        [conn("a", "b", data_transformation={"expression": HOURS_OF_WORK})],
    )
    for refused in (
        advanced.register_workflow(conditioned),
        advanced.register_workflow(transformed),
    ):
        assert refused.error().code == PluginErrorCode.InvalidWorkflowStructure
        assert f"{MAX_COST:,}" in refused.error().message


def _evaluate_in_thread(run: Any) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(run())
        except ConditionError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


@pytest.mark.parametrize(
    ("expression", "data"),
    [
        ("xs.all(a, xs.all(b, a + b >= 0))", {"xs": list(range(3000))}),
        ("xs.map(a, xs.filter(b, b > a)).size() >= 0", {"xs": list(range(3000))}),
        # celpy's reduce can double a string per item: the built characters are paid for.
        (f"{list(range(40))}.reduce(r, i, 'ab', r + r).size() > 0", {}),
    ],
    ids=["nested_all_over_data", "map_filter_over_data", "doubling_reduce"],
)
@pytest.mark.slow
def test_an_accepted_expression_stops_within_its_budget(
    expression: str, data: dict[str, Any]
) -> None:
    compiled = compile_condition(expression)  # accepted: the data's size is not known here
    started = time.monotonic()
    thread, outcome = _evaluate_in_thread(lambda: compiled.evaluate(data))
    thread.join(MAX_EVALUATION_S + SLACK_S + 5)
    took = time.monotonic() - started
    assert not thread.is_alive(), "the evaluation is still running"
    assert took < MAX_EVALUATION_S + SLACK_S + 1.0, took
    (error,) = outcome
    assert isinstance(error, ConditionError) and "was stopped" in str(error)
    assert expression[:20] in str(error)


@pytest.mark.slow
def test_transformations_stop_within_their_budget_too() -> None:
    compiled = compile_condition("xs.map(a, xs.map(b, a * b))")
    thread, outcome = _evaluate_in_thread(
        lambda: compiled.evaluate_value({"xs": list(range(3000))})
    )
    thread.join(MAX_EVALUATION_S + SLACK_S + 5)
    assert not thread.is_alive()
    assert isinstance(outcome[0], ConditionError) and "was stopped" in str(outcome[0])


def test_a_stop_check_ends_an_evaluation_in_progress() -> None:
    compiled = compile_condition("xs.all(a, xs.all(b, a + b >= 0))")
    stop = threading.Event()

    def run() -> bool:
        with stop_evaluations_when(stop.is_set):
            return compiled.evaluate({"xs": list(range(3000))})

    started = time.monotonic()
    thread, outcome = _evaluate_in_thread(run)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert time.monotonic() - started < MAX_EVALUATION_S / 2  # not the time budget: the stop
    assert "stopped (cancelled or timed out)" in str(outcome[0])


def test_a_workflow_timeout_stops_a_condition_being_evaluated(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin("p", run=lambda p: {"ran": True}))
    flow = Workflow("slow-condition").add_step(
        step("s", "p", "run", condition="xs.all(a, xs.all(b, a + b >= 0))")
    )
    flow.set_timeout(100)
    assert orchestrator.register_workflow(flow)
    started = time.monotonic()
    execution_id = orchestrator.execute_workflow("slow-condition", {"xs": list(range(3000))}, True)
    assert orchestrator.wait_for_execution(execution_id.value(), 10_000)
    # The pool thread that evaluated the condition is free again, well before the condition's
    # own time budget would have ended it: the timeout stopped it.
    assert orchestrator.shutdown(5000)
    assert time.monotonic() - started < 0.1 + MAX_EVALUATION_S * 0.8
    status = orchestrator.get_execution_status(execution_id.value()).value()
    assert status["status"] in ("failed", "cancelled")
