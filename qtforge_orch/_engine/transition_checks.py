"""Checking a run's whole state after every transition: what the test suite turns on.

``check_every_transition()`` swaps the run shell's ``transition`` for one that validates the
run after the change (``Run.problems``: the task table's counts against its states, the
scheduler's ready queue and counters, the run's status against both) and refuses any
transition after the run's end. Off, the shell's own ``transition`` runs: no flag is read per
transition. What fails is recorded for ``transition_violations`` rather than raised: a
transition happens on whichever thread advances the run, where an exception would be lost.
"""

from __future__ import annotations

import itertools
from typing import Any

from ..contract.plan import TaskState
from .run import Run

_unchecked_transition = Run.transition
# Runs up to this size are checked after every transition. Each check reads every task, so a
# bigger run is checked after every (tasks / CHECK_FULLY_UP_TO)**2-th transition: about as many
# task reads in all as a run of this size, and the suite stays fast.
CHECK_FULLY_UP_TO = 256
_FULLY_SQUARED = CHECK_FULLY_UP_TO * CHECK_FULLY_UP_TO
_violations: list[str] = []
_transitions_seen = itertools.count()


def _checked_transition(
    self: Run, index: int, new: TaskState, value: Any = None, at: float = 0.0
) -> None:
    if self.end.finished:
        _violations.append(f"run {self.execution_id}: task {index} -> {new.name} after its end")
    _unchecked_transition(self, index, new, value, at)
    size = len(self.plan.tasks)
    if size > CHECK_FULLY_UP_TO and next(_transitions_seen) % (size * size // _FULLY_SQUARED):
        return
    found = self.problems()
    if found:
        _violations.append(
            f"run {self.execution_id} after task {index} -> {new.name}: " + "; ".join(found)
        )


def check_every_transition(enabled: bool = True) -> None:
    """Validate a run's whole state after each of its transitions from now on (or not)."""
    Run.transition = _checked_transition if enabled else _unchecked_transition  # type: ignore[method-assign]


def transition_violations() -> list[str]:
    """Every inconsistency found since the last call (and forget them)."""
    found = list(_violations)
    del _violations[: len(found)]
    return found
