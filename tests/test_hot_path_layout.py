"""Layout guards for the objects the engine's hot path reads on every step.

CPython 3.11 keeps an instance's attributes in values whose keys its class shares, and its
fastest specialised reads (``LOAD_ATTR_INSTANCE_VALUE``, ``LOAD_METHOD_WITH_VALUES``) depend on
it; an instance with 30 or more attributes gets an ordinary dict instead, and the reads of the
hot path fall back to slower forms (measured: about +4 % instructions per step on B1's chain,
in ``_PyObject_GetMethod`` and dict lookups)."""

from __future__ import annotations

from typing import Any

import pytest

from qtforge_orch import FunctionPlugin, PluginManager, PluginOrchestrator, Workflow, WorkflowStep
from qtforge_orch._engine import batch

SHARED_KEYS_MAX = 29  # attributes that still get the shared keys


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
