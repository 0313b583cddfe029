"""``qtforge_orch.testing``: every example of docs/testing.md, run as written, plus the edges.

The examples use the plugin's own fixture names (``orchestrator``, ``advanced_orchestrator``,
``plugin_manager``, ``fake_clock``, ``signal_recorder``) exactly as a user's suite would.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    ConnectionType,
    ExecutionMode,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    PluginWorkflow,
    Workflow,
    WorkflowConnection,
    WorkflowExecutionMode,
    WorkflowNode,
    WorkflowNodeType,
    WorkflowStep,
)
from qtforge_orch.testing import (
    FakeClock,
    FlakyPlugin,
    HangingPlugin,
    SignalRecorder,
    SlowPlugin,
    StreamingSource,
    function_plugin,
)

pytestmark = pytest.mark.timeout(30)
ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------------------------
# docs/testing.md examples (keep in step with the page)


def test_a_workflow_runs(orchestrator: PluginOrchestrator, plugin_manager: PluginManager) -> None:
    plugin = function_plugin("math", double=lambda p: {"x": p["x"] * 2})
    plugin_manager.register_plugin(plugin)
    workflow = Workflow("double").add_step(WorkflowStep("d", "math", "double"))
    assert orchestrator.register_workflow(workflow)

    execution = orchestrator.execute_workflow("double", {"x": 21})

    assert execution, execution.error()
    status = orchestrator.get_execution_status(execution.value()).value()
    assert status["result"]["x"] == 42
    assert plugin.calls.names() == ["double"]


def test_signals_arrive_in_causal_order(
    orchestrator: PluginOrchestrator,
    plugin_manager: PluginManager,
    signal_recorder: SignalRecorder,
) -> None:
    plugin_manager.register_plugin(function_plugin("p", run=lambda p: {"ok": True}))
    workflow = Workflow("two").add_step(WorkflowStep("a", "p", "run"))
    workflow.add_step(WorkflowStep("b", "p", "run", dependencies=["a"]))
    assert orchestrator.register_workflow(workflow)

    execution_id = orchestrator.execute_workflow("two", async_=True).value()
    signal_recorder.settle(execution_id)  # terminal signal seen, nothing can follow it

    signal_recorder.assert_causal_order(execution_id)
    names = signal_recorder.names(execution_id)
    assert [n for n in names if n != "execution_progress_updated"] == [  # progress coalesces
        "workflow_started",
        "step_started",
        "step_completed",
        "step_started",
        "step_completed",
        "workflow_completed",
    ]


def test_a_60_second_retry_delay_takes_no_time(
    orchestrator: PluginOrchestrator, plugin_manager: PluginManager, fake_clock: FakeClock
) -> None:
    flaky = FlakyPlugin("net", failures=1, error=PluginErrorCode.NetworkError, command="fetch")
    plugin_manager.register_plugin(flaky)
    step = WorkflowStep("fetch", "net", "fetch", max_retries=1, retry_delay=timedelta(seconds=60))
    assert orchestrator.register_workflow(Workflow("wf").add_step(step))

    execution_id = orchestrator.execute_workflow("wf", async_=True).value()
    fake_clock.wait_for_timer(60)  # the failed attempt arms the retry from a worker thread
    assert flaky.call_count == 1
    fake_clock.advance(60)

    assert orchestrator.wait_for_execution(execution_id, 5000)
    assert flaky.call_count == 2
    status = orchestrator.get_execution_status(execution_id).value()
    assert status["status"] == "completed"


def test_a_30_second_step_timeout_fires_at_once(
    orchestrator: PluginOrchestrator, plugin_manager: PluginManager, fake_clock: FakeClock
) -> None:
    hanging = HangingPlugin("stuck", command="run")
    plugin_manager.register_plugin(hanging)
    step = WorkflowStep("s", "stuck", "run", timeout=timedelta(seconds=30))
    assert orchestrator.register_workflow(Workflow("wf").add_step(step))

    future = orchestrator.execute_workflow_async("wf")
    assert hanging.entered.wait(5)
    fake_clock.wait_for_timer(30)
    fake_clock.advance(30)

    result = future.result(5)
    assert not result and result.error().code is PluginErrorCode.Timeout
    assert hanging.cancelled.wait(5)  # the plugin was asked to stop through its context
    (step_result,) = orchestrator.get_step_results(future.execution_id).value()
    assert step_result.error_message == "step 's' timed out after 30000 ms"


def test_cancel_a_hanging_node(
    advanced_orchestrator: AdvancedPluginOrchestrator,
    plugin_manager: PluginManager,
    signal_recorder: SignalRecorder,
) -> None:
    hanging = HangingPlugin("hang")
    plugin_manager.register_plugin(hanging)
    workflow = PluginWorkflow(
        workflow_id="wf",
        execution_mode=WorkflowExecutionMode.Sequential,
        nodes=[WorkflowNode(node_id="n", plugin_id="hang")],
    )
    assert advanced_orchestrator.register_workflow(workflow)

    execution_id = advanced_orchestrator.execute_workflow("wf").value()
    assert hanging.entered.wait(5)
    assert advanced_orchestrator.cancel_execution(execution_id)

    terminal = signal_recorder.wait_for_terminal(execution_id, 5000)
    assert terminal.name == "workflow_cancelled"
    assert hanging.cancelled.wait(5)
    signal_recorder.assert_causal_order(execution_id)


def test_a_stream_of_items(
    advanced_orchestrator: AdvancedPluginOrchestrator, plugin_manager: PluginManager
) -> None:
    source = StreamingSource("numbers", count=100)
    sink = function_plugin("sink", execute=lambda p: {"seen": p["value"]})
    plugin_manager.register_plugin(source)
    plugin_manager.register_plugin(sink)
    workflow = PluginWorkflow(
        workflow_id="stream",
        execution_mode=WorkflowExecutionMode.Streaming,
        nodes=[
            WorkflowNode(
                node_id="src",
                plugin_id="numbers",
                node_type=WorkflowNodeType.Source,
                output_ports=["value"],
            ),
            WorkflowNode(
                node_id="out",
                plugin_id="sink",
                node_type=WorkflowNodeType.Sink,
                input_ports=["value"],
            ),
        ],
        connections=[
            WorkflowConnection(
                source_node="src",
                target_node="out",
                source_port="value",
                target_port="value",
                connection_type=ConnectionType.DataFlow,
            )
        ],
    )
    assert advanced_orchestrator.register_workflow(workflow)

    execution_id = advanced_orchestrator.execute_workflow("stream").value()

    assert advanced_orchestrator.wait_for_execution(execution_id, 10_000)
    assert source.exhausted.is_set() and source.yielded == 100
    assert sorted(c["value"] for c in sink.calls.params()) == list(range(100))


# --------------------------------------------------------------------------------------------
# the pieces on their own


def test_fixtures_share_the_plugin_manager_and_the_fake_clock(
    orchestrator: PluginOrchestrator,
    advanced_orchestrator: AdvancedPluginOrchestrator,
    plugin_manager: PluginManager,
    fake_clock: FakeClock,
) -> None:
    assert orchestrator.plugin_manager() is plugin_manager
    assert advanced_orchestrator.plugin_manager() is plugin_manager
    assert orchestrator._core.engine.timers is fake_clock
    assert advanced_orchestrator._core.engine.timers is fake_clock


def test_without_fake_clock_the_orchestrators_use_real_time(
    orchestrator: PluginOrchestrator,
) -> None:
    assert not isinstance(orchestrator._core.engine.timers, FakeClock)


def test_fake_clock_fires_in_deadline_order_and_only_when_due() -> None:
    clock = FakeClock(start=0.0)
    fired: list[str] = []
    clock.call_later(2.0, lambda: fired.append("two"))
    clock.call_later(0.5, lambda: fired.append("half"))
    cancelled = clock.call_later(1.0, lambda: fired.append("cancelled"))
    cancelled.cancel()
    assert clock.pending() == [0.5, 2.0]
    assert clock.advance_ms(499) == 0 and fired == []
    assert clock.advance_to_next() == pytest.approx(0.001)
    assert fired == ["half"]
    assert clock.advance_to_next() == pytest.approx(1.5)
    assert fired == ["half", "two"] and clock.now() == pytest.approx(2.0)
    with pytest.raises(LookupError):
        clock.advance_to_next()


def test_wait_for_timer_sees_a_timer_armed_from_another_thread() -> None:
    clock = FakeClock()
    go = threading.Event()

    def arm() -> None:
        go.wait(5)
        clock.call_later(60, lambda: None)

    worker = threading.Thread(target=arm)
    worker.start()
    go.set()
    assert clock.wait_for_timer(60) == [60]
    worker.join(5)
    with pytest.raises(TimeoutError):
        clock.wait_for_timer(at_least_s=61, timeout_ms=20)


def test_flaky_plugin_returns_its_error_code_then_succeeds() -> None:
    flaky = FlakyPlugin("f", failures=2, error=PluginErrorCode.Timeout, output={"ok": 1})
    first, second, third = (flaky.execute_command("execute", {"n": i}) for i in range(3))
    assert not first and first.error().code is PluginErrorCode.Timeout  # type: ignore[union-attr]
    assert not second
    assert third == {"ok": 1}
    assert [c["n"] for c in flaky.calls.params()] == [0, 1, 2]
    raising = FlakyPlugin("r", failures=1)
    with pytest.raises(RuntimeError, match="flaky failure 1"):
        raising({})
    assert raising({}) == {"calls": 2}


def test_slow_plugin_counts_overlapping_calls(
    orchestrator: PluginOrchestrator, plugin_manager: PluginManager
) -> None:
    slow = SlowPlugin("slow", seconds=0.2, command="run")
    plugin_manager.register_plugin(slow)
    workflow = Workflow("par").set_execution_mode(ExecutionMode.Parallel)
    for name in "abc":
        workflow.add_step(WorkflowStep(name, "slow", "run"))
    assert orchestrator.register_workflow(workflow)
    assert orchestrator.execute_workflow("par")
    assert slow.call_count == 3 and slow.finished == 3
    assert slow.max_active >= 2  # Parallel mode overlaps blocking steps
    assert len(slow.calls.threads()) >= 2


def test_hanging_plugin_ignoring_cancel_holds_until_released(
    orchestrator: PluginOrchestrator, plugin_manager: PluginManager
) -> None:
    stubborn = HangingPlugin("stubborn", command="run", ignore_cancel=True)
    plugin_manager.register_plugin(stubborn)
    assert orchestrator.register_workflow(
        Workflow("wf").add_step(WorkflowStep("s", "stubborn", "run"))
    )
    execution_id = orchestrator.execute_workflow("wf", async_=True).value()
    assert stubborn.entered.wait(5)
    assert orchestrator.cancel_workflow(execution_id)
    assert stubborn.cancelled.wait(5)
    assert orchestrator.wait_for_execution(execution_id, 5000)  # the run ends without it
    assert orchestrator.thread_pool().activeThreadCount() >= 1  # the call still blocks
    stubborn.release()
    assert orchestrator.thread_pool().waitForDone(5000)


def test_streaming_source_stops_when_cancelled() -> None:
    source = StreamingSource("s", count=1000, item=lambda i: {"i": i})
    items = source({})
    assert next(items) == {"i": 0}
    assert list(items)[-1] == {"i": 999}
    assert source.yielded == 1000 and source.exhausted.is_set()


def test_recorder_rejects_a_broken_order() -> None:
    from qtforge_orch.testing._recorder import Emission

    recorder = SignalRecorder.__new__(SignalRecorder)  # no orchestrator: fed by hand
    recorder._lock = threading.Lock()
    recorder.emissions = [
        Emission("workflow_started", ("e", "wf"), 1, True),
        Emission("workflow_completed", ("e", {}), 1, True),
        Emission("step_completed", ("e", "s", {}), 1, True),
    ]
    with pytest.raises(AssertionError, match="signals after workflow_completed"):
        recorder.assert_causal_order("e")
    recorder.emissions = [
        Emission("workflow_started", ("e", "wf"), 1, True),
        Emission("workflow_completed", ("e", {}), 2, False),
    ]
    with pytest.raises(AssertionError, match="outside the orchestrator's thread"):
        recorder.assert_causal_order("e")
    recorder.emissions = [Emission("step_started", ("e", "s"), 1, True)]
    with pytest.raises(AssertionError, match="not workflow_started"):
        recorder.assert_causal_order("e")


def test_recorder_records_every_signal_of_both_orchestrators(
    orchestrator: PluginOrchestrator, advanced_orchestrator: AdvancedPluginOrchestrator
) -> None:
    from qtforge_orch.testing._recorder import signal_names

    assert "step_retrying" in signal_names(orchestrator)
    assert {"workflow_paused", "node_failed"} <= set(signal_names(advanced_orchestrator))
    assert "destroyed" not in signal_names(orchestrator)
    with SignalRecorder(advanced_orchestrator) as recorder:
        advanced_orchestrator.workflow_paused.emit("x")
    advanced_orchestrator.workflow_paused.emit("after close")
    assert recorder.signals("workflow_paused") == [("x",)]


def test_the_plugin_module_imports_without_qt_or_pytest_qt() -> None:
    # pytest imports it in every session where qtforge_orch is installed.
    script = (
        "import sys; sys.modules['pytestqt'] = None\n"
        "import qtforge_orch.testing.plugin\n"
        "loaded = [m for m in sys.modules if m.startswith(('PySide6', 'pydantic'))]\n"
        "print('HEAVY' if loaded else 'LIGHT')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert result.stdout.strip() == "LIGHT", result.stdout + result.stderr


def test_the_plugin_is_registered_through_the_pytest11_entry_point(
    pytestconfig: pytest.Config,
) -> None:
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "qtforge_orch"]
    assert entry.value == "qtforge_orch.testing.plugin"
    assert pytestconfig.pluginmanager.has_plugin("qtforge_orch")


def test_recorder_wait_for_terminal_times_out_with_what_it_saw(
    advanced_orchestrator: AdvancedPluginOrchestrator, signal_recorder: SignalRecorder
) -> None:
    with pytest.raises(TimeoutError, match="no terminal signal"):
        signal_recorder.wait_for_terminal("never-started", 20)


def test_every_example_of_docs_testing_md_is_a_test_here() -> None:
    # The page's examples are copies of this module's first tests: keep them identical.
    import re

    page = (ROOT / "docs" / "testing.md").read_text()
    here = Path(__file__).read_text()
    examples = [
        block for block in re.findall(r"```py\n(.*?)```", page, re.DOTALL) if "def test_" in block
    ]
    assert len(examples) >= 5
    for block in examples:
        body = block[block.index("def test_") :].rstrip()
        assert body in here, f"docs/testing.md example not in this module:\n{body}"


def test_fake_clock_drives_a_v2_node_retry_too(
    advanced_orchestrator: AdvancedPluginOrchestrator,
    plugin_manager: PluginManager,
    fake_clock: FakeClock,
    signal_recorder: SignalRecorder,
) -> None:
    flaky = FlakyPlugin("flaky", failures=2)
    plugin_manager.register_plugin(flaky)
    node = WorkflowNode(
        node_id="n", plugin_id="flaky", configuration={"max_retries": 2, "retry_delay": 60_000}
    )
    workflow = PluginWorkflow(
        workflow_id="wf", execution_mode=WorkflowExecutionMode.Sequential, nodes=[node]
    )
    assert advanced_orchestrator.register_workflow(workflow)

    execution_id = advanced_orchestrator.execute_workflow("wf").value()
    for attempt in (1, 2):
        fake_clock.wait_for_timer(60)
        assert flaky.call_count == attempt  # nothing retries before the clock moves
        fake_clock.advance_to_next()

    assert signal_recorder.wait_for_terminal(execution_id).name == "workflow_completed"
    assert [c.attempt for c in flaky.calls.snapshot()] == [1, 2, 3]
    signal_recorder.settle(execution_id)
    signal_recorder.assert_causal_order(execution_id)
