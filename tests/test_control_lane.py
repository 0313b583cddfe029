"""Issue #8, root causes 2, 3 and 5: control work never waits for plugin work, cancellation
reaches every plugin, and an orchestrator that is destroyed mid-run lets go cleanly."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QThreadPool

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    StepContext,
    Workflow,
)

from .reliability_helpers import step
from .subprocess_helpers import run_snippet
from .v2_helpers import Mode, NodeType, conn, fn, node, register, start, workflow

# Interpreter exits in subprocesses and bounded shutdowns that wait out their bounds: slow as a
# whole (pytest -m "not slow" skips it).
pytestmark = pytest.mark.slow


class Stuck:
    """A command that ignores cancellation until released (as badly written plugins do)."""

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        self.entered.release()
        self.release.wait(30)
        return {}


def test_event_driven_cancel_does_not_wait_behind_the_passes_it_cancels(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    stuck = Stuck()
    fn(plugins, "work", stuck)
    register(advanced, workflow("ev", Mode.EventDriven, [node("n", "work")]))
    execution_id = start(advanced, "ev")
    try:
        for n in range(12):  # more passes than pool threads: most wait in the queue
            assert advanced.post_event(execution_id, {"n": n})
        assert stuck.entered.acquire(timeout=5)
        began = time.monotonic()
        assert advanced.cancel_execution(execution_id)
        assert advanced.wait_for_execution(execution_id, 3000)
        assert time.monotonic() - began < 2.0
        assert advanced.get_execution_status(execution_id).value().status.name == "Cancelled"
    finally:
        stuck.release.set()


def test_rollback_does_not_wait_for_a_hung_plugin(qapp: Any, plugins: PluginManager) -> None:
    """One pool thread, held by a step that ignores its timeout: the rollback still runs."""
    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    orch = PluginOrchestrator(plugin_manager=plugins, thread_pool=pool)
    stuck = Stuck()
    undone = threading.Event()
    plugins.register_plugin(
        FunctionPlugin(
            "p", first=lambda p: {"made": 1}, hang=stuck, undo=lambda p: undone.set() or {}
        )
    )
    wf = Workflow("w").add_step(step("first", "p", "first"))
    hang = step("hang", "p", "hang", "first")
    hang.timeout = 300
    wf.add_step(hang)
    wf.add_rollback_step("first", step("undo", "p", "undo"))
    assert orch.register_workflow(wf)
    try:
        began = time.monotonic()
        execution_id = orch.execute_workflow("w", async_=True).value()
        assert orch.wait_for_execution(execution_id, 5000)
        assert time.monotonic() - began < 2.0
        status = orch.get_execution_status(execution_id).value()
        assert status["status"] == "failed"
        assert status["error_code"] == int(PluginErrorCode.Timeout)
        assert undone.is_set()
        assert status["rollbacks"] == [{"step_id": "first", "status": "completed", "error": ""}]
    finally:
        stuck.release.set()
        assert orch.shutdown(5000)


def test_nested_synchronous_workflow_that_fails_and_rolls_back_on_a_one_thread_pool() -> None:
    """The inner rollback used to wait for the only pool thread, which its parent held."""
    out, _ = run_snippet(
        """
        pool = QThreadPool(); pool.setMaxThreadCount(1)
        m = q.PluginManager()
        def fail(p):
            raise RuntimeError("inner failure")
        def outer(p):
            result = orch.execute_workflow("inner")
            return {"inner_ok": bool(result)}
        m.register_plugin(q.FunctionPlugin("p", first=lambda p: {"v": 1}, fail=fail,
                          undo=lambda p: print("undone", flush=True) or {}, outer=outer))
        orch = q.PluginOrchestrator(plugin_manager=m, thread_pool=pool)
        inner = q.Workflow("inner").add_step(q.WorkflowStep("first", "p", "first"))
        s = q.WorkflowStep("fail", "p", "fail"); s.dependencies = ["first"]
        inner.add_step(s)
        inner.add_rollback_step("first", q.WorkflowStep("undo", "p", "undo"))
        orch.register_workflow(inner)
        orch.register_workflow(q.Workflow("outer").add_step(q.WorkflowStep("o", "p", "outer")))
        done = orch.execute_workflow("outer")
        print(orch.get_execution_status(done.value()).value()["result"])
        """,
        timeout_s=20,
    )
    assert out.split("\n")[:2] == ["undone", "{'inner_ok': False}"]


def test_shutdown_is_bounded_in_total(qapp: Any, plugins: PluginManager) -> None:
    orch = PluginOrchestrator(plugin_manager=plugins)
    stuck = Stuck()
    plugins.register_plugin(FunctionPlugin("p", hang=stuck))
    assert orch.register_workflow(Workflow("w").add_step(step("s", "p", "hang")))
    ids = [orch.execute_workflow("w", async_=True).value() for _ in range(6)]
    assert stuck.entered.acquire(timeout=5)
    try:
        began = time.monotonic()
        assert orch.shutdown(1000) is False  # plugins that ignore cancellation still run
        assert time.monotonic() - began < 1.8
        assert all(orch.get_execution_status(i).value()["status"] == "cancelled" for i in ids)
    finally:
        stuck.release.set()
        assert orch.thread_pool().waitForDone(5000)


def test_interpreter_exit_is_bounded_with_plugins_that_ignore_cancellation() -> None:
    out, elapsed = run_snippet(
        """
        m = q.PluginManager()
        entered = threading.Semaphore(0)
        def hang(p):
            entered.release()
            time.sleep(30)
            return {}
        m.register_plugin(q.FunctionPlugin("p", hang=hang))
        orch = q.PluginOrchestrator(plugin_manager=m)
        orch.register_workflow(q.Workflow("w").add_step(q.WorkflowStep("h", "p", "hang")))
        for _ in range(6):
            orch.execute_workflow("w", async_=True)
        for _ in range(4):
            entered.acquire()
        print("exiting", flush=True)
        """,
        timeout_s=25,
    )
    assert out.strip() == "exiting"
    assert elapsed < 12, f"exit took {elapsed:.1f} s"


def test_streaming_stage_contexts_are_cancelled(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    woke = threading.Event()
    entered = threading.Event()

    def slow(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        entered.set()
        if context.wait(30):
            woke.set()
        return {"value": params["value"]}

    fn(plugins, "src", lambda p: iter(range(10)))
    fn(plugins, "slow", slow)
    fn(plugins, "sink", lambda p: {})
    register(
        advanced,
        workflow(
            "s",
            Mode.Streaming,
            [
                node("src", node_type=NodeType.Source),
                node("slow"),
                node("sink", node_type=NodeType.Sink),
            ],
            [conn("src", "slow"), conn("slow", "sink")],
        ),
    )
    execution_id = start(advanced, "s")
    assert entered.wait(5)
    assert advanced.cancel_execution(execution_id)
    assert advanced.wait_for_execution(execution_id, 3000)
    assert woke.wait(3), "the stage's context.wait() never woke"


def test_event_driven_plain_source_context_is_cancelled(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    woke = threading.Event()
    entered = threading.Event()

    def source(params: dict[str, Any], context: StepContext) -> Iterator[dict[str, Any]]:
        def items() -> Iterator[dict[str, Any]]:
            entered.set()
            while not context.wait(30):
                yield {"n": 1}
            woke.set()

        return items()

    fn(plugins, "src", source)
    fn(plugins, "sink", lambda p: {})
    register(
        advanced,
        workflow(
            "e",
            Mode.EventDriven,
            [node("src", node_type=NodeType.Source), node("sink", node_type=NodeType.Sink)],
            [conn("src", "sink")],
        ),
    )
    execution_id = start(advanced, "e")
    assert entered.wait(5)
    assert advanced.cancel_execution(execution_id)
    assert advanced.wait_for_execution(execution_id, 3000)
    assert woke.wait(3), "the source's context.wait() never woke"


def test_cancelling_the_awaiting_task_cancels_the_execution() -> None:
    out, _ = run_snippet(
        """
        import asyncio, qasync
        m = q.PluginManager()
        cancelled = threading.Event()
        def hold(p, context):
            while not context.wait(0.01):
                pass
            cancelled.set()
            return {}
        m.register_plugin(q.FunctionPlugin("p", hold=hold))
        orch = q.PluginOrchestrator(plugin_manager=m)
        orch.register_workflow(q.Workflow("w").add_step(q.WorkflowStep("h", "p", "hold")))
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        errors = []
        threading.excepthook = lambda args: errors.append(args.exc_value)
        async def main():
            future = orch.execute_workflow_async("w")
            try:
                await asyncio.wait_for(future, 0.2)
            except asyncio.TimeoutError:
                pass
            assert orch.wait_for_execution(future.execution_id, 5000)
            return orch.get_execution_status(future.execution_id).value()["status"]
        with loop:
            status = loop.run_until_complete(main())
        print(status, cancelled.wait(5), errors)
        """,
        timeout_s=20,
    )
    assert out.split() == ["cancelled", "True", "[]"]


def test_destroying_the_orchestrator_mid_run_cancels_compensates_and_resolves() -> None:
    out, _ = run_snippet(
        """
        import shiboken6
        from PySide6.QtCore import QObject
        m = q.PluginManager()
        entered = threading.Event()
        undone = threading.Event()
        def hold(p, context):
            entered.set()
            while not context.wait(0.01):
                pass
            return {}
        m.register_plugin(q.FunctionPlugin("p", first=lambda p: {"v": 1}, hold=hold,
                          undo=lambda p: undone.set() or {}))
        parent = QObject()
        orch = q.PluginOrchestrator(parent, plugin_manager=m)
        wf = q.Workflow("w").add_step(q.WorkflowStep("first", "p", "first"))
        s = q.WorkflowStep("hold", "p", "hold"); s.dependencies = ["first"]
        wf.add_step(s)
        wf.add_rollback_step("first", q.WorkflowStep("undo", "p", "undo"))
        orch.register_workflow(wf)
        future = orch.execute_workflow_async("w")
        assert entered.wait(5)
        shiboken6.delete(parent)
        outcome = future.result(5)
        print(outcome.error().code.name, undone.wait(5))
        """,
        timeout_s=20,
        quiet=True,
    )
    assert out.split()[:2] == ["OperationCancelled", "True"]


def test_an_orchestrator_is_freed_by_its_last_reference_not_the_cyclic_collector(
    qapp: Any, plugins: PluginManager
) -> None:
    """A reference cycle left orchestrators to the cyclic collector, which may run in a worker
    thread and so destroyed their QObjects there (segfaults in the GUI thread)."""
    import gc
    import weakref

    fn(plugins, "one", lambda p: {"x": 1})
    plugins.register_plugin(FunctionPlugin("p", run=lambda p: {"x": 1}))
    gc.collect()
    gc.disable()
    try:
        v1 = PluginOrchestrator(plugin_manager=plugins)
        assert v1.register_workflow(Workflow("w").add_step(step("a", "p", "run")))
        assert v1.execute_workflow("w")
        assert v1.execute_workflow_async("w").result(5)
        v2 = AdvancedPluginOrchestrator(plugin_manager=plugins)
        register(v2, workflow("g", Mode.Parallel, [node("one")]))
        assert v2.wait_for_execution(start(v2, "g"), 5000)
        assert v1.shutdown(5000) and v2.shutdown(5000)
        refs = [weakref.ref(v1), weakref.ref(v2)]
        del v1, v2
        assert [ref() for ref in refs] == [None, None]
    finally:
        gc.enable()


def test_app_shutdown_mid_run_cancels_compensates_and_resolves() -> None:
    """PySide's app.shutdown() destroys every QObject Python owns, in no set order: the run
    must be cancelled before anything waits for its threads, and nothing may raise."""
    out, _ = run_snippet(
        """
        m = q.PluginManager()
        entered = threading.Event()
        undone = threading.Event()
        def hold(p, context):
            entered.set()
            while not context.wait(0.01):
                pass
            return {}
        m.register_plugin(q.FunctionPlugin("p", first=lambda p: {"v": 1}, hold=hold,
                          undo=lambda p: undone.set() or {}))
        orch = q.PluginOrchestrator(plugin_manager=m)
        wf = q.Workflow("w").add_step(q.WorkflowStep("first", "p", "first"))
        s = q.WorkflowStep("hold", "p", "hold"); s.dependencies = ["first"]
        wf.add_step(s)
        wf.add_rollback_step("first", q.WorkflowStep("undo", "p", "undo"))
        orch.register_workflow(wf)
        future = orch.execute_workflow_async("w")
        assert entered.wait(5)
        app.shutdown()
        print(future.result(5).error().code.name, undone.wait(5), flush=True)
        """,
        timeout_s=20,
        quiet=True,
    )
    assert out.split() == ["OperationCancelled", "True"]
