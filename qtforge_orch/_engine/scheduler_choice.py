"""Which scheduler runs a plan: the compiled plan's ``schedule`` decides, not the facade.

Streaming and EventDriven load with the first plan that needs them: most applications run
batch workflows only, and a cold start should not pay for the other two.
"""

from __future__ import annotations

from collections.abc import Callable

from ..contract.plan import ScheduleKind
from .batch import BatchScheduler
from .scheduler_protocol import SchedulerControl
from .shell_protocol import RunShell

SchedulerFactory = Callable[[RunShell], SchedulerControl]

_BY_KIND: dict[ScheduleKind, SchedulerFactory] = {ScheduleKind.BATCH: BatchScheduler}


def scheduler_for(kind: ScheduleKind) -> SchedulerFactory:
    factory = _BY_KIND.get(kind)
    if factory is None:
        if kind is ScheduleKind.STREAM:
            from .stream_scheduler import StreamScheduler

            factory = StreamScheduler
        else:
            from .event_scheduler import EventScheduler

            factory = EventScheduler
        _BY_KIND[kind] = factory
    return factory
