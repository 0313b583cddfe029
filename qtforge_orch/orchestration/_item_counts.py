"""Streaming item counters as ``ITEM_COUNTS`` events, sampled while someone wants them.

The stream's stages count items as they move (``items_in``, ``items_out``, ...); posting an
event per item would flood the owner thread. So while a Streaming execution runs and a
subscriber wants its counts, a timer in the owner thread reads them every
``INTERVAL_MS`` and posts an ``ITEM_COUNTS`` event when they changed. The post happens under
the run's lock, where the run also posts its terminal event, so counts never follow the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

from .._engine import RunStatus
from ..contract.plan import ScheduleKind
from ..events import EventKind, ExecutionEvent

if TYPE_CHECKING:
    from .._engine import Engine, Run

#: How often item counters are read while a Streaming execution runs.
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


class ItemCountSampler(QObject):
    """Posts ``ITEM_COUNTS`` for the Streaming executions it follows (owner thread)."""

    def __init__(self, engine: Engine, parent: QObject) -> None:
        super().__init__(parent)  # a child of the orchestrator: it goes when that goes
        self._engine = engine
        self._followed: dict[str, tuple[Run, dict[str, dict[str, int]]]] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self._sample)

    def follow(self, run: Run) -> None:
        """Sample ``run`` until it ends (nothing for a run that is not Streaming)."""
        if run.kind is not ScheduleKind.STREAM or run.status in RunStatus.FINAL:
            return
        self._followed.setdefault(run.execution_id, (run, {}))
        if not self._timer.isActive():
            self._timer.start()

    def follow_all(self) -> None:
        """Sample every Streaming execution running now."""
        for run in self._engine.active_runs():
            self.follow(run)

    def _sample(self) -> None:
        pump = self._engine.pump
        for execution_id, (run, last) in list(self._followed.items()):
            with run.lock:
                if run.status in RunStatus.FINAL:
                    del self._followed[execution_id]
                    continue
                counts = item_counts(run, run.scheduler.task_extras())
                if counts and counts != last and pump.wants(EventKind.ITEM_COUNTS, execution_id):
                    self._followed[execution_id] = (run, counts)
                    pump.post(
                        ExecutionEvent(EventKind.ITEM_COUNTS, (execution_id, counts), execution_id)
                    )
        if not self._followed:
            self._timer.stop()
