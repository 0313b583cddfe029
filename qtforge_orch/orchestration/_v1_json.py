"""The v1 workflow file format: what QtForge's ``Workflow::to_json``/``from_json`` write and read.

QtForge (``plugin_orchestrator.cpp``) writes ``steps`` as an object keyed by step id,
``execution_mode`` as an integer, ``timeout`` always (ms), and rollback steps as
``plugin_id``/``method_name``/``parameters`` only; it ignores keys it does not know. This module
writes that shape, adds ``format_version`` and the fields QtForge has no JSON for (a string
``condition``, ``global_condition``, rollback fields that differ from the defaults), and reads
QtForge's files, this library's files of every format version, and hand-written variants (a
``steps`` array, mode names). Keys it does not know are ignored as in C++, except close
misspellings of known keys, which are reported (a silently dropped ``dependancies`` would run
steps out of order).

Format versions: 1 (unversioned, qtforge_orch 0.1: ``steps`` array, mode name, an absent
``timeout`` meant no limit) and 2 (QtForge's shape). ``migrate`` upgrades a document to the
current version before it is read.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from .._errors import PluginErrorCode
from .._expected import Expected, make_error, make_success
from .._jsoncopy import MAX_JSON_DEPTH, deeper_than, json_copy, json_type
from ..contract.retry import json_parameters
from ._v1_model import DEFAULT_WORKFLOW_TIMEOUT_MS, Workflow, WorkflowStep
from ._v1_validation import suggest

FORMAT_VERSION = 2
FORMAT_KEY = "format_version"
_INVALID = PluginErrorCode.InvalidConfiguration
_STEP_KEYS = tuple(WorkflowStep.model_fields)
# QtForge writes only these for a rollback step; other fields are added when not default.
_ROLLBACK_KEYS = ("plugin_id", "method_name", "parameters")


class _Bad(Exception):
    """A problem in the document; becomes an InvalidConfiguration error."""


# --------------------------------------------------------------------------- steps


def step_to_json(step: WorkflowStep) -> dict[str, Any]:
    """Every field by its own name; a callable condition has no JSON form and is left out."""
    data: dict[str, Any] = {}
    for name in _STEP_KEYS:
        value = getattr(step, name)
        if name == "condition" and not isinstance(value, str):
            continue
        if name == "parameters":
            value = json_parameters(value)  # a retry policy's Python-only entries left out
        data[name] = json_copy(value)
    return data


def _rollback_to_json(step: WorkflowStep) -> dict[str, Any]:
    full = step_to_json(step)
    defaults = _step_defaults()
    return {
        key: value
        for key, value in full.items()
        if key in _ROLLBACK_KEYS or defaults.get(key, _MISSING) != value
    }


_MISSING = object()
_defaults_cache: dict[str, Any] = {}


def _step_defaults() -> dict[str, Any]:
    if not _defaults_cache:
        _defaults_cache.update(step_to_json(WorkflowStep()))
    return _defaults_cache


def _unknown_key(key: str, known: tuple[str, ...] | frozenset[str], where: str) -> None:
    """Unknown keys are ignored (C++ does); a near miss of a known one is an error."""
    match = difflib.get_close_matches(key, list(known), n=1, cutoff=0.8)
    if match:
        raise _Bad(
            f"{where} has unknown field {key!r} (did you mean {match[0]!r}?); "
            f"fields are {', '.join(known)}"
        )


def _read_step(json: Any, where: str, key_id: str | None = None) -> WorkflowStep:
    """``key_id`` is the key of QtForge's keyed form: it supplies or must match ``id``."""
    if not isinstance(json, Mapping):
        raise _Bad(f"{where} must be a JSON object, got {json_type(json)}")
    data: dict[str, Any] = {}
    for key, value in json.items():
        if not isinstance(key, str):
            raise _Bad(f"{where} has a non-string key {key!r}")
        if key in WorkflowStep.model_fields:
            data[key] = json_copy(value) if isinstance(value, dict | list) else value
        else:
            _unknown_key(key, _STEP_KEYS, where)
    if key_id is not None:
        given = data.setdefault("id", key_id)
        if given != key_id:
            raise _Bad(
                f"{where}.id is {given!r} but the step is stored under the key {key_id!r}: "
                f"make them equal or drop 'id'"
            )
    try:
        return WorkflowStep.model_validate(data)
    except ValidationError as exc:
        raise _Bad(_format_validation_error(exc, where)) from None


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


