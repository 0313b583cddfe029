"""What other threads call into a batch run: the timer thread (retries due, deadlines, the
stall guard), a running step reporting progress, and a remote executor landing a parked
attempt's outcome. A part of ``BatchScheduler`` kept in its own module; each call takes the
run's lock or is made with it held."""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any

from ..contract.context import StepContext
from ..errors import PluginError, PluginErrorCode
from .batch_parking import Parking
from .late_outcomes import abandon
from .task_table import PENDING, RETRYING, RUNNING

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..contract.plan import TaskSpec
    from .batch_parking import Attempt
    from .run_lock import RunLock
    from .shell_protocol import RunShell
    from .task_table import TaskTable
    from .workers import Workers


class BatchCallbacks:
    """The ``BatchScheduler`` methods other threads call (a base class of it)."""

    if TYPE_CHECKING:  # the scheduler's state these callbacks use
        run: RunShell
        lock: RunLock
        tasks: list[TaskSpec]
        states: list[int]
        contexts: list[StepContext | None]
        ready: list[int]
        running: int
        retry_timers: dict[int, Any]
        workers: Workers[Attempt]
        noun: str
        parking: Parking | None

        transition: Callable[..., None]
        table: TaskTable

        def _attempt_failed(self, index: int, error: PluginError) -> None: ...

    def _landing(self, index: int, context: StepContext, started: float) -> Any:
        if self.parking is None:
            with self.lock:
                if self.parking is None:
                    self.parking = Parking(self.run, self.contexts, self.workers)
        return self.parking.landing(index, context, started)

    def _on_step_progress(self, index: int, fraction: float, message: str) -> None:
        """A running step's ``StepContext.report_progress`` (its worker thread)."""
        with self.lock:
            if self.states[index] != RUNNING or self.run.stopping:
                return
            self.table.step_progress[index] = (fraction, message)
            self.run.update_progress()

    def _on_retry_due(self, index: int) -> None:
        with self.lock:
            self.retry_timers.pop(index, None)
            if self.run.stopping or self.states[index] != RETRYING:
                return
            self.transition(index, PENDING)
            heapq.heappush(self.ready, index)
            self.workers.spawn(0)

    def _stalled(self) -> None:
        self.workers.spawn(0)

    def _on_deadlines(self, expired: list[int]) -> None:
        """(lock held, timer thread) Time out every attempt past its deadline."""
        for index in expired:
            context = self.contexts[index]
            if context is None or self.run.stopping:
                continue
            context.cancel()
            self.contexts[index] = None
            self.running -= 1  # the hung thread no longer counts against the limit
            abandon(self.run, index, context)  # its call may still return: late_outcomes
            task = self.tasks[index]
            self._attempt_failed(
                index,
                PluginError(
                    PluginErrorCode.Timeout,
                    f"{self.noun} '{task.key}' timed out after {task.timeout_ms} ms",
                    plugin_id=task.plugin_id,
                ),
            )
        self.workers.wake_helpers()
