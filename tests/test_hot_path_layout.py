"""Layout guards for the objects the engine's hot path reads on every step.

CPython 3.11 keeps an instance's attributes in a dict whose keys its class shares, and its
specialised attribute reads depend on it; past 30 attributes that dict is converted to an
ordinary one and every ``self.x`` on the hot path takes the generic lookup (measured: about
+4 % instructions per step on B1's chain, in ``_PyObject_GetMethod`` and dict lookups)."""

from __future__ import annotations

from typing import Any

import pytest

from qtforge_orch import FunctionPlugin, PluginManager, PluginOrchestrator, Workflow, WorkflowStep
from qtforge_orch._engine import batch

SHARED_KEYS_MAX = 30


def test_a_batch_scheduler_stays_within_the_shared_key_limit(
    qapp: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted: list[int] = []
    begin = batch.BatchScheduler.begin

    def counting_begin(self: Any) -> None:
        counted.append(len(vars(self)))
        begin(self)

    monkeypatch.setattr(batch.BatchScheduler, "begin", counting_begin)
    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("p", run=lambda params: {}))
    orch = PluginOrchestrator(plugin_manager=plugins)
    try:
        assert orch.register_workflow(Workflow("w").add_step(WorkflowStep("s", "p", "run")))
        assert orch.execute_workflow("w")
    finally:
        assert orch.shutdown(10_000)
    assert counted and max(counted) <= SHARED_KEYS_MAX, counted
