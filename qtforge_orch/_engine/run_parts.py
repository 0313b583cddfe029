"""A run started from the pool's queue, and the parts it needs once it runs, built by the first
thread that needs them.

A run started asynchronously waits in the pool's queue as an id, a status, its lock and its
end (``Run.start_queued``): the task table, the progress, the scheduler with its drainers and
the run's lists are built by the pool thread that starts it, or by whatever reads them first
(a status call, a cancel). Many executions started at once then keep a few objects each until
a thread takes them, not the ~60 containers that the cyclic collector walks again and again
while they wait, and each run is built where it is about to run.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

from . import transitions
from .batch import BatchScheduler
from .ended_batch import EndedBatch
from .pause_gate import PauseGate
from .progress import Progress
from .task_table import TaskTable

if TYPE_CHECKING:
    from ..contract.context import StepContext
    from ..contract.plan import Plan
    from .compensation import Compensation
    from .journal_link import JournalLink
    from .late_outcomes import LateOutcomes
    from .run_end import RunEnd
    from .run_lock import RunLock
    from .scheduler_choice import SchedulerFactory
    from .scheduler_protocol import Drainers, SchedulerControl
    from .services import RunServices

# Held only while one run's parts are built (never with it held is a run lock taken), so two
# threads reading the parts of an unbuilt run at once build them once. The parts are built
# explicitly where they may be read first (``Run._start``, ``snapshot``, ``problems``), not
# by a ``__getattr__``: a class with one takes the slow path for every attribute read of its
# instances (no specialised slot loads), which cost ~90k instructions per small execution.
_BUILD_LOCK = threading.Lock()
BUILT_PARTS = frozenset(
    {
        "table",
        "progress",
        "limit",
        "rollback_errors",
        "error_messages",
        "compensations",
        "pause_gate",
        "long_contexts",
        "scheduler",
        "workers",
    }
)


class RunParts:
    """A run's start from the pool's queue and its parts built on first need (``Run``
    derives from it)."""

    __slots__ = ("built", *sorted(BUILT_PARTS))

    built: bool  # the parts below exist (set by ``build``; False from the run's creation)

    table: TaskTable
    progress: Progress
    limit: int  # how many units may run at once, at most
    rollback_errors: list[str]
    error_messages: list[str]  # execution-level notes beyond per-task errors
    compensations: list[Compensation]  # rollback steps owed, oldest first
    pause_gate: PauseGate  # closed while paused: steps' pause points wait there
    # Contexts handed to user code outside per-task attempts (stream stages, event sources):
    # cancelled with the run.
    long_contexts: list[StepContext]
    scheduler: SchedulerControl
    workers: Drainers

    if TYPE_CHECKING:  # the shell's fields and methods this uses
        plan: Plan
        engine: RunServices
        journal: JournalLink | None
        lock: RunLock
        end: RunEnd[Any]
        late: LateOutcomes | None
        _factory: SchedulerFactory
        _queued: bool

        def _start(self, takers: int) -> None: ...

    # --- a run started from the pool's queue ----------------------------------------------------
    def start_queued(self) -> None:
        """Start on a pool thread, in submission order with the pool's other work; until
        then the run is ``pending`` and built only as far as something reads it. The thread
        that starts it also drains it, so a small run is built, run and ended in one go."""
        self._queued = True
        self.engine.executor.submit(self._start_from_queue)

    def claim(self) -> None:
        """Start a run still waiting in the queue now, in this thread (a thread about to
        wait for it helping, or a pause or cancel that needs it running)."""
        with self.lock:
            self._claim()

    def _claim(self) -> None:
        if self._queued:
            self._queued = False
            self._start(0)

    def _start_from_queue(self) -> None:
        with self.lock:
            if not self._queued:
                return  # claimed meanwhile (started, or cancelled)
            self._queued = False
            self._start(1)
        self.workers.drain(submitted=False)

    def release_parts(self) -> None:
        """The run left its engine's history: let go of its scheduler, so that the run and
        the scheduler are freed by their last reference, not by the cyclic collector (each
        refers to the other). Only once nothing can be in the scheduler any more: the run
        ended and its callbacks ran, no thread is in or on its way into its work, no attempt
        it abandoned is still out. A status read of the run afterwards still answers."""
        with self.lock:
            if not self.built:
                return  # nothing to let go of
            scheduler = self.scheduler
            if not (
                self.end.is_done() and self.late is None and self.workers.idle()
            ) or not isinstance(scheduler, BatchScheduler):
                return
            self.scheduler = self.workers = EndedBatch(scheduler.overlaps())
            scheduler.__dict__.clear()  # its parts refer back to it, and to the run

    # --- the parts, built on first need -----------------------------------------------------------

    def build(self) -> None:
        """Build the parts if they are not yet: the run starts, or a status call or a check
        reads them (called with the run's lock held, or before the run is shared)."""
        if self.built:
            return
        with _BUILD_LOCK:
            if self.built:
                return  # another thread built them meanwhile
            plan = self.plan
            if self.journal is None:  # a journaled run's table was built with its link
                self.table = self._new_table()
            self.progress = Progress(len(plan.tasks))
            self.limit = plan.max_concurrency or self.engine.executor.max_threads()
            self.rollback_errors = []
            self.error_messages = []
            self.pause_gate = PauseGate()
            self.long_contexts = []
            self.scheduler = self._factory(self)  # type: ignore[arg-type]  # self is a Run
            self.workers = self.scheduler.workers
            self.built = True

    def _new_table(self) -> TaskTable:
        table = TaskTable(len(self.plan.tasks))
        if transitions.owners_wanted:
            table.owner = weakref.ref(self)
        return table
