"""What decides whether a batch task runs, what it is called with and whether its output
stands: its condition, the Control connections its output activates, a mapped task's per-item
calls, a Splitter's list. Conditions may be user code, so they are evaluated through
``invoke.evaluate``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._cel_cost import stop_evaluations_when
from .._jsoncopy import json_copy
from ..contract.context import StepContext
from ..contract.outcome import Outcome
from ..contract.plan import TaskSpec, Wire
from ..errors import PluginError, PluginErrorCode, derived_error, error_from_exception
from .dataflow import MAPPED_KEY, deliver
from .invoke import evaluate

Invoke = Callable[[TaskSpec, dict[str, Any], StepContext], Outcome]
# Where compiled CEL conditions live: their errors are about the expression, not a traceback.
_CEL_MODULE = "qtforge_orch._conditions"


def check_condition(
    task: TaskSpec, params: dict[str, Any], stop: Callable[[], bool] | None = None
) -> bool | PluginError:
    """Whether ``task`` runs with ``params``, or why its condition could not say.

    A CEL evaluation in progress ends soon after ``stop()`` turns true (the run was cancelled
    or timed out)."""
    assert task.condition is not None
    # A copy: a condition that mutates its argument must not change the step's input.
    with stop_evaluations_when(stop):
        verdict = evaluate(task.condition, json_copy(params))
    if isinstance(verdict, BaseException):
        message = f"condition of '{task.key}' could not be evaluated: {verdict}"
        if getattr(task.condition, "__module__", "") == _CEL_MODULE:
            return PluginError(PluginErrorCode.ExecutionFailed, message)  # the message says it
        # A Python callable: where it raised matters.
        return error_from_exception(
            verdict, PluginErrorCode.ExecutionFailed, message, skip_frames=1
        )
    return verdict


def splitter_error(task: TaskSpec, output: dict[str, Any]) -> PluginError | None:
    """A Splitter's output must hold a list under its output port."""
    port = task.out_port or MAPPED_KEY
    if isinstance(output.get(port), list):
        return None
    return PluginError(
        PluginErrorCode.InvalidParameters,
        f"splitter '{task.key}' must return a list under '{port}'",
    )


def retry_verdict(task: TaskSpec, error: PluginError, retries: int) -> bool | None:
    """Whether a failed attempt of ``task`` is retried, when its retry policy's predicate must
    say (user code: asked here, with no lock held); None when code and exception class decide
    (under the lock), or no retry is left."""
    policy = task.retry
    if policy is None or policy.retry_if is None or retries >= policy.max_retries:
        return None
    return policy.retries(error)


def critical_failure(noun: str, task: TaskSpec, error: PluginError) -> PluginError:
    """The execution's error when critical ``task`` failed with ``error``."""
    return derived_error(error, f"{noun} '{task.key}' failed: {error.message}", step_id=task.key)


def route_control(
    tasks: list[TaskSpec],
    index: int,
    output: dict[str, Any],
    control: list[tuple[int, Wire]],
    active_control: list[set[int] | None],
) -> PluginError | None:
    """Activate the Control connections from ``index`` whose condition holds for its output."""
    for target, wire in control:
        taken = True if wire.condition is None else evaluate(wire.condition, output)
        if isinstance(taken, BaseException):
            return PluginError(
                PluginErrorCode.ExecutionFailed,
                f"condition '{wire.condition_text}' on the connection "
                f"'{tasks[index].key}' -> '{tasks[target].key}' could not be evaluated: {taken}",
            )
        if taken:
            active = active_control[target]
            if active is None:
                active = active_control[target] = set()
            active.add(index)
    return None


def call_mapped(
    invoke: Invoke,
    task: TaskSpec,
    params: dict[str, Any],
    context: StepContext,
    items: list[Any],
) -> Outcome:
    """A node fed by a Splitter: one call per item, the results in order under ``items``."""
    assert task.fan_out is not None
    results: list[Any] = []
    for item in items:
        if context.is_cancelled():
            return Outcome(error=PluginError(PluginErrorCode.OperationCancelled, "cancelled"))
        item_params = dict(params)
        deliver(item_params, item, "", task.fan_out.target_port)
        outcome = invoke(task, item_params, context)
        if not outcome.ok:
            return outcome
        results.append(outcome.output)
    return Outcome({MAPPED_KEY: results})
