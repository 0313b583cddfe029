"""What a run, its scheduler and its parts use of the engine that owns them.

``Engine`` provides it; runs and schedulers are typed against this protocol, so nothing below
the engine imports it (nor the run shell, which the engine creates).
"""

from __future__ import annotations

from typing import Protocol

from .compensation import CompensationLedger
from .control_lane import ControlLane
from .events import EventPump
from .executors import ExecutorSet
from .journal_link import JournalSink
from .plugin_route import PluginRoute
from .run_status import SignalNames
from .timers import Timers
from .transitions import ListenedKinds
from .worker_pool import WorkerPool


class RunServices(Protocol):
    """The engine as its runs see it."""

    names: SignalNames  # the facade's signal names, and how messages name a task
    timers: Timers
    lane: ControlLane
    pump: EventPump
    executor: WorkerPool  # the thread pool drainers run on
    route: PluginRoute  # every plugin call
    executors: ExecutorSet  # ``route``'s: where non-thread calls run
    compensations: CompensationLedger
    listened: ListenedKinds  # event kinds somebody receives: others are never built
    journal: JournalSink | None

    def in_owner_thread(self) -> bool:
        """Whether the calling thread is the orchestrator's (where Qt objects live)."""
        ...
