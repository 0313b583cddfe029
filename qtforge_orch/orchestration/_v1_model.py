"""Data structures of the v1 ``PluginOrchestrator``: steps, results, contexts and ``Workflow``.

``WorkflowStep``, ``StepResult`` and ``WorkflowContext`` are pydantic models (their JSON Schema
documents the file format). ``Workflow`` is a plain class: the reference gives it query
*methods* named ``id()``, ``name()`` and ``steps()``, which cannot coexist with pydantic fields
of the same names. Validation lives in ``_v1_validation`` and the file format in ``_v1_json``;
every field is spelled once, here, and copying, equality and JSON derive from these
definitions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any, Self, get_origin

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from .._durations import to_milliseconds
from .._expected import Expected
from .._jsoncopy import json_copy, json_type

__all__ = [
    "DEFAULT_WORKFLOW_TIMEOUT_MS",
    "ExecutionMode",
    "StepResult",
    "StepStatus",
    "Workflow",
    "WorkflowContext",
    "WorkflowStep",
    "workflow_json_schema",
]

# QtForge's Workflow::m_timeout default (5 minutes), also what its from_json assumes.
DEFAULT_WORKFLOW_TIMEOUT_MS = 300_000


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
MODE_CHOICES = "Sequential, Parallel, Conditional or Pipeline (or 0-3)"


def parse_mode(value: Any) -> ExecutionMode:
    """An ExecutionMode from itself, its name (any case) or its integer; ValueError otherwise."""
    if isinstance(value, ExecutionMode):
        return value
    if isinstance(value, str):
        mode = _MODE_BY_NAME.get(value.strip().lower())
        if mode is not None:
            return mode
        raise ValueError(f"unknown execution mode {value!r}: use {MODE_CHOICES}")
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 3:
            return ExecutionMode(value)
        raise ValueError(f"execution mode {value} is out of range: use {MODE_CHOICES}")
    if isinstance(value, float) and value.is_integer() and 0 <= value <= 3:
        return ExecutionMode(int(value))
    raise ValueError(f"execution mode must be {MODE_CHOICES}, got {json_type(value)}")


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


# --------------------------------------------------------------------------- WorkflowStep

Predicate = Callable[[dict[str, Any]], bool]
_ConditionField = str | SkipJsonSchema[Predicate] | None


def container_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields holding a dict or list: the ones a copy must not share."""
    return tuple(
        name
        for name, info in model.model_fields.items()
        if get_origin(info.annotation) in (dict, list)
    )


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
        for name in _STEP_CONTAINERS:
            fields[name] = json_copy(fields[name])
        clone = object.__new__(WorkflowStep)
        object.__setattr__(clone, "__dict__", fields)
        object.__setattr__(clone, "__pydantic_fields_set__", set(self.__pydantic_fields_set__))
        object.__setattr__(clone, "__pydantic_extra__", None)
        object.__setattr__(clone, "__pydantic_private__", None)
        return clone

    def to_json(self) -> dict[str, Any]:
        """The step as a JSON object; a callable condition is left out (it has no JSON form)."""
        from ._v1_json import step_to_json

        return step_to_json(self)

    @classmethod
    def from_json(cls, json: Any) -> Expected[WorkflowStep]:
        """Parse a step object; never raises (bad input gives InvalidConfiguration)."""
        from ._v1_json import step_from_json

        return step_from_json(json)


_STEP_CONTAINERS = container_fields(WorkflowStep)


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
        """The result as JSON: status by name, times as ISO 8601, ``execution_time`` in ms."""
        data: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, StepStatus):
                value = value.name
            elif isinstance(value, datetime):
                value = value.isoformat()
            data[name] = json_copy(value)
        data["execution_time"] = self.execution_time() // timedelta(milliseconds=1)
        return data


# --------------------------------------------------------------------------- WorkflowContext


class WorkflowContext(BaseModel):
    """The state of one execution as the C++ header's ``WorkflowContext`` struct holds it.

    ``WorkflowContext("wf", "exec-1")`` keeps the C++ constructor's order; ``start_time``
    defaults to now. ``PluginOrchestrator.get_execution_status`` reports the same facts as a
    dict; this struct is for code ported from C++ that passes contexts around.
    """

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    workflow_id: str = ""
    execution_id: str = ""
    initial_data: dict[str, Any] = Field(default_factory=dict)
    shared_data: dict[str, Any] = Field(
        default_factory=dict, description="Data shared between steps."
    )
    step_results: dict[str, StepResult] = Field(default_factory=dict)
    start_time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    cancelled: bool = False
    transaction_id: str = Field("", description="The transaction the execution belongs to.")

    def __init__(
        self, wf_id: str | None = None, exec_id: str | None = None, /, **data: Any
    ) -> None:
        for key, positional in (("workflow_id", wf_id), ("execution_id", exec_id)):
            if positional is not None:
                if key in data:
                    raise TypeError(f"WorkflowContext() got multiple values for {key!r}")
                data[key] = positional
        super().__init__(**data)


