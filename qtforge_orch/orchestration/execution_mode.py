"""``ExecutionMode``: how a v1 workflow schedules its steps, and the parsing of its spellings."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from .._jsoncopy import json_type


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


__all__ = ["MODE_CHOICES", "ExecutionMode", "parse_mode"]
