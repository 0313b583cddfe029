"""B4's latency and bound figures (issue #8, item 4): how soon a slow source's first item
reaches the sink, and how many items are ever between a source and its sink.

Both are measured through plugins only (public API): the source counts what it has yielded,
the sink counts what it has received and notes when the first item arrived. "In flight" is
yielded minus received, sampled at every sink call: everything in the channels, the batches
stages are working on included. The documented bound (docs/semantics-v2.md, "Memory is bounded
by the channels") is the channels' total capacity, plus, behind a Splitter, one list's items
(and each entry of the Splitter's channel is a list).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from typing import Any

from ._common import Context, Figure, checked, plugins_with

SLOW_ITEMS = 30
SLOW_INTERVAL_S = 0.01  # a source producing 100 items/s
FEW_MS = 5.0  # issue #8: within one item's production time plus a few ms
FLOOD_ITEMS = 20_000
PIPELINE_CAPACITY = 64
SPLIT_CAPACITY = 16  # issue #8's case: a Splitter's outputs bypassed a 16-item channel
SPLIT_LIST = 100


class Flight:
    """Counters shared by one run's source and sink (single writers each; the GIL keeps the
    int reads whole)."""

    def __init__(self) -> None:
        self.started = 0.0
        self.first_at = 0.0
        self.produced = 0
        self.consumed = 0
        self.peak = 0
        self.channel_peak = 0  # the fullest inbox, as the engine reports it

    def reset(self) -> None:
        self.first_at = 0.0
        self.produced = self.consumed = self.peak = 0
        self.started = time.perf_counter()

    def sink(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self.consumed:
            self.first_at = time.perf_counter()
        self.peak = max(self.peak, self.produced - self.consumed)
        self.consumed += 1
        return {}


def _workflow(workflow_id: str, capacity: int, *, splitter: bool) -> Any:
    from qtforge_orch import (
        PluginWorkflow,
        WorkflowConnection,
        WorkflowExecutionMode,
        WorkflowNode,
        WorkflowNodeType,
    )

    def wire(a: str, a_port: str, b: str, b_port: str) -> WorkflowConnection:
        return WorkflowConnection(
            source_node=a, source_port=a_port, target_node=b, target_port=b_port
        )

    sink = WorkflowNode(
        node_id="sink", plugin_id="sink", node_type=WorkflowNodeType.Sink, input_ports=["value"]
    )
    if splitter:
        nodes = [
            WorkflowNode(
                node_id="source",
                plugin_id="lists",
                node_type=WorkflowNodeType.Source,
                output_ports=["rows"],
            ),
            WorkflowNode(
                node_id="split",
                plugin_id="split",
                node_type=WorkflowNodeType.Splitter,
                input_ports=["rows"],
                output_ports=["each"],
            ),
            sink,
        ]
        connections = [
            wire("source", "rows", "split", "rows"),
            wire("split", "each", "sink", "value"),
        ]
    else:
        nodes = [
            WorkflowNode(
                node_id="source",
                plugin_id="source",
                node_type=WorkflowNodeType.Source,
                output_ports=["value"],
            ),
            WorkflowNode(
                node_id="processor",
                plugin_id="processor",
                input_ports=["value"],
                output_ports=["value"],
            ),
            sink,
        ]
        connections = [
            wire("source", "value", "processor", "value"),
            wire("processor", "value", "sink", "value"),
        ]
    return PluginWorkflow(
        workflow_id=workflow_id,
        execution_mode=WorkflowExecutionMode.Streaming,
        nodes=nodes,
        connections=connections,
        global_configuration={"stream_channel_capacity": capacity},
    )


def _plugins(flight: Flight) -> Any:
    def source(params: dict[str, Any]) -> Iterator[int]:
        interval = float(params.get("interval_s", 0.0))
        for value in range(int(params["count"])):
            if interval:
                time.sleep(interval)  # the work of producing one item, not synchronisation
            flight.produced += 1
            yield value

    def lists(params: dict[str, Any]) -> Iterator[list[int]]:
        for start in range(0, int(params["count"]), SPLIT_LIST):
            flight.produced += SPLIT_LIST
            yield list(range(start, start + SPLIT_LIST))

    def processor(params: dict[str, Any]) -> dict[str, Any]:
        return {"value": params["value"] + 1}

    def split(params: dict[str, Any]) -> dict[str, Any]:
        return {"each": params["rows"]}

    return plugins_with(
        source=source, lists=lists, processor=processor, split=split, sink=flight.sink
    )


def streaming_latency(ctx: Context) -> list[Figure]:
    from qtforge_orch import AdvancedPluginOrchestrator

    flight = Flight()
    orch = AdvancedPluginOrchestrator(plugin_manager=_plugins(flight))
    default_capacity = 1024
    try:
        checked(orch.register_workflow(_workflow("slow", default_capacity, splitter=False)), "reg")
        checked(orch.register_workflow(_workflow("flood", PIPELINE_CAPACITY, splitter=False)), "r")
        checked(orch.register_workflow(_workflow("split", SPLIT_CAPACITY, splitter=True)), "reg")

        def run(workflow_id: str, data: dict[str, Any]) -> Flight:
            flight.reset()
            execution_id = checked(orch.execute_workflow(workflow_id, data), "execute")
            if not orch.wait_for_execution(execution_id, 120_000):
                raise RuntimeError(f"streaming run '{workflow_id}' did not end")
            if flight.consumed != flight.produced:
                raise RuntimeError(
                    f"'{workflow_id}': sink saw {flight.consumed} of {flight.produced} items"
                )
            flight.channel_peak = max(
                checked(orch.get_node_status(execution_id, node), "node status")[
                    "items_queued_peak"
                ]
                for node in ("source", "split", "processor", "sink")
                if orch.get_node_status(execution_id, node)
            )
            return flight

        slow_data = {"count": SLOW_ITEMS, "interval_s": SLOW_INTERVAL_S}
        run("slow", {"count": 3})  # warm-up
        latencies: list[float] = []
        walls: list[float] = []
        for _ in range(ctx.reps(3, 2)):
            done = run("slow", slow_data)
            latencies.append((done.first_at - done.started) * 1000)
            walls.append((time.perf_counter() - done.started) * 1000)
        flood = run("flood", {"count": FLOOD_ITEMS})
        peaks = {"flood": flood.peak, "flood_channel": flood.channel_peak}
        split = run("split", {"count": FLOOD_ITEMS})
        peaks.update(split=split.peak, split_channel=split.channel_peak)
    finally:
        orch.shutdown()
    latency = statistics.median(latencies)
    production_ms = SLOW_INTERVAL_S * 1000
    bound_ms = production_ms + FEW_MS
    return [
        Figure(
            "B4.first_item_latency",
            f"B4 first-item latency, source at {1 / SLOW_INTERVAL_S:.0f} items/s",
            "ms",
            latency,
            floor=production_ms,
            floor_name="1 item",
            ratio=latency,
            ratio_of="ours (ms)",
            target=f"<= {bound_ms:g} ms (#8)",
            met=latency <= bound_ms,
            method=(
                f"median of {len(latencies)} runs of a {SLOW_ITEMS}-item source that spends "
                f"{production_ms:g} ms producing each item -> processor -> sink (default "
                "capacity); from just before execute_workflow to the sink's first call; floor: "
                "one item's production time"
            ),
            extra={"samples_ms": latencies, "run_wall_ms": walls},
        ),
        _peak_figure(
            "B4.peak_in_flight",
            f"B4 peak items in flight, {FLOOD_ITEMS:,} items, capacity {PIPELINE_CAPACITY}",
            peaks["flood"],
            bound=2 * PIPELINE_CAPACITY,
            rule="2 x capacity",
            what="source -> processor -> sink",
        ),
        _peak_figure(
            "B4.peak_in_flight_splitter",
            f"B4 peak items in flight behind a Splitter, capacity {SPLIT_CAPACITY}",
            peaks["split"],
            bound=SPLIT_CAPACITY * SPLIT_LIST + SPLIT_CAPACITY + SPLIT_LIST,
            rule=f"capacity x {SPLIT_LIST} + capacity + {SPLIT_LIST}",
            what=f"source of {SPLIT_LIST}-item lists -> Splitter -> sink",
        ),
        Figure(
            "B4.peak_channel",
            f"B4 peak channel size (any inbox), capacity {PIPELINE_CAPACITY}; behind a "
            f"Splitter, capacity {SPLIT_CAPACITY}",
            "items",
            float(max(peaks["flood_channel"], peaks["split_channel"])),
            ratio=max(
                peaks["flood_channel"] / PIPELINE_CAPACITY,
                peaks["split_channel"] / SPLIT_CAPACITY,
            ),
            ratio_of="peak/capacity (worst of the two)",
            target="<= 1 (#8)",
            met=peaks["flood_channel"] <= PIPELINE_CAPACITY
            and peaks["split_channel"] <= SPLIT_CAPACITY,
            method=(
                "items_queued_peak of every node's inbox (get_node_status) after the flood "
                "and Splitter runs above; a Splitter's surplus waits in its own backlog"
            ),
            extra={"pipeline": peaks["flood_channel"], "splitter": peaks["split_channel"]},
        ),
    ]


def _peak_figure(
    figure_id: str, label: str, peak: int, *, bound: int, rule: str, what: str
) -> Figure:
    return Figure(
        figure_id,
        label,
        "items",
        float(peak),
        floor=float(bound),
        floor_name=f"bound: {rule}",
        ratio=peak / bound,
        ratio_of="peak/bound",
        target="<= 1 (#21)",
        met=peak <= bound,
        method=(
            f"{what}, fast source, {FLOOD_ITEMS:,} items; yielded minus received, sampled at "
            "every sink call (channels plus batches being worked on; a Splitter's current "
            "list counts too); bound: the documented one"
        ),
    )
