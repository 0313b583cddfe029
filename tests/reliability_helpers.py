"""Shared pieces for the reliability tests (issue #5): builders, counters, bounded waits."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from qtforge_orch import (
    PluginOrchestrator,
    WorkflowStep,
)


def step(step_id: str, plugin: str, method: str, *deps: str, **fields: Any) -> WorkflowStep:
    s = WorkflowStep(step_id, plugin, method, **fields)
    s.dependencies = list(deps)
    return s


def v1_status(orch: PluginOrchestrator, execution_id: str) -> dict[str, Any]:
    found = orch.get_execution_status(execution_id)
    assert found, found.error()
    return found.value()


class CallCounter:
    """Counts calls per key, thread-safe."""

    def __init__(self) -> None:
        self.counts: Counter[Any] = Counter()
        self._lock = threading.Lock()

    def hit(self, key: Any) -> None:
        with self._lock:
            self.counts[key] += 1

    def snapshot(self) -> Counter[Any]:
        with self._lock:
            return Counter(self.counts)
