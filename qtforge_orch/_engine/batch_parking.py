"""Step attempts parked on a remote executor until their outcome lands.

A drainer that starts an attempt on a ``ParkingExecutor`` (Dask) does not wait for it: the
attempt stays Running and counted, and the drainer takes the next task. When the outcome is
back, the executor's thread queues it here as a unit of work (``Landed``), which a drainer or
helper then records exactly as it records an attempt it ran itself: retries, timeouts,
late outcomes and the run's end are the batch scheduler's own code. The executor's thread only
queues, under the run's lock; it never runs user code (a retry predicate runs on the drainer).
"""

from __future__ import annotations

import time
from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Any

from ..contract.context import StepContext
from ..contract.outcome import Outcome
from .late_outcomes import returned

if TYPE_CHECKING:
    from .shell_protocol import RunShell
    from .workers import Workers


class Landed:
    """A parked attempt's result, carried in its unit of work in place of the input."""

    __slots__ = ("ended", "value")

    def __init__(self, value: Any, ended: float) -> None:
        self.value = value  # the output dict or the PluginError, as a call returns it
        self.ended = ended


# A batch run's unit of work: (task index, its input, its context, time.time() it started).
# Input and context are None while the task's condition is still to be checked (the task is
# then still Pending); the input is a ``Landed`` once a parked attempt's outcome is back.
Attempt = tuple[int, dict[str, Any] | Landed | None, StepContext | None, float]


class Parking:
    """One run's parked attempts: their landings, and the landed ones not yet recorded."""

    __slots__ = ("_contexts", "_run", "_workers", "landed")

    def __init__(
        self, run: RunShell, contexts: list[StepContext | None], workers: Workers[Any]
    ) -> None:
        self._run = run
        self._contexts = contexts
        self._workers = workers
        self.landed: deque[Attempt] = deque()

    def landing(self, index: int, context: StepContext, started: float) -> Any:
        """The executor's callback for attempt ``context`` of task ``index``."""
        return partial(self._land, index, context, started)

    def _land(self, index: int, context: StepContext, started: float, outcome: Outcome) -> None:
        value = outcome.output if outcome.error is None else outcome.error
        ended = time.time()
        run = self._run
        with run.lock:
            if self._contexts[index] is not context:
                # Timed out or cancelled while parked: a late outcome, as for a thread.
                returned(run, index, context, value, ended)
                return
            self.landed.append((index, Landed(value, ended), context, started))
            self._workers.land()

    def abandon_landed(self) -> None:
        """(lock held) The run stops: what landed and was not recorded is a late outcome of
        an attempt the run has abandoned by now."""
        landed = list(self.landed)
        self.landed.clear()
        for index, result, context, _ in landed:
            assert isinstance(result, Landed) and context is not None
            returned(self._run, index, context, result.value, result.ended)
