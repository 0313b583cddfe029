"""What the v2 models share: configuration, the fast path, header spellings and copying.

The models are pydantic v2 models so that their JSON Schema documents the file format and
assignments are checked. In-place mutation of lists and dicts (``workflow.nodes.append(node)``,
as in the reference's Python snippet) bypasses pydantic, which is why validation re-checks
element types instead of trusting the models.

Two spellings: the reference names fields ``name``, ``ui_properties``, ``source_node`` and
``target_node``; QtForge's header (``plugin_orchestrator_v2.hpp``) names the same fields
``display_name``, ``position``, ``source_node_id`` and ``target_node_id``. The reference's
names are the attributes; the header's are properties and constructor keywords that read and
write the same values, and the names ``to_json`` writes (``HEADER_NAMES``).
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, model_validator

from ..._jsoncopy import json_copy
from .._fast_construction import FastFields, assigned, fill

M = TypeVar("M", bound=BaseModel)

# Validators built on first need: plain values take the fast path (``_fast_construction``).
MODEL_CONFIG = ConfigDict(validate_assignment=True, extra="forbid", defer_build=True)

#: The fast construction and assignment of each model class (exactly these classes:
#: subclasses, and anything that needs coercion, a header spelling or an error, go through
#: pydantic). Each model's module registers its class.
FAST: dict[type[BaseModel], FastFields] = {}


class HeaderNamed(BaseModel):
    """Accepts the header's spelling of a field wherever the reference's is accepted."""

    model_config = MODEL_CONFIG
    # reference name -> header name
    HEADER_NAMES: ClassVar[dict[str, str]] = {}

    def __init__(self, /, **data: Any) -> None:
        fast = FAST.get(type(self))
        if fast is not None:
            values = fast.values(data)
            if values is not None:
                fill(self, values, set(data))
                return
        super().__init__(**data)

    def __setattr__(self, name: str, value: Any) -> None:
        fast = FAST.get(type(self))
        if fast is None or not assigned(self, fast, name, value):
            super().__setattr__(name, value)

    @model_validator(mode="before")
    @classmethod
    def _header_spelling(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not cls.HEADER_NAMES:
            return data
        renamed = dict(data)
        for field, header in cls.HEADER_NAMES.items():
            if header in renamed:
                value = renamed.pop(header)
                if field in renamed and renamed[field] != value:
                    raise ValueError(f"{field!r} and {header!r} name one field; give only one")
                renamed[field] = value
        return renamed


# --------------------------------------------------------------------------------------------
# Copies derived from the fields, that never recurse: ``model_copy(deep=True)`` goes through
# ``copy.deepcopy``, which hits the recursion limit on configuration nested a few hundred
# levels deep, and is slow.


def _field_kinds(cls: type[BaseModel]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(container fields, fields that are lists of models) of ``cls``."""
    containers: list[str] = []
    model_lists: list[str] = []
    for name, info in cls.model_fields.items():
        origin = get_origin(info.annotation)
        args = get_args(info.annotation)
        if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            model_lists.append(name)
        elif origin in (dict, list):
            containers.append(name)
    return tuple(containers), tuple(model_lists)


_KINDS: dict[type[BaseModel], tuple[tuple[str, ...], tuple[str, ...]]] = {}


def copy_model(model: M) -> M:
    """An independent copy: containers copied, leaves shared.

    List elements that are not models are kept as they are so validation can report them.
    """
    cls = type(model)
    kinds = _KINDS.get(cls)
    if kinds is None:
        kinds = _KINDS[cls] = _field_kinds(cls)
    fields = dict(model.__dict__)
    for name in kinds[0]:
        fields[name] = json_copy(fields[name])
    for name in kinds[1]:
        fields[name] = [
            copy_model(item) if isinstance(item, BaseModel) else item for item in fields[name]
        ]
    clone = object.__new__(cls)
    object.__setattr__(clone, "__dict__", fields)
    object.__setattr__(clone, "__pydantic_fields_set__", set(model.__pydantic_fields_set__))
    object.__setattr__(clone, "__pydantic_extra__", None)
    object.__setattr__(clone, "__pydantic_private__", None)
    return clone


__all__ = ["FAST", "MODEL_CONFIG", "HeaderNamed", "copy_model"]
