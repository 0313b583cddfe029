"""Which scheduler runs a plan: the compiled plan's ``schedule`` decides, not the facade."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .batch import BatchScheduler
from .eventdriven import EventScheduler
from .plan import ScheduleKind
from .scheduler_base import Scheduler
from .streaming import StreamScheduler

if TYPE_CHECKING:
    from .run import Run


SchedulerFactory = Callable[["Run"], Scheduler]

_BY_KIND: dict[ScheduleKind, SchedulerFactory] = {
    ScheduleKind.BATCH: BatchScheduler,
    ScheduleKind.STREAM: StreamScheduler,
    ScheduleKind.EVENT: EventScheduler,
}


def scheduler_for(kind: ScheduleKind) -> SchedulerFactory:
    return _BY_KIND[kind]


__all__ = ["Scheduler", "SchedulerFactory", "scheduler_for"]
