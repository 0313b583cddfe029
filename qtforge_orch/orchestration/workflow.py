"""``Workflow``: a v1 workflow, its checks and its file format.

``Workflow`` is a plain class: the reference gives it query *methods* named ``id()``,
``name()`` and ``steps()``, which cannot coexist with pydantic fields of the same names. Its
state is spelled once (``__slots__``): copying, equality and repr derive from it. Its
methods live here; ``_v1_validation`` (the rules) and ``_v1_json`` (format versions and plain
value readers) read it through its public surface.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Self

from .._durations import to_milliseconds
from .._jsoncopy import MAX_JSON_DEPTH, deeper_than, json_type
from ..results import Expected
from ._v1_json import (
    FORMAT_KEY,
    FORMAT_VERSION,
    Bad,
    guard,
    migrate,
    read_condition,
    read_text,
    read_timeout,
    unknown_key,
)
from .execution_mode import ExecutionMode, parse_mode
from .workflow_step import Predicate, WorkflowStep, read_step, rollback_step_to_json

# QtForge's Workflow::m_timeout default (5 minutes), also what its from_json assumes.
DEFAULT_WORKFLOW_TIMEOUT_MS = 300_000


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
        from .._order import topological_order

        ids = [step.id for step in self._steps]
        edges = [
            (dep, step.id)
            for step in self._steps
            for dep in step.dependencies
            if isinstance(dep, str)
        ]
        return topological_order(ids, edges)

    # ----------------------------------------------------------------- copying and equality

    @classmethod
    def _restore(
        cls,
        workflow_id: str,
        name: str,
        description: str,
        mode: ExecutionMode,
        timeout: int | None,
        global_condition: str | Predicate | None,
        steps: list[WorkflowStep],
        rollback: dict[str, WorkflowStep],
    ) -> Workflow:
        """A workflow made of parts nobody else holds (a parsed file, a registered copy).

        They are taken as they are: no copies, no checks (``validate`` does those).
        """
        workflow = cls.__new__(cls)
        workflow._id = workflow_id
        workflow._name = name
        workflow._description = description
        workflow._mode = mode
        workflow._timeout = timeout
        workflow._global_condition = global_condition
        workflow._steps = steps
        workflow._rollback = rollback
        workflow._index = None
        return workflow

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
        """The workflow as a JSON-ready dict, in QtForge's shape.

        Steps are keyed by id, the mode is an integer and the timeout is in ms; the dict also
        has ``format_version`` and the fields QtForge does not know (which it ignores).
        """
        data: dict[str, Any] = {FORMAT_KEY: FORMAT_VERSION}
        for key, write, _ in _FIELDS:
            value = write(self)
            if value is not _MISSING:
                data[key] = value
        return data

    @staticmethod
    def from_json(json: Any) -> Expected[Workflow]:
        """Parse QtForge's format or this library's (any version); never raises.

        Does not validate(): registering does, so a broken file can still be inspected.
        """
        return guard(lambda: _read_workflow(json), "workflow JSON")

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
        """The workflow as a ``networkx.DiGraph``: one node per step, one edge per dependency.

        Node attributes are the step's fields, plus its ``status`` when ``statuses`` is given.
        """
        from .._export import to_networkx

        return to_networkx(self, statuses)


def workflow_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the file format read by ``Workflow.from_json``."""
    from ._schemas import generated_schema

    return generated_schema("v1")


# --------------------------------------------------------------------------- the file format
# One table, one row per workflow field: (JSON key, write, read). to_json, from_json and the
# list of known keys all derive from it. Writers read the public surface; readers fill the
# parts ``Workflow._restore`` assembles.

_MISSING = object()
_Parts = dict[str, Any]


def _write_mode(workflow: Workflow) -> Any:
    return int(workflow.execution_mode())  # QtForge reads an integer (toInt)


def _write_steps(workflow: Workflow) -> Any:
    return {step.id: step.to_json() for step in workflow.steps()}


def _write_rollbacks(workflow: Workflow) -> Any:
    return {key: rollback_step_to_json(step) for key, step in workflow.rollback_steps().items()}


def _write_condition(workflow: Workflow) -> Any:
    condition = workflow.global_condition()
    return condition if isinstance(condition, str) else _MISSING


