"""A CompositePlugin registered in a PluginManager as a step or node: every mode of both
orchestrators on the thread executor, the process executor (shipped) and registration refusing
what cannot ship; timeouts, cancellation, failures and concurrent executions."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    CompositePlugin,
    CompositionBinding,
    ExecutionMode,
    FunctionPlugin,
    PluginComposition,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    Workflow,
    WorkflowExecutionStatus,
    WorkflowStep,
)

from .composition_helpers import Component, pipeline_composite, register
from .v2_helpers import Mode, NodeType, conn, node, run_to_end, start, status, workflow

Code = PluginErrorCode
Status = WorkflowExecutionStatus


@pytest.fixture
def composite(plugins: PluginManager) -> CompositePlugin:
    return pipeline_composite(plugins)


# --- PluginOrchestrator (v1), every mode -----------------------------------------------------
@pytest.mark.parametrize("mode", list(ExecutionMode), ids=lambda m: m.name)
def test_a_composite_is_a_step_in_every_v1_mode(
    orchestrator: PluginOrchestrator,
    composite: CompositePlugin,
    plugins: PluginManager,
    mode: ExecutionMode,
) -> None:
    register(plugins, FunctionPlugin("doubler", execute=lambda p: {"doubled": p["total"] * 2}))
    wf = (
        Workflow("uses_composite")
        .set_execution_mode(mode)
        .add_step(WorkflowStep("sum", "evens_sum", "process"))
        .add_step(WorkflowStep("double", "doubler", "execute", dependencies=["sum"]))
    )
    assert orchestrator.register_workflow(wf)
    executed = orchestrator.execute_workflow("uses_composite", {"count": 6})
    assert executed, executed.error() if not executed else ""
    result = orchestrator.get_execution_status(executed.value()).value()["result"]
    assert result["doubled"] == 24  # 2 + 4 + 6, doubled
    if mode is not ExecutionMode.Pipeline:  # where the result is the last step's output alone
        assert result["total"] == 12


# --- AdvancedPluginOrchestrator (v2), every mode ---------------------------------------------
@pytest.mark.parametrize(
    "mode", [Mode.Sequential, Mode.Parallel, Mode.Conditional], ids=lambda m: m.name
)
def test_a_composite_is_a_node_in_the_batch_modes(
    advanced: AdvancedPluginOrchestrator, composite: CompositePlugin, mode: Mode
) -> None:
    wf = workflow(
        "v2_batch",
        mode,
        [node("sum", "evens_sum", configuration={"method": "process"}, output_ports=["total"])],
    )
    assert advanced.register_workflow(wf)
    _, ctx = run_to_end(advanced, "v2_batch", {"count": 4})
    assert ctx.status is Status.Completed, ctx.error_messages
    assert ctx.execution_data["result"]["sum"]["total"] == 6


def test_a_composite_processes_every_item_in_streaming(
    advanced: AdvancedPluginOrchestrator, composite: CompositePlugin, plugins: PluginManager
) -> None:
    seen: list[int] = []
    register(
        plugins,
        FunctionPlugin("counts", execute=lambda p: iter(range(1, 6))),
        FunctionPlugin("collect", execute=lambda p: seen.append(p["total"]) or {}),
    )
    wf = workflow(
        "v2_stream",
        Mode.Streaming,
        [
            node("src", "counts", NodeType.Source, output_ports=["count"]),
            node(
                "sum",
                "evens_sum",
                configuration={"method": "process"},
                input_ports=["count"],
                output_ports=["total"],
            ),
            node("sink", "collect", NodeType.Sink, input_ports=["total"]),
        ],
        [
            conn("src", "sum", source_port="count", target_port="count"),
            conn("sum", "sink", source_port="total", target_port="total"),
        ],
    )
    assert advanced.register_workflow(wf)
    _, ctx = run_to_end(advanced, "v2_stream")
    assert ctx.status is Status.Completed, ctx.error_messages
    assert sorted(seen) == [0, 2, 2, 6, 6]  # evens of 1..n summed, n = 1..5


def test_a_composite_handles_posted_events(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, composite: CompositePlugin
) -> None:
    wf = workflow(
        "v2_events",
        Mode.EventDriven,
        [node("sum", "evens_sum", configuration={"method": "process"})],
    )
    assert advanced.register_workflow(wf)
    execution_id = start(advanced, "v2_events")
    for count in (2, 4):
        assert advanced.post_event(execution_id, {"count": count})
    qtbot.waitUntil(
        lambda: status(advanced, execution_id).execution_data["events_completed"] == 2, timeout=5000
    )
    assert status(advanced, execution_id).execution_data["events_failed"] == 0
    with qtbot.waitSignal(advanced.workflow_cancelled, timeout=5000):
        assert advanced.cancel_execution(execution_id)


# --- failures, timeouts, cancellation --------------------------------------------------------
def test_a_failing_component_fails_the_step_with_its_message(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    register(
        plugins,
        FunctionPlugin("ok", run=lambda p: {"x": 1}),
        FunctionPlugin("boom", run=lambda p: 1 / 0),
    )
    composition = (
        PluginComposition("fragile").set_strategy("Pipeline").add_plugin("ok").add_plugin("boom")
    )
    register(plugins, CompositePlugin(composition, plugins))
    assert orchestrator.register_workflow(
        Workflow("f").add_step(WorkflowStep("s", "fragile", "run"))
    )
    executed = orchestrator.execute_workflow("f")
    assert not executed and executed.error().code is Code.ExecutionFailed
    assert "component 'boom' command 'run' raised ZeroDivisionError" in executed.error().message


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown: lets a deliberately hung component return, so no thread is left."""
    event = threading.Event()
    yield event
    event.set()


