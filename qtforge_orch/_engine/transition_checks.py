"""Checking a run's whole state after every transition: what the test suite turns on.

``check_every_transition()`` wraps every entry of the transition table (``transitions.STEPS``,
in place: every caller reads that one list) in a step that refuses a transition after its
run's end (a late outcome's record excepted) and, once the task table is updated, validates
the run (``Run.problems``: the task table's counts against its states, the scheduler's ready
queue and counters, the run's status against both). Off, the table holds the plain steps:
nothing is checked or even read per transition. What fails is recorded for
``transition_violations`` rather than raised: a transition happens on whichever thread
advances the run, where an exception would be lost.
"""

from __future__ import annotations

import itertools
from typing import Any

from ..contract.plan import TaskState
from . import transitions
from .run import Run
from .task_table import TaskTable
from .transitions import STEPS, WIDTH, Step

_PLAIN = list(STEPS)
# Runs up to this size are checked after every transition. Each check reads every task, so a
# bigger run is checked after every (tasks / CHECK_FULLY_UP_TO)**2-th transition: about as many
# task reads in all as a run of this size, and the suite stays fast.
CHECK_FULLY_UP_TO = 256
_FULLY_SQUARED = CHECK_FULLY_UP_TO * CHECK_FULLY_UP_TO
_violations: list[str] = []
_transitions_seen = itertools.count()


def _checked(step: Step, new: TaskState) -> Step:
    def checked_step(table: TaskTable, index: int, value: Any, at: float) -> int:
        run = table.owner() if table.owner is not None else None
        if not isinstance(run, Run):
            return step(table, index, value, at)
        # A late outcome (an abandoned attempt returned) is recorded whenever it comes.
        if run.end.finished and step is not transitions.late:
            _violations.append(f"run {run.execution_id}: task {index} -> {new.name} after its end")
        effect = step(table, index, value, at)
        size = len(table.states)
        if size > CHECK_FULLY_UP_TO and next(_transitions_seen) % (size * size // _FULLY_SQUARED):
            return effect
        found = run.problems()
        if found:
            _violations.append(
                f"run {run.execution_id} after task {index} -> {new.name}: " + "; ".join(found)
            )
        return effect

    return checked_step


def check_every_transition(enabled: bool = True) -> None:
    """Validate a run's whole state after each of its transitions from now on (or not)."""
    transitions.owners_wanted = enabled
    for position, step in enumerate(_PLAIN):
        STEPS[position] = _checked(step, TaskState(position % WIDTH)) if enabled else step


def transition_violations() -> list[str]:
    """Every inconsistency found since the last call (and forget them)."""
    found = list(_violations)
    del _violations[: len(found)]
    return found
