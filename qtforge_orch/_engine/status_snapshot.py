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
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from .._errors import PluginError, error_info
from ..contract.plan import Plan, ScheduleKind
from .late_view import LateView, late_report, late_view

if TYPE_CHECKING:
    from .shell_protocol import RunShell


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
    # (task index, status, error, late) of the rollback steps that ran
    rollbacks: list[tuple[int, str, str, bool]]
    error_messages: list[str]
    rollback_errors: list[str]
    task_extras: list[dict[str, Any]] | None  # per-task mode-specific figures (item counters)
    run_extras: dict[str, Any]  # execution-level ones (event counts)
    overlaps: dict[str, list[int]]  # shared keys written by more than one concurrent step
    # The PluginError of each Failed task (its code, exception type, traceback)
    failures: dict[int, PluginError] = field(default_factory=dict)
    # Attempts abandoned while running (cancel, timeout) and what came of them, in order
    late: list[LateView] = field(default_factory=list)
    late_keys: list[str] = field(default_factory=list)  # task index -> key, when ``late``


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


def snapshot_of(run: RunShell) -> RunSnapshot:
    """(run lock held) A live run's snapshot: its lists copied, its outputs shared."""
    table = run.table
    scheduler = run.scheduler
    ended = run.end.finished
    return RunSnapshot(
        status=run.status,
        progress=run.progress.value if run.stopping else run.progress.current(table),
        current_task="" if ended else scheduler.current_task,
        completed=table.completed,
        start_time=run.start_time,
        end_time=run.end_time,
        error=run.error,
        result=run.result,
        states=list(table.states),
        outputs=list(table.outputs),
        errors=list(table.errors),
        retries=list(table.retries),
        starts=list(table.starts),
        ends=list(table.ends),
        step_progress=dict(table.step_progress),
        rollbacks=[
            (c.index, c.status, c.error, c.late) for c in run.compensations if c.status != "pending"
        ],
        error_messages=list(run.error_messages),
        rollback_errors=list(run.rollback_errors),
        task_extras=scheduler.task_extras(),
        run_extras=scheduler.run_extras(),
        overlaps={key: sorted(steps) for key, steps in scheduler.overlaps().items()},
        failures=dict(table.failures) if table.failures else {},
        late=[late_view(record) for record in table.late] if table.late else [],
        late_keys=[task.key for task in run.plan.tasks] if table.late else [],
    )


def debug_fields(snapshot: RunSnapshot, index: int, id_key: str) -> dict[str, Any]:
    """Task ``index``'s ``error_info`` (it failed) and ``late_outcome`` (its latest abandoned
    attempt, named by ``id_key``), when it has them."""
    fields: dict[str, Any] = {}
    if not (snapshot.failures or snapshot.late):
        return fields
    info = failure_report(snapshot, index)
    if info is not None:
        fields["error_info"] = info
    late = latest_late(snapshot, index, id_key)
    if late is not None:
        fields["late_outcome"] = late
    return fields


def failure_report(snapshot: RunSnapshot, index: int) -> dict[str, Any] | None:
    """Task ``index``'s error as data (``_errors.error_info``: code, exception type, message,
    traceback), or None when it has not failed."""
    failure = snapshot.failures.get(index)
    return None if failure is None else error_info(failure)


def late_reports(snapshot: RunSnapshot, id_key: str) -> list[dict[str, Any]]:
    """Every abandoned attempt of the execution as a status dict, in the order abandoned."""
    tasks = snapshot.late_keys
    return [late_report(view, id_key, tasks[view.task]) for view in snapshot.late]


def latest_late(snapshot: RunSnapshot, index: int, id_key: str) -> dict[str, Any] | None:
    """Task ``index``'s latest abandoned attempt as a status dict, or None (it has none)."""
    for view in reversed(snapshot.late):
        if view.task == index:
            return late_report(view, id_key, snapshot.late_keys[index])
    return None


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
    late = _late_versions(snapshot) if snapshot.late else None
    for index, state in enumerate(states):
        key: tuple[Any, ...] = (state, starts[index], ends[index], retries[index])
        if late is not None:  # a late outcome changes a report without changing the state
            key = (*key, late.get(index))
        entry = cache[index]
        if entry is not None and entry[0] == key:
            report = entry[1]
        else:
            report = build(run, index, snapshot)
            if not live or state in settled:
                cache[index] = (key, report)
        reports.append(report.copy())
    return reports


def _late_versions(snapshot: RunSnapshot) -> dict[int, tuple[tuple[str, str], ...]]:
    """Per task with abandoned attempts: what its reports show of them, to key the cache."""
    versions: dict[int, tuple[tuple[str, str], ...]] = {}
    for view in snapshot.late:
        versions[view.task] = (*versions.get(view.task, ()), (view.outcome, view.rollback))
    return versions
