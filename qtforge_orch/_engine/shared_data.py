"""v1's shared data: the execution's input, with each completed step's output merged in.

Steps that run concurrently (Parallel, Conditional) may write the same key; then the step that
comes later in the sequential order (dependency order, declaration ties: ``Plan.merge_rank``)
wins, whichever finished last, so the result is the same on every run, and the overlap is
recorded for the status.
"""

from __future__ import annotations

from typing import Any


class SharedData:
    """One batch run's shared data (run lock held)."""

    __slots__ = ("_ranks", "_writers", "overlaps", "values")

    def __init__(self, initial: dict[str, Any], ranks: tuple[int, ...] | None) -> None:
        self.values: dict[str, Any] = dict(initial)
        self._ranks = ranks  # None: steps never run concurrently, the last write wins
        self._writers: dict[Any, int] = {}  # key -> the task whose value it holds
        self.overlaps: dict[str, list[int]] = {}  # key -> the tasks that wrote it

    def merge(self, index: int, output: dict[str, Any]) -> None:
        """Task ``index`` completed with ``output``."""
        ranks = self._ranks
        if ranks is None:
            self.values.update(output)
            return
        writers, values = self._writers, self.values
        rank = ranks[index]
        for key, value in output.items():
            writer = writers.get(key)
            if writer is None:
                writers[key] = index
                values[key] = value
                continue
            overlap = self.overlaps.setdefault(str(key), [])
            for step in (writer, index):
                if step not in overlap:
                    overlap.append(step)
            if rank >= ranks[writer]:
                writers[key] = index
                values[key] = value
