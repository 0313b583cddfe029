"""Data structures of the v1 ``PluginOrchestrator``: steps, results and the ``Workflow`` class.

``WorkflowStep`` and ``StepResult`` are pydantic models (their JSON Schema documents the file
format). ``Workflow`` is a plain class: the reference gives it query *methods* named ``id()``,
``name()`` and ``steps()``, which cannot coexist with pydantic fields of the same names.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.json_schema import SkipJsonSchema

from .._conditions import ConditionError, check_condition
from .._durations import to_milliseconds
from .._engine.graph import find_cycle
from .._errors import PluginErrorCode
from .._expected import Expected, make_error, make_success
from .._jsoncopy import MAX_JSON_DEPTH, deeper_than, json_copy, json_type
from .._limits import MAX_ID_LENGTH, MAX_TASKS, id_problem, short

__all__ = [
    "ExecutionMode",
    "StepResult",
    "StepStatus",
    "Workflow",
    "WorkflowStep",
    "workflow_json_schema",
]

_INVALID = PluginErrorCode.InvalidConfiguration


class StepStatus(IntEnum):
    """State of one step in one execution (QtForge's order and numbering)."""

    Pending = 0
    Running = 1
    Completed = 2
    Failed = 3
    Skipped = 4
    Cancelled = 5
    Retrying = 6


class ExecutionMode(IntEnum):
    """How a workflow schedules its steps; the integers are the ones QtForge's JSON uses."""

    Sequential = 0
    Parallel = 1
    Conditional = 2
    Pipeline = 3


_MODE_BY_NAME = {mode.name.lower(): mode for mode in ExecutionMode}
_MODE_CHOICES = "Sequential, Parallel, Conditional or Pipeline (or 0-3)"


def _parse_mode(value: Any) -> ExecutionMode:
    """An ExecutionMode from itself, its name (any case) or its integer; ValueError otherwise."""
    if isinstance(value, ExecutionMode):
        return value
    if isinstance(value, str):
        mode = _MODE_BY_NAME.get(value.strip().lower())
        if mode is not None:
            return mode
        raise ValueError(f"unknown execution mode {value!r}: use {_MODE_CHOICES}")
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 3:
            return ExecutionMode(value)
        raise ValueError(f"execution mode {value} is out of range: use {_MODE_CHOICES}")
    if isinstance(value, float) and value.is_integer() and 0 <= value <= 3:
        return ExecutionMode(int(value))
    raise ValueError(f"execution mode must be {_MODE_CHOICES}, got {_json_type(value)}")


# --------------------------------------------------------------------------- helpers


_json_type = json_type


_json_copy = json_copy


def _coerce_duration(value: Any) -> Any:
    """timedelta / int / float milliseconds -> int ms; other types go on to pydantic."""
    if isinstance(value, bool):
        raise ValueError("a duration must be a timedelta or a number of milliseconds, not a bool")
    if isinstance(value, timedelta | int | float):
        try:
            return to_milliseconds(value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(
                f"a duration must be a finite timedelta or number of milliseconds, got {value!r}"
            ) from None
    return value


def _format_validation_error(exc: ValidationError, where: str) -> str:
    """One line per bad field (first error of each), prefixed with where it was found."""
    seen: set[str] = set()
    parts: list[str] = []
    for error in exc.errors(include_url=False):
        loc = error.get("loc", ())
        field = str(loc[0]) if loc else ""
        if field in seen:
            continue  # a union (condition) reports one error per alternative
        seen.add(field)
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        if field == "condition" and error.get("type") in ("string_type", "callable_type"):
            message = "must be a CEL expression string (or a callable in Python), or null"
        parts.append(f"{where}.{field}: {message}" if field else f"{where}: {message}")
    return "; ".join(parts[:5]) or f"{where}: invalid value"


def _suggest(name: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


# --------------------------------------------------------------------------- WorkflowStep

_ConditionField = str | SkipJsonSchema[Callable[[dict[str, Any]], bool]] | None


class WorkflowStep(BaseModel):
    """One plugin call in a workflow; field names and defaults are the C++ struct's.

    ``WorkflowStep("load", "data_loader", "load")`` keeps the C++ positional order
    (id, plugin_id, method_name); every field can also be given by keyword.
    """

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    id: str = Field("", description="Unique step identifier within the workflow.")
    name: str = Field("", description="Human-readable name.")
    description: str = Field("", description="Step description.")
    plugin_id: str = Field("", description="Id of the plugin that executes this step.")
    service_name: str = Field("", description="Service to call (if applicable).")
    method_name: str = Field("", description="Command passed to the plugin's execute_command.")
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Parameters; they override same-named shared data."
    )
    dependencies: list[str] = Field(
        default_factory=list, description="Ids of steps that must finish first."
    )
    timeout: int = Field(
        60000, gt=0, description="Per-attempt timeout in milliseconds (timedelta in Python)."
    )
    max_retries: int = Field(0, ge=0, description="Extra attempts after a failure.")
    retry_delay: int = Field(
        1000, ge=0, description="Delay between attempts in milliseconds (timedelta in Python)."
    )
    critical: bool = Field(True, description="Whether a failure of this step fails the workflow.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form metadata.")
    condition: _ConditionField = Field(
        None,
        description="CEL expression evaluated on the step's input data; false skips the step.",
    )

    def __init__(
        self,
        step_id: str | None = None,
        plugin: str | None = None,
        method: str | None = None,
        /,
        **data: Any,
    ) -> None:
        for key, positional in (("id", step_id), ("plugin_id", plugin), ("method_name", method)):
            if positional is None:
                continue
            if key in data:
                raise TypeError(f"WorkflowStep() got multiple values for {key!r}")
            data[key] = positional
        super().__init__(**data)

    @field_validator("timeout", "retry_delay", mode="before")
    @classmethod
    def _duration_ms(cls, value: Any) -> Any:
        return _coerce_duration(value)

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        # A callable condition may be a bound method of a live object (a plugin, a widget);
        # deep-copying it would clone that object, so it is kept by reference.
        memo = {} if memo is None else memo
        condition = self.condition
        if condition is not None and not isinstance(condition, str):
            memo.setdefault(id(condition), condition)
        return super().__deepcopy__(memo)

    def _snapshot(self) -> WorkflowStep:
        """Independent containers, shared leaves and condition: cheap and never fails.

        What ``model_copy`` does, minus its generic update machinery: registering a
        10,000-step workflow snapshots every step, and that has a 100 ms budget."""
        fields = dict(self.__dict__)
        fields["parameters"] = _json_copy(self.parameters)
        fields["dependencies"] = list(self.dependencies)
        fields["metadata"] = _json_copy(self.metadata)
        clone = object.__new__(WorkflowStep)
        object.__setattr__(clone, "__dict__", fields)
        object.__setattr__(clone, "__pydantic_fields_set__", set(self.__pydantic_fields_set__))
        object.__setattr__(clone, "__pydantic_extra__", None)
        object.__setattr__(clone, "__pydantic_private__", None)
        return clone

    def to_json(self) -> dict[str, Any]:
        """The step as a JSON object; a callable condition is left out (it has no JSON form)."""
        result: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "plugin_id": self.plugin_id,
            "service_name": self.service_name,
            "method_name": self.method_name,
            "parameters": _json_copy(self.parameters),
            "dependencies": list(self.dependencies),
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "retry_delay": self.retry_delay,
            "critical": self.critical,
            "metadata": _json_copy(self.metadata),
        }
        if isinstance(self.condition, str):
            result["condition"] = self.condition
        return result

    @classmethod
    def from_json(cls, json: Any) -> Expected[WorkflowStep]:
        """Parse a step object; never raises (bad input gives InvalidConfiguration)."""
        try:
            return _step_from_json(json, "step")
        except Exception as exc:  # a safety net: from_json must not raise for any input
            return make_error(_INVALID, f"step: cannot be read ({type(exc).__name__}: {exc})")


_STEP_KEYS = frozenset(WorkflowStep.model_fields)


def _step_from_json(json: Any, where: str, key_id: str | None = None) -> Expected[WorkflowStep]:
    """``key_id`` is the key of QtForge's keyed form: it supplies or must match ``id``."""
    if not isinstance(json, Mapping):
        return make_error(_INVALID, f"{where} must be a JSON object, got {_json_type(json)}")
    data: dict[str, Any] = {}
    for key, value in json.items():
        if not isinstance(key, str):
            return make_error(_INVALID, f"{where} has a non-string key {key!r}")
        if key not in _STEP_KEYS:
            return make_error(
                _INVALID,
                f"{where} has unknown field {key!r}{_suggest(key, _STEP_KEYS)}; "
                f"step fields are {', '.join(WorkflowStep.model_fields)}",
            )
        data[key] = value
    if key_id is not None:
        given = data.setdefault("id", key_id)
        if given != key_id:
            return make_error(
                _INVALID,
                f"{where}.id is {given!r} but the step is stored under the key {key_id!r}: "
                f"make them equal or drop 'id'",
            )
    for key in ("parameters", "metadata"):
        if key in data:
            data[key] = _json_copy(data[key])
    try:
        step = WorkflowStep.model_validate(data)
    except ValidationError as exc:
        return make_error(_INVALID, _format_validation_error(exc, where))
    return make_success(step)


# --------------------------------------------------------------------------- StepResult


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    # Naive times are taken as UTC (the engine records UTC); aware times are normalised.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class StepResult(BaseModel):
    """Outcome of one step in one execution."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    step_id: str = ""
    status: StepStatus = StepStatus.Pending
    result_data: dict[str, Any] = Field(default_factory=dict)
    error_message: str = ""
    retry_count: int = Field(0, ge=0)
    start_time: datetime | None = None
    end_time: datetime | None = None

    @field_validator("start_time", "end_time", mode="after")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)

    def execution_time(self) -> timedelta:
        """end - start, or zero until both are known (never negative across clock changes)."""
        if self.start_time is None or self.end_time is None:
            return timedelta(0)
        return max(self.end_time - self.start_time, timedelta(0))

    def to_json(self) -> dict[str, Any]:
        elapsed = self.execution_time()
        return {
            "step_id": self.step_id,
            "status": self.status.name,
            "result_data": _json_copy(self.result_data),
            "error_message": self.error_message,
            "retry_count": self.retry_count,
            "start_time": self.start_time.isoformat() if self.start_time else None,
            "end_time": self.end_time.isoformat() if self.end_time else None,
            "execution_time": elapsed // timedelta(milliseconds=1),
        }


# --------------------------------------------------------------------------- Workflow

_WORKFLOW_KEYS = (
    "id",
    "name",
    "description",
    "execution_mode",
    "timeout",
    "steps",
    "rollback_steps",
)
# "$schema" lets editors validate a workflow file against workflow_json_schema().
_WORKFLOW_EXTRA_KEYS = frozenset({"$schema"})


def _check_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    return value


def _timeout_ms(value: timedelta | int | float | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, timedelta | int | float):
        raise TypeError(
            f"a timeout must be a timedelta, milliseconds or None, got {type(value).__name__}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"a timeout must be finite, got {value!r}")
    return to_milliseconds(value)


class Workflow:
    """A named set of steps with an execution mode, rollback steps and an optional timeout.

    Setters return ``self`` so calls chain as in C++. ``add_step`` and ``add_rollback_step``
    store a copy of the step (the C++ API takes ``const WorkflowStep&``), so a step object can
    be reused as a template. Not thread-safe to mutate; the orchestrator snapshots a workflow
    with ``copy()`` when it is registered.
    """

    __slots__ = ("_description", "_id", "_mode", "_name", "_rollback", "_steps", "_timeout")

    def __init__(self, workflow_id: str = "", name: str = "") -> None:
        self._id = _check_str(workflow_id, "workflow_id")
        self._name = _check_str(name, "name")
        self._description = ""
        self._mode = ExecutionMode.Sequential
        self._steps: list[WorkflowStep] = []
        self._rollback: dict[str, WorkflowStep] = {}
        self._timeout: int | None = None

    # ----------------------------------------------------------------- fluent configuration

    def set_description(self, desc: str) -> Self:
        self._description = _check_str(desc, "description")
        return self

    def set_execution_mode(self, mode: ExecutionMode | str | int) -> Self:
        """Accepts the enum, its name in any case ("parallel") or QtForge's integer."""
        self._mode = _parse_mode(mode)
        return self

    def add_step(self, step: WorkflowStep) -> Self:
        if not isinstance(step, WorkflowStep):
            raise TypeError(f"add_step() needs a WorkflowStep, got {type(step).__name__}")
        self._steps.append(step._snapshot())
        return self

    def add_rollback_step(self, step_id: str, rollback_step: WorkflowStep) -> Self:
        """Run ``rollback_step`` to undo ``step_id`` if the workflow fails after it completed."""
        _check_str(step_id, "step_id")
        if not isinstance(rollback_step, WorkflowStep):
            raise TypeError(
                f"add_rollback_step() needs a WorkflowStep, got {type(rollback_step).__name__}"
            )
        self._rollback[step_id] = rollback_step._snapshot()
        return self

    def set_timeout(self, timeout: timedelta | int | float | None) -> Self:
        """Whole-workflow timeout (timedelta or ms); None means no limit (the default)."""
        self._timeout = _timeout_ms(timeout)
        return self

    # ----------------------------------------------------------------- queries

    def id(self) -> str:
        return self._id

    def name(self) -> str:
        return self._name

    def description(self) -> str:
        return self._description

    def execution_mode(self) -> ExecutionMode:
        return self._mode

    def steps(self) -> list[WorkflowStep]:
        """The steps in declaration order (a new list of the workflow's own step objects)."""
        return list(self._steps)

    def rollback_steps(self) -> dict[str, WorkflowStep]:
        """Rollback steps keyed by the id of the step each one undoes."""
        return dict(self._rollback)

    def timeout(self) -> int | None:
        """The workflow timeout in milliseconds, or None."""
        return self._timeout

    # ----------------------------------------------------------------- validation

    def validate(self) -> Expected[None]:
        """Check the definition in O(steps + dependencies); the first problem is reported.

        InvalidConfiguration for a bad field, DependencyNotSatisfied for a dependency on a
        step that does not exist, CircularDependency for a cycle (self-dependency included).
        """
        try:
            return self._validate()
        except Exception as exc:  # only reachable through objects corrupted behind pydantic
            return make_error(
                _INVALID,
                f"workflow {self._id!r} could not be validated ({type(exc).__name__}: {exc})",
                context={"workflow_id": self._id},
            )

    def _validate(self) -> Expected[None]:
        wf = self._id

        def invalid(message: str, **context: Any) -> Expected[None]:
            return make_error(_INVALID, message, context={"workflow_id": wf, **context})

        if not wf:
            return invalid("workflow id is empty: pass an id, e.g. Workflow('import_data')")
        too_long = id_problem(wf)
        if too_long is not None:
            return make_error(_INVALID, f"workflow id {short(wf)!r} {too_long}")
        wf = short(wf)
        if len(self._steps) > MAX_TASKS:
            return invalid(
                f"workflow {wf!r} has {len(self._steps):,} steps; the limit is {MAX_TASKS:,}"
            )
        if not isinstance(self._mode, ExecutionMode):
            return invalid(f"workflow {wf!r} has an invalid execution mode: use {_MODE_CHOICES}")
        if self._timeout is not None and self._timeout <= 0:
            return invalid(
                f"workflow {wf!r} has timeout {self._timeout} ms: use a positive duration, "
                f"or set_timeout(None) for no limit"
            )
        steps = self._steps
        if not steps:
            return invalid(f"workflow {wf!r} has no steps: add at least one with add_step()")

        index: dict[str, int] = {}
        for position, step in enumerate(steps):
            sid = step.id
            if not isinstance(sid, str) or not sid:
                return invalid(
                    f"step #{position + 1} of workflow {wf!r} (plugin {step.plugin_id!r}) has "
                    f"an empty id: give every step a unique id",
                    step_index=position,
                )
            if sid in index:
                return invalid(
                    f"step id {sid!r} is used by steps #{index[sid] + 1} and #{position + 1} "
                    f"of workflow {wf!r}: give every step a unique id",
                    step_id=sid,
                )
            index[sid] = position
            problem = _step_problem(step)
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
                return invalid(f"step {sid!r} of workflow {wf!r} {problem}", step_id=sid)

        for target, rollback in self._rollback.items():
            if target not in index:
                return invalid(
                    f"workflow {wf!r} has a rollback step for {target!r}, which is not one of "
                    f"its steps{_suggest(target, index)}: use the id of the step it undoes",
                    step_id=target,
                )
            problem = _step_problem(rollback)
            if problem is not None:
                return invalid(
                    f"the rollback step for {target!r} in workflow {wf!r} {problem}",
                    step_id=target,
                )

        # Dependencies: existence first (DependencyNotSatisfied), then cycles.
        edges: list[tuple[str, str]] = []
        for step in steps:
            sid = step.id
            deps = step.dependencies
            for dep in deps:
                if not isinstance(dep, str):
                    return invalid(
                        f"step {sid!r} of workflow {wf!r} has a dependency {dep!r} that is "
                        f"not a step id string",
                        step_id=sid,
                    )
            for dep in dict.fromkeys(deps) if len(deps) > 1 else deps:  # duplicates count once
                if dep == sid:
                    return make_error(
                        PluginErrorCode.CircularDependency,
                        f"step {sid!r} of workflow {wf!r} depends on itself: "
                        f"remove {sid!r} from its dependencies",
                        context={"workflow_id": wf, "step_id": sid, "cycle": [sid]},
                    )
                if dep not in index:
                    return make_error(
                        PluginErrorCode.DependencyNotSatisfied,
                        f"step {sid!r} of workflow {wf!r} depends on {dep!r}, which is not a "
                        f"step of this workflow{_suggest(dep, index)}: add that step "
                        f"or fix the dependency",
                        context={"workflow_id": wf, "step_id": sid, "dependency": dep},
                    )
                edges.append((dep, sid))
        cycle = find_cycle(list(index), edges)
        if cycle is not None:
            shown = cycle if len(cycle) <= 12 else [*cycle[:10], f"... {len(cycle) - 10} more"]
            path = " -> ".join(
                sid if sid.startswith("... ") else repr(sid) for sid in [*shown, cycle[0]]
            )
            return make_error(
                PluginErrorCode.CircularDependency,
                f"steps of workflow {wf!r} form a dependency cycle: {path} (each is needed by "
                f"the next): remove one of these dependencies",
                context={"workflow_id": wf, "cycle": cycle},
            )
        return make_success(None)

    # ----------------------------------------------------------------- copying and equality

    def copy(self) -> Workflow:
        """An independent snapshot: own steps and containers; callable conditions shared."""
        clone = Workflow.__new__(Workflow)
        clone._id = self._id
        clone._name = self._name
        clone._description = self._description
        clone._mode = self._mode
        clone._timeout = self._timeout
        clone._steps = [step._snapshot() for step in self._steps]
        clone._rollback = {key: step._snapshot() for key, step in self._rollback.items()}
        return clone

    def __copy__(self) -> Workflow:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> Workflow:
        return self.copy()

    def _key(self) -> tuple[Any, ...]:
        return (
            self._id,
            self._name,
            self._description,
            self._mode,
            self._timeout,
            self._steps,
            self._rollback,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Workflow):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"Workflow({self._id!r}, name={self._name!r}, "
            f"mode={self._mode.name}, steps={len(self._steps)})"
        )

    # ----------------------------------------------------------------- JSON

    def to_json(self) -> dict[str, Any]:
        """The workflow as JSON: steps as a list in declaration order, mode by name."""
        result: dict[str, Any] = {
            "id": self._id,
            "name": self._name,
            "description": self._description,
            "execution_mode": self._mode.name,
        }
        if self._timeout is not None:
            result["timeout"] = self._timeout
        result["steps"] = [step.to_json() for step in self._steps]
        result["rollback_steps"] = {key: step.to_json() for key, step in self._rollback.items()}
        return result

    @staticmethod
    def from_json(json: Any) -> Expected[Workflow]:
        """Parse our format or QtForge's; never raises. Does not validate(): registering does."""
        try:
            return _workflow_from_json(json)
        except Exception as exc:  # a safety net: from_json must not raise for any input
            return make_error(_INVALID, f"workflow JSON cannot be read ({type(exc).__name__})")

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        """JSON Schema of the workflow file format (same as ``workflow_json_schema()``)."""
        return workflow_json_schema()


