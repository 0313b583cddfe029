"""The interface between a run shell and its scheduler, with defaults for the optional hooks.

A scheduler decides what runs when inside one run, over its own unit of work (a batch task
attempt, a stream stage activation; an EventDriven run hands out none: its passes are runs of
their own). It owns its ready queue and its counters; task states change only through the
shell's ``transition``. Methods marked (lock held) are called with the shell's lock held and
never call user code; ``work`` is called without it (plugin calls happen there).
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from ..errors import PluginError, PluginErrorCode

UnitT = TypeVar("UnitT")


class Drainers(Protocol):
    """The threads that advance a run (``workers.Workers``), as the shell and its scheduler
    use them."""

    helpers: int  # threads blocked in ``help_until_done``

    def spawn(self, self_takers: int) -> None:
        """(lock held) Submit drainers for ready work; ``self_takers`` will take some itself."""
        ...

    def wake_helpers(self) -> None:
        """(lock held) Wake the threads waiting in ``help_until_done``."""
        ...

    def is_taker(self) -> bool:
        """Whether this thread drains or helps this run."""
        ...

    def help_until_done(self, deadline: float | None = None) -> bool:
        """Do the run's work in this thread until it ends (or the monotonic ``deadline``)."""
        ...


class SchedulerControl(Protocol):
    """Everything the shell asks of a scheduler but its units of work."""

    ready: list[int]  # the ready queue (a heap of task indices or stage ranks)
    running: int  # units taken and not yet given back
    current_task: str  # the key of the task that started last (for status reads)

    @property
    def workers(self) -> Drainers:
        """The threads that take this scheduler's units of work."""
        ...

    def begin(self) -> None:
        """(lock held) Queue the first work."""
        ...

    def capacity(self) -> int:
        """(lock held) How many units may run at once now."""
        ...

    def spawned(self) -> None:
        """(lock held) Drainers were asked for while work waits (the stall guards)."""
        ...

    def work_done(self) -> bool:
        """(lock held) Nothing is left to run: the execution may complete."""
        ...

    def final_result(self) -> dict[str, Any]:
        """(lock held) The execution completes: its result."""
        ...

    def abort(self, final_status: str, error: PluginError) -> bool:
        """(lock held) Stop and cancel in-flight work, and every task that has not settled.
        True when the scheduler finishes the run itself later, with ``final_status`` and
        ``error`` (EventDriven: once its passes have ended)."""
        ...

    def post_event(self, trigger: int, payload: dict[str, Any]) -> PluginError | None:
        """An event for an EventDriven run (any other refuses it)."""
        ...

    def paused(self) -> None:
        """(lock held) The run was paused."""
        ...

    def resumed(self) -> None:
        """(lock held) The run was resumed."""
        ...

    def finished(self) -> None:
        """(lock held) The run ended: let go of timers."""
        ...

    def task_extras(self) -> list[dict[str, Any]] | None:
        """(lock held) Mode-specific per-task figures for status reports."""
        ...

    def run_extras(self) -> dict[str, Any]:
        """(lock held) Mode-specific execution-level figures for status reports."""
        ...

    def overlaps(self) -> dict[str, list[int]]:
        """(lock held) Shared-data keys more than one concurrent task wrote (v1)."""
        ...

    def problems(self) -> list[str]:
        """(lock held) What is inconsistent in the scheduler's own state (empty: nothing)."""
        ...


class Scheduler(SchedulerControl, Protocol[UnitT]):
    """A scheduler and its unit of work."""

    def take(self) -> UnitT | None:
        """(lock held) The next unit of work for a drainer, or None."""
        ...

    def work(self, unit: UnitT) -> UnitT | None:
        """Do one unit of work from ``take`` (plugin calls happen here, lock released). May
        return the caller's next unit, taken with the lock held (None: the caller takes
        again)."""
        ...


class SchedulerDefaults:
    """No-op implementations of the hooks a scheduler may not need."""

    current_task = ""

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

    def overlaps(self) -> dict[str, list[int]]:
        """No shared data."""
        return {}
