"""The v2 file format: what QtForge's ``plugin_orchestrator_v2.cpp`` writes and reads, and more.

Writing: one key per field, under the header's name where the header has one
(``display_name``, ``position``, ``source_node_id``, ``target_node_id``), so QtForge's
``from_json`` finds everything it knows; ``execution_mode`` is QtForge's integer; the other
enums are written as member names (QtForge has no such fields and ignores them); datetimes as
ISO 8601. ``PluginWorkflow`` documents also carry ``format_version``.

Reading: either spelling of every field (both at once must agree); enums from a name
(case-insensitive; ``_``, ``-`` and spaces ignored, so ``"event_driven"`` works) or QtForge's
integer; datetimes from ISO 8601 or milliseconds since the epoch. Missing keys and ``null`` take
the field's default; unknown keys are ignored, as QtForge does. Readers and writers derive from
the models' field definitions: a field is spelled once, in its model's module.

``from_json`` returns ``Expected`` instead of the struct the C++ reference returns: a file is
user input, and public methods report bad input through ``Expected``
(``InvalidWorkflowStructure``, the offending field in the message and in
``error().context["field"]``) rather than raise.

Format versions: 1 (unversioned: qtforge_orch 0.1, reference names and mode names, or QtForge's
own files) and 2 (header names, integer mode). Version 2 only renamed keys and added fields
with defaults, so ``migrate`` has nothing to rewrite for 1; it is where a future change goes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ..._jsoncopy import MAX_JSON_DEPTH, deeper_than, json_copy, json_type
from ...contract.retry import json_parameters
from ...errors import PluginErrorCode
from ...results import Expected, make_error
from .enums import WorkflowExecutionMode, _choices, _parse_enum

FORMAT_VERSION = 2
FORMAT_KEY = "format_version"
# Enums QtForge's JSON holds as integers (``static_cast<int>``); the others are written by name.
_INTEGER_ENUMS = frozenset({WorkflowExecutionMode})

M = TypeVar("M", bound=BaseModel)
_STRUCTURE = PluginErrorCode.InvalidWorkflowStructure


class _FieldError(Exception):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --------------------------------------------------------------------------------------------
# Writing


def _encode(value: Any) -> Any:
    if isinstance(value, IntEnum):
        return int(value) if type(value) in _INTEGER_ENUMS else value.name
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return model_to_json(value)
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return json_copy(json_parameters(value))  # a retry policy's Python-only entries out
    return value


def json_key(cls: type[BaseModel], field: str) -> str:
    """The key a field is written under: the header's name when it has one."""
    names: dict[str, str] = getattr(cls, "HEADER_NAMES", {})
    return names.get(field, field)


def model_to_json(model: BaseModel) -> dict[str, Any]:
    """Every field of ``model`` under its JSON key (no version key)."""
    cls = type(model)
    return {json_key(cls, name): _encode(getattr(model, name)) for name in cls.model_fields}


def document_to_json(model: BaseModel) -> dict[str, Any]:
    """A document (a workflow): ``format_version`` first, then the fields."""
    return {FORMAT_KEY: FORMAT_VERSION, **model_to_json(model)}


# --------------------------------------------------------------------------------------------
# Reading: one reader per kind of field, chosen from the field's annotation.

Reader = Callable[[object, str, Any], Any]  # (value, dotted path, default) -> field value


def _str(value: object, field: str, default: Any) -> str:
    if not isinstance(value, str):
        raise _FieldError(field, f"must be a string, got {json_type(value)} {_show(value)}")
    return value


def _bool(value: object, field: str, default: Any) -> bool:
    if not isinstance(value, bool):
        raise _FieldError(field, f"must be true or false, got {json_type(value)} {_show(value)}")
    return value


def _str_list(value: object, field: str, default: Any) -> list[str]:
    if not isinstance(value, list):
        raise _FieldError(field, f"must be an array of strings, got {json_type(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _FieldError(
                f"{field}[{index}]", f"must be a string, got {json_type(item)} {_show(item)}"
            )
    return list(value)


def _object(value: object, field: str, default: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _FieldError(field, f"must be a JSON object, got {json_type(value)}")
    for inner in value:
        if not isinstance(inner, str):
            raise _FieldError(field, f"has a non-string key {_show(inner)}")
    # Deep copy: the model must not alias the caller's (possibly reused) JSON document.
    copied: dict[str, Any] = json_copy(value)
    return copied


def _transformation(value: object, field: str, default: Any) -> dict[str, Any]:
    return {"expression": value} if isinstance(value, str) else _object(value, field, default)


def _object_of_objects(value: object, field: str, default: Any) -> dict[str, Any]:
    states = _object(value, field, default)
    for key, state in states.items():
        if not isinstance(state, dict):
            raise _FieldError(f"{field}[{key!r}]", f"must be a JSON object, got {json_type(state)}")
    return states


def _enum_reader(enum_cls: type[IntEnum]) -> Reader:
    def read(value: object, field: str, default: Any) -> Any:
        member = _parse_enum(enum_cls, value)
        if member is None:
            raise _FieldError(field, f"{_choices(enum_cls)}, got {json_type(value)} {_show(value)}")
        return member

    return read


def _datetime(value: object, field: str, default: Any) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise _FieldError(field, f"is not an ISO 8601 date-time: {_show(value)}") from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            if not math.isfinite(value):
                raise ValueError
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)
        except (OverflowError, ValueError):
            raise _FieldError(field, f"is out of range as milliseconds: {_show(value)}") from None
    raise _FieldError(
        field, f"must be an ISO 8601 string or milliseconds since the epoch, got {json_type(value)}"
    )