def _read_text(name: str) -> Callable[[_Parts, Any], None]:
    def read(parts: _Parts, value: Any) -> None:
        parts[name] = read_text(name, value)

    return read


def _read_mode(parts: _Parts, value: Any) -> None:
    try:
        parts["mode"] = parse_mode(value)
    except ValueError as exc:
        raise Bad(f"workflow 'execution_mode': {exc}") from None


def _read_timeout(parts: _Parts, value: Any) -> None:
    parts["timeout"] = read_timeout(value)


def _read_steps(parts: _Parts, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, list):
        steps = [read_step(item, f"steps[{i}]") for i, item in enumerate(value)]
        _refuse_repeated_ids(steps)
    elif isinstance(value, Mapping):
        steps = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise Bad(f"'steps' has a non-string key {key!r}")
            steps.append(read_step(item, f"steps[{key!r}]", key_id=key))
    else:
        raise Bad(
            f"workflow 'steps' must be an array of steps or an object keyed by step id, "
            f"got {json_type(value)}"
        )
    # Freshly parsed steps are not shared with anyone: kept without copying.
    parts["steps"] = steps


def _refuse_repeated_ids(steps: list[WorkflowStep]) -> None:
    """Refuse a ``steps`` array that repeats an id.

    ``to_json`` keys steps by id and would keep one of them: the document would not round-trip.
    """
    first: dict[str, int] = {}
    for position, parsed in enumerate(steps):
        earlier = first.setdefault(parsed.id, position)
        if earlier != position:
            raise Bad(
                f"'steps' repeats the step id {parsed.id!r} (steps[{earlier}] and "
                f"steps[{position}]); every step needs an id of its own"
            )


def _read_rollbacks(parts: _Parts, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise Bad(
            f"workflow 'rollback_steps' must be an object keyed by the id of the step each "
            f"one undoes, got {json_type(value)}"
        )
    rollback: dict[str, WorkflowStep] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise Bad(f"'rollback_steps' has a non-string key {key!r}")
        rollback[key] = read_step(item, f"rollback_steps[{key!r}]")
    parts["rollback"] = rollback


def _read_condition(parts: _Parts, value: Any) -> None:
    parts["global_condition"] = read_condition(value)


_Writer = Callable[[Workflow], Any]
_Reader = Callable[[_Parts, Any], None]
_FIELDS: tuple[tuple[str, _Writer, _Reader | None], ...] = (
    ("id", Workflow.id, None),  # read first, by _read_workflow: it names the workflow
    ("name", Workflow.name, _read_text("name")),
    ("description", Workflow.description, _read_text("description")),
    ("execution_mode", _write_mode, _read_mode),
    ("timeout", Workflow.timeout, _read_timeout),
    ("steps", _write_steps, _read_steps),
    ("rollback_steps", _write_rollbacks, _read_rollbacks),
    ("global_condition", _write_condition, _read_condition),
)
WORKFLOW_KEYS = tuple(key for key, _, _ in _FIELDS)
_EXTRA_KEYS = frozenset({FORMAT_KEY, "$schema"})
_READERS = {key: read for key, _, read in _FIELDS if read is not None}


def _read_workflow(json: Any) -> Workflow:
    if deeper_than(json):
        raise Bad(f"workflow JSON is nested more than {MAX_JSON_DEPTH} levels deep")
    document = migrate(json)
    workflow_id = document.get("id")
    if not isinstance(workflow_id, str):
        raise Bad(f"workflow 'id' must be a string, got {json_type(workflow_id)}")
    # QtForge's from_json defaults the name to the id and the timeout to 5 minutes.
    parts: _Parts = {
        "name": workflow_id,
        "description": "",
        "mode": ExecutionMode.Sequential,
        "timeout": DEFAULT_WORKFLOW_TIMEOUT_MS,
        "global_condition": None,
        "steps": [],
        "rollback": {},
    }
    for key, value in document.items():
        read = _READERS.get(key)
        if read is not None:
            read(parts, value)
        elif key not in _EXTRA_KEYS and key != "id":
            unknown_key(key, WORKFLOW_KEYS, "workflow JSON")
    return Workflow._restore(workflow_id, **parts)


__all__ = ["DEFAULT_WORKFLOW_TIMEOUT_MS", "WORKFLOW_KEYS", "Workflow", "workflow_json_schema"]