# --------------------------------------------------------------------------- Workflow


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


def _copy_member(value: Any) -> Any:
    """Steps are snapshotted, containers of steps rebuilt, everything else shared."""
    if isinstance(value, list):
        return [step._snapshot() for step in value]
    if isinstance(value, dict):
        return {key: step._snapshot() for key, step in value.items()}
    return value


class Workflow:
    """A named set of steps with an execution mode, rollback steps and a timeout.

    As in C++, ``Workflow("id")`` is named after its id, has a 5 minute timeout
    (``set_timeout(None)`` removes it), and adding a step whose id is already used replaces
    that step in place. Setters return ``self`` so calls chain as in C++. ``add_step`` and
    ``add_rollback_step`` store a copy of the step (the C++ API takes ``const WorkflowStep&``),
    so a step object can be reused as a template. Not thread-safe to mutate; the orchestrator
    snapshots a workflow with ``copy()`` when it is registered.
    """

    # The workflow's state, spelled once: copy(), equality and repr derive from this list.
    __slots__ = (
        "_description",
        "_global_condition",
        "_id",
        "_index",
        "_mode",
        "_name",
        "_rollback",
        "_steps",
        "_timeout",
    )

    def __init__(self, workflow_id: str = "", name: str = "") -> None:
        self._id = _check_str(workflow_id, "workflow_id")
        self._name = _check_str(name, "name") or workflow_id
        self._description = ""
        self._mode = ExecutionMode.Sequential
        self._timeout: int | None = DEFAULT_WORKFLOW_TIMEOUT_MS
        self._steps: list[WorkflowStep] = []
        self._rollback: dict[str, WorkflowStep] = {}
        self._global_condition: str | Predicate | None = None
        # step id -> position in _steps, for add_step's replace and get_step; None when stale.
        self._index: dict[str, int] | None = None

    # ----------------------------------------------------------------- fluent configuration

    def set_description(self, desc: str) -> Self:
        """Set the description."""
        self._description = _check_str(desc, "description")
        return self

    def set_execution_mode(self, mode: ExecutionMode | str | int) -> Self:
        """Accepts the enum, its name in any case ("parallel") or QtForge's integer."""
        self._mode = parse_mode(mode)
        return self

    def add_step(self, step: WorkflowStep) -> Self:
        """Add a copy of ``step``; a step with the same id is replaced where it stands."""
        if not isinstance(step, WorkflowStep):
            raise TypeError(f"add_step() needs a WorkflowStep, got {type(step).__name__}")
        position = self._position(step.id)
        if position is None:
            self._steps.append(step._snapshot())
            if self._index is not None:
                self._index[step.id] = len(self._steps) - 1
        else:
            self._steps[position] = step._snapshot()
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
        """Whole-workflow timeout (timedelta or ms); None means no limit."""
        self._timeout = _timeout_ms(timeout)
        return self

    def set_global_condition(self, condition: str | Predicate | None) -> Self:
        """A condition every step must meet besides its own (CEL string or callable).

        It is evaluated on each step's input data; false skips the step. None removes it.
        """
        if condition is not None and not isinstance(condition, str) and not callable(condition):
            raise TypeError(
                f"a global condition must be a CEL string, a callable or None, "
                f"got {type(condition).__name__}"
            )
        self._global_condition = condition
        return self

    # ----------------------------------------------------------------- queries

    def id(self) -> str:
        """The workflow id."""
        return self._id

    def name(self) -> str:
        """The human-readable name (the id unless one was given)."""
        return self._name

    def description(self) -> str:
        """The description."""
        return self._description

    def execution_mode(self) -> ExecutionMode:
        """The execution mode."""
        return self._mode

    def steps(self) -> list[WorkflowStep]:
        """The steps in declaration order (a new list of the workflow's own step objects)."""
        return list(self._steps)

    def rollback_steps(self) -> dict[str, WorkflowStep]:
        """Rollback steps keyed by the id of the step each one undoes."""
        return dict(self._rollback)

    def timeout(self) -> int | None:
        """The workflow timeout in milliseconds, or None for no limit."""
        return self._timeout

    def global_condition(self) -> str | Predicate | None:
        """The condition set with ``set_global_condition``, or None."""
        return self._global_condition

    def has_step(self, step_id: str) -> bool:
        """Whether a step with this id exists."""
        return self._position(step_id, check_miss=True) is not None

    def get_step(self, step_id: str) -> WorkflowStep | None:
        """The workflow's own step with this id (edits change the workflow), or None."""
        position = self._position(step_id, check_miss=True)
        return None if position is None else self._steps[position]

    def _position(self, step_id: str, *, check_miss: bool = False) -> int | None:
        index = self._index
        if index is None:
            index = self._reindex()
        position = index.get(step_id)
        # steps() hands out the step objects and their ids may be edited: a hit is checked and
        # a stale index rebuilt; queries also rebuild on a miss, add_step trusts it (building a
        # workflow stays linear; validate() reports a duplicate that slipped through).
        stale = position is not None and (
            position >= len(self._steps) or self._steps[position].id != step_id
        )
        if stale or (position is None and check_miss):
            position = self._reindex().get(step_id)
        return position

    def _reindex(self) -> dict[str, int]:
        index: dict[str, int] = {}
        for position, step in enumerate(self._steps):
            index.setdefault(step.id, position)
        self._index = index
        return index

    # ----------------------------------------------------------------- validation

    def validate(self) -> Expected[None]:
        """Check the definition in O(steps + dependencies); the first problem is reported.

        InvalidConfiguration for a bad field, DependencyNotSatisfied for a dependency on a
        step that does not exist, CircularDependency for a cycle (self-dependency included).
        """
        from ._v1_validation import validate_workflow

        return validate_workflow(self)

    def get_execution_order(self) -> list[str]:
        """Step ids in an order that respects dependencies (ties: declaration order).

        Empty when the dependencies form a cycle, as in C++; dependencies on steps that do not
        exist are ignored here (``validate`` reports them).
        """
        from ._v1_validation import execution_order

        return execution_order(self)

    # ----------------------------------------------------------------- copying and equality

    def copy(self) -> Workflow:
        """An independent snapshot: own steps and containers; callable conditions shared."""
        clone = Workflow.__new__(Workflow)
        for slot in Workflow.__slots__:
            if slot != "_index":
                setattr(clone, slot, _copy_member(getattr(self, slot)))
        clone._index = None
        return clone

    def __copy__(self) -> Workflow:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> Workflow:
        return self.copy()

    def _key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, slot) for slot in Workflow.__slots__ if slot != "_index")

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

    # ----------------------------------------------------------------- JSON and export

    def to_json(self) -> dict[str, Any]:
        """The workflow as QtForge writes it (steps keyed by id, integer mode, timeout in ms),
        plus ``format_version`` and the fields QtForge does not know (which it ignores)."""
        from ._v1_json import workflow_to_json

        return workflow_to_json(self)

    @staticmethod
    def from_json(json: Any) -> Expected[Workflow]:
        """Parse QtForge's format or this library's (any version); never raises.

        Does not validate(): registering does, so a broken file can still be inspected.
        """
        from ._v1_json import workflow_from_json

        return workflow_from_json(json)

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        """JSON Schema of the workflow file format (same as ``workflow_json_schema()``)."""
        return workflow_json_schema()

    def to_mermaid(self, statuses: Any = None) -> str:
        """A Mermaid flowchart of the steps; ``statuses`` colours them (see ``to_dot``)."""
        from .._export import to_mermaid

        return to_mermaid(self, statuses)

    def to_dot(self, statuses: Any = None) -> str:
        """A Graphviz DOT digraph of the steps.

        ``statuses`` is an execution's status (the dict ``get_execution_status`` returns, or a
        list of ``StepResult``, or a mapping of step id to status) whose states label the steps.
        """
        from .._export import to_dot

        return to_dot(self, statuses)

    def to_networkx(self, statuses: Any = None) -> Any:
        """A ``networkx.DiGraph``: one node per step (attributes: the step's fields and its
        ``status`` when given), one edge per dependency."""
        from .._export import to_networkx

        return to_networkx(self, statuses)


def workflow_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the file format read by ``Workflow.from_json``."""
    from ._schemas import generated_schema

    return generated_schema("v1")
