"""Counters as events, sampled while someone wants them (``ITEM_COUNTS``, ``EVENT_COUNTS``).

Streaming item counters are sent as ``ITEM_COUNTS``, EventDriven event counters as
``EVENT_COUNTS``.

The stream's stages count items as they move (``items_in``, ``items_out``, ...) and an
EventDriven execution counts the events it received, completed and failed; posting an event
per item or per queued event would flood the owner thread. So while such an execution runs
and a subscriber wants its counts, a timer in the owner thread reads them every
``INTERVAL_MS`` and posts an event when they changed. The post happens under the run's lock,
where the run also posts its terminal event, so counts never follow the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

from .._engine import RunStatus
from ..contract.plan import ScheduleKind
from ..events import EventKind, ExecutionEvent

if TYPE_CHECKING:
    from .._engine import Engine, Run

#: How often counters are read while a Streaming or EventDriven execution runs.
INTERVAL_MS = 50
#: The counters a Streaming node reports.
ITEM_KEYS = ("items_in", "items_out", "items_dropped", "items_failed")


def item_counts(run: Run, extras: list[dict[str, Any]] | None) -> dict[str, dict[str, int]]:
    """``{node: {counter: n}}`` from a run's per-task figures (nodes with counters only)."""
    if not extras:
        return {}
    counts: dict[str, dict[str, int]] = {}
    for task, figures in zip(run.plan.tasks, extras, strict=False):
        found = {key: int(figures[key]) for key in ITEM_KEYS if key in figures}
        if found:
            counts[task.key] = found
    return counts


_SAMPLED = {ScheduleKind.STREAM: EventKind.ITEM_COUNTS, ScheduleKind.EVENT: EventKind.EVENT_COUNTS}


def node_runs(run: Run) -> dict[str, dict[str, float]]:
    """(lock held) Per node of an EventDriven run that ran: its runs and their times.

    ``runs``, ``failed_runs``, ``run_ms`` (their total) and ``last_ms`` (the latest run's).
    """
    extras = run.scheduler.task_extras() or []
    table = run.table
    found: dict[str, dict[str, float]] = {}
    for task, figures in zip(run.plan.tasks, extras, strict=False):
        if figures.get("runs"):
            started, ended = table.starts[task.index], table.ends[task.index]
            last = round((ended - started) * 1000, 3) if started and ended else 0.0
            found[task.key] = {**figures, "last_ms": last}
    return found


class ItemCountSampler(QObject):
    """Posts the counters of the Streaming and EventDriven executions it follows.

    ``ITEM_COUNTS`` for Streaming, ``EVENT_COUNTS`` for EventDriven (owner thread).
    """

    def __init__(self, engine: Engine, parent: QObject) -> None:
        super().__init__(parent)  # a child of the orchestrator: it goes when that goes
        self._engine = engine
        self._followed: dict[str, tuple[Run, Any]] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self._sample)

    def follow(self, run: Run) -> None:
        """Sample ``run`` until it ends (nothing for a batch run)."""
        if run.kind not in _SAMPLED or run.status in RunStatus.FINAL:
            return
        self._followed.setdefault(run.execution_id, (run, {}))
        if not self._timer.isActive():
            self._timer.start()

    def follow_all(self) -> None:
        """Sample every Streaming and EventDriven execution running now."""
        for run in self._engine.active_runs():
            self.follow(run)

    def _sample(self) -> None:
        pump = self._engine.pump
        for execution_id, (run, last) in list(self._followed.items()):
            with run.lock:
                if run.status in RunStatus.FINAL:
                    del self._followed[execution_id]
                    continue
                kind = _SAMPLED[run.kind]
                counts: Any
                args: tuple[Any, ...]
                if kind is EventKind.ITEM_COUNTS:
                    counts = item_counts(run, run.scheduler.task_extras())
                    args = (execution_id, counts)
                else:
                    counts = (dict(run.scheduler.run_extras()), node_runs(run))
                    args = (execution_id, *counts)
                if counts and counts != last and pump.wants(kind, execution_id):
                    self._followed[execution_id] = (run, counts)
                    pump.post(ExecutionEvent(kind, args, execution_id))
        if not self._followed:
            self._timer.stop()
