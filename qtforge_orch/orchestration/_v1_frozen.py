"""A registered v1 workflow, kept compact: one tuple per step instead of a model copy.

A full copy of the ``Workflow`` (a pydantic ``WorkflowStep`` per step, each with a 14-key
``__dict__`` and a field set) would cost about 1 KB per registered step, and it would only
ever be read to hand
out another copy (``get_workflow``) and to compile the plan, so it is kept as tuples of the
field values, with private copies of the containers (``json_copy``; empty ones as ``None``)
and interned field sets, and turned back into a ``Workflow`` on request.

Steps are frozen from a validated workflow; the plan shares the frozen ``parameters`` dicts
(the engine only reads them), as it shared the copy's before.
"""

from __future__ import annotations

from typing import Any

from .._jsoncopy import json_copy
from .execution_mode import ExecutionMode
from .workflow import Workflow
from .workflow_step import Predicate, WorkflowStep

# Field order of a step record, then its field set.
STEP_FIELDS: tuple[str, ...] = tuple(WorkflowStep.model_fields)
ID = STEP_FIELDS.index("id")
PLUGIN_ID = STEP_FIELDS.index("plugin_id")
METHOD_NAME = STEP_FIELDS.index("method_name")
PARAMETERS = STEP_FIELDS.index("parameters")
DEPENDENCIES = STEP_FIELDS.index("dependencies")
TIMEOUT = STEP_FIELDS.index("timeout")
MAX_RETRIES = STEP_FIELDS.index("max_retries")
RETRY_DELAY = STEP_FIELDS.index("retry_delay")
CRITICAL = STEP_FIELDS.index("critical")
CONDITION = STEP_FIELDS.index("condition")
FIELDS_SET = len(STEP_FIELDS)

# Container fields: stored as a private copy, or None when empty (each thaw makes a new one).
_DICTS = tuple(STEP_FIELDS.index(name) for name in ("parameters", "metadata"))
_LISTS = (DEPENDENCIES,)

StepRecord = tuple[Any, ...]

_field_sets: dict[frozenset[str], frozenset[str]] = {}


def _interned(fields: set[str]) -> frozenset[str]:
    # Steps built the same way share one field set (a few distinct sets per workflow).
    key = frozenset(fields)
    return _field_sets.setdefault(key, key)


def freeze_step(step: WorkflowStep) -> StepRecord:
    """The step's fields as a tuple; containers copied (never shared with the caller's)."""
    fields = step.__dict__
    values = [fields[name] for name in STEP_FIELDS]
    for index in _DICTS:
        value = values[index]
        values[index] = json_copy(value) if value else None
    for index in _LISTS:
        value = values[index]
        values[index] = tuple(value) if value else None
    values.append(_interned(step.__pydantic_fields_set__))
    return tuple(values)


def thaw_step(record: StepRecord) -> WorkflowStep:
    """A new ``WorkflowStep`` with its own containers (no validation: the record was valid)."""
    fields = dict(zip(STEP_FIELDS, record, strict=False))
    for index in _DICTS:
        value = record[index]
        fields[STEP_FIELDS[index]] = {} if value is None else json_copy(value)
    for index in _LISTS:
        value = record[index]
        fields[STEP_FIELDS[index]] = [] if value is None else list(value)
    step = object.__new__(WorkflowStep)
    object.__setattr__(step, "__dict__", fields)
    object.__setattr__(step, "__pydantic_fields_set__", set(record[FIELDS_SET]))
    object.__setattr__(step, "__pydantic_extra__", None)
    object.__setattr__(step, "__pydantic_private__", None)
    return step


def parameters_of(record: StepRecord) -> dict[str, Any] | None:
    """The frozen parameters (shared, read-only), None when empty."""
    value: dict[str, Any] | None = record[PARAMETERS]
    return value


def dependencies_of(record: StepRecord) -> tuple[str, ...]:
    value: tuple[str, ...] | None = record[DEPENDENCIES]
    return () if value is None else value


class FrozenWorkflow:
    """What ``register_workflow`` keeps of a ``Workflow`` besides its plan."""

    __slots__ = (
        "description",
        "global_condition",
        "id",
        "mode",
        "name",
        "rollback",
        "steps",
        "timeout",
    )

    def __init__(self, workflow: Workflow) -> None:
        self.id = workflow.id()
        self.name = workflow.name()
        self.description = workflow.description()
        self.mode: ExecutionMode = workflow.execution_mode()
        self.timeout = workflow.timeout()
        self.global_condition: str | Predicate | None = workflow.global_condition()
        self.steps: tuple[StepRecord, ...] = tuple(freeze_step(step) for step in workflow.steps())
        self.rollback: dict[str, StepRecord] = {
            key: freeze_step(step) for key, step in workflow.rollback_steps().items()
        }

    def thaw(self) -> Workflow:
        """A new, independent ``Workflow`` equal to the one registered."""
        return Workflow._restore(
            self.id,
            self.name,
            self.description,
            self.mode,
            self.timeout,
            self.global_condition,
            [thaw_step(record) for record in self.steps],
            {key: thaw_step(record) for key, record in self.rollback.items()},
        )
