"""Rules a v1 ``Workflow`` must meet before it is registered.

``iter_workflow_errors`` yields every problem it can find (the CLI's ``validate`` lists them
all); ``validate_workflow`` returns the first, which is what ``Workflow.validate`` reports.
Both read the workflow through its public surface (``StepWorkflow``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from .._engine import find_cycle
from .._limits import MAX_ID_LENGTH, MAX_TASKS, id_problem, short
from ..errors import PluginError, PluginErrorCode
from ..results import Expected, from_error, make_error, make_success
from .execution_mode import MODE_CHOICES, ExecutionMode

if TYPE_CHECKING:
    from .workflow_step import Predicate, WorkflowStep

_INVALID = PluginErrorCode.InvalidConfiguration


class StepWorkflow(Protocol):
    """What the rules read of a workflow: ``Workflow``'s public queries."""

    def id(self) -> str: ...
    def execution_mode(self) -> ExecutionMode: ...
    def timeout(self) -> int | None: ...
    def global_condition(self) -> str | Predicate | None: ...
    def steps(self) -> list[WorkflowStep]: ...
    def rollback_steps(self) -> dict[str, WorkflowStep]: ...


def suggest(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    import difflib  # only for a message about a misspelt name

    match = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def validate_workflow(workflow: StepWorkflow) -> Expected[None]:
    """The first problem of ``workflow`` as an error ``Expected``; never raises."""
    try:
        for error in iter_workflow_errors(workflow):
            return from_error(error)
    except Exception as exc:  # only reachable through objects corrupted behind pydantic
        return make_error(
            _INVALID,
            f"workflow {workflow.id()!r} could not be validated ({type(exc).__name__}: {exc})",
            context={"workflow_id": workflow.id()},
        )
    return make_success(None)


def step_problem(step: WorkflowStep) -> str | None:
    """What is wrong with a step's own fields (those pydantic may not have seen), or None."""
    if not step.plugin_id:
        return "has an empty plugin_id: set the id of the plugin that runs it"
    if not isinstance(step.max_retries, int) or step.max_retries < 0:
        return f"has max_retries={step.max_retries!r}: use 0 or more"
    if not isinstance(step.timeout, int) or step.timeout <= 0:
        return f"has timeout={step.timeout!r} ms: use a positive duration"
    if not isinstance(step.retry_delay, int) or step.retry_delay < 0:
        return f"has retry_delay={step.retry_delay!r} ms: use 0 or more"
    condition = step.condition
    if condition is not None:
        # Loaded with the first condition: a workflow without one never pays for it.
        from .._conditions import ConditionError, check_condition

        try:
            check_condition(condition)
        except ConditionError as exc:
            return f"has an invalid condition: {exc}"
    return None


def iter_workflow_errors(workflow: StepWorkflow) -> Iterator[PluginError]:
    """Every problem found, in a stable order: fields, steps, rollbacks, dependencies, cycle."""
    wf = workflow.id()

    def invalid(message: str, **context: Any) -> PluginError:
        return PluginError(_INVALID, message, context={"workflow_id": wf, **context})

    if not wf:
        yield invalid("workflow id is empty: pass an id, e.g. Workflow('import_data')")
    too_long = id_problem(wf)
    if too_long is not None:
        yield PluginError(_INVALID, f"workflow id {short(wf)!r} {too_long}")
        return
    steps = workflow.steps()
    if len(steps) > MAX_TASKS:
        yield invalid(f"workflow {wf!r} has {len(steps):,} steps; the limit is {MAX_TASKS:,}")
        return
    if not isinstance(workflow.execution_mode(), ExecutionMode):
        yield invalid(f"workflow {wf!r} has an invalid execution mode: use {MODE_CHOICES}")
    timeout = workflow.timeout()
    if timeout is not None and timeout <= 0:
        yield invalid(
            f"workflow {wf!r} has timeout {timeout} ms: use a positive duration, "
            f"or set_timeout(None) for no limit"
        )
    condition = workflow.global_condition()
    if condition is not None:
        from .._conditions import ConditionError, check_condition

        try:
            check_condition(condition)
        except ConditionError as exc:
            yield invalid(f"workflow {wf!r} has an invalid global condition: {exc}")
    if not steps:
        yield invalid(f"workflow {wf!r} has no steps: add at least one with add_step()")
        return

    index: dict[str, int] = {}
    for position, step in enumerate(steps):
        sid = step.id
        if not isinstance(sid, str) or not sid:
            yield invalid(
                f"step #{position + 1} of workflow {wf!r} (plugin {step.plugin_id!r}) has "
                f"an empty id: give every step a unique id",
                step_index=position,
            )
            continue
        if sid in index:
            yield invalid(
                f"step id {sid!r} is used by steps #{index[sid] + 1} and #{position + 1} "
                f"of workflow {wf!r}: give every step a unique id",
                step_id=sid,
            )
            continue
        index[sid] = position
        problem = step_problem(step)
        if problem is None and (
            len(sid) > MAX_ID_LENGTH or len(str(step.plugin_id)) > MAX_ID_LENGTH
        ):
            for what, value in (("id", sid), ("plugin_id", str(step.plugin_id))):
                too_long = id_problem(value)
                if too_long is not None:
                    problem = f"has a {what} that {too_long}"
                    sid = short(sid)
                    break
        if problem is not None:
            yield invalid(f"step {sid!r} of workflow {wf!r} {problem}", step_id=sid)

    for target, rollback in workflow.rollback_steps().items():
        if target not in index:
            yield invalid(
                f"workflow {wf!r} has a rollback step for {target!r}, which is not one of "
                f"its steps{suggest(target, index)}: use the id of the step it undoes",
                step_id=target,
            )
            continue
        problem = step_problem(rollback)
        if problem is not None:
            yield invalid(
                f"the rollback step for {target!r} in workflow {wf!r} {problem}", step_id=target
            )

    yield from _dependency_errors(wf, steps, index)


def _dependency_errors(
    wf: str, steps: list[WorkflowStep], index: dict[str, int]
) -> Iterator[PluginError]:
    """Existence first (DependencyNotSatisfied), then cycles among the dependencies that exist."""
    edges: list[tuple[str, str]] = []
    # Every dependency declared before its step: declaration order is then a topological
    # order and there is no cycle to look for (the common case, checked for free).
    forward = True
    for step in steps:
        sid = step.id
        deps = step.dependencies
        bad = next((dep for dep in deps if not isinstance(dep, str)), None)
        if bad is not None:
            yield PluginError(
                _INVALID,
                f"step {sid!r} of workflow {wf!r} has a dependency {bad!r} that is "
                f"not a step id string",
                context={"workflow_id": wf, "step_id": sid},
            )
            continue
        for dep in dict.fromkeys(deps) if len(deps) > 1 else deps:  # duplicates count once
            if dep == sid:
                yield PluginError(
                    PluginErrorCode.CircularDependency,
                    f"step {sid!r} of workflow {wf!r} depends on itself: "
                    f"remove {sid!r} from its dependencies",
                    context={"workflow_id": wf, "step_id": sid, "cycle": [sid]},
                )
            elif dep not in index:
                yield PluginError(
                    PluginErrorCode.DependencyNotSatisfied,
                    f"step {sid!r} of workflow {wf!r} depends on {dep!r}, which is not a "
                    f"step of this workflow{suggest(dep, index)}: add that step "
                    f"or fix the dependency",
                    context={"workflow_id": wf, "step_id": sid, "dependency": dep},
                )
            else:
                edges.append((dep, sid))
                if forward and index[dep] >= index.get(sid, -1):
                    forward = False
    cycle = None if forward else find_cycle(list(index), edges)
    if cycle is not None and len(cycle) > 1:
        shown = cycle if len(cycle) <= 12 else [*cycle[:10], f"... {len(cycle) - 10} more"]
        path = " -> ".join(
            sid if sid.startswith("... ") else repr(sid) for sid in [*shown, cycle[0]]
        )
        yield PluginError(
            PluginErrorCode.CircularDependency,
            f"steps of workflow {wf!r} form a dependency cycle: {path} (each is needed by "
            f"the next): remove one of these dependencies",
            context={"workflow_id": wf, "cycle": cycle},
        )
