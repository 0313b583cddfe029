"""What status calls read: one read-only view of an execution, live or recorded.

``RunView`` is what a live ``Run`` and an execution read back from the journal both offer, and
``RunSnapshot`` the consistent copy of its state a status call works from. A live run takes it
in one short critical section: building every step's report under the run's lock would block
the run for 16-19 ms per status call on 2,000 steps, so status calls copy the flat lists under
the lock, which costs microseconds, and build reports from the copy with the lock released;
reports of settled steps are cached on the view (``report_cache``), so a GUI polling at 60 Hz
pays for what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .._errors import PluginError
from ..contract.plan import Plan, ScheduleKind
from .compensation import Compensation
from .scheduler_protocol import SchedulerControl
from .task_table import TaskTable


@dataclass(slots=True, frozen=True)
class RunSnapshot:
    """A run's state as one status call sees it (lists copied, outputs shared)."""

    status: str
    progress: float
    current_task: str
    completed: int
    start_time: datetime | None
    end_time: datetime | None
    error: PluginError | None
    result: dict[str, Any] | None
    states: list[int]
    outputs: list[dict[str, Any] | None]
    errors: list[str]
    retries: list[int]
    starts: list[float]
    ends: list[float]
    step_progress: dict[int, tuple[float, str]]
    rollbacks: list[tuple[int, str, str]]  # (task index, status, error) of claimed ones
    error_messages: list[str]
    rollback_errors: list[str]
    task_extras: list[dict[str, Any]] | None  # per-task mode-specific figures (item counters)
    run_extras: dict[str, Any]  # execution-level ones (event counts)
    overlaps: dict[str, list[int]]  # shared keys written by more than one concurrent step


class RunView(Protocol):
    """An execution as status calls read it (``Run``, or a past one from the journal)."""

    @property
    def execution_id(self) -> str: ...

    @property
    def workflow_id(self) -> str: ...

    @property
    def transaction_id(self) -> str | None: ...

    @property
    def initial_data(self) -> dict[str, Any]: ...

    @property
    def plan(self) -> Plan: ...

    @property
    def status(self) -> str: ...

    @property
    def kind(self) -> ScheduleKind: ...

    # The reports ``cached_reports`` built, reused while unchanged (None: none yet).
    report_cache: list[Any] | None

    def snapshot(self) -> RunSnapshot:
        """The execution's state, consistent across its fields."""
        ...

    def is_done(self) -> bool:
        """Whether the execution has ended."""
        ...


def snapshot_of(
    status: str,
    progress: float,
    start_time: datetime | None,
    end_time: datetime | None,
    error: PluginError | None,
    result: dict[str, Any] | None,
    table: TaskTable,
    scheduler: SchedulerControl,
    compensations: list[Compensation],
    error_messages: list[str],
    rollback_errors: list[str],
    *,
    ended: bool,
) -> RunSnapshot:
    """(run lock held) A live run's snapshot: its lists copied, its outputs shared."""
    return RunSnapshot(
        status=status,
        progress=progress,
        current_task="" if ended else scheduler.current_task,
        completed=table.completed,
        start_time=start_time,
        end_time=end_time,
        error=error,
        result=result,
        states=list(table.states),
        outputs=list(table.outputs),
        errors=list(table.errors),
        retries=list(table.retries),
        starts=list(table.starts),
        ends=list(table.ends),
        step_progress=dict(table.step_progress),
        rollbacks=[(c.index, c.status, c.error) for c in compensations if c.status != "pending"],
        error_messages=list(error_messages),
        rollback_errors=list(rollback_errors),
        task_extras=scheduler.task_extras(),
        run_extras=scheduler.run_extras(),
        overlaps={key: sorted(steps) for key, steps in scheduler.overlaps().items()},
    )


def take_snapshot(run: RunView) -> RunSnapshot:
    """``run.snapshot()``: the state a status call reports."""
    return run.snapshot()


ReportBuilder = Callable[[RunView, int, RunSnapshot], dict[str, Any]]


def cached_reports(
    run: RunView, snapshot: RunSnapshot, build: ReportBuilder, settled: frozenset[int]
) -> list[dict[str, Any]]:
    """One report per task from ``build(run, index, snapshot)``, reused while the task's state,
    start and end times and attempts stay the same (an EventDriven node settles again on every
    pass; a pending one changes only when it starts). Tasks with live per-task figures (stream
    counters) are cached only once settled. Each call returns fresh outer dicts; the outputs
    inside are the engine's record, shared read-only."""
    cache = run.report_cache
    if cache is None:
        cache = run.report_cache = [None] * len(snapshot.states)
    live = snapshot.task_extras is not None
    reports: list[dict[str, Any]] = []
    states, starts = snapshot.states, snapshot.starts
    ends, retries = snapshot.ends, snapshot.retries
    for index, state in enumerate(states):
        key = (state, starts[index], ends[index], retries[index])
        entry = cache[index]
        if entry is not None and entry[0] == key:
            report = entry[1]
        else:
            report = build(run, index, snapshot)
            if not live or state in settled:
                cache[index] = (key, report)
        reports.append(report.copy())
    return reports
