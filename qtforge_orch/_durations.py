"""Durations are accepted as ``timedelta`` or integer milliseconds and stored as milliseconds."""

from __future__ import annotations

from datetime import timedelta


def to_milliseconds(value: timedelta | int | float) -> int:
    if isinstance(value, bool):
        raise TypeError("a duration must be a timedelta or a number of milliseconds, not a bool")
    if isinstance(value, timedelta):
        return int(value.total_seconds() * 1000)
    if isinstance(value, int | float):
        return int(value)
    raise TypeError(f"a duration must be a timedelta or milliseconds, got {type(value).__name__}")
