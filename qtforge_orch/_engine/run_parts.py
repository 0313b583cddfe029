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
# threads reading the parts of an unbuilt run at once build them once.
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

    __slots__ = tuple(sorted(BUILT_PARTS))

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
            try:
                scheduler = object.__getattribute__(self, "scheduler")
            except AttributeError:
                return  # never built: nothing to let go of
            if not (
                self.end.is_done() and self.late is None and self.workers.idle()
            ) or not isinstance(scheduler, BatchScheduler):
                return
            self.scheduler = self.workers = EndedBatch(scheduler.overlaps())
            scheduler.__dict__.clear()  # its parts refer back to it, and to the run

    # --- the parts, built on first need -----------------------------------------------------------

    def _build(self) -> None:
        with _BUILD_LOCK:
            try:
                object.__getattribute__(self, "workers")
                return  # another thread built them meanwhile
            except AttributeError:
                pass
            plan = self.plan
            if self.journal is None:  # a journaled run's table was built with its link
                self.table = self._new_table()
            self.progress = Progress(len(plan.tasks))
            self.limit = plan.max_concurrency or self.engine.executor.max_threads()
            self.rollback_errors = []
            self.error_messages = []
            self.compensations = []
            self.pause_gate = PauseGate()
            self.long_contexts = []
            self.scheduler = self._factory(self)  # type: ignore[arg-type]  # self is a Run
            self.workers = self.scheduler.workers  # last: its presence says "built"

    def _new_table(self) -> TaskTable:
        table = TaskTable(len(self.plan.tasks))
        if transitions.owners_wanted:
            table.owner = weakref.ref(self)
        return table

    if not TYPE_CHECKING:  # to the type checker every part is a plain, always-set field

        def __getattr__(self, name: str) -> Any:
            # Called only for a field not set: a part before ``_build``.
            if name in BUILT_PARTS:
                self._build()
                return object.__getattribute__(self, name)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