def _step_problem(step: WorkflowStep) -> str | None:
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
        try:
            check_condition(condition)
        except ConditionError as exc:
            return f"has an invalid condition: {exc}"
    return None


def _workflow_from_json(json: Any) -> Expected[Workflow]:
    def bad(message: str) -> Expected[Workflow]:
        return make_error(_INVALID, message)

    if deeper_than(json):
        return bad(f"workflow JSON is nested more than {MAX_JSON_DEPTH} levels deep")

    if not isinstance(json, Mapping):
        return bad(f"a workflow must be a JSON object, got {_json_type(json)}")
    for key in json:
        if not isinstance(key, str):
            return bad(f"workflow JSON has a non-string key {key!r}")
        if key not in _WORKFLOW_KEYS and key not in _WORKFLOW_EXTRA_KEYS:
            return bad(
                f"workflow JSON has unknown field {key!r}{_suggest(key, _WORKFLOW_KEYS)}; "
                f"workflow fields are {', '.join(_WORKFLOW_KEYS)}"
            )

    workflow_id = json.get("id")
    if not isinstance(workflow_id, str):
        return bad(f"workflow 'id' must be a string, got {_json_type(workflow_id)}")
    # QtForge's from_json defaults the name to the id.
    name = json.get("name", workflow_id)
    if not isinstance(name, str):
        return bad(f"workflow 'name' must be a string, got {_json_type(name)}")
    description = json.get("description", "")
    if not isinstance(description, str):
        return bad(f"workflow 'description' must be a string, got {_json_type(description)}")

    workflow = Workflow(workflow_id, name).set_description(description)
    if "execution_mode" in json:
        try:
            workflow.set_execution_mode(json["execution_mode"])
        except ValueError as exc:
            return bad(f"workflow 'execution_mode': {exc}")

    timeout = json.get("timeout")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            return bad(
                f"workflow 'timeout' must be milliseconds (a number) or null, "
                f"got {_json_type(timeout)}"
            )
        if isinstance(timeout, float) and not math.isfinite(timeout):
            return bad(f"workflow 'timeout' must be a finite number, got {timeout!r}")
        workflow._timeout = int(timeout)

    steps = json.get("steps", [])
    parsed: list[Expected[WorkflowStep]]
    if isinstance(steps, list):
        parsed = [_step_from_json(item, f"steps[{i}]") for i, item in enumerate(steps)]
    elif isinstance(steps, Mapping):
        # QtForge writes steps as an object keyed by step id (the value may omit "id").
        parsed = []
        for key, item in steps.items():
            if not isinstance(key, str):
                return bad(f"'steps' has a non-string key {key!r}")
            parsed.append(_step_from_json(item, f"steps[{key!r}]", key_id=key))
    else:
        return bad(
            f"workflow 'steps' must be an array of steps or an object keyed by step id, "
            f"got {_json_type(steps)}"
        )
    for result in parsed:
        if not result:
            return make_error(_INVALID, result.error().message)
        # Freshly parsed steps are not shared with anyone: store them without copying.
        workflow._steps.append(result.value())

    rollbacks = json.get("rollback_steps", {})
    if rollbacks is None:
        rollbacks = {}
    if not isinstance(rollbacks, Mapping):
        return bad(
            f"workflow 'rollback_steps' must be an object keyed by the id of the step each "
            f"one undoes, got {_json_type(rollbacks)}"
        )
    for key, item in rollbacks.items():
        if not isinstance(key, str):
            return bad(f"'rollback_steps' has a non-string key {key!r}")
        result = _step_from_json(item, f"rollback_steps[{key!r}]")
        if not result:
            return make_error(_INVALID, result.error().message)
        workflow._rollback[key] = result.value()
    return make_success(workflow)


