"""Streaming's fused linear chains: a source -> processor -> ... -> sink chain runs as one
activation calling every stage per item. Fusion must be invisible: the same results, item
counters, item errors, signals, cancellation, pause and failure behaviour as stages running
on their own (``stream_scheduler.FUSE_CHAINS = False``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    PluginManager,
    WorkflowExecutionStatus,
    make_error,
)
from qtforge_orch._engine import stream_limit, stream_scheduler

from .v2_helpers import (
    Code,
    Mode,
    NodeType,
    conn,
    fn,
    node,
    node_status,
    register,
    start,
    status,
    workflow,
)

pytestmark = pytest.mark.timeout(60)

Status = WorkflowExecutionStatus
NODES = ("src", "inc", "check", "sink")
REPORT_KEYS = ("items_in", "items_out", "items_dropped", "items_failed", "item_errors", "status")


@pytest.fixture(autouse=True)
def cpu_bound_regardless_of_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fusion runs while activations are measured CPU-bound; a loaded test machine must not
    turn it off (the share is the thread's CPU time over its wall time)."""
    monkeypatch.setattr(stream_limit, "CPU_BOUND_SHARE", 0.0)


class Calls:
    """The order in which the chain's plugins were called."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def pairs(self, first: str, second: str) -> int:
        """How often a call of ``first`` was directly followed by one of ``second``."""
        log = self.log
        return sum(1 for a, b in pairwise(log) if a == first and b == second)


def _chain_plugins(plugins: PluginManager, calls: Calls, n: int, fail_at: int | None) -> list[Any]:
    received: list[Any] = []

    def src(params: dict[str, Any]) -> Iterator[int]:
        def generate() -> Iterator[int]:
            for i in range(n):
                if i == fail_at:
                    raise ConnectionError(f"source lost at {i}")
                yield i

        return generate()

    def inc(params: dict[str, Any]) -> Any:
        value = params["x"]
        calls.log.append("inc")
        if value % 97 == 5:
            raise ValueError(f"inc refuses {value}")
        if value % 89 == 3:
            return None  # a drop
        if value % 83 == 7:
            return {"other": value}  # an output without the port: counted, not forwarded
        return {"y": value + 1}

    def check(params: dict[str, Any]) -> Any:
        value = params["y"]
        calls.log.append("check")
        if value % 101 == 9:
            return make_error(Code.InvalidParameters, f"check rejects {value}")
        if value % 79 == 2:
            return None
        if value % 73 == 4:
            return 42  # not a dict: an item error
        return {"z": value * 2}

    def sink(params: dict[str, Any]) -> Any:
        calls.log.append("sink")
        if params["z"] % 71 == 0:
            raise KeyError("sink refuses")
        received.append(params["z"])
        return None if params["z"] % 67 == 1 else {"stored": True}

    fn(plugins, "src", src)
    fn(plugins, "inc", inc)
    fn(plugins, "check", check)
    fn(plugins, "sink", sink)
    return received


def _register_chain(advanced: AdvancedPluginOrchestrator, workflow_id: str, capacity: int) -> None:
    register(
        advanced,
        workflow(
            workflow_id,
            Mode.Streaming,
            [
                node("src", node_type=NodeType.Source, output_ports=["raw"]),
                node("inc", input_ports=["x"], output_ports=["y"]),
                node("check", input_ports=["y"], output_ports=["z"]),
                node("sink", node_type=NodeType.Sink, input_ports=["z"]),
            ],
            [
                conn("src", "inc", source_port="raw", target_port="x"),
                conn("inc", "check", source_port="y", target_port="y"),
                conn("check", "sink", source_port="z", target_port="z"),
            ],
            global_configuration={"stream_channel_capacity": capacity},
        ),
    )


def _run_chain(
    qtbot: Any,
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    *,
    n: int,
    capacity: int = 1024,
    fail_at: int | None = None,
) -> dict[str, Any]:
    calls = Calls()
    received = _chain_plugins(plugins, calls, n, fail_at)
    _register_chain(advanced, "chain", capacity)
    signals: list[tuple[Any, ...]] = []
    advanced.node_started.connect(lambda e, key: signals.append(("started", key)))
    advanced.node_completed.connect(lambda e, key, out: signals.append(("completed", key, out)))
    advanced.node_failed.connect(lambda e, key, error: signals.append(("failed", key, error)))
    execution_id = start(advanced, "chain")
    assert advanced.wait_for_execution(execution_id, 30_000)
    ctx = status(advanced, execution_id)
    reports = {
        key: {field: node_status(advanced, execution_id, key)[field] for field in REPORT_KEYS}
        for key in NODES
    }
    return {
        "status": ctx.status,
        "errors": ctx.error_messages,
        "received": received,
        "reports": reports,
        "signals": sorted(signals, key=repr),
        "started_order": [s[1] for s in signals if s[0] == "started"],
        "alternation": calls.pairs("check", "sink"),
    }


@pytest.mark.parametrize(("n", "capacity"), [(20_000, 1024), (5_000, 16)])
def test_fused_chain_is_invisible(
    qtbot: Any,
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    monkeypatch: pytest.MonkeyPatch,
    n: int,
    capacity: int,
) -> None:
    fused = _run_chain(qtbot, advanced, plugins, n=n, capacity=capacity)
    monkeypatch.setattr(stream_scheduler, "FUSE_CHAINS", False)
    plugins_alone = PluginManager()
    orch = AdvancedPluginOrchestrator(plugin_manager=plugins_alone)
    try:
        alone = _run_chain(qtbot, orch, plugins_alone, n=n, capacity=capacity)
    finally:
        assert orch.shutdown(5000)
    assert fused["status"] is Status.Completed, fused["errors"]
    # It did run fused: items went through check and sink one by one, not in batches.
    assert fused["alternation"] > n // 2
    assert alone["alternation"] < n // 10
    for key in ("status", "received", "reports", "signals", "started_order"):
        assert fused[key] == alone[key], key
    reports = fused["reports"]
    assert reports["src"]["items_out"] == n
    assert reports["inc"]["items_in"] == n
    assert reports["inc"]["items_failed"] > 0 and reports["inc"]["items_dropped"] > 0
    assert reports["check"]["items_failed"] > 0 and reports["check"]["items_dropped"] > 0
    assert reports["sink"]["items_failed"] > 0 and reports["sink"]["items_dropped"] > 0
    assert any("inc refuses" in e for e in reports["inc"]["item_errors"])
    assert any("check rejects" in e for e in reports["check"]["item_errors"])
    assert any("sink refuses" in e for e in reports["sink"]["item_errors"])
    # Every forwarded value reached the next stage, and every input is accounted for.
    for upstream, downstream in (("inc", "check"), ("check", "sink")):
        up, down = reports[upstream], reports[downstream]
        forwarded = up["items_out"] - _without_port(upstream, n)
        assert down["items_in"] == forwarded
        assert up["items_in"] == up["items_out"] + up["items_dropped"] + up["items_failed"]
    assert fused["started_order"] == list(NODES)


def _without_port(key: str, n: int) -> int:
    """How many of inc's outputs lack its port (counted as outputs, not forwarded)."""
    if key != "inc":
        return 0
    return sum(1 for v in range(n) if v % 97 != 5 and v % 89 != 3 and v % 83 == 7)


