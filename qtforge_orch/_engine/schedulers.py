"""Which scheduler runs a plan: the compiled plan's ``schedule`` decides, not the facade."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .batch import BatchScheduler
from .eventdriven import EventScheduler
from .plan import ScheduleKind
from .streaming import StreamScheduler

if TYPE_CHECKING:
    from .run import Run, Scheduler

_BY_KIND: dict[ScheduleKind, Callable[[Run], Scheduler]] = {
    ScheduleKind.BATCH: BatchScheduler,
    ScheduleKind.STREAM: StreamScheduler,
    ScheduleKind.EVENT: EventScheduler,
}


def scheduler_for(kind: ScheduleKind) -> Callable[[Run], Scheduler]:
    return _BY_KIND[kind]
