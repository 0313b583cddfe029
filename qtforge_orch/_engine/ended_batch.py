"""What stands for a batch run's scheduler once the run has left its engine's history.

The run is let go of by the engine then (``RunParts.release_parts``), but an application may
still hold it (a future, a handle, a nested step): status reads and waits on it must still
answer, with nothing left to schedule.
"""

from __future__ import annotations

from typing import Any

from ..errors import PluginError
from .scheduler_protocol import Drainers, SchedulerDefaults


class EndedBatch(SchedulerDefaults):
    """An ended batch run's scheduler and drainers: nothing to run, nobody to wake."""

    __slots__ = ("_overlaps", "ready")

    running = 0
    helpers = 0

    def __init__(self, overlaps: dict[str, list[int]]) -> None:
        self._overlaps = overlaps
        self.ready: list[int] = []

    @property
    def workers(self) -> Drainers:
        return self

    # --- the scheduler: the run has ended ------------------------------------------------------
    def begin(self) -> None:
        """Never called: the run has ended."""

    def capacity(self) -> int:
        return 0

    def work_done(self) -> bool:
        return True

    def final_result(self) -> dict[str, Any]:
        return {}

    def abort(self, final_status: str, error: PluginError) -> bool:
        return False

    def overlaps(self) -> dict[str, list[int]]:
        return self._overlaps

    def problems(self) -> list[str]:
        return []

    # --- the drainers: none ------------------------------------------------------------------
    def drain(self, submitted: bool = True) -> None:
        """Nothing to drain."""

    def spawn(self, self_takers: int) -> None:
        """Nothing to spawn."""

    def wake_helpers(self) -> None:
        """Nobody waits."""

    def idle(self) -> bool:
        return True

    def is_taker(self) -> bool:
        return False

    def help_until_done(self, deadline: float | None = None) -> bool:
        return True
