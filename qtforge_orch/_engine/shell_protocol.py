"""What a scheduler, its workers and its limits see of the run shell they serve.

``run.Run`` provides it. Everything below the shell is typed against this protocol, so nothing
there imports the shell: the shell is a small surface over typed parts (the task table, the
progress, the journal link) that its scheduler reads and changes with the lock held, task
states only through ``transition``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..contract.context import StepContext
from ..contract.plan import Plan
from ..errors import PluginError
from .journal_link import JournalLink, ResumeSeed
from .progress import Progress
from .run_events import RunEvents
from .run_lock import RunLock
from .services import RunServices
from .task_table import TaskTable
from .transitions import ListenedKinds

if TYPE_CHECKING:
    from .compensation import Compensation, CompensationChain
    from .late_outcomes import LateOutcomes
    from .pause_gate import PauseGate
    from .run_end import RunEnd
    from .scheduler_protocol import SchedulerControl


class RunShell(Protocol):
    """One execution, as its scheduler sees it (fields guarded by ``lock``)."""

    engine: RunServices
    plan: Plan
    execution_id: str
    initial_data: dict[str, Any]
    lock: RunLock
    table: TaskTable
    progress: Progress
    journal: JournalLink | None  # None: not journaled
    resume_seed: ResumeSeed | None  # a resumed execution's starting point
    pause_gate: PauseGate  # closed while paused
    status: str
    stopping: bool  # aborting or completing: nothing new starts
    limit: int  # how many units may run at once, at most
    is_child: bool  # a pass of an EventDriven execution
    error: PluginError | None
    error_messages: list[str]  # execution-level notes beyond per-task errors
    wanted: int  # the transition effects carried out whoever listens (``transitions``)
    listened: ListenedKinds  # the engine's: the event kinds somebody receives
    events: RunEvents  # what the run posts
    scheduler: SchedulerControl
    end: RunEnd[Any]  # finish callbacks and ``done``
    start_time: datetime | None
    end_time: datetime | None
    result: dict[str, Any] | None
    rollback_errors: list[str]
    compensations: list[Compensation]  # rollback steps owed, oldest first
    compensating: CompensationChain | None  # the chain running them, if any
    late: LateOutcomes | None  # attempts abandoned while running (``late_outcomes``)

    def transition(self, index: int, new: int, value: Any = None, at: float = 0.0) -> None:
        """(lock held) Change a task's state through the transition table and carry out
        what the transition asks (journal record, rollback step owed, task event)."""
        ...

    def carry_out(self, index: int, effect: int, value: Any) -> None:
        """(lock held) What a transition of task ``index`` asks (``transitions`` effects)."""
        ...

    def cancel_unsettled(self) -> None:
        """(lock held, aborting) Every task not yet terminal ends Cancelled."""
        ...

    def update_progress(self) -> None:
        """(lock held) Recompute progress; post it when it moved by a posting step."""
        ...

    def maybe_complete(self) -> bool:
        """(lock held) Complete the run if its scheduler has nothing left to run."""
        ...

    def abort(self, final_status: str, error: PluginError) -> None:
        """(lock held) Stop scheduling, cancel what runs or waits, compensate and finish."""
        ...

    def finish(self, final_status: str, error: PluginError | None) -> None:
        """(lock held) Record the final state; callbacks and ``done`` follow on release."""
        ...

    def new_context(self, step_id: str) -> StepContext:
        """(lock held) A context for user code that is not one task attempt."""
        ...

    def new_child(self, plan: Plan, data: dict[str, Any], seed: dict[str, Any] | None) -> RunShell:
        """(lock held) A pass of an EventDriven execution (started by the caller)."""
        ...

    def on_finish(self, callback: Callable[[RunShell], None]) -> None:
        """``callback(run)`` once the run has ended, never under its lock."""
        ...

    def start(self) -> None:
        """Begin the run (takes the lock)."""
        ...

    def cancel(self, error: PluginError | None = None) -> bool:
        """Cancel the run (takes the lock)."""
        ...

    def pause(self) -> PluginError | None:
        """Pause the run (takes the lock)."""
        ...

    def resume(self) -> PluginError | None:
        """Resume the run (takes the lock)."""
        ...

    def is_done(self) -> bool:
        """Whether the run has ended and its callbacks have run."""
        ...
