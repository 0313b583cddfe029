"""Which scheduler runs a plan: the compiled plan's ``schedule`` decides, not the facade.

Streaming and EventDriven load with the first plan that needs them: most applications run
batch workflows only, and a cold start should not pay for the other two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..contract.plan import ScheduleKind
from .batch import BatchScheduler
from .scheduler_base import Scheduler

if TYPE_CHECKING:
    from .run import Run


SchedulerFactory = Callable[["Run"], Scheduler]

_BY_KIND: dict[ScheduleKind, SchedulerFactory] = {ScheduleKind.BATCH: BatchScheduler}


def scheduler_for(kind: ScheduleKind) -> SchedulerFactory:
    factory = _BY_KIND.get(kind)
    if factory is None:
        if kind is ScheduleKind.STREAM:
            from .streaming import StreamScheduler

            factory = StreamScheduler
        else:
            from .eventdriven import EventScheduler

            factory = EventScheduler
        _BY_KIND[kind] = factory
    return factory


__all__ = ["Scheduler", "SchedulerFactory", "scheduler_for"]
