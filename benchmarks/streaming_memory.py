"""B4's memory figures: items alive and peak RSS with 1 MB items and a slow sink, per
topology, against the documented bound (docs/semantics-v2.md, "Memory is bounded by the
channels").

Each item is an object holding 1 MB (``bytearray``) that counts how many of its kind are
alive: made by the source and not yet freed. The sink spends 5 ms on each item (a device
write), so the source runs ahead as far as the engine lets it. Peak RSS is the process's
high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs`` before each run) over its
resident size just before the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ._common import Context, Figure, checked, plugins_with, rss_kib

ITEM_BYTES = 1 << 20
SINK_S = 0.005  # the sink's work per item
PER_LIST = 4  # items per list a Splitter splits
WINDOW = 8  # the Aggregator's window


class Census:
    """The items alive now and at most (a lock: sources and sinks run on pool threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.alive = 0
        self.peak = 0

    def item(self) -> Big:
        with self.lock:
            self.alive += 1
            self.peak = max(self.peak, self.alive)
        return Big(self)

    def freed(self) -> None:
        with self.lock:
            self.alive -= 1


class Big:
    """One 1 MB stream item."""

    __slots__ = ("census", "data")

    def __init__(self, census: Census) -> None:
        self.census = census
        self.data = bytearray(ITEM_BYTES)

    def __del__(self) -> None:
        self.census.freed()


@dataclass
class Topology:
    """One workflow shape: its name, capacity, items, bound and how to build it."""

    key: str
    label: str
    capacity: int
    items: int
    bound: int
    bound_rule: str
    build: Callable[[], tuple[list[Any], list[Any]]]


def _nodes() -> tuple[Any, Any]:
    from qtforge_orch import WorkflowConnection, WorkflowNode

    def node(node_id: str, kind: Any, plugin_id: str = "", **extra: Any) -> Any:
        from qtforge_orch import WorkflowNodeType

        has_in = kind is not WorkflowNodeType.Source
        has_out = kind is not WorkflowNodeType.Sink
        return WorkflowNode(
            node_id=node_id,
            plugin_id=plugin_id or node_id,
            node_type=kind,
            input_ports=["value"] if has_in else [],
            output_ports=["value"] if has_out else [],
            **extra,
        )

    def wire(a: str, b: str) -> Any:
        return WorkflowConnection(
            source_node=a, source_port="value", target_node=b, target_port="value"
        )

    return node, wire


def topologies(quick: bool) -> list[Topology]:
    from qtforge_orch import WorkflowNodeType as T

    node, wire = _nodes()
    scale = 2 if quick else 1

    def chain() -> tuple[list[Any], list[Any]]:
        return (
            [node("source", T.Source), node("processor", T.Processor), node("sink", T.Sink)],
            [wire("source", "processor"), wire("processor", "sink")],
        )

    def direct() -> tuple[list[Any], list[Any]]:
        return [node("source", T.Source), node("sink", T.Sink)], [wire("source", "sink")]

    def splitter() -> tuple[list[Any], list[Any]]:
        return (
            [node("lists", T.Source), node("split", T.Splitter), node("sink", T.Sink)],
            [wire("lists", "split"), wire("split", "sink")],
        )

    def fan_out() -> tuple[list[Any], list[Any]]:
        sinks = [f"sink{k}" for k in range(4)]
        return (
            [node("source", T.Source), *(node(name, T.Sink, "sink") for name in sinks)],
            [wire("source", name) for name in sinks],
        )

    def merge() -> tuple[list[Any], list[Any]]:
        return (
            [
                node("a", T.Source, "source"),
                node("b", T.Source, "source"),
                node("processor", T.Processor),
                node("sink", T.Sink),
            ],
            [wire("a", "processor"), wire("b", "processor"), wire("processor", "sink")],
        )

    def aggregator() -> tuple[list[Any], list[Any]]:
        return (
            [
                node("source", T.Source),
                node("processor", T.Processor),
                node("count", T.Aggregator, configuration={"window": WINDOW}),
            ],
            [wire("source", "processor"), wire("processor", "count")],
        )

    return [
        Topology("chain", "source->processor->sink", 8, 120 // scale, 16, "2 x capacity", chain),
        Topology(
            "chain_64", "source->processor->sink", 64, 400 // scale, 128, "2 x capacity", chain
        ),
        Topology("direct", "source->sink", 16, 120 // scale, 16, "capacity", direct),
        Topology(
            "splitter",
            f"lists of {PER_LIST} -> Splitter -> sink",
            8,
            160 // scale,
            8 * PER_LIST + 8 + PER_LIST,
            f"capacity x {PER_LIST} + capacity + {PER_LIST}",
            splitter,
        ),
        Topology("fan_out", "source -> 4 sinks", 64, 200 // scale, 64, "capacity", fan_out),
        Topology(
            "aggregator",
            f"source->processor->Aggregator (window {WINDOW})",
            8,
            120 // scale,
            2 * 8 + WINDOW,
            f"2 x capacity + {WINDOW}",
            aggregator,
        ),
        Topology(
            "merge",
            "merge: 2 sources -> processor -> sink",
            8,
            60 // scale,
            16,
            "2 x capacity (one shared inbox)",
            merge,
        ),
    ]


def _plugins(census: Census, count: int) -> Any:
    def source(params: dict[str, Any]) -> Iterator[Big]:
        return (census.item() for _ in range(count))

    def lists(params: dict[str, Any]) -> Iterator[list[Big]]:
        return ([census.item() for _ in range(PER_LIST)] for _ in range(count // PER_LIST))

    def sink(params: dict[str, Any]) -> dict[str, Any]:
        time.sleep(SINK_S)  # the sink's work on one item
        return {}

    def count_window(params: dict[str, Any]) -> dict[str, Any]:
        time.sleep(SINK_S)
        return {"value": len(params["value"])}

    return plugins_with(
        source=source,
        lists=lists,
        processor=lambda p: {"value": p["value"]},
        split=lambda p: {"value": p["value"]},
        sink=sink,
        count=count_window,
    )


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")  # resets VmHWM to the current RSS
    except OSError:
        return False
    return True


def _peak_rss_kib() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(topology: Topology) -> dict[str, float]:
    """One run of ``topology``: its peak items alive and peak RSS over the start, in MB."""
    import gc

    from qtforge_orch import (
        AdvancedPluginOrchestrator,
        PluginWorkflow,
        WorkflowExecutionMode,
        WorkflowExecutionStatus,
    )

    census = Census()
    orch = AdvancedPluginOrchestrator(plugin_manager=_plugins(census, topology.items))
    try:
        nodes, connections = topology.build()
        checked(
            orch.register_workflow(
                PluginWorkflow(
                    workflow_id=topology.key,
                    execution_mode=WorkflowExecutionMode.Streaming,
                    nodes=nodes,
                    connections=connections,
                    global_configuration={"stream_channel_capacity": topology.capacity},
                )
            ),
            "register_workflow",
        )
        gc.collect()
        before = rss_kib()
        exact = _reset_peak_rss()
        started = time.perf_counter()
        execution_id = checked(orch.execute_workflow(topology.key, {}), "execute_workflow")
        if not orch.wait_for_execution(execution_id, 120_000):
            raise RuntimeError(f"'{topology.key}' did not end")
        wall = time.perf_counter() - started
        status = checked(orch.get_execution_status(execution_id), "status")
        if status.status != WorkflowExecutionStatus.Completed:
            raise RuntimeError(f"'{topology.key}' ended {status.status}: {status.error_messages}")
        peak_rss = (_peak_rss_kib() if exact else rss_kib()) - before
    finally:
        orch.shutdown()
    return {
        "peak_items": float(census.peak),
        "peak_rss_mb": peak_rss / 1024,
        "wall_s": wall,
        "rss_exact": float(exact),
    }


def streaming_memory(ctx: Context) -> list[Figure]:
    figures: list[Figure] = []
    for topology in topologies(ctx.quick):
        measured = measure(topology)
        peak = measured["peak_items"]
        rss_mb = measured["peak_rss_mb"]
        bound_mb = topology.bound * ITEM_BYTES / (1 << 20)
        method = (
            f"{topology.items} items of 1 MB, the sink {SINK_S * 1000:g} ms per item, "
            f"capacity {topology.capacity}; items alive: made by the source and not yet freed, "
            "counted at every making"
        )
        figures.append(
            Figure(
                f"B4.memory_{topology.key}",
                f"B4 1 MB items alive, {topology.label}, capacity {topology.capacity}",
                "items",
                peak,
                floor=float(topology.bound),
                floor_name=f"bound: {topology.bound_rule}",
                ratio=peak / topology.bound,
                ratio_of="peak/bound",
                target="<= 1 (#21)",
                met=peak <= topology.bound,
                method=method,
                extra=measured | {"bound_items": topology.bound},
            )
        )
        figures.append(
            Figure(
                f"B4.rss_{topology.key}",
                f"B4 peak RSS with 1 MB items, {topology.label}, capacity {topology.capacity}",
                "MB",
                rss_mb,
                floor=bound_mb,
                floor_name="the bound's items",
                ratio=rss_mb / bound_mb,
                ratio_of="peak RSS/bound's MB",
                target="reported",
                method=method + "; peak RSS: VmHWM (reset before the run) over VmRSS before it",
                extra=measured,
            )
        )
    return figures
