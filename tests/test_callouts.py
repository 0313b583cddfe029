"""Issue #8, root cause 1: user code never runs under an engine lock or on the timer thread.

Each scenario deadlocked permanently before the fix, so each runs in a subprocess with a
deadline: a regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import pytest

from tests.subprocess_helpers import run_snippet

# Each scenario starts a Python process.
pytestmark = pytest.mark.slow


def test_done_callback_may_query_the_execution_it_belongs_to() -> None:
    out, _ = run_snippet(
        """
        gate = threading.Event()
        m = q.PluginManager()
        m.register_plugin(q.FunctionPlugin("p", run=lambda p: gate.wait(5) and {"x": 1}))
        orch = q.PluginOrchestrator(plugin_manager=m)
        orch.register_workflow(q.Workflow("w").add_step(q.WorkflowStep("a", "p", "run")))
        seen = []
        future = orch.execute_workflow_async("w")
        future.add_done_callback(
            lambda f: seen.append(orch.get_execution_status(f.execution_id).value()["status"]))
        gate.set()
        assert future.result(5)
        assert orch.wait_for_execution(future.execution_id, 5000)
        print(seen)
        """,
        timeout_s=20,
    )
    assert out.strip() == "['completed']"


def test_callback_of_a_run_ended_by_timeout_does_not_stop_other_timers() -> None:
    """The workflow timeout fires on the timer thread; a done-callback that calls back in used
    to deadlock that thread, and with it every retry and timeout in the process."""
    out, _ = run_snippet(
        """
        m = q.PluginManager()
        def hang(p, context):
            context.wait(10)
            return {}
        attempts = []
        def flaky(p):
            attempts.append(1)
            if len(attempts) < 3:
                raise RuntimeError("transient")
            return {"ok": True}
        m.register_plugin(q.FunctionPlugin("p", hang=hang, flaky=flaky))
        orch = q.PluginOrchestrator(plugin_manager=m)
        slow = q.Workflow("slow").add_step(q.WorkflowStep("h", "p", "hang"))
        slow.set_timeout(100)
        orch.register_workflow(slow)
        other = q.PluginOrchestrator(plugin_manager=m)
        retry = q.WorkflowStep("f", "p", "flaky")
        retry.max_retries = 3
        retry.retry_delay = 50
        other.register_workflow(q.Workflow("retry").add_step(retry))
        calls = []
        def callback(f):
            calls.append(orch.get_execution_status(f.execution_id).value()["status"])
            calls.append(threading.current_thread().name)
        future = orch.execute_workflow_async("slow")
        future.add_done_callback(callback)
        assert not future.result(5)
        assert other.execute_workflow("retry"), "retries stopped firing"
        assert orch.wait_for_execution(future.execution_id, 5000)
        print(calls[0], calls[1] != "qtforge-orch-timers", len(attempts))
        """,
        timeout_s=30,
    )
    assert out.split() == ["cancelled", "True", "3"]


EVENT_SOURCE = """
class Source(q.IPlugin, q.IEventSource):
    def __init__(self, stop_action, start_result="stop"):
        super().__init__()
        self.stop_action = stop_action
        self.start_result = start_result
        self.stopped = threading.Event()
    def id(self):
        return "src"
    def available_commands(self):
        return ["run"]
    def execute_command(self, command, params):
        return {}
    def start_events(self, configuration, emit):
        if self.start_result == "none":
            return None
        def stop():
            self.stopped.set()
            self.stop_action()
        return stop

def event_workflow(orch, m):
    m.register_plugin(q.FunctionPlugin("sink", execute=lambda p: {}))
    wf = q.PluginWorkflow(workflow_id="ev", execution_mode=q.WorkflowExecutionMode.EventDriven,
        nodes=[q.WorkflowNode(node_id="s", plugin_id="src",
                              node_type=q.WorkflowNodeType.Source),
               q.WorkflowNode(node_id="k", plugin_id="sink",
                              node_type=q.WorkflowNodeType.Sink)],
        connections=[q.WorkflowConnection(source_node="s", target_node="k")])
    assert orch.register_workflow(wf)
