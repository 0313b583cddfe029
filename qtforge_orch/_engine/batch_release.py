"""Which tasks of a batch run go next: dependency counts, Control routing and the join rule.

When a task settles, each successor's count of unsettled predecessors drops; at zero the join
rule (``dataflow.should_run``) decides between the ready heap and Skipped, and a skip cascades
through what only it fed (a worklist, not recursion: skip cascades run through 20,000-step
chains). A resumed execution's tasks that completed before are restored here instead of
running: their recorded outputs feed their successors as if they had just completed.
"""

from __future__ import annotations

import heapq
import time
from typing import Any

from ..contract.plan import DataPolicy, TaskState
from ..errors import PluginError
from .dataflow import should_run
from .shared_data import SharedData
from .shell_protocol import RunShell
from .task_gates import route_control
from .task_table import COMPLETED, PENDING, SKIPPED

_P = PENDING
_C = COMPLETED
_S = SKIPPED


class Release:
    """A batch run's dependency bookkeeping (run lock held)."""

    __slots__ = (
        "_data",
        "_plan",
        "_ready",
        "_restored",
        "_states",
        "_tasks",
        "_transition",
        "active_control",
        "waiting",
    )

    def __init__(self, run: RunShell, ready: list[int], data: SharedData) -> None:
        plan = run.plan
        self._plan = plan
        self._tasks = plan.tasks
        self._states = run.table.states
        self._transition = run.transition
        self._ready = ready
        self._data = data
        self.waiting: list[int] = list(plan.dependency_counts)  # unsettled predecessors
        # Per task, the sources of its incoming Control edges that their condition activated.
        self.active_control: list[set[int] | None] = [None] * len(plan.tasks)
        resume = run.resume_seed
        self._restored = resume.outputs if resume is not None else None

    def route(self, index: int, output: dict[str, Any]) -> PluginError | None:
        """Activate the Control edges from task ``index`` that its ``output`` satisfies."""
        control = self._plan.control_out.get(index)
        if not control:
            return None
        return route_control(self._tasks, index, output, control, self.active_control)

    def settled(self, index: int) -> None:
        """Task ``index`` settled: decide the successors whose predecessors all have."""
        ready: list[int] | None = None
        waiting = self.waiting
        for succ in self._tasks[index].successors:
            left = waiting[succ] = waiting[succ] - 1
            if not left:
                if ready is None:
                    ready = [succ]
                else:
                    ready.append(succ)
        if ready is not None:
            self.release(ready)

    def release(self, candidates: list[int]) -> None:
        """Decide tasks whose predecessors have all settled: ready, skipped or restored."""
        plan, tasks, states, waiting = self._plan, self._tasks, self._states, self.waiting
        candidates.reverse()
        stack = candidates
        while stack:
            index = stack.pop()
            if states[index] != _P:
                continue
            if should_run(plan, tasks[index], states, self.active_control[index]):
                if self._restored is not None and index in self._restored:
                    self._restore(index, stack)
                    continue
                heapq.heappush(self._ready, index)
                continue
            self._transition(index, _S)
            for succ in reversed(tasks[index].successors):
                waiting[succ] -= 1
                if waiting[succ] == 0:
                    stack.append(succ)

    def _restore(self, index: int, stack: list[int]) -> None:
        """A resumed execution's task that completed before: Completed with its recorded
        output, without running (no step signals: nothing ran); its successors go on the
        worklist."""
        assert self._restored is not None
        output = self._restored[index]
        self.route(index, output)
        if self._plan.data is DataPolicy.SHARED:
            self._data.merge(index, output)
        self._transition(index, _C, output, time.time())
        waiting = self.waiting
        for succ in reversed(self._tasks[index].successors):
            waiting[succ] -= 1
            if waiting[succ] == 0:
                stack.append(succ)

    def problems(self) -> list[str]:
        """What is inconsistent in the ready heap and the counts (empty: nothing)."""
        found: list[str] = []
        ready, states = self._ready, self._states
        if len(set(ready)) != len(ready):
            found.append("a task is in the ready heap twice")
        found += [
            f"ready task {i} is {TaskState(states[i]).name}" for i in ready if states[i] != _P
        ]
        if any(count < 0 for count in self.waiting):
            found.append("a task waits for fewer than zero predecessors")
        return found
