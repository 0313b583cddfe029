"""Issue #8, root cause 4: streaming streams. Each test deadlocks (and times out) on an engine
that holds items back for company or pushes past a channel's capacity."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from qtforge_orch import AdvancedPluginOrchestrator, PluginManager

from .v2_helpers import (
    Mode,
    NodeType,
    conn,
    fn,
    node,
    node_status,
    register,
    start,
    workflow,
)

pytestmark = pytest.mark.timeout(30)


def _pipeline(
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    source: Any,
    sink: Any,
    capacity: int = 1024,
) -> None:
    fn(plugins, "src", source)
    fn(plugins, "sink", sink)
    register(
        advanced,
        workflow(
            "p",
            Mode.Streaming,
            [node("src", node_type=NodeType.Source), node("sink", node_type=NodeType.Sink)],
            [conn("src", "sink")],
            global_configuration={"stream_channel_capacity": capacity},
        ),
    )


def test_a_slow_sources_first_item_reaches_the_sink_before_the_third_is_made(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    """A source making an item every 50 ms: the sink must see item 0 long before the
    batch of 1,024 (or the 5 items there are) is complete."""
    produced_at: list[float] = []
    seen_at: list[float] = []
    pace = threading.Event()

    def source(params: dict[str, Any]) -> Iterator[int]:
        def items() -> Iterator[int]:
            for n in range(5):
                pace.wait(0.05)
                produced_at.append(time.monotonic())
                yield n

        return items()

    def sink(params: dict[str, Any]) -> dict[str, Any]:
        seen_at.append(time.monotonic())
        return {}

    _pipeline(advanced, plugins, source, sink)
    execution_id = start(advanced, "p")
    assert advanced.wait_for_execution(execution_id, 10000)
    assert len(seen_at) == 5
    assert seen_at[0] < produced_at[2], "item 0 waited for company"


def test_pulling_a_slow_source_stops_at_cancel(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    pulled: list[int] = []
    first = threading.Event()
    cancelled = threading.Event()

    def source(params: dict[str, Any]) -> Iterator[int]:
        def items() -> Iterator[int]:
            for n in range(10_000):
                pulled.append(n)
                first.set()
                yield n
                cancelled.wait(0.001 if n > 2 else 5)

        return items()

    _pipeline(advanced, plugins, source, lambda p: {})
    execution_id = start(advanced, "p")
    assert first.wait(5)
    assert advanced.cancel_execution(execution_id)
    cancelled.set()
    assert advanced.wait_for_execution(execution_id, 5000)
    count = len(pulled)
    assert count < 200, f"{count} items pulled from a cancelled source"


def test_every_channel_respects_its_capacity_splitter_included(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    received: list[Any] = []

    def slow_sink(params: dict[str, Any]) -> dict[str, Any]:
        received.append(params)
        return {}

    fn(plugins, "src", lambda p: iter(range(20)))
    fn(plugins, "split", lambda p: {"items": [p["value"]] * 200})
    fn(plugins, "sink", slow_sink)
    register(
        advanced,
        workflow(
            "fan",
            Mode.Streaming,
            [
                node("src", node_type=NodeType.Source),
                node("split", node_type=NodeType.Splitter),
                node("sink", node_type=NodeType.Sink),
            ],
            [conn("src", "split"), conn("split", "sink")],
            global_configuration={"stream_channel_capacity": 16},
        ),
    )
    execution_id = start(advanced, "fan")
    assert advanced.wait_for_execution(execution_id, 20000)
    assert len(received) == 4_000
    for name in ("split", "sink"):
        peak = node_status(advanced, execution_id, name)["items_queued_peak"]
        assert peak <= 16, f"{name} inbox held {peak} items (capacity 16)"


def test_event_driven_source_event_is_not_held_for_company(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    handled = threading.Event()
    waited: list[bool] = []

    def source(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        def items() -> Iterator[dict[str, Any]]:
            for n in range(3):
                yield {"n": n}
                waited.append(handled.wait(5))
                handled.clear()

        return items()

    fn(plugins, "src", source)
    fn(plugins, "sink", lambda p: handled.set() or {})
    register(
        advanced,
        workflow(
            "ev",
            Mode.EventDriven,
            [node("src", node_type=NodeType.Source), node("sink", node_type=NodeType.Sink)],
            [conn("src", "sink")],
        ),
    )
    execution_id = start(advanced, "ev")
    assert advanced.wait_for_execution(execution_id, 20000)
    assert waited == [True, True, True]


def test_a_pull_starts_at_one_item_or_at_the_run_it_is_given() -> None:
    """A source's first item goes at once (a run of one); a fused chain's later rounds of the
    same activation start at the run the previous round reached instead."""
    from qtforge_orch._engine import invoke

    def runs(first_run: int) -> tuple[list[int], Any, int]:
        produced: list[int] = []
        boundaries: list[int] = []

        def stopping() -> bool:
            boundaries.append(len(produced))  # asked once after each run
            return False

        more, reached = invoke.pull(
            iter(range(1000)), 300, produced, 60.0, stopping, 128, first_run
        )
        assert produced == list(range(300))
        return boundaries, more, reached

    boundaries, more, _ = runs(1)
    assert boundaries[:4] == [1, 3, 7, 15]
    assert more is True
    boundaries, more, reached = runs(64)
    assert boundaries == [64, 192, 300]
    assert more is True
    assert reached == 512  # the runs kept doubling: the source was fast
    produced: list[int] = []
    more, _ = invoke.pull(iter(range(10)), 300, produced, 60.0, lambda: False, 128, 64)
    assert more is False  # exhausted
    assert produced == list(range(10))
