"""Enums of the v2 orchestrator and how names and QtForge's integers are read into them."""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator

# --------------------------------------------------------------------------------------------
# Enums: member order and values follow the C++ declaration (values start at 0), so QtForge's
# integer encoding reads back as the same member.


class WorkflowExecutionMode(IntEnum):
    """How a v2 workflow runs (QtForge's integers, which its JSON uses)."""

    Sequential = 0
    Parallel = 1
    Conditional = 2
    EventDriven = 3
    Streaming = 4


class WorkflowNodeType(IntEnum):
    """What a node does in the graph."""

    Source = 0
    Processor = 1
    Sink = 2
    Decision = 3
    Aggregator = 4
    Splitter = 5
    Custom = 6


class ConnectionType(IntEnum):
    """What a connection carries."""

    DataFlow = 0
    Control = 1
    Event = 2
    Dependency = 3


class WorkflowExecutionStatus(IntEnum):
    """State of one execution."""

    Pending = 0
    Running = 1
    Paused = 2
    Completed = 3
    Failed = 4
    Cancelled = 5


E = TypeVar("E", bound=IntEnum)


def _normalise_name(text: str) -> str:
    return text.replace("_", "").replace("-", "").replace(" ", "").casefold()


def _enum_lookup(enum_cls: type[E]) -> dict[str, E]:
    return {_normalise_name(member.name): member for member in enum_cls}


_ENUM_NAMES: dict[type[IntEnum], dict[str, Any]] = {
    cls: _enum_lookup(cls)
    for cls in (WorkflowExecutionMode, WorkflowNodeType, ConnectionType, WorkflowExecutionStatus)
}


def _parse_enum(enum_cls: type[E], value: object) -> E | None:
    """The member named or numbered by ``value``; None when it names none."""
    # bool is an int subclass; ``True`` meaning ``Processor`` would only ever be an accident.
    if isinstance(value, bool):
        return None
    if isinstance(value, enum_cls):
        return value
    if isinstance(value, int):
        try:
            return enum_cls(value)
        except ValueError:
            return None
    if isinstance(value, str):
        found: E | None = _ENUM_NAMES[enum_cls].get(_normalise_name(value))
        return found
    return None


def _enum_before(enum_cls: type[E]) -> Callable[[object], object]:
    def coerce(value: object) -> object:
        if isinstance(value, bool):
            raise ValueError(f"a bool is not a {enum_cls.__name__}")
        if isinstance(value, str):
            member = _parse_enum(enum_cls, value)
            if member is None:
                raise ValueError(f"{value!r} is not a {enum_cls.__name__}: {_choices(enum_cls)}")
            return member
        return value

    return coerce


def _choices(enum_cls: type[IntEnum]) -> str:
    names = ", ".join(member.name for member in enum_cls)
    return f"expected one of {names} (or 0-{len(enum_cls) - 1})"


# Assignments such as ``node.node_type = "sink"`` go through the same name rules as JSON.
_ModeField = Annotated[WorkflowExecutionMode, BeforeValidator(_enum_before(WorkflowExecutionMode))]
_NodeTypeField = Annotated[WorkflowNodeType, BeforeValidator(_enum_before(WorkflowNodeType))]
_ConnTypeField = Annotated[ConnectionType, BeforeValidator(_enum_before(ConnectionType))]
_StatusField = Annotated[
    WorkflowExecutionStatus, BeforeValidator(_enum_before(WorkflowExecutionStatus))
]
