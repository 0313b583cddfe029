"""Construction and assignment of the workflow models without building their validators.

The workflow models are pydantic models (assignments checked, unknown fields refused, JSON
Schema for the file formats), but building a model's validator the first time one is made
costs ~10 ms, and the first validator of the process also makes pydantic look for plugins
(``importlib.metadata``: ~20 ms more). A script that builds a workflow of plain values and
runs it paid ~30 ms of its ~230 ms cold start for that.

So the models are declared with ``defer_build=True`` and their ``__init__``/``__setattr__``
first try a fast path: when every given value already has exactly the type the field holds
(``str`` for ``str``, a ``dict`` with ``str`` keys for ``dict[str, Any]``, an ``int`` within
the field's bounds, an enum member...), the model is filled in the way pydantic would fill it
(containers copied one level, as pydantic's validation copies them; defaults from the fields;
the given names as the field set). Anything else (a coercion, a wrong type, an unknown field,
a header spelling) goes through pydantic unchanged, which builds the validator then and
raises its usual ``ValidationError``. ``tests/test_v1_model.py`` and ``tests/test_v2_model.py``
check that both paths give the same models.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, cast

from pydantic import BaseModel

SLOW = object()  # a converter's answer: "not trivially valid, ask pydantic"

Converter = Callable[[Any], Any]


def exact_str(value: Any) -> Any:
    return value if type(value) is str else SLOW


def exact_bool(value: Any) -> Any:
    return value if type(value) is bool else SLOW


def int_at_least(least: int) -> Converter:
    def convert(value: Any) -> Any:
        return value if type(value) is int and value >= least else SLOW

    return convert


def str_key_dict(value: Any) -> Any:
    """``dict[str, Any]``: a new dict with the same values (what pydantic returns)."""
    if type(value) is not dict:
        return SLOW
    for key in value:
        if type(key) is not str:
            return SLOW
    return dict(value)


def str_list(value: Any) -> Any:
    """``list[str]``: a new list of the same strings."""
    if type(value) is not list:
        return SLOW
    for item in value:
        if type(item) is not str:
            return SLOW
    return list(value)


def member_of(enum: type[Enum]) -> Converter:
    def convert(value: Any) -> Any:
        return value if type(value) is enum else SLOW

    return convert


def list_of(model: type[BaseModel]) -> Converter:
    """``list[Model]``: a new list of the same instances (pydantic keeps instances)."""

    def convert(value: Any) -> Any:
        if type(value) is not list:
            return SLOW
        for item in value:
            if type(item) is not model:
                return SLOW
        return list(value)

    return convert


class FastFields:
    """The fast path of one model class: a converter per field, and the fields' defaults."""

    __slots__ = ("_converters", "_defaults", "_fields")

    def __init__(self, model: type[BaseModel], converters: dict[str, Converter]) -> None:
        fields = model.model_fields
        if set(converters) != set(fields):
            raise TypeError(f"{model.__name__}: a converter per field is needed")
        self._fields = tuple(fields)
        self._converters = converters
        for name, info in fields.items():
            if info.default_factory is None and not isinstance(
                info.default, str | int | float | bool | Enum | None
            ):
                raise TypeError(f"{model.__name__}.{name}: a mutable default needs a factory")
        # (factory, None) or (None, value) per field (no factory here takes arguments).
        self._defaults: dict[str, tuple[Callable[[], Any] | None, Any]] = {
            name: (cast(Callable[[], Any], info.default_factory), None)
            if info.default_factory is not None
            else (None, info.default)
            for name, info in fields.items()
        }

    def values(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """The model's ``__dict__`` for ``data``, or None when pydantic must decide."""
        result: dict[str, Any] = {}
        found = 0
        converters = self._converters
        for name in self._fields:
            if name in data:
                value = converters[name](data[name])
                if value is SLOW:
                    return None
                found += 1
            else:
                factory, value = self._defaults[name]
                if factory is not None:
                    value = factory()
            result[name] = value
        return result if found == len(data) else None  # an unknown key: pydantic refuses it

    def assign(self, name: str, value: Any) -> Any:
        """The value to store for an assignment, or ``SLOW``."""
        converter = self._converters.get(name)
        return SLOW if converter is None else converter(value)


def fill(model: BaseModel, values: dict[str, Any], given: set[str]) -> None:
    """Set up ``model`` as pydantic's validation would (no extra, no private attributes)."""
    object.__setattr__(model, "__dict__", values)
    object.__setattr__(model, "__pydantic_fields_set__", given)
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)


def assigned(model: BaseModel, fast: FastFields, name: str, value: Any) -> bool:
    """Store a trivially valid assignment as validate_assignment would; False otherwise."""
    converted = fast.assign(name, value)
    if converted is SLOW:
        return False
    model.__dict__[name] = converted
    model.__pydantic_fields_set__.add(name)
    return True
