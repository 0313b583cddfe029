"""``qtforge_orch.testing``: every example of docs/testing.md, run as written, plus the edges.

The page's ``py`` blocks that define tests are compiled here, each in its own namespace with
the page's line numbers, and collected as tests of this module: the page is the only copy.
They and the tests below use the plugin's own fixture names (``qtforge_orchestrator``,
``qtforge_advanced_orchestrator``, ``qtforge_plugin_manager``, ``qtforge_fake_clock``,
``qtforge_signal_recorder``) exactly as a user's suite would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    ExecutionMode,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    PluginWorkflow,
    Workflow,
    WorkflowExecutionMode,
    WorkflowNode,
    WorkflowStep,
)
from qtforge_orch.testing import (
    FakeClock,
    FlakyPlugin,
    HangingPlugin,
    SignalRecorder,
    SlowPlugin,
    StreamingSource,
    TimerKind,
)

pytestmark = pytest.mark.timeout(30)
ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "testing.md"


def _page_examples() -> dict[str, Any]:
    """The test functions the page's ``py`` blocks define, compiled with the page's lines."""
    text = PAGE.read_text(encoding="utf-8")
    found: dict[str, Any] = {}
    for match in re.finditer(r"^```py\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
        block = match.group(1)
        line = text.count("\n", 0, match.start(1))
        code = compile("\n" * line + block, str(PAGE), "exec")  # every block must compile
        if "def test_" not in block:
            continue  # a fragment (the conftest aliases), checked to compile only
        namespace: dict[str, Any] = {"__name__": f"docs_testing_md_line_{line + 1}"}
        exec(code, namespace)
        for name, value in namespace.items():
            if name.startswith("test_") and callable(value):
                assert name not in found, f"docs/testing.md defines {name} twice"
                found[name] = value
    return found


PAGE_EXAMPLES = _page_examples()
globals().update(PAGE_EXAMPLES)


def test_the_page_has_its_examples() -> None:
    assert len(PAGE_EXAMPLES) >= 8, sorted(PAGE_EXAMPLES)
    assert "test_nothing_starts_while_paused" in PAGE_EXAMPLES


# --------------------------------------------------------------------------------------------
# the pieces on their own


def test_fixtures_share_the_plugin_manager_and_the_fake_clock(
    qtforge_orchestrator: PluginOrchestrator,
    qtforge_advanced_orchestrator: AdvancedPluginOrchestrator,
    qtforge_plugin_manager: PluginManager,
    qtforge_fake_clock: FakeClock,
) -> None:
    assert qtforge_orchestrator.plugin_manager() is qtforge_plugin_manager
    assert qtforge_advanced_orchestrator.plugin_manager() is qtforge_plugin_manager
    assert qtforge_orchestrator._core.engine.timers is qtforge_fake_clock
    assert qtforge_advanced_orchestrator._core.engine.timers is qtforge_fake_clock


def test_without_fake_clock_the_orchestrators_use_real_time(
    qtforge_orchestrator: PluginOrchestrator,
) -> None:
    assert not isinstance(qtforge_orchestrator._core.engine.timers, FakeClock)


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
    qtforge_orchestrator: PluginOrchestrator, qtforge_plugin_manager: PluginManager
) -> None:
    slow = SlowPlugin("slow", seconds=0.2, command="run")
    qtforge_plugin_manager.register_plugin(slow)
    workflow = Workflow("par").set_execution_mode(ExecutionMode.Parallel)
    for name in "abc":
        workflow.add_step(WorkflowStep(name, "slow", "run"))
    assert qtforge_orchestrator.register_workflow(workflow)
    assert qtforge_orchestrator.execute_workflow("par")
    assert slow.call_count == 3 and slow.finished == 3
    assert slow.max_active >= 2  # Parallel mode overlaps blocking steps
    assert len(slow.calls.threads()) >= 2


def test_hanging_plugin_ignoring_cancel_holds_until_released(
    qtforge_orchestrator: PluginOrchestrator, qtforge_plugin_manager: PluginManager
) -> None:
    stubborn = HangingPlugin("stubborn", command="run", ignore_cancel=True)
    qtforge_plugin_manager.register_plugin(stubborn)
    assert qtforge_orchestrator.register_workflow(
        Workflow("wf").add_step(WorkflowStep("s", "stubborn", "run"))
    )
    execution_id = qtforge_orchestrator.execute_workflow("wf", async_=True).value()
    assert stubborn.entered.wait(5)
    assert qtforge_orchestrator.cancel_workflow(execution_id)
    assert stubborn.cancelled.wait(5)
    assert qtforge_orchestrator.wait_for_execution(execution_id, 5000)  # the run ends without it
    assert qtforge_orchestrator.thread_pool().activeThreadCount() >= 1  # the call still blocks
    stubborn.release()
    assert qtforge_orchestrator.thread_pool().waitForDone(5000)


def test_streaming_source_stops_when_cancelled() -> None:
    source = StreamingSource("s", count=1000, item=lambda i: {"i": i})
    items = source({})
    assert next(items) == {"i": 0}
    assert list(items)[-1] == {"i": 999}
    assert source.yielded == 1000 and source.exhausted.is_set()


def test_recorder_rejects_a_broken_order() -> None:
    from qtforge_orch.testing.recorder import Emission

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
    qtforge_orchestrator: PluginOrchestrator,
    qtforge_advanced_orchestrator: AdvancedPluginOrchestrator,
) -> None:
    from qtforge_orch.testing.recorder import signal_names

    assert "step_retrying" in signal_names(qtforge_orchestrator)
    assert {"workflow_paused", "node_failed"} <= set(signal_names(qtforge_advanced_orchestrator))
    assert "destroyed" not in signal_names(qtforge_orchestrator)
    with SignalRecorder(qtforge_advanced_orchestrator) as recorder:
        qtforge_advanced_orchestrator.workflow_paused.emit("x")
    qtforge_advanced_orchestrator.workflow_paused.emit("after close")
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
    qtforge_advanced_orchestrator: AdvancedPluginOrchestrator,
    qtforge_signal_recorder: SignalRecorder,
) -> None:
    with pytest.raises(TimeoutError, match="no terminal signal"):
        qtforge_signal_recorder.wait_for_terminal("never-started", 20)


def test_fake_clock_drives_a_v2_node_retry_too(
    qtforge_advanced_orchestrator: AdvancedPluginOrchestrator,
    qtforge_plugin_manager: PluginManager,
    qtforge_fake_clock: FakeClock,
    qtforge_signal_recorder: SignalRecorder,
) -> None:
    flaky = FlakyPlugin("flaky", failures=2)
    qtforge_plugin_manager.register_plugin(flaky)
    node = WorkflowNode(
        node_id="n", plugin_id="flaky", configuration={"max_retries": 2, "retry_delay": 60_000}
    )
    workflow = PluginWorkflow(
        workflow_id="wf", execution_mode=WorkflowExecutionMode.Sequential, nodes=[node]
    )
    assert qtforge_advanced_orchestrator.register_workflow(workflow)

    execution_id = qtforge_advanced_orchestrator.execute_workflow("wf").value()
    for attempt in (1, 2):
        qtforge_fake_clock.wait_for_timer(60)
        assert flaky.call_count == attempt  # nothing retries before the clock moves
        qtforge_fake_clock.advance_to_next()

    assert qtforge_signal_recorder.wait_for_terminal(execution_id).name == "workflow_completed"
    assert [c.attempt for c in flaky.calls.snapshot()] == [1, 2, 3]
    qtforge_signal_recorder.settle(execution_id)
    qtforge_signal_recorder.assert_causal_order(execution_id)


# --------------------------------------------------------------------------------------------
# fixtures in another project: prefixed names, and pytest-qt missing


OUTSIDE_PROJECT = """
def test_needs_pytest_qt(qtforge_orchestrator):
    pass

