"""``WorkflowStep``: one plugin call in a v1 workflow, with its file format.

A pydantic model: assignments are checked, unknown fields refused, and its JSON Schema
documents the file format. Plain values take a fast path that builds no validator
(``_fast_construction``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Self, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.json_schema import SkipJsonSchema

from .._durations import to_milliseconds
from .._jsoncopy import json_copy, json_type
from ..contract.retry import json_parameters
from ..results import Expected
from ._fast_construction import (
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
from ._v1_json import Bad, format_validation_error, guard, unknown_key


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

    # Validator built on first need: plain values take the fast path (see _fast_construction).
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
        data: dict[str, Any] = {}
        for name in _STEP_KEYS:
            value = getattr(self, name)
            if name == "condition" and not isinstance(value, str):
                continue
            if name == "parameters":
                value = json_parameters(value)  # a retry policy's Python-only entries left out
            data[name] = json_copy(value)
        return data

    @classmethod
    def from_json(cls, json: Any) -> Expected[WorkflowStep]:
        """Parse a step object; never raises (bad input gives InvalidConfiguration)."""
        return guard(lambda: read_step(json, "step"), "step")


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


# --------------------------------------------------------------------------- JSON

_STEP_KEYS = tuple(WorkflowStep.model_fields)
# QtForge writes only these for a rollback step; other fields are added when not default.
_ROLLBACK_KEYS = ("plugin_id", "method_name", "parameters")
_MISSING = object()
_defaults_cache: dict[str, Any] = {}


def rollback_step_to_json(step: WorkflowStep) -> dict[str, Any]:
    """A rollback step as QtForge writes one, plus the fields that differ from the defaults."""
    full = step.to_json()
    if not _defaults_cache:
        _defaults_cache.update(WorkflowStep().to_json())
    return {
        key: value
        for key, value in full.items()
        if key in _ROLLBACK_KEYS or _defaults_cache.get(key, _MISSING) != value
    }


def read_step(json: Any, where: str, key_id: str | None = None) -> WorkflowStep:
    """One step of a document; raises ``Bad`` naming ``where`` it is.

    ``key_id`` is the key of QtForge's keyed form: it supplies or must match ``id``.
    """
    if not isinstance(json, Mapping):
        raise Bad(f"{where} must be a JSON object, got {json_type(json)}")
    data: dict[str, Any] = {}
    for key, value in json.items():
        if not isinstance(key, str):
            raise Bad(f"{where} has a non-string key {key!r}")
        if key in WorkflowStep.model_fields:
            data[key] = json_copy(value) if isinstance(value, dict | list) else value
        else:
            unknown_key(key, _STEP_KEYS, where)
    if key_id is not None:
        given = data.setdefault("id", key_id)
        if given != key_id:
            raise Bad(
                f"{where}.id is {given!r} but the step is stored under the key {key_id!r}: "
                f"make them equal or drop 'id'"
            )
    try:
        return WorkflowStep.model_validate(data)
    except ValidationError as exc:
        raise Bad(format_validation_error(exc, where)) from None


__all__ = [
    "Predicate",
    "WorkflowStep",
    "container_fields",
    "read_step",
    "rollback_step_to_json",
]
