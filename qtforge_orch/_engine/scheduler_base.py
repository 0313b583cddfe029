"""The interface between a run shell and its scheduler, with defaults for the optional hooks."""

from __future__ import annotations

from typing import Any, Protocol

from .._errors import PluginError, PluginErrorCode


class Scheduler(Protocol):
    """What runs when inside one run. Methods marked (lock held) are called with the shell's
    lock held and must not call user code; ``work`` is called without it."""

    def begin(self) -> None:
        """(lock held) Queue the first work."""

    def take(self) -> Any:
        """(lock held) The next unit of work for a drainer, or None."""

    def work(self, taken: Any) -> Any:
        """Do one unit of work from ``take`` (plugin calls happen here, lock released).
        May return the caller's next unit, taken with the lock held (None: the caller takes
        again)."""

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

    def post_event(self, trigger: int, payload: dict[str, Any]) -> PluginError | None:
        """An event for an EventDriven run (any other refuses it)."""

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


class SchedulerDefaults:
    """No-op implementations of the hooks a scheduler may not need."""

    def spawned(self) -> None:
        """(lock held) Nothing to watch."""

    def post_event(self, trigger: int, payload: dict[str, Any]) -> PluginError | None:
        """Only EventDriven runs take events."""
        return PluginError(
            PluginErrorCode.ExecutionModeNotSupported,
            "only EventDriven executions take events",
        )

    def paused(self) -> None:
        """(lock held) Nothing to pause beyond the shell's own state."""

    def resumed(self) -> None:
        """(lock held) Nothing to resume beyond the shell's own state."""

    def finished(self) -> None:
        """(lock held) No timers to let go of."""

    def task_extras(self) -> list[dict[str, Any]] | None:
        """No per-task figures."""
        return None

    def run_extras(self) -> dict[str, Any]:
        """No execution-level figures."""
        return {}
