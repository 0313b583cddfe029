"""The v1 structs: ``StepStatus``, ``ExecutionMode``, ``WorkflowStep``, ``StepResult``, etc.

``WorkflowStep``, ``StepResult`` and ``WorkflowContext`` are pydantic models whose JSON Schema
documents the file format.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any, Self, get_origin

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from .._durations import to_milliseconds
from .._expected import Expected
from .._jsoncopy import json_copy, json_type
from ._fast import (
    SLOW,
    FastFields,
    assigned,
    exact_bool,
    exact_str,
    fill,
    int_at_least,
    str_key_dict,
    str_list,
)

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
    """Convert a timedelta or int / float milliseconds to int ms; pass other types on."""
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

    # Validator built on first need: plain values take the fast path (see _fast).
    model_config = ConfigDict(validate_assignment=True, extra="forbid", defer_build=True)

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
        if type(self) is WorkflowStep:
            values = _STEP_FAST.values(data)
            if values is not None:
                fill(self, values, set(data))
                return
        super().__init__(**data)

    def __setattr__(self, name: str, value: Any) -> None:
        if type(self) is not WorkflowStep or not assigned(self, _STEP_FAST, name, value):
            super().__setattr__(name, value)

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
        10,000-step workflow snapshots every step, and that has a 100 ms budget.
        """
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


def _condition(value: Any) -> Any:
    if value is None or type(value) is str or (callable(value) and not isinstance(value, str)):
        return value
    return SLOW


_STEP_FAST = FastFields(
    WorkflowStep,
    {
        "id": exact_str,
        "name": exact_str,
        "description": exact_str,
        "plugin_id": exact_str,
        "service_name": exact_str,
        "method_name": exact_str,
        "parameters": str_key_dict,
        "dependencies": str_list,
        "timeout": int_at_least(1),
        "max_retries": int_at_least(0),
        "retry_delay": int_at_least(0),
        "critical": exact_bool,
        "metadata": str_key_dict,
        "condition": _condition,
    },
)


# --------------------------------------------------------------------------- StepResult


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    # Naive times are taken as UTC (the engine records UTC); aware times are normalised.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_LEFT_OUT_WHEN_NONE = frozenset({"error_info", "late_outcome"})


class StepResult(BaseModel):
    """Outcome of one step in one execution."""

    # Built on first validation: the orchestrator makes these with model_construct, so a
    # workflow run never pays for building a validator it does not use.
    model_config = ConfigDict(validate_assignment=True, extra="forbid", defer_build=True)

    step_id: str = ""
    status: StepStatus = StepStatus.Pending
    result_data: dict[str, Any] = Field(default_factory=dict)
    error_message: str = ""
    retry_count: int = Field(0, ge=0)
    start_time: datetime | None = None
    end_time: datetime | None = None
    # Extensions, None when they do not apply (``to_json`` then leaves them out): a failed
    # step's error as data (code, exception type and message, traceback), and what its latest
    # abandoned attempt (cancelled or timed out while running) came to.
    error_info: dict[str, Any] | None = None
    late_outcome: dict[str, Any] | None = None

    @field_validator("start_time", "end_time", mode="after")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)

    def execution_time(self) -> timedelta:
        """How long the step took: ``end_time - start_time``, zero until both are known.

        Never negative, even across clock changes.
        """
        if self.start_time is None or self.end_time is None:
            return timedelta(0)
        return max(self.end_time - self.start_time, timedelta(0))

    def to_json(self) -> dict[str, Any]:
        """The result as JSON: status by name, times as ISO 8601, ``execution_time`` in ms."""
        data: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None and name in _LEFT_OUT_WHEN_NONE:
                continue
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

    model_config = ConfigDict(validate_assignment=True, extra="forbid", defer_build=True)

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
