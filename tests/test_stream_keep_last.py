"""A Streaming node's latest outputs, kept in its output when its configuration has
``keep_last: N`` (docs/semantics-v2.md, "Keeping a node's latest outputs")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from qtforge_orch import AdvancedPluginOrchestrator, PluginManager, WorkflowExecutionStatus
from qtforge_orch._engine import stream_limit, stream_scheduler

from .v2_helpers import Mode, NodeType, conn, fn, node, node_status, register, run_to_end, workflow

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(params=["fused", "unfused"])
def fusion(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Chains fused whenever they may be, or never: a kept node is the same either way."""
    if request.param == "fused":
        monkeypatch.setattr(stream_limit, "CPU_BOUND_SHARE", 0.0)
    else:
        monkeypatch.setattr(stream_scheduler, "FUSE_CHAINS", False)
    return str(request.param)


def _numbers(count: int) -> Any:
    def source(params: dict[str, Any]) -> Iterator[int]:
        return iter(range(count))

    return source


def test_a_leaf_processor_keeps_its_last_outputs_in_the_result(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, fusion: str
) -> None:
    seen: list[dict[str, Any]] = []

    def square(params: dict[str, Any]) -> dict[str, Any]:
        seen.append(dict(params))
        if params["n"] % 10 == 9:
            return None  # type: ignore[return-value]  # dropped items are not outputs
        return {"square": params["n"] ** 2}

    fn(plugins, "src", _numbers(100))
    fn(plugins, "square", square)
    register(
        advanced,
        workflow(
            "keep",
            Mode.Streaming,
            [
                node("src", node_type=NodeType.Source, output_ports=["n"]),
                node("square", input_ports=["n"], configuration={"keep_last": 3}),
            ],
            [conn("src", "square", source_port="n", target_port="n")],
        ),
    )
    execution_id, context = run_to_end(advanced, "keep")
    assert context.status == WorkflowExecutionStatus.Completed
    kept = [{"square": n * n} for n in (96, 97, 98)]
    result = context.execution_data["result"]["square"]
    assert result["last_outputs"] == kept
    assert result["items_out"] == 90 and result["items_dropped"] == 10
    assert node_status(advanced, execution_id, "square")["output"]["last_outputs"] == kept
    assert all("keep_last" not in params for params in seen), "an engine key reached the plugin"


def test_a_sink_a_source_and_an_aggregator_keep_theirs(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, fusion: str
) -> None:
    fn(plugins, "src", _numbers(10))
    fn(plugins, "double", lambda p: {"value": 2 * p["value"]})
    fn(plugins, "store", lambda p: {"stored": p["value"]})
    fn(plugins, "total", lambda p: {"sum": sum(p["value"])})
    register(
        advanced,
        workflow(
            "keep_all",
            Mode.Streaming,
            [
                node(
                    "src",
                    node_type=NodeType.Source,
                    output_ports=["value"],
                    configuration={"keep_last": 2},
                ),
                node("double", input_ports=["value"], output_ports=["value"]),
                node(
                    "store",
                    node_type=NodeType.Sink,
                    input_ports=["value"],
                    configuration={"keep_last": 4},
                ),
                node(
                    "total",
                    node_type=NodeType.Aggregator,
                    input_ports=["value"],
                    configuration={"window": 4, "keep_last": 5},
                ),
            ],
            [
                conn("src", "double", source_port="value", target_port="value"),
                conn("double", "store", source_port="value", target_port="value"),
                conn("double", "total", source_port="value", target_port="value"),
            ],
        ),
    )
    execution_id, context = run_to_end(advanced, "keep_all")
    assert context.status == WorkflowExecutionStatus.Completed
    result = context.execution_data["result"]
    assert result["store"]["last_outputs"] == [{"stored": v} for v in (12, 14, 16, 18)]
    # windows of 4 doubled values, then the last partial window
    assert result["total"]["last_outputs"] == [{"sum": 12}, {"sum": 44}, {"sum": 34}]
    source = node_status(advanced, execution_id, "src")["output"]
    assert source["last_outputs"] == [8, 9]
    assert "last_outputs" not in node_status(advanced, execution_id, "double")["output"]


def test_keep_last_is_ignored_outside_streaming_and_never_reaches_the_plugin(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    seen: list[dict[str, Any]] = []
    fn(plugins, "echo", lambda p: seen.append(dict(p)) or {"out": p.get("x", 0)})
    register(
        advanced,
        workflow(
            "batch",
            Mode.Sequential,
            [node("echo", configuration={"keep_last": 2, "x": 7})],
        ),
    )
    _, context = run_to_end(advanced, "batch")
    assert context.status == WorkflowExecutionStatus.Completed
    assert seen == [{"x": 7}]
    assert context.execution_data["result"] == {"echo": {"out": 7}}