# --------------------------------------------------------------------------- JSON Schema


def _document_model() -> type[BaseModel]:
    """Schema-only model of the workflow file, built on first use to keep imports fast."""

    class _WorkflowDocument(BaseModel):
        """A qtforge_orch / QtForge workflow definition (read by Workflow.from_json)."""

        model_config = ConfigDict(title="Workflow", extra="forbid", populate_by_name=True)

        schema_: str | None = Field(
            None, alias="$schema", description="Optional URI of this schema, for editors."
        )
        id: str = Field(description="Workflow id, unique within an orchestrator.")
        name: str = Field("", description="Human-readable name (defaults to the id).")
        description: str = ""
        execution_mode: (
            Literal["Sequential", "Parallel", "Conditional", "Pipeline"] | ExecutionMode
        ) = Field(
            "Sequential",
            description="Mode name (case-insensitive) or QtForge's integer 0-3.",
        )
        timeout: int | None = Field(
            None, gt=0, description="Whole-workflow timeout in milliseconds; absent means none."
        )
        steps: list[WorkflowStep] | dict[str, WorkflowStep] = Field(
            default_factory=list,
            description="Steps in declaration order, or an object keyed by step id (QtForge).",
        )
        rollback_steps: dict[str, WorkflowStep] = Field(
            default_factory=dict,
            description="Rollback steps keyed by the id of the step they undo.",
        )

    return _WorkflowDocument


_schema_cache: dict[str, Any] | None = None


def workflow_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the file format read by ``Workflow.from_json``."""
    global _schema_cache
    if _schema_cache is None:
        _schema_cache = _document_model().model_json_schema(by_alias=True)
    return _json_copy(_schema_cache)  # type: ignore[no-any-return]
