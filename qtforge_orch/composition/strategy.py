"""``CompositionStrategy`` and ``PluginRole``: QtForge's enums.

Members are in the header's order, so QtForge's integers read back as the same members.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, TypeVar


class CompositionStrategy(IntEnum):
    """How a ``CompositePlugin`` runs a command over its components (QtForge's order)."""

    Aggregation = 0
    Pipeline = 1
    Facade = 2
    Decorator = 3
    Proxy = 4
    Adapter = 5
    Bridge = 6


class PluginRole(IntEnum):
    """A component's role in a composition (QtForge's order)."""

    Primary = 0
    Secondary = 1
    Auxiliary = 2
    Decorator = 3
    Adapter = 4
    Bridge = 5


E = TypeVar("E", CompositionStrategy, PluginRole)


def parse_enum(enum: type[E], value: Any) -> E:
    """The member for itself, its integer or its name (any case); ValueError otherwise."""
    if isinstance(value, enum):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return enum(value)
        except ValueError:
            pass
    elif isinstance(value, str):
        for member in enum:
            if member.name.lower() == value.strip().lower():
                return member
    choices = ", ".join(f"{m.name} ({m.value})" for m in enum)
    raise ValueError(f"unknown {enum.__name__} {value!r}; use one of {choices}")