def step_from_json(json: Any) -> Expected[WorkflowStep]:
    """Parse one step object; never raises."""
    return _guard(lambda: _read_step(json, "step"), "step")


def _guard(read: Callable[[], Any], what: str) -> Expected[Any]:
    try:
        return make_success(read())
    except _Bad as exc:
        return make_error(_INVALID, str(exc))
    except Exception as exc:  # a safety net: from_json must not raise for any input
        return make_error(_INVALID, f"{what}: cannot be read ({type(exc).__name__}: {exc})")


# --------------------------------------------------------------------------- workflow fields
# One table, one row per workflow field: (JSON key, write, read). to_json, from_json and the
# list of known keys all derive from it.


def _write_mode(workflow: Workflow) -> Any:
    return int(workflow.execution_mode())  # QtForge reads an integer (toInt)


def _write_steps(workflow: Workflow) -> Any:
    return {step.id: step_to_json(step) for step in workflow.steps()}


def _write_rollbacks(workflow: Workflow) -> Any:
    return {key: _rollback_to_json(step) for key, step in workflow.rollback_steps().items()}


def _write_condition(workflow: Workflow) -> Any:
    condition = workflow.global_condition()
    return condition if isinstance(condition, str) else _MISSING


def _read_str(name: str) -> Callable[[Workflow, Any], None]:
    def read(workflow: Workflow, value: Any) -> None:
        if not isinstance(value, str):
            raise _Bad(f"workflow {name!r} must be a string, got {json_type(value)}")
        if name == "description":
            workflow.set_description(value)
        else:
            workflow._name = value

    return read


def _read_mode(workflow: Workflow, value: Any) -> None:
    try:
        workflow.set_execution_mode(value)
    except ValueError as exc:
        raise _Bad(f"workflow 'execution_mode': {exc}") from None


