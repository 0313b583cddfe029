"""Streaming memory is bounded by the channel capacities (docs/semantics-v2.md, "Memory").

Items are objects that count how many of them are alive (created by a source and not yet
freed), so each test checks the documented bound on what a run holds, in every topology:
fused and unfused chains, a Splitter, an Aggregator, a merge, a fan-out. The sinks are slow
(their work is a short wait), so upstream stages run ahead as far as the engine lets them;
the count is checked every time an item is made, whatever the timing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from qtforge_orch import AdvancedPluginOrchestrator, PluginManager, WorkflowExecutionStatus
from qtforge_orch._engine import stream_activation, stream_limit, stream_scheduler

from .v2_helpers import Mode, NodeType, conn, fn, node, register, run_to_end, workflow

pytestmark = pytest.mark.timeout(60)

SINK_WORK_S = 0.0003  # a slow sink's work per item (a device write), not synchronisation


class Census:
    """Counts the items alive: made by a source and not yet freed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.alive = 0
        self.peak = 0
        self.made = 0

    def item(self, n: int) -> Item:
        with self._lock:
            self.made += 1
            self.alive += 1
            self.peak = max(self.peak, self.alive)
        return Item(self, n)

    def freed(self) -> None:
        with self._lock:
            self.alive -= 1


class Item:
    """One stream item; its ``Census`` learns when it is freed."""

    __slots__ = ("census", "n")

    def __init__(self, census: Census, n: int) -> None:
        self.census = census
        self.n = n

    def __del__(self) -> None:
        self.census.freed()