def test_a_hung_component_times_the_step_out_and_nothing_runs_after_it(
    orchestrator: PluginOrchestrator, plugins: PluginManager, release: threading.Event
) -> None:
    entered, after = threading.Event(), threading.Event()

    def hang(params: dict[str, Any]) -> dict[str, Any]:
        entered.set()
        release.wait(30)  # deaf to cancellation
        return {"late": True}

    register(
        plugins,
        FunctionPlugin("hang", run=hang),
        FunctionPlugin("after", run=lambda p: after.set() or {}),
    )
    composition = (
        PluginComposition("stuck")
        .set_strategy("Pipeline")
        .set_primary_plugin("hang")
        .add_plugin("after")
    )
    register(plugins, CompositePlugin(composition, plugins))
    step = WorkflowStep("s", "stuck", "run", timeout=200)
    assert orchestrator.register_workflow(Workflow("t").add_step(step))
    began = time.monotonic()
    executed = orchestrator.execute_workflow("t")
    assert time.monotonic() - began < 5
    assert not executed and executed.error().code is Code.Timeout
    assert entered.is_set()
    release.set()  # the hung call returns: the composite finds its step cancelled...
    assert orchestrator.thread_pool().waitForDone(5000)  # ...and its call ends there
    assert not after.is_set()  # without starting the next component


