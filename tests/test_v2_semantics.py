"""Issue #8, root cause 7: v2 semantics on paths the first suite missed."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from qtforge_orch import AdvancedPluginOrchestrator, PluginManager

from .v2_helpers import Mode, NodeType, conn, fn, node, register, start, workflow

pytestmark = pytest.mark.timeout(30)


def test_splitter_processor_aggregator_with_ports_projects_each_item(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    """The Aggregator used to get [None] instead of [2, 4, 6]."""
    got: list[Any] = []
    fn(plugins, "split", lambda p: {"items": [1, 2, 3]})
    fn(plugins, "double", lambda p: {"value": p["item"] * 2})
    fn(plugins, "collect", lambda p: got.append(p["values"]) or {"n": len(p["values"])})
    register(
        advanced,
        workflow(
            "spa",
            Mode.Parallel,
            [
                node("split", node_type=NodeType.Splitter, output_ports=["items"]),
                node("double", input_ports=["item"], output_ports=["value"]),
                node("collect", node_type=NodeType.Aggregator, input_ports=["values"]),
            ],
            [
                conn("split", "double", source_port="items", target_port="item"),
                conn("double", "collect", source_port="value", target_port="values"),
            ],
        ),
    )
    execution_id = start(advanced, "spa")
    assert advanced.wait_for_execution(execution_id, 5000)
    assert got == [[2, 4, 6]]


def test_mapped_node_port_reaches_a_plain_successor_as_a_list(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    got: list[Any] = []
    fn(plugins, "split", lambda p: {"items": [1, 2]})
    fn(plugins, "double", lambda p: {"value": p["item"] * 2})
    fn(plugins, "sink", lambda p: got.append(p["all"]) or {})
    register(
        advanced,
        workflow(
            "spp",
            Mode.Sequential,
            [
                node("split", node_type=NodeType.Splitter, output_ports=["items"]),
                node("double", input_ports=["item"], output_ports=["value"]),
                node("sink", node_type=NodeType.Sink, input_ports=["all"]),
            ],
            [
                conn("split", "double", source_port="items", target_port="item"),
                conn("double", "sink", source_port="value", target_port="all"),
            ],
        ),
    )
    execution_id = start(advanced, "spp")
    assert advanced.wait_for_execution(execution_id, 5000)
    assert got == [[2, 4]]


def _event_graph(advanced: AdvancedPluginOrchestrator, plugins: PluginManager, work: Any) -> None:
    fn(plugins, "work", work)
    register(advanced, workflow("ev", Mode.EventDriven, [node("work")]))


def test_passes_queued_when_paused_do_not_start_until_resumed(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    release = threading.Event()
    started: list[int] = []
    lock = threading.Lock()

    def work(params: dict[str, Any]) -> dict[str, Any]:
        with lock:
            started.append(params["n"])
        release.wait(10)
        return {}

    def count() -> int:
        with lock:
            return len(started)

    _event_graph(advanced, plugins, work)
    execution_id = start(advanced, "ev")
    completed: list[str] = []
    advanced.node_completed.connect(lambda eid, node_id, _out: completed.append(node_id))
    try:
        for n in range(10):
            assert advanced.post_event(execution_id, {"n": n})
        qtbot.waitUntil(lambda: count() > 0, timeout=5000)
        assert advanced.pause_execution(execution_id)
        release.set()
        # Passes already in their plugin call finish; had a queued pass started while
        # paused, it would run to the end too and all ten would have started.
        qtbot.waitUntil(lambda: len(completed) == count(), timeout=5000)
        assert count() < 10
        assert advanced.get_execution_status(execution_id).value().status.name == "Paused"
        assert advanced.resume_execution(execution_id)
        qtbot.waitUntil(lambda: count() == 10, timeout=5000)
    finally:
        release.set()
        advanced.cancel_execution(execution_id)


def test_passes_that_completed_before_a_cancel_are_counted(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    for trial in range(40):
        fn(plugins, f"w{trial}", lambda p: {"ok": True})
        register(advanced, workflow(f"ev{trial}", Mode.EventDriven, [node("n", f"w{trial}")]))
        execution_id = start(advanced, f"ev{trial}")
        completed: list[str] = []
        advanced.node_completed.connect(
            lambda eid, node_id, _out, seen=completed, me=execution_id: (
                eid == me and seen.append(node_id)
            )
        )
        assert advanced.post_event(execution_id, {"n": 1})
        assert advanced.post_event(execution_id, {"n": 2})
        qtbot.waitUntil(lambda seen=completed: len(seen) == 2, timeout=5000)
        assert advanced.cancel_execution(execution_id)
        assert advanced.wait_for_execution(execution_id, 5000)
        data = advanced.get_execution_status(execution_id).value().execution_data
        assert data["events_completed"] == 2, f"trial {trial}: {data}"


def test_a_slot_connected_after_the_start_hears_later_node_signals(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    gate = threading.Event()
    fn(plugins, "first", lambda p: gate.wait(10) and {"a": 1})
    fn(plugins, "second", lambda p: {"b": 2})
    register(
        advanced,
        workflow(
            "late",
            Mode.Sequential,
            [node("first"), node("second")],
            [conn("first", "second")],
        ),
    )
    execution_id = start(advanced, "late")
    heard: list[str] = []
    advanced.node_completed.connect(lambda eid, node_id, _out: heard.append(node_id))
    with qtbot.waitSignal(advanced.workflow_completed, timeout=5000):
        gate.set()
    assert heard == ["first", "second"]
    assert advanced.wait_for_execution(execution_id, 5000)