def _expected_sink_values(count: int) -> list[int]:
    """What the chain's sink stores of the source's first ``count`` items."""
    stored = []
    for value in range(count):
        if value % 97 == 5 or value % 89 == 3 or value % 83 == 7:
            continue
        y = value + 1
        if y % 101 == 9 or y % 79 == 2 or y % 73 == 4:
            continue
        if (y * 2) % 71 == 0:
            continue
        stored.append(y * 2)
    return stored


def test_a_source_failing_inside_a_fused_chain_fails_as_alone(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager, monkeypatch: Any
) -> None:
    fail_at = 12_345
    fused = _run_chain(qtbot, advanced, plugins, n=20_000, fail_at=fail_at)
    monkeypatch.setattr(stream_scheduler, "FUSE_CHAINS", False)
    plugins_alone = PluginManager()
    orch = AdvancedPluginOrchestrator(plugin_manager=plugins_alone)
    try:
        alone = _run_chain(qtbot, orch, plugins_alone, n=20_000, fail_at=fail_at)
    finally:
        assert orch.shutdown(5000)
    assert fused["status"] is Status.Failed
    assert fused["alternation"] > fail_at // 2
    for key in ("status", "errors", "started_order"):
        assert fused[key] == alone[key], key
    assert fused["reports"]["src"] == alone["reports"]["src"]
    assert fused["reports"]["src"]["items_out"] == fail_at
    assert any("source lost at 12345" in error for error in fused["errors"])
    # The failure ends the run. On their own, the stages downstream stop with the source's
    # last batch still in their inboxes; fused, the items pulled before the failure were
    # already through the chain (as in a generator chain): a longer prefix of the same items.
    assert fused["received"] == _expected_sink_values(fail_at)
    assert fused["received"][: len(alone["received"])] == alone["received"]
    assert {s[:2] for s in fused["signals"]} == {s[:2] for s in alone["signals"]}


