"""Compiles a v1 ``Workflow`` into the engine's ``Plan``: the facade's only link to the core."""

from __future__ import annotations

from typing import Any

from .._conditions import compile_condition
from .._engine.executors import EXECUTOR_KEY, THREAD, check_executor
from .._engine.plan import (
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
from .._engine.retry import POLICY_KEY, RetryPolicy
from ._v1_model import ExecutionMode, Workflow, WorkflowStep

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
        return compile_condition(condition).evaluate
    evaluator: ConditionEvaluator = condition
    return evaluator


def _both(first: ConditionEvaluator, second: ConditionEvaluator) -> ConditionEvaluator:
    return lambda data: bool(first(data)) and bool(second(data))


def _task(
    step: WorkflowStep,
    index: int,
    incoming: tuple[Wire, ...],
    global_condition: ConditionEvaluator | None = None,
    default_executor: str = THREAD,
) -> TaskSpec:
    condition = None if step.condition is None else _evaluator(step.condition)
    if global_condition is not None:
        condition = global_condition if condition is None else _both(global_condition, condition)
    # Shared, not copied: the compiled plan only ever reads it, and the registered snapshot
    # it comes from is never handed out (get_workflow returns a copy).
    parameters = step.parameters
    retry = None
    if POLICY_KEY in parameters:
        retry = RetryPolicy.build(step.max_retries, step.retry_delay, parameters[POLICY_KEY])
        parameters = {k: v for k, v in parameters.items() if k != POLICY_KEY}
    executor = default_executor
    if EXECUTOR_KEY in parameters:
        # Raises UnknownExecutor: register_workflow turns it into InvalidConfiguration.
        executor = check_executor(parameters[EXECUTOR_KEY], f"step '{step.id}'")
        parameters = {k: v for k, v in parameters.items() if k != EXECUTOR_KEY}
    return TaskSpec(
        key=step.id,
        index=index,
        plugin_id=step.plugin_id,
        command=step.method_name or "execute",
        parameters=parameters,
        timeout_ms=step.timeout or None,
        max_retries=step.max_retries if retry is None else retry.max_retries,
        retry_delay_ms=step.retry_delay if retry is None else retry.retry_delay,
        retry=retry,
        critical=step.critical,
        condition=condition,
        incoming=incoming,
        executor=executor,
    )


def compile_workflow(workflow: Workflow, default_executor: str = THREAD) -> Plan:
    """Assumes ``workflow.validate()`` succeeded."""
    # default_executor (the orchestrator's) applies to steps whose parameters name none; an
    # unknown name raises UnknownExecutor.
    steps = workflow.steps()
    position = {step.id: index for index, step in enumerate(steps)}
    rollbacks = workflow.rollback_steps()
    # Set with Workflow.set_global_condition: every step must meet it (rollbacks excepted).
    global_condition = _evaluator(workflow.global_condition())
    tasks: list[TaskSpec] = []
    for index, step in enumerate(steps):
        deps = step.dependencies
        if len(deps) > 1:
            deps = list(dict.fromkeys(deps))  # a dependency listed twice counts once
        wires = tuple([Wire(position[dep], WireKind.DATA) for dep in deps])
        task = _task(step, index, wires, global_condition, default_executor)
        rollback = rollbacks.get(step.id)
        if rollback is not None:
            task.rollback = _task(rollback, -1, (), None, default_executor)
        tasks.append(task)
    link_successors(tasks)
    data, join, concurrency = _MODES[ExecutionMode(workflow.execution_mode())]
    concurrent_shared = data is DataPolicy.SHARED and concurrency != 1
    return Plan(
        workflow_id=workflow.id(),
        tasks=tasks,
        data=data,
        join=join,
        max_concurrency=concurrency,
        timeout_ms=workflow.timeout(),
        merge_rank=sequential_ranks(tasks) if concurrent_shared else None,
    )