@pytest.fixture(params=["default", "fused", "unfused", "cut"])
def scheduling(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How the stages are scheduled: as measured (default); chains fused and one activation
    at a time; never fused with activations running side by side; and every activation cut
    after its first slice (what a pause or a slow item does), side by side."""
    mode = str(request.param)
    if mode == "fused":
        monkeypatch.setattr(stream_limit, "CPU_BOUND_SHARE", 0.0)
    elif mode in ("unfused", "cut"):
        monkeypatch.setattr(stream_scheduler, "FUSE_CHAINS", False)
        monkeypatch.setattr(stream_limit, "CPU_BOUND_SHARE", 2.0)
    if mode == "cut":
        monkeypatch.setattr(stream_activation, "BATCH_WINDOW_S", 0.0)
    return mode


def _value_node(node_id: str, kind: NodeType, *, inputs: bool, outputs: bool, **extra: Any) -> Any:
    return node(
        node_id,
        node_type=kind,
        input_ports=["value"] if inputs else [],
        output_ports=["value"] if outputs else [],
        **extra,
    )


def _wire(source: str, target: str) -> Any:
    return conn(source, target, source_port="value", target_port="value")


def _slow_sink(params: dict[str, Any]) -> dict[str, Any]:
    time.sleep(SINK_WORK_S)
    return {}


def _run(
    advanced: AdvancedPluginOrchestrator,
    nodes: list[Any],
    connections: list[Any],
    capacity: int,
) -> None:
    register(
        advanced,
        workflow(
            "memory",
            Mode.Streaming,
            nodes,
            connections,
            global_configuration={"stream_channel_capacity": capacity},
        ),
    )
    _, context = run_to_end(advanced, "memory", timeout_ms=30_000)
    assert context.status == WorkflowExecutionStatus.Completed, context.error_messages


def _items(census: Census, count: int) -> Any:
    def source(params: dict[str, Any]) -> Iterator[Item]:
        return (census.item(n) for n in range(count))

    return source


@pytest.mark.parametrize("capacity", [1, 4, 16])
def test_source_processor_sink_holds_at_most_its_two_channels(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, scheduling: str, capacity: int
) -> None:
    census = Census()
    fn(plugins, "src", _items(census, 120))
    fn(plugins, "proc", lambda p: {"value": p["value"]})
    fn(plugins, "sink", _slow_sink)
    _run(
        advanced,
        [
            _value_node("src", NodeType.Source, inputs=False, outputs=True),
            _value_node("proc", NodeType.Processor, inputs=True, outputs=True),
            _value_node("sink", NodeType.Sink, inputs=True, outputs=False),
        ],
        [_wire("src", "proc"), _wire("proc", "sink")],
        capacity,
    )
    assert census.made == 120 and census.alive == 0
    assert census.peak <= 2 * capacity, f"{census.peak} items alive, bound {2 * capacity}"


@pytest.mark.parametrize("capacity", [1, 4, 16])
def test_source_sink_holds_at_most_one_channel(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, scheduling: str, capacity: int
) -> None:
    census = Census()
    fn(plugins, "src", _items(census, 120))
    fn(plugins, "sink", _slow_sink)
    _run(
        advanced,
        [
            _value_node("src", NodeType.Source, inputs=False, outputs=True),
            _value_node("sink", NodeType.Sink, inputs=True, outputs=False),
        ],
        [_wire("src", "sink")],
        capacity,
    )
    assert census.made == 120 and census.alive == 0
    assert census.peak <= capacity, f"{census.peak} items alive, bound {capacity}"


@pytest.mark.parametrize("capacity", [1, 4, 16])
def test_a_splitter_holds_its_channels_and_one_lists_outputs(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, scheduling: str, capacity: int
) -> None:
    """Lists of 4 items into a Splitter: its channel holds lists (4 items each), the sink's
    holds items, and the Splitter keeps at most one list's outputs beyond the room."""
    census = Census()
    per_list = 4

    def lists(params: dict[str, Any]) -> Iterator[list[Item]]:
        return ([census.item(n * per_list + k) for k in range(per_list)] for n in range(40))

    fn(plugins, "src", lists)
    fn(plugins, "split", lambda p: {"value": p["value"]})
    fn(plugins, "sink", _slow_sink)
    _run(
        advanced,
        [
            _value_node("src", NodeType.Source, inputs=False, outputs=True),
            _value_node("split", NodeType.Splitter, inputs=True, outputs=True),
            _value_node("sink", NodeType.Sink, inputs=True, outputs=False),
        ],
        [_wire("src", "split"), _wire("split", "sink")],
        capacity,
    )
    assert census.made == 160 and census.alive == 0
    bound = capacity * per_list + capacity + per_list
    assert census.peak <= bound, f"{census.peak} items alive, bound {bound}"


@pytest.mark.parametrize("capacity", [2, 8])
def test_a_fan_out_holds_at_most_the_slowest_branchs_channel(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, scheduling: str, capacity: int
) -> None:
    """One source into four sinks: every sink gets every item, so an item lives until the
    slowest sink has it; the source pulls only what every channel has room for."""
    census = Census()
    fn(plugins, "src", _items(census, 80))
    fn(plugins, "sink", _slow_sink)
    sinks = [f"sink{k}" for k in range(4)]
    _run(
        advanced,
        [
            _value_node("src", NodeType.Source, inputs=False, outputs=True),
            *(
                _value_node(name, NodeType.Sink, inputs=True, outputs=False, plugin_id="sink")
                for name in sinks
            ),
        ],
        [_wire("src", name) for name in sinks],
        capacity,
    )
    assert census.made == 80 and census.alive == 0
    assert census.peak <= capacity, f"{census.peak} items alive, bound {capacity}"


@pytest.mark.parametrize("capacity", [2, 8])
def test_an_aggregator_holds_its_channels_and_its_window(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, scheduling: str, capacity: int
) -> None:
    census = Census()
    window = 5

    def slow_count(params: dict[str, Any]) -> dict[str, Any]:
        time.sleep(SINK_WORK_S)
        return {"value": len(params["value"])}

    fn(plugins, "src", _items(census, 100))
    fn(plugins, "proc", lambda p: {"value": p["value"]})
    fn(plugins, "agg", slow_count)
    _run(
        advanced,
        [
            _value_node("src", NodeType.Source, inputs=False, outputs=True),
            _value_node("proc", NodeType.Processor, inputs=True, outputs=True),
            _value_node(
                "agg",
                NodeType.Aggregator,
                inputs=True,
                outputs=True,
                configuration={"window": window},
            ),
        ],
        [_wire("src", "proc"), _wire("proc", "agg")],
        capacity,
    )
    assert census.made == 100 and census.alive == 0
    bound = 2 * capacity + window
    assert census.peak <= bound, f"{census.peak} items alive, bound {bound}"


@pytest.mark.parametrize("capacity", [2, 8])
def test_a_merge_holds_its_channels(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, scheduling: str, capacity: int
) -> None:
    """Two sources into one processor: its one inbox is shared, so both together stay
    within it; the processor's outputs within the sink's."""
    census = Census()
    fn(plugins, "a", _items(census, 60))
    fn(plugins, "b", _items(census, 60))
    fn(plugins, "proc", lambda p: {"value": p["value"]})
    fn(plugins, "sink", _slow_sink)
    _run(
        advanced,
        [
            _value_node("a", NodeType.Source, inputs=False, outputs=True),
            _value_node("b", NodeType.Source, inputs=False, outputs=True),
            _value_node("proc", NodeType.Processor, inputs=True, outputs=True),
            _value_node("sink", NodeType.Sink, inputs=True, outputs=False),
        ],
        [_wire("a", "proc"), _wire("b", "proc"), _wire("proc", "sink")],
        capacity,
    )
    assert census.made == 120 and census.alive == 0
    assert census.peak <= 2 * capacity, f"{census.peak} items alive, bound {2 * capacity}"
