"""``IEventSource``: a plugin that pushes events into an EventDriven execution."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

EmitEvent = Callable[[dict[str, Any]], None]
StopEvents = Callable[[], None]


class IEventSource(ABC):
    """Mixed into an ``IPlugin`` whose Source node produces events over time.

    ``start_events`` is called once per EventDriven execution, in the orchestrator's thread (so
    Qt objects such as ``QFileSystemWatcher`` can live there); each ``emit(payload)`` runs the
    downstream graph once. The returned callable stops the events; it is called, in the same
    thread, when the execution is cancelled or otherwise ends.
    """

    @abstractmethod
    def start_events(self, configuration: dict[str, Any], emit: EmitEvent) -> StopEvents:
        """Start producing events for one EventDriven execution.

        Args:
            configuration: The Source node's configuration.
            emit: Call ``emit(payload)`` (a dict) for each event.

        Returns:
            A callable that stops the events.

        Raises:
            PluginError: When the events cannot start; the execution reports it.
        """
