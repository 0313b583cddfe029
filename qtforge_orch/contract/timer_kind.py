"""What an engine timer is for: the fake clock of the testing plugin tells timers apart by it."""

from __future__ import annotations

from enum import StrEnum


class TimerKind(StrEnum):
    """What an engine timer is for.

    Real timers ignore it; a test's fake clock uses it (with
    the execution and step ids) to wait for and advance to one particular timer.
    """

    RETRY = "retry"
    STEP_TIMEOUT = "step_timeout"
    WORKFLOW_TIMEOUT = "workflow_timeout"
    ROLLBACK_TIMEOUT = "rollback_timeout"
    STALL_GUARD = "stall_guard"
    OTHER = "other"