"""


def test_event_source_stop_may_query_the_orchestrator() -> None:
    out, _ = run_snippet(
        """
        m = q.PluginManager()
        orch = q.AdvancedPluginOrchestrator(plugin_manager=m)
        seen = []
        source = Source(lambda: seen.append(orch.get_execution_status(eid).value().status.name))
        m.register_plugin(source)
        event_workflow(orch, m)
        eid = orch.execute_workflow("ev").value()
        app.processEvents()
        assert orch.cancel_execution(eid)
        assert orch.wait_for_execution(eid, 5000)
        assert source.stopped.is_set()
        print(seen, orch.get_execution_status(eid).value().status.name)
        """,
        timeout_s=20,
        setup=EVENT_SOURCE,
    )
    assert out.split()[-1] == "Cancelled"


def test_event_source_stop_that_raises_is_contained_and_reported() -> None:
    out, _ = run_snippet(
        """
        m = q.PluginManager()
        orch = q.AdvancedPluginOrchestrator(plugin_manager=m)
        def boom():
            raise ValueError("stop failed")
        m.register_plugin(Source(boom))
        event_workflow(orch, m)
        eid = orch.execute_workflow("ev").value()
        app.processEvents()
        result = orch.cancel_execution(eid)
        assert result, result.error()
        assert orch.wait_for_execution(eid, 5000)
        status = orch.get_execution_status(eid).value()
        print(status.status.name)
        print(any("stop failed" in m for m in status.error_messages))
        """,
        timeout_s=20,
        setup=EVENT_SOURCE,
    )
    assert out.split() == ["Cancelled", "True"]


def test_start_events_returning_none_is_reported_and_cancel_still_works() -> None:
    out, _ = run_snippet(
        """
        m = q.PluginManager()
        orch = q.AdvancedPluginOrchestrator(plugin_manager=m)
        m.register_plugin(Source(lambda: None, start_result="none"))
        event_workflow(orch, m)
        eid = orch.execute_workflow("ev").value()
        app.processEvents()
        status = orch.get_execution_status(eid).value()
        print(any("must return a callable" in m for m in status.error_messages))
        if status.status.name == "Running":
            assert orch.cancel_execution(eid)
        assert orch.wait_for_execution(eid, 5000)
        print(orch.get_execution_status(eid).value().status.name in ("Cancelled", "Completed"))
        """,
        timeout_s=20,
        setup=EVENT_SOURCE,
    )
    assert out.split() == ["True", "True"]


def test_slot_that_calls_back_during_cancel_in_the_gui_thread() -> None:
    """A workflow_cancelled slot that reads status and starts another execution."""
    out, _ = run_snippet(
        """
        gate = threading.Event()
        m = q.PluginManager()
        def hold(p, context):
            while not context.wait(0.01):
                pass
            return {}
        m.register_plugin(q.FunctionPlugin("p", hold=hold, quick=lambda p: {"q": 1}))
        orch = q.PluginOrchestrator(plugin_manager=m)
        orch.register_workflow(q.Workflow("w").add_step(q.WorkflowStep("a", "p", "hold")))
        orch.register_workflow(q.Workflow("quick").add_step(q.WorkflowStep("a", "p", "quick")))
        results = []
        def on_cancelled(eid):
            results.append(orch.get_execution_status(eid).value()["status"])
            results.append(bool(orch.execute_workflow("quick")))
        orch.workflow_cancelled.connect(on_cancelled)
        eid = orch.execute_workflow("w", async_=True).value()
        assert orch.cancel_workflow(eid)
        assert orch.wait_for_execution(eid, 5000)
        print(results)
        """,
        timeout_s=20,
    )
    assert out.strip() == "['cancelled', True]"
