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

from ..contract.plan import Plan, ScheduleKind
from ..errors import PluginError, error_info
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
    report_cache: Any

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


# Builds the reports of the given task indices from one snapshot, in that order.
ReportBuilder = Callable[[RunView, RunSnapshot, list[int]], list[dict[str, Any]]]


class ReportCache:
    """The reports one status call built, with the per-task facts they were built from."""

    __slots__ = ("complete", "ends", "late", "reports", "retries", "starts", "states")

    def __init__(
        self,
        snapshot: RunSnapshot,
        reports: list[dict[str, Any] | None],
        late: dict[int, tuple[tuple[str, str], ...]] | None,
    ) -> None:
        # The snapshot's lists are its own copies, never changed: holding them is safe.
        self.states = snapshot.states
        self.starts = snapshot.starts
        self.ends = snapshot.ends
        self.retries = snapshot.retries
        self.late = late  # a late outcome changes a report without changing the state
        self.reports = reports
        self.complete = None not in reports

    def unchanged(
        self, snapshot: RunSnapshot, late: dict[int, tuple[tuple[str, str], ...]] | None
    ) -> bool:
        """Whether every report is cached and no task changed since (a finished run)."""
        return (
            self.complete
            and self.states == snapshot.states
            and self.ends == snapshot.ends
            and self.starts == snapshot.starts
            and self.retries == snapshot.retries
            and self.late == late
        )


def cached_reports(
    run: RunView, snapshot: RunSnapshot, build: ReportBuilder, settled: frozenset[int]
) -> list[dict[str, Any]]:
    """One report per task, built by ``build`` and reused while the task's state, start and
    end times, attempts and abandoned attempts stay the same (an EventDriven node settles
    again on every pass; a pending one changes only when it starts). Tasks with live
    per-task figures (stream counters) are cached only once settled. Each call returns fresh
    outer dicts; the outputs inside are the engine's record, shared read-only."""
    cache = run.report_cache
    late = _late_versions(snapshot) if snapshot.late else None
    if isinstance(cache, ReportCache):
        if cache.unchanged(snapshot, late):
            return [report.copy() for report in cache.reports]  # type: ignore[union-attr]
        if len(cache.reports) != len(snapshot.states):
            cache = None
    else:
        cache = None
    states, starts = snapshot.states, snapshot.starts
    ends, retries = snapshot.ends, snapshot.retries
    reports: list[dict[str, Any] | None]
    if cache is None:
        stale = list(range(len(states)))
        reports = [None] * len(states)
    else:
        old_states, old_starts = cache.states, cache.starts
        old_ends, old_retries = cache.ends, cache.retries
        reports = list(cache.reports)
        old_late, new_late = cache.late or {}, late or {}
        stale = [
            index
            for index, report in enumerate(reports)
            if report is None
            or old_states[index] != states[index]
            or old_ends[index] != ends[index]
            or old_starts[index] != starts[index]
            or old_retries[index] != retries[index]
            or old_late.get(index) != new_late.get(index)
        ]
    if stale:
        for index, report in zip(stale, build(run, snapshot, stale), strict=True):
            reports[index] = report
    result = [report.copy() for report in reports]  # type: ignore[union-attr]
    if snapshot.task_extras is not None:
        # Live figures: a report is kept only once its task settled.
        for index in stale:
            if states[index] not in settled:
                reports[index] = None
    # Swapped whole: two threads filling at once each leave a consistent cache.
    run.report_cache = ReportCache(snapshot, reports, late)
    return result


def _late_versions(snapshot: RunSnapshot) -> dict[int, tuple[tuple[str, str], ...]]:
    """Per task with abandoned attempts: what its reports show of them, to key the cache."""
    versions: dict[int, tuple[tuple[str, str], ...]] = {}
    for view in snapshot.late:
        versions[view.task] = (*versions.get(view.task, ()), (view.outcome, view.rollback))
    return versions