def _read_timeout(workflow: Workflow, value: Any) -> None:
    if value is None:
        workflow._timeout = None
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(
            f"workflow 'timeout' must be milliseconds (a number) or null, got {json_type(value)}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise _Bad(f"workflow 'timeout' must be a finite number, got {value!r}")
    workflow._timeout = int(value)


def _read_steps(workflow: Workflow, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, list):
        steps = [_read_step(item, f"steps[{i}]") for i, item in enumerate(value)]
        _refuse_repeated_ids(steps)
    elif isinstance(value, Mapping):
        steps = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Bad(f"'steps' has a non-string key {key!r}")
            steps.append(_read_step(item, f"steps[{key!r}]", key_id=key))
    else:
        raise _Bad(
            f"workflow 'steps' must be an array of steps or an object keyed by step id, "
            f"got {json_type(value)}"
        )
    # Freshly parsed steps are not shared with anyone: stored without copying.
    workflow._steps.extend(steps)
    workflow._index = None


def _refuse_repeated_ids(steps: list[WorkflowStep]) -> None:
    """Refuse a ``steps`` array that repeats an id.

    ``to_json`` keys steps by id and would keep one of them: the document would not round-trip.
    """
    first: dict[str, int] = {}
    for position, parsed in enumerate(steps):
        earlier = first.setdefault(parsed.id, position)
        if earlier != position:
            raise _Bad(
                f"'steps' repeats the step id {parsed.id!r} (steps[{earlier}] and "
                f"steps[{position}]); every step needs an id of its own"
            )


def _read_rollbacks(workflow: Workflow, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise _Bad(
            f"workflow 'rollback_steps' must be an object keyed by the id of the step each "
            f"one undoes, got {json_type(value)}"
        )
    for key, item in value.items():
        if not isinstance(key, str):
            raise _Bad(f"'rollback_steps' has a non-string key {key!r}")
        workflow._rollback[key] = _read_step(item, f"rollback_steps[{key!r}]")


def _read_condition(workflow: Workflow, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise _Bad(f"workflow 'global_condition' must be a CEL string, got {json_type(value)}")
    workflow._global_condition = value


_Writer = Callable[[Workflow], Any]
_Reader = Callable[[Workflow, Any], None]
_FIELDS: tuple[tuple[str, _Writer, _Reader | None], ...] = (
    ("id", Workflow.id, None),  # read first, by workflow_from_json: it names the workflow
    ("name", Workflow.name, _read_str("name")),
    ("description", Workflow.description, _read_str("description")),
    ("execution_mode", _write_mode, _read_mode),
    ("timeout", Workflow.timeout, _read_timeout),
    ("steps", _write_steps, _read_steps),
    ("rollback_steps", _write_rollbacks, _read_rollbacks),
    ("global_condition", _write_condition, _read_condition),
)
WORKFLOW_KEYS = tuple(key for key, _, _ in _FIELDS)
_EXTRA_KEYS = frozenset({FORMAT_KEY, "$schema"})


def workflow_to_json(workflow: Workflow) -> dict[str, Any]:
    """QtForge's shape plus ``format_version`` (QtForge ignores the keys it does not know)."""
    data: dict[str, Any] = {FORMAT_KEY: FORMAT_VERSION}
    for key, write, _ in _FIELDS:
        value = write(workflow)
        if value is not _MISSING:
            data[key] = value
    return data


def workflow_from_json(json: Any) -> Expected[Workflow]:
    """Parse any supported version of the format; never raises."""
    return _guard(lambda: _read_workflow(json), "workflow JSON")


def _read_workflow(json: Any) -> Workflow:
    if deeper_than(json):
        raise _Bad(f"workflow JSON is nested more than {MAX_JSON_DEPTH} levels deep")
    document = migrate(json)
    workflow_id = document.get("id")
    if not isinstance(workflow_id, str):
        raise _Bad(f"workflow 'id' must be a string, got {json_type(workflow_id)}")
    workflow = Workflow(workflow_id)  # QtForge's from_json defaults the name to the id
    workflow._timeout = DEFAULT_WORKFLOW_TIMEOUT_MS
    readers = {key: read for key, _, read in _FIELDS if read is not None}
    for key, value in document.items():
        read = readers.get(key)
        if read is not None:
            read(workflow, value)
        elif key not in _EXTRA_KEYS and key != "id":
            _unknown_key(key, WORKFLOW_KEYS, "workflow JSON")
    return workflow


# --------------------------------------------------------------------------- versions


def document_version(json: Mapping[str, Any]) -> int:
    """The format version a document declares (1 when it declares none)."""
    version = json.get(FORMAT_KEY, 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _Bad(f"workflow {FORMAT_KEY!r} must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise _Bad(
            f"workflow {FORMAT_KEY!r} is {version}, newer than this qtforge_orch reads "
            f"({FORMAT_VERSION}): upgrade qtforge_orch"
        )
    return version


def migrate(json: Any) -> dict[str, Any]:
    """A copy of the top level of ``json`` upgraded to ``FORMAT_VERSION``."""
    if not isinstance(json, Mapping):
        raise _Bad(f"a workflow must be a JSON object, got {json_type(json)}")
    for key in json:
        if not isinstance(key, str):
            raise _Bad(f"workflow JSON has a non-string key {key!r}")
    document = dict(json)
    version = document_version(document)
    if version == 1:
        document = _from_version_1(document)
    document[FORMAT_KEY] = FORMAT_VERSION
    return document


def _from_version_1(document: dict[str, Any]) -> dict[str, Any]:
    # Version 1 omitted "timeout" for "no limit"; QtForge always writes it (an integer mode
    # or keyed steps mean QtForge wrote the file), and reads a missing one as 5 minutes.
    written_by_qtforge = isinstance(document.get("steps"), Mapping) or (
        isinstance(document.get("execution_mode"), int)
        and not isinstance(document.get("execution_mode"), bool)
    )
    if "timeout" not in document and not written_by_qtforge:
        document["timeout"] = None
    return document


__all__ = [
    "FORMAT_KEY",
    "FORMAT_VERSION",
    "WORKFLOW_KEYS",
    "document_version",
    "migrate",
    "step_from_json",
    "step_to_json",
    "suggest",
    "workflow_from_json",
    "workflow_to_json",
]