def _fraction(value: object, field: str, default: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _FieldError(field, f"must be a number, got {json_type(value)}")
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if not 0.0 <= result <= 1.0:
        raise _FieldError(field, f"must be between 0.0 and 1.0, got {_show(value)}")
    return result


def _model_list(model_cls: type[BaseModel]) -> Reader:
    def read(value: object, field: str, default: Any) -> list[Any]:
        if not isinstance(value, list):
            raise _FieldError(field, f"must be an array, got {json_type(value)}")
        return [
            read_model(model_cls, item, f"{field}[{index}]") for index, item in enumerate(value)
        ]

    return read


def _reader_for(name: str, annotation: Any) -> Reader:
    origin, args = get_origin(annotation), get_args(annotation)
    if name == "data_transformation":
        return _transformation
    if annotation is str:
        return _str
    if annotation is bool:
        return _bool
    if annotation is float:
        return _fraction
    if isinstance(annotation, type) and issubclass(annotation, IntEnum):
        return _enum_reader(annotation)
    if datetime in args:
        return _datetime
    if origin is list:
        item = args[0] if args else None
        if isinstance(item, type) and issubclass(item, BaseModel):
            return _model_list(item)
        return _str_list
    if origin is dict:
        return _object_of_objects if len(args) == 2 and get_origin(args[1]) is dict else _object
    raise TypeError(f"no JSON reader for field {name!r} ({annotation!r})")  # a programming error


_READERS: dict[type[BaseModel], list[tuple[str, str, Reader]]] = {}


def _readers(cls: type[BaseModel]) -> list[tuple[str, str, Reader]]:
    """(field, header key, reader) for each field of ``cls``, built once per class."""
    readers = _READERS.get(cls)
    if readers is None:
        readers = _READERS[cls] = [
            (name, json_key(cls, name), _reader_for(name, info.annotation))
            for name, info in cls.model_fields.items()
        ]
    return readers


def read_model(cls: type[M], value: object, path: str) -> M:
    """Read one model from a JSON object; raises ``_FieldError`` naming the field."""
    if not isinstance(value, dict):
        hint = " (parse JSON text with json.loads first)" if isinstance(value, str) else ""
        raise _FieldError(
            path or "<root>",
            f"a {cls.__name__} must be a JSON object, got {json_type(value)}{hint}",
        )
    fields: dict[str, Any] = {}
    for name, key, read in _readers(cls):
        # ``null`` counts as absent: hand-written files often spell "no value" that way.
        given = [(k, value[k]) for k in dict.fromkeys((key, name)) if value.get(k) is not None]
        if not given:
            continue
        results = [(k, read(raw, _join(path, k), None)) for k, raw in given]
        if len(results) == 2 and results[0][1] != results[1][1]:
            raise _FieldError(
                _join(path, key),
                f"{key!r} and {name!r} are two names of one field and disagree; give one",
            )
        fields[name] = results[0][1]
    try:
        return cls(**fields)
    except ValidationError as exc:
        # The readers check types first, so this is a safety net for model-level constraints.
        first = exc.errors()[0]
        loc = ".".join(str(part) for part in first["loc"])
        raise _FieldError(_join(path, loc) or "<root>", first["msg"]) from None


def migrate(value: object) -> object:
    """``value`` upgraded to ``FORMAT_VERSION`` (see the module docstring)."""
    if not isinstance(value, dict) or FORMAT_KEY not in value:
        return value  # version 1 (or not an object: the reader reports that)
    version = value[FORMAT_KEY]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _FieldError(FORMAT_KEY, f"must be a positive integer, got {_show(version)}")
    if version > FORMAT_VERSION:
        raise _FieldError(
            FORMAT_KEY,
            f"is {version}, newer than this qtforge_orch reads ({FORMAT_VERSION}): "
            "upgrade qtforge_orch",
        )
    return value


def _guarded(cls: type[BaseModel], read: Callable[[], M]) -> Expected[M]:
    try:
        return Expected(read())
    except _FieldError as exc:
        where = "" if exc.field == "<root>" else f"field '{exc.field}': "
        return make_error(
            _STRUCTURE,
            f"{cls.__name__}.from_json: {where}{exc.problem}",
            context={"field": exc.field},
        )
    except RecursionError:
        return make_error(
            _STRUCTURE,
            f"{cls.__name__}.from_json: the JSON value is nested too deeply",
            context={"field": "<root>"},
        )


def _too_deep(cls: type[BaseModel], json: object) -> Expected[Any] | None:
    if deeper_than(json):
        return make_error(
            _STRUCTURE, f"{cls.__name__} JSON is nested more than {MAX_JSON_DEPTH} levels deep"
        )
    return None


def parse(cls: type[M], json: object) -> Expected[M]:
    """``cls.from_json``: never raises."""
    too_deep = _too_deep(cls, json)  # an error Expected is falsy: no ``or`` here
    return too_deep if too_deep is not None else _guarded(cls, lambda: read_model(cls, json, ""))


def parse_document(cls: type[M], json: object) -> Expected[M]:
    """``PluginWorkflow.from_json``: a document of any format version; never raises."""
    too_deep = _too_deep(cls, json)
    if too_deep is not None:
        return too_deep
    return _guarded(cls, lambda: read_model(cls, migrate(json), ""))
