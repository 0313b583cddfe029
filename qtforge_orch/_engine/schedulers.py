"""The scheduler interface, and which scheduler runs a plan: the compiled plan's
``schedule`` decides, not the facade."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .._errors import PluginError
from .batch import BatchScheduler
from .eventdriven import EventScheduler
from .plan import ScheduleKind
from .streaming import StreamScheduler

if TYPE_CHECKING:
    from .run import Run


class Scheduler(Protocol):
    """What runs when inside one run. Methods marked (lock held) are called with the shell's
    lock held and must not call user code; ``work`` is called without it."""

    def begin(self) -> None:
        """(lock held) Queue the first work."""

    def take(self) -> Any:
        """(lock held) The next unit of work for a drainer, or None."""

    def work(self, taken: Any) -> None:
        """Do one unit of work from ``take`` (plugin calls happen here, lock released)."""

    def capacity(self) -> int:
        """(lock held) How many units may run at once now."""

    def spawned(self) -> None:
        """(lock held) Drainers were asked for while work waits (the batch stall guard)."""

    def work_done(self) -> bool:
        """(lock held) Nothing is left to run: the execution may complete."""

    def final_result(self) -> dict[str, Any]:
        """(lock held) The execution completes: its result."""

    def abort(self, final_status: str, error: PluginError) -> bool:
        """(lock held) Stop and cancel in-flight work. True when the scheduler finishes the run
        itself later, with ``final_status`` and ``error`` (EventDriven: once its passes have
        ended)."""

    def paused(self) -> None:
        """(lock held) The run was paused."""

    def resumed(self) -> None:
        """(lock held) The run was resumed."""

    def finished(self) -> None:
        """(lock held) The run ended: let go of timers."""

    def task_extras(self) -> list[dict[str, Any]] | None:
        """(lock held) Mode-specific per-task figures for status reports."""

    def run_extras(self) -> dict[str, Any]:
        """(lock held) Mode-specific execution-level figures for status reports."""


SchedulerFactory = Callable[["Run"], Scheduler]

_BY_KIND: dict[ScheduleKind, SchedulerFactory] = {
    ScheduleKind.BATCH: BatchScheduler,
    ScheduleKind.STREAM: StreamScheduler,
    ScheduleKind.EVENT: EventScheduler,
}


def scheduler_for(kind: ScheduleKind) -> SchedulerFactory:
    return _BY_KIND[kind]
