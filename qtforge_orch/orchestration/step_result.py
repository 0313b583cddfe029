"""``StepStatus`` and ``StepResult``: the outcome of one step in one execution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .._jsoncopy import json_copy


class StepStatus(IntEnum):
    """State of one step in one execution (QtForge's order and numbering)."""

    Pending = 0
    Running = 1
    Completed = 2
    Failed = 3
    Skipped = 4
    Cancelled = 5
    Retrying = 6


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    # Naive times are taken as UTC (the engine records UTC); aware times are normalised.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_LEFT_OUT_WHEN_NONE = frozenset({"error_info", "late_outcome"})


class StepResult(BaseModel):
    """Outcome of one step in one execution."""

    # Built on first validation: the orchestrator makes these with model_construct, so a
    # workflow run never pays for building a validator it does not use.
    model_config = ConfigDict(validate_assignment=True, extra="forbid", defer_build=True)

    step_id: str = ""
    status: StepStatus = StepStatus.Pending
    result_data: dict[str, Any] = Field(default_factory=dict)
    error_message: str = ""
    retry_count: int = Field(0, ge=0)
    start_time: datetime | None = None
    end_time: datetime | None = None
    # Extensions, None when they do not apply (``to_json`` then leaves them out): a failed
    # step's error as data (code, exception type and message, traceback), and what its latest
    # abandoned attempt (cancelled or timed out while running) came to.
    error_info: dict[str, Any] | None = None
    late_outcome: dict[str, Any] | None = None

    @field_validator("start_time", "end_time", mode="after")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)

    def execution_time(self) -> timedelta:
        """How long the step took: ``end_time - start_time``, zero until both are known.

        Never negative, even across clock changes.
        """
        if self.start_time is None or self.end_time is None:
            return timedelta(0)
        return max(self.end_time - self.start_time, timedelta(0))

    def to_json(self) -> dict[str, Any]:
        """The result as JSON: status by name, times as ISO 8601, ``execution_time`` in ms."""
        data: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None and name in _LEFT_OUT_WHEN_NONE:
                continue
            if isinstance(value, StepStatus):
                value = value.name
            elif isinstance(value, datetime):
                value = value.isoformat()
            data[name] = json_copy(value)
        data["execution_time"] = self.execution_time() // timedelta(milliseconds=1)
        return data


__all__ = ["StepResult", "StepStatus"]