def test_cancelling_reaches_a_component_through_the_composite(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    entered, stopped = threading.Event(), threading.Event()

    def cooperative(params: dict[str, Any], context: Any = None) -> dict[str, Any]:
        entered.set()
        if context.wait(30):  # returns at once when the step is cancelled
            stopped.set()
        return {}

    register(plugins, FunctionPlugin("slow", run=cooperative))
    register(plugins, CompositePlugin(PluginComposition("wrapped").add_plugin("slow"), plugins))
    assert advanced.register_workflow(
        workflow("c", Mode.Sequential, [node("n", "wrapped", configuration={"method": "run"})])
    )
    execution_id = start(advanced, "c")
    assert entered.wait(5)
    with qtbot.waitSignal(advanced.workflow_cancelled, timeout=5000):
        assert advanced.cancel_execution(execution_id)
    assert stopped.wait(5)


def test_one_composite_serves_many_executions_at_once(
    advanced: AdvancedPluginOrchestrator, composite: CompositePlugin
) -> None:
    nodes = [
        node(f"n{i}", "evens_sum", configuration={"method": "process", "count": i})
        for i in range(1, 9)
    ]
    assert advanced.register_workflow(workflow("fan", Mode.Parallel, nodes))
    ids = [start(advanced, "fan") for _ in range(4)]
    for execution_id in ids:
        assert advanced.wait_for_execution(execution_id, 20_000)
        ctx = status(advanced, execution_id)
        assert ctx.status is Status.Completed, ctx.error_messages
        assert {k: v["total"] for k, v in ctx.execution_data["result"].items()} == {
            f"n{i}": sum(range(2, i + 1, 2)) for i in range(1, 9)
        }


# --- process executor ------------------------------------------------------------------------
@pytest.fixture
def process_orch(qapp: object, plugins: PluginManager) -> Iterator[PluginOrchestrator]:
    orch = PluginOrchestrator(plugin_manager=plugins, default_executor="process", process_workers=1)
    yield orch
    assert orch.shutdown(10_000)


def test_a_composite_ships_to_a_worker_process_and_is_reshipped_when_it_changes(
    process_orch: PluginOrchestrator, composite: CompositePlugin, plugins: PluginManager
) -> None:
    assert process_orch.register_workflow(
        Workflow("remote").add_step(WorkflowStep("s", "evens_sum", "process"))
    )
    first = process_orch.execute_workflow("remote", {"count": 4})
    assert first, first.error() if not first else ""
    result = process_orch.get_execution_status(first.value()).value()["result"]
    assert result["total"] == 6 and result["pid"] != os.getpid()
    # A runtime change reaches the worker: summing the numbers themselves now.
    assert composite.unbind_plugins("evens", "kept")
    assert composite.unbind_plugins("reader", "numbers")
    assert composite.remove_plugin("evens")
    assert composite.bind_plugins(CompositionBinding("reader", "numbers", "summer", "values"))
    second = process_orch.execute_workflow("remote", {"count": 4})
    assert process_orch.get_execution_status(second.value()).value()["result"]["total"] == 10


def test_a_worker_rebuilds_a_composite_without_loading_qt(
    process_orch: PluginOrchestrator, composite: CompositePlugin, plugins: PluginManager
) -> None:
    register(plugins, CompositePlugin(PluginComposition("probe").add_plugin("qt_probe"), plugins))
    assert process_orch.register_workflow(
        Workflow("probe").add_step(WorkflowStep("s", "probe", "process"))
    )
    executed = process_orch.execute_workflow("probe")
    assert executed, executed.error() if not executed else ""
    probe = process_orch.get_execution_status(executed.value()).value()["result"]["qt_probe"]
    assert probe["pid"] != os.getpid() and probe["qt_loaded"] is False


def test_a_composite_that_cannot_ship_is_refused_at_registration(
    qapp: object, plugins: PluginManager
) -> None:
    class Locked(Component):
        def __init__(self) -> None:
            super().__init__("locked", run=lambda p: {})
            self.lock = threading.Lock()  # not even cloudpickle ships a lock

    register(plugins, FunctionPlugin("local", run=lambda p: {}))  # a lambda: pickle refuses it
    register(plugins, Locked())
    register(plugins, CompositePlugin(PluginComposition("local_only").add_plugin("local"), plugins))
    register(plugins, CompositePlugin(PluginComposition("lock_held").add_plugin("locked"), plugins))
    v1 = PluginOrchestrator(plugin_manager=plugins)
    v2 = AdvancedPluginOrchestrator(plugin_manager=plugins)
    try:
        step = WorkflowStep("s", "local_only", "run", parameters={"executor": "process"})
        refused = v1.register_workflow(Workflow("w").add_step(step))
        assert not refused and refused.error().code is Code.InvalidConfiguration
        message = refused.error().message
        assert message.startswith(
            "step 's': composite plugin 'local_only' cannot run on the process executor"
        )
        assert "its component 'local' cannot be pickled" in message
        assert v1.register_workflow(
            Workflow("w").add_step(WorkflowStep("s", "local_only", "run"))
        )  # thread: fine
        graph = workflow(
            "g",
            Mode.Sequential,
            [node("n", "lock_held", configuration={"method": "run"})],
            global_configuration={"executor": "dask"},
        )
        refused = v2.register_workflow(graph)
        assert not refused and refused.error().code is Code.InvalidWorkflowStructure
        assert (
            "node 'n': composite plugin 'lock_held' cannot run on the dask executor"
            in refused.error().message
        )
        assert "its component 'locked' cannot be pickled" in refused.error().message
        assert v2.get_registered_workflows() == []
    finally:
        assert v1.shutdown(5000) and v2.shutdown(5000)
