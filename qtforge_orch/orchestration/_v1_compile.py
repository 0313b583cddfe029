"""Compiles a registered v1 workflow into the engine's ``Plan``.

It reads the frozen form (``_v1_frozen``) and is the facade's only link to the core.
"""

from __future__ import annotations

from typing import Any

from .._engine import EXECUTOR_KEY, THREAD, check_executor
from ..contract.plan import (
    ConditionEvaluator,
    DataPolicy,
    JoinPolicy,
    Plan,
    TaskSpec,
    Wire,
    WireKind,
    link_successors,
    sequential_ranks,
)
from ..contract.retry import POLICY_KEY, RetryPolicy
from . import _v1_frozen as frozen
from ._v1_frozen import FrozenWorkflow, StepRecord
from .execution_mode import ExecutionMode

_MODES: dict[ExecutionMode, tuple[DataPolicy, JoinPolicy, int | None]] = {
    ExecutionMode.Sequential: (DataPolicy.SHARED, JoinPolicy.ALL, 1),
    ExecutionMode.Parallel: (DataPolicy.SHARED, JoinPolicy.ALL, None),
    ExecutionMode.Conditional: (DataPolicy.SHARED, JoinPolicy.OR, None),
    ExecutionMode.Pipeline: (DataPolicy.PIPELINE, JoinPolicy.ALL, None),
}


def _evaluator(condition: Any) -> ConditionEvaluator | None:
    if condition is None:
        return None
    if isinstance(condition, str):
        from .._conditions import compile_condition  # only workflows with conditions load it

        return compile_condition(condition).evaluate
    evaluator: ConditionEvaluator = condition
    return evaluator


def _both(first: ConditionEvaluator, second: ConditionEvaluator) -> ConditionEvaluator:
    return lambda data: bool(first(data)) and bool(second(data))


def _task(
    step: StepRecord,
    index: int,
    incoming: tuple[Wire, ...],
    global_condition: ConditionEvaluator | None,
    default_executor: str,
    no_parameters: dict[str, Any],
) -> TaskSpec:
    condition = _evaluator(step[frozen.CONDITION])
    if global_condition is not None:
        condition = global_condition if condition is None else _both(global_condition, condition)
    # Shared, not copied: the compiled plan only ever reads it, and the frozen record it comes
    # from is never handed out (get_workflow thaws a copy). Steps without parameters share one
    # empty dict per plan.
    parameters = frozen.parameters_of(step) or no_parameters
    max_retries, retry_delay = step[frozen.MAX_RETRIES], step[frozen.RETRY_DELAY]
    retry = None
    if POLICY_KEY in parameters:
        retry = RetryPolicy.build(max_retries, retry_delay, parameters[POLICY_KEY])
        parameters = {k: v for k, v in parameters.items() if k != POLICY_KEY}
    executor = default_executor
    if EXECUTOR_KEY in parameters:
        # Raises UnknownExecutor: register_workflow turns it into InvalidConfiguration.
        executor = check_executor(parameters[EXECUTOR_KEY], f"step '{step[frozen.ID]}'")
        parameters = {k: v for k, v in parameters.items() if k != EXECUTOR_KEY}
    return TaskSpec(
        key=step[frozen.ID],
        index=index,
        plugin_id=step[frozen.PLUGIN_ID],
        command=step[frozen.METHOD_NAME] or "execute",
        parameters=parameters,
        timeout_ms=step[frozen.TIMEOUT] or None,
        max_retries=max_retries if retry is None else retry.max_retries,
        retry_delay_ms=retry_delay if retry is None else retry.retry_delay,
        retry=retry,
        critical=step[frozen.CRITICAL],
        condition=condition,
        incoming=incoming,
        executor=executor,
    )


def compile_workflow(workflow: FrozenWorkflow, default_executor: str = THREAD) -> Plan:
    """Assumes the workflow it was frozen from passed ``validate()``."""
    # default_executor (the orchestrator's) applies to steps whose parameters name none; an
    # unknown name raises UnknownExecutor.
    steps = workflow.steps
    # One int object per position, shared by the task's index and the wires naming it (ints
    # above 256 are objects of their own: two per step were 56 bytes of a registered step).
    indexes = list(range(len(steps)))
    position = {step[frozen.ID]: index for index, step in zip(indexes, steps, strict=True)}
    rollbacks = workflow.rollback
    # Set with Workflow.set_global_condition: every step must meet it (rollbacks excepted).
    global_condition = _evaluator(workflow.global_condition)
    no_parameters: dict[str, Any] = {}
    tasks: list[TaskSpec] = []
    for index, step in zip(indexes, steps, strict=True):
        deps = frozen.dependencies_of(step)
        if len(deps) > 1:
            deps = tuple(dict.fromkeys(deps))  # a dependency listed twice counts once
        wires = tuple([Wire(position[dep], WireKind.DATA) for dep in deps])
        task = _task(step, index, wires, global_condition, default_executor, no_parameters)
        rollback = rollbacks.get(step[frozen.ID])
        if rollback is not None:
            task.rollback = _task(rollback, -1, (), None, default_executor, no_parameters)
        tasks.append(task)
    link_successors(tasks)
    data, join, concurrency = _MODES[ExecutionMode(workflow.mode)]
    concurrent_shared = data is DataPolicy.SHARED and concurrency != 1
    return Plan(
        workflow_id=workflow.id,
        tasks=tasks,
        data=data,
        join=join,
        max_concurrency=concurrency,
        timeout_ms=workflow.timeout,
        merge_rank=sequential_ranks(tasks) if concurrent_shared else None,
    )