def _two_stage(plugins: PluginManager, advanced: AdvancedPluginOrchestrator, hook: Any) -> Any:
    seen: list[int] = []

    def src(params: dict[str, Any]) -> Iterator[int]:
        return iter(range(200_000))

    def double(params: dict[str, Any]) -> dict[str, Any]:
        hook(params["v"])
        return {"w": params["v"] * 2}

    def sink(params: dict[str, Any]) -> dict[str, Any]:
        seen.append(params["w"])
        return {}

    fn(plugins, "src", src)
    fn(plugins, "double", double)
    fn(plugins, "sink", sink)
    register(
        advanced,
        workflow(
            "two",
            Mode.Streaming,
            [
                node("src", node_type=NodeType.Source, output_ports=["v"]),
                node("double", input_ports=["v"], output_ports=["w"]),
                node("sink", node_type=NodeType.Sink, input_ports=["w"]),
            ],
            [
                conn("src", "double", source_port="v", target_port="v"),
                conn("double", "sink", source_port="w", target_port="w"),
            ],
        ),
    )
    return seen


def test_cancel_inside_a_fused_activation_keeps_counters_exact(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    execution: list[str] = []

    def hook(value: int) -> None:
        if value == 50_000:
            assert advanced.cancel_execution(execution[0])

    seen = _two_stage(plugins, advanced, hook)
    execution.append(start(advanced, "two"))
    assert advanced.wait_for_execution(execution[0], 30_000)
    assert status(advanced, execution[0]).status is Status.Cancelled
    counts = {key: node_status(advanced, execution[0], key) for key in ("src", "double", "sink")}
    # Stopped at the slice boundary after the cancel, far before the end of the stream.
    assert 50_000 < len(seen) < 200_000
    assert seen == [2 * i for i in range(len(seen))]
    assert counts["double"]["items_out"] == counts["sink"]["items_in"] == len(seen)
    assert counts["double"]["items_in"] == len(seen)
    assert counts["src"]["items_in"] >= counts["double"]["items_in"]


def test_pause_inside_a_fused_activation_resumes_where_it_stopped(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    execution: list[str] = []
    paused = threading.Event()

    def hook(value: int) -> None:
        if value == 30_000:
            assert advanced.pause_execution(execution[0])
            paused.set()

    seen = _two_stage(plugins, advanced, hook)
    execution.append(start(advanced, "two"))
    assert paused.wait(10)
    waited = threading.Event()
    while status(advanced, execution[0]).status is not Status.Paused:
        waited.wait(0.01)  # polling the public status, not synchronising on time
    stopped_at = len(seen)
    assert 30_000 < stopped_at < 200_000
    assert advanced.resume_execution(execution[0])
    assert advanced.wait_for_execution(execution[0], 30_000)
    assert status(advanced, execution[0]).status is Status.Completed
    assert seen == [2 * i for i in range(200_000)]
    for key in ("src", "double", "sink"):
        report = node_status(advanced, execution[0], key)
        assert report["items_in"] == 200_000 and report["items_out"] == 200_000, key


def _fan_out(plugins: PluginManager, advanced: AdvancedPluginOrchestrator, capacity: int) -> Any:
    """src feeds two chains: a -> b -> sink_b (a processor heads it) and c -> d, whose
    outputs go to two sinks (a chain whose last stage has outlets)."""
    stored: dict[str, list[Any]] = {"sink_b": [], "sink_d1": [], "sink_d2": []}

    def collector(key: str) -> Any:
        def store(params: dict[str, Any]) -> Any:
            stored[key].append(params["v"])
            return None if params["v"] % 7 == 0 else {"ok": True}

        return store

    fn(plugins, "src", lambda p: iter(range(6000)))
    fn(plugins, "a", lambda p: {"v": p["v"] + 1} if p["v"] % 5 else None)
    fn(plugins, "b", lambda p: {"v": p["v"] * 3})
    fn(plugins, "c", lambda p: {"v": p["v"] - 1})
    fn(plugins, "d", lambda p: {"v": p["v"] * 2} if p["v"] % 11 else {"w": 0})
    for key in stored:
        fn(plugins, key, collector(key))
    names = ["src", "a", "b", "c", "d", *stored]
    edges = [("src", "a"), ("a", "b"), ("b", "sink_b"), ("src", "c"), ("c", "d")]
    edges += [("d", "sink_d1"), ("d", "sink_d2")]
    register(
        advanced,
        workflow(
            "fan",
            Mode.Streaming,
            [
                node(
                    name,
                    node_type=NodeType.Source
                    if name == "src"
                    else NodeType.Sink
                    if name.startswith("sink")
                    else NodeType.Processor,
                    input_ports=[] if name == "src" else ["v"],
                    output_ports=[] if name.startswith("sink") else ["v"],
                )
                for name in names
            ],
            [conn(x, y, source_port="v", target_port="v") for x, y in edges],
            global_configuration={"stream_channel_capacity": capacity},
        ),
    )
    execution_id = start(advanced, "fan")
    assert advanced.wait_for_execution(execution_id, 30_000)
    reports = {
        name: {field: node_status(advanced, execution_id, name)[field] for field in REPORT_KEYS}
        for name in names
    }
    return status(advanced, execution_id).status, stored, reports


@pytest.mark.parametrize("capacity", [1024, 8])
@pytest.mark.slow
def test_processor_headed_chains_and_chains_with_outlets_are_invisible(
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    monkeypatch: pytest.MonkeyPatch,
    capacity: int,
) -> None:
    claims: set[tuple[str, ...]] = set()
    claim = stream_scheduler.StreamScheduler._claim_chain

    def recorded(scheduler: stream_scheduler.StreamScheduler, index: int) -> list[int]:
        chain = claim(scheduler, index)
        if chain:
            claims.add(tuple(scheduler.tasks[i].key for i in [index, *chain]))
        return chain

    monkeypatch.setattr(stream_scheduler.StreamScheduler, "_claim_chain", recorded)
    fused = _fan_out(plugins, advanced, capacity)
    assert {("a", "b", "sink_b"), ("c", "d")} <= claims
    monkeypatch.setattr(stream_scheduler, "FUSE_CHAINS", False)
    plugins_alone = PluginManager()
    orch = AdvancedPluginOrchestrator(plugin_manager=plugins_alone)
    try:
        alone = _fan_out(plugins_alone, orch, capacity)
    finally:
        assert orch.shutdown(5000)
    assert fused[0] is Status.Completed
    assert fused == alone
    assert fused[2]["sink_d1"]["items_in"] == fused[2]["d"]["items_out"] - 6000 // 11 - 1