def test_works_without_pytest_qt(qtforge_plugin_manager, qtforge_fake_clock):
    assert qtforge_plugin_manager.list_plugins() == []
    assert qtforge_fake_clock.pending() == []

def test_generic_names_are_not_injected(orchestrator):
    pass
"""


@pytest.mark.slow  # a pytest session in a subprocess
def test_another_project_without_pytest_qt_gets_prefixed_fixtures_and_a_hint(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_app.py").write_text(OUTSIDE_PROJECT)
    plugin = ["-p", "no:qtforge_orch", "-p", "qtforge_orch.testing.plugin"]
    quiet = ["-p", "no:cacheprovider", "-rA"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:pytest-qt", *plugin, *quiet, "test_app.py"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"},
    )
    out = done.stdout
    assert "1 passed, 2 errors" in out, out
    assert "During handling" not in out and "FixtureLookupError" not in out
    assert "PASSED test_app.py::test_works_without_pytest_qt" in out
    assert (
        "qtforge_orchestrator needs pytest-qt (its qapp fixture makes the QApplication): "
        'pip install pytest-qt, or pip install "qtforge_orch[testing]"'
    ) in out
    assert "fixture 'orchestrator' not found" in out


def test_the_recorder_records_both_orchestrators_when_a_test_uses_both(
    qtforge_signal_recorder: SignalRecorder,
    qtforge_orchestrator: PluginOrchestrator,
    qtforge_advanced_orchestrator: AdvancedPluginOrchestrator,
) -> None:
    assert qtforge_signal_recorder.orchestrators == (
        qtforge_orchestrator,
        qtforge_advanced_orchestrator,
    )


def test_the_recorder_finds_an_orchestrator_requested_through_another_fixture(
    qtforge_signal_recorder: SignalRecorder, advanced: AdvancedPluginOrchestrator
) -> None:
    # ``advanced`` is this suite's alias (tests/conftest.py): what a user's conftest would do.
    assert qtforge_signal_recorder.orchestrators == (advanced,)


# --------------------------------------------------------------------------------------------
# what the fake clock's timers are for


def test_timers_carry_their_kind_execution_and_step(
    qtforge_orchestrator: PluginOrchestrator,
    qtforge_plugin_manager: PluginManager,
    qtforge_fake_clock: FakeClock,
) -> None:
    hanging = HangingPlugin("stuck", command="run")
    qtforge_plugin_manager.register_plugin(hanging)
    assert qtforge_orchestrator.register_workflow(
        Workflow("wf").add_step(WorkflowStep("s", "stuck", "run"))  # default timeouts
    )
    execution_id = qtforge_orchestrator.execute_workflow("wf", async_=True).value()
    assert hanging.entered.wait(5)
    qtforge_fake_clock.wait_for_timer(kind=TimerKind.STEP_TIMEOUT)

    armed = {(t.kind, t.step_id): t for t in qtforge_fake_clock.timers(execution_id=execution_id)}
    assert armed[("step_timeout", "s")].delay_s == 60  # WorkflowStep's default
    assert armed[("workflow_timeout", "")].delay_s == 300  # Workflow's default
    assert qtforge_fake_clock.pending(TimerKind.WORKFLOW_TIMEOUT) == [300]
    assert qtforge_fake_clock.pending(execution_id="another") == []
    with pytest.raises(TimeoutError, match="of kind 'retry' for step 's'"):
        qtforge_fake_clock.wait_for_timer(kind=TimerKind.RETRY, step_id="s", timeout_ms=10)
    hanging.release()
    assert qtforge_orchestrator.wait_for_execution(execution_id, 5000)


def test_advance_to_timer_moves_exactly_to_the_matching_timer() -> None:
    clock = FakeClock(start=0.0)
    fired: list[str] = []
    clock.call_later(5, lambda: fired.append("stall"), kind=TimerKind.STALL_GUARD)
    clock.call_later(30, lambda: fired.append("timeout"), kind="step_timeout", step_id="a")
    clock.call_later(30, lambda: fired.append("retry"), kind=TimerKind.RETRY, step_id="a")
    clock.call_later(40, lambda: fired.append("later"), kind=TimerKind.RETRY, step_id="b")

    timer = clock.advance_to_timer(TimerKind.RETRY, step_id="a")

    assert (timer.kind, timer.step_id, timer.delay_s) == ("retry", "a", 30)
    assert fired == ["stall", "timeout", "retry"]  # time passed them; not the later one
    assert clock.now() == 30
    assert [(t.kind, t.delay_s) for t in clock.timers()] == [("retry", 10)]
    assert repr(clock).startswith("FakeClock(now=30.0, pending=[PendingTimer(")
