"""A Streaming run cancelled between the moment a thread takes a stage's activation
(``StreamScheduler.take``, one lock hold) and the moment it starts it (``work``, the next lock
hold): the stage was already cancelled with the run, so it must never be started (no
Cancelled -> Running transition, no node_started), and the activation's counters go back.

The engine's pool is replaced by one that starts nothing, so the test thread plays the drainer
and forces that interleaving: take, cancel, then work.
"""

from __future__ import annotations

from typing import Any

import pytest

from qtforge_orch import AdvancedPluginOrchestrator, PluginManager, WorkflowExecutionStatus
from qtforge_orch._engine import transition_checks
from qtforge_orch.contract.plan import TaskState

from .v2_helpers import Mode, NodeType, conn, fn, node, register, start, status, workflow

pytestmark = pytest.mark.timeout(60)


def _held_streaming_run(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, Any, list[str]]:
    """A started Streaming run (src -> sink) whose drainers never run, and the plugin calls."""
    calls: list[str] = []

    def src(params: dict[str, Any]) -> dict[str, Any]:
        calls.append("src")
        return {"value": 1}

    def sink(params: dict[str, Any]) -> dict[str, Any]:
        calls.append("sink")
        return {}

    fn(plugins, "src", src)
    fn(plugins, "sink", sink)
    register(
        advanced,
        workflow(
            "s",
            Mode.Streaming,
            [node("src", "src", NodeType.Source), node("sink", "sink", NodeType.Sink)],
            [conn("src", "sink")],
        ),
    )
    engine = advanced._core.engine
    monkeypatch.setattr(engine.executor, "submit", lambda function: None)
    execution_id = start(advanced, "s")
    run = engine.get_run(execution_id)
    assert run is not None
    return execution_id, run, calls


def test_an_activation_taken_before_a_cancel_never_starts_its_stage(
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    execution_id, run, calls = _held_streaming_run(advanced, plugins, monkeypatch)
    signals: list[str] = []
    advanced.node_started.connect(lambda _eid, node_id: signals.append(f"started {node_id}"))
    advanced.workflow_cancelled.connect(lambda _eid: signals.append("cancelled"))
    scheduler = run.scheduler
    with run.lock:
        unit = scheduler.take()  # a drainer's first lock hold: the source's activation
    assert unit is not None
    assert scheduler.running == 1
    assert advanced.cancel_execution(execution_id)  # between the drainer's two lock holds
    assert status(advanced, execution_id).status is WorkflowExecutionStatus.Cancelled
    assert scheduler.work(unit) is None  # the drainer's second lock hold
    assert transition_checks.transition_violations() == []
    assert calls == []  # no plugin ran for a cancelled stage
    with run.lock:
        assert run.table.states == [TaskState.Cancelled, TaskState.Cancelled]
        assert scheduler.running == 0
        assert not any(stage.active or stage.started for stage in scheduler.stages)
    run.validate()
    assert advanced.wait_for_execution(execution_id, 5000)
    final = status(advanced, execution_id)
    assert final.status is WorkflowExecutionStatus.Cancelled
    assert {state["status"] for state in final.node_states.values()} == {"cancelled"}
    advanced._core.engine.pump.drain()  # deliver whatever the run posted, here and now
    assert signals == ["cancelled"]
