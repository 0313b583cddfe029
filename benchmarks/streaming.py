"""B4: Streaming throughput of source -> processor -> sink against a plain generator chain,
plus first-item latency and peak items in flight (``streaming_latency``), and items alive and
peak RSS with 1 MB items per topology (``streaming_memory``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._common import Context, Figure, checked, guarded, interleaved, plugins_with
from .streaming_latency import streaming_latency
from .streaming_memory import streaming_memory

ITEMS = 200_000
QUICK_ITEMS = 50_000
WARMUP_ITEMS = 10_000
REPEATS = 5  # interleaved, ours then the generator chain; the medians are compared


def source(params: dict[str, Any]) -> Iterator[int]:
    return iter(range(params["count"]))


def processor(params: dict[str, Any]) -> dict[str, Any]:
    return {"value": params["value"] + 1}


def sink(params: dict[str, Any]) -> dict[str, Any]:
    return {}


def generator_chain(count: int) -> None:
    """The floor: the same three functions wired as a plain Python generator chain."""
    processed = (processor({"value": value}) for value in source({"count": count}))
    for item in processed:
        sink({"value": item["value"]})


def _workflow() -> Any:
    from qtforge_orch import (
        PluginWorkflow,
        WorkflowConnection,
        WorkflowExecutionMode,
        WorkflowNode,
        WorkflowNodeType,
    )

    def node(node_id: str, kind: WorkflowNodeType, inputs: bool, outputs: bool) -> WorkflowNode:
        return WorkflowNode(
            node_id=node_id,
            plugin_id=node_id,
            node_type=kind,
            input_ports=["value"] if inputs else [],
            output_ports=["value"] if outputs else [],
        )

    def wire(a: str, b: str) -> WorkflowConnection:
        return WorkflowConnection(
            source_node=a, source_port="value", target_node=b, target_port="value"
        )

    return PluginWorkflow(
        workflow_id="stream",
        execution_mode=WorkflowExecutionMode.Streaming,
        nodes=[
            node("source", WorkflowNodeType.Source, False, True),
            node("processor", WorkflowNodeType.Processor, True, True),
            node("sink", WorkflowNodeType.Sink, True, False),
        ],
        connections=[wire("source", "processor"), wire("processor", "sink")],
    )


def b4_streaming(ctx: Context) -> list[Figure]:
    from qtforge_orch import AdvancedPluginOrchestrator, WorkflowExecutionStatus

    n = QUICK_ITEMS if ctx.quick else ITEMS
    orch = AdvancedPluginOrchestrator(
        plugin_manager=plugins_with(source=source, processor=processor, sink=sink)
    )
    sink_counts: list[int] = []
    try:
        checked(orch.register_workflow(_workflow()), "register_workflow")

        def run(count: int) -> bool:
            execution_id = checked(orch.execute_workflow("stream", {"count": count}), "execute")
            if not orch.wait_for_execution(execution_id, 120_000):
                return False
            status = checked(orch.get_execution_status(execution_id), "status")
            node = checked(orch.get_node_status(execution_id, "sink"), "node status")
            sink_counts.append(node["items_in"])
            return bool(status.status == WorkflowExecutionStatus.Completed)

        # The same warm-up on both sides: one run of WARMUP_ITEMS each, untimed.
        if not run(WARMUP_ITEMS):
            raise RuntimeError("warm-up streaming run did not complete")
        generator_chain(WARMUP_ITEMS)
        reps = ctx.reps(REPEATS, 1)
        times = interleaved(
            {"ours": lambda: run(n), "floor": lambda: generator_chain(n)}, reps, warmup=0
        )
    finally:
        orch.shutdown()
    if any(count != n for count in sink_counts[1:]):
        raise RuntimeError(f"sink saw {sink_counts[1:]} items, expected {n} per run")
    rate = {name: n / s.median for name, s in times.items()}
    ratio = rate["ours"] / rate["floor"]
    latency = guarded("B4.latency", "B4 latency and bounds", lambda: streaming_latency(ctx))
    memory = guarded("B4.memory", "B4 memory with 1 MB items", lambda: streaming_memory(ctx))
    return [
        Figure(
            "B4.throughput",
            f"B4 streaming {n:,} items source->processor->sink",
            "items/s",
            rate["ours"],
            floor=rate["floor"],
            floor_name="generators",
            ratio=ratio,
            ratio_of="ours/generators",
            target=">= 0.5",
            met=ratio >= 0.5,
            method=(
                f"median of {reps} interleaved runs after a {WARMUP_ITEMS:,}-item warm-up of "
                "each side; "
                "items / wall of execute_workflow + wait_for_execution (GUI thread waits, "
                "default pool, default channel capacity); floor: the same three functions as "
                "a plain generator chain"
            ),
            extra={name: s.to_json() for name, s in times.items()}
            | {
                "items": n,
                "ours_cpu_us_per_item": times["ours"].cpu_median / n * 1e6,
                "floor_cpu_us_per_item": times["floor"].cpu_median / n * 1e6,
                "pair_ratios": [
                    floor / ours
                    for ours, floor in zip(
                        times["ours"].seconds, times["floor"].seconds, strict=True
                    )
                ],
            },
        ),
        Figure(
            "B4.round_two",
            "B4 streaming: ours / generator chain, round-two bound",
            "items/s",
            rate["ours"],
            floor=rate["floor"],
            floor_name="generators",
            ratio=ratio,
            ratio_of="ours/generators",
            target=">= 0.8 (#14)",
            met=ratio >= 0.8,
            method="the figure above, checked against issue #14's bound",
        ),
        Figure(
            "B4.round_three",
            "B4 streaming: ours / generator chain, round-three bound",
            "items/s",
            rate["ours"],
            floor=rate["floor"],
            floor_name="generators",
            ratio=ratio,
            ratio_of="ours/generators",
            target=">= 1.0 (#24)",
            met=ratio >= 1.0,
            method="the figure above, checked against issue #24's bound (as fast as the "
            "generator chain, with memory bounded by the channels)",
        ),
        *latency,
        *memory,
    ]
