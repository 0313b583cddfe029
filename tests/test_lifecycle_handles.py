"""Every ``WorkflowExecution`` handle finishes when its orchestrator goes away, however it goes:
its parent window closed with ``WA_DeleteOnClose``, ``deleteLater``, garbage, application
shutdown. ``await handle`` resolves, ``status()`` is ``cancelled`` and the error says why."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from qtforge_orch import (
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    Workflow,
    WorkflowExecution,
    WorkflowStep,
)

from .subprocess_helpers import run_snippet

pytestmark = pytest.mark.timeout(60)


def _plugins(entered: threading.Event) -> PluginManager:
    def hold(params: dict[str, Any], context: Any) -> dict[str, Any]:
        entered.set()
        while not context.wait(0.01):
            pass
        return {}

    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("p", {"hold": hold, "ok": lambda p: {"ok": 1}}))
    return plugins


def _started(orchestrator: PluginOrchestrator) -> WorkflowExecution:
    held = WorkflowStep("held", "p", "hold")
    held.dependencies = ["first"]
    after = WorkflowStep("after", "p", "ok")
    after.dependencies = ["held"]
    flow = Workflow("held").add_step(WorkflowStep("first", "p", "ok")).add_step(held)
    assert orchestrator.register_workflow(flow.add_step(after))
    handle = orchestrator.start_workflow("held")
    assert handle, handle.error()
    return handle.value()


def _finishes_cancelled(qtbot: Any, handle: WorkflowExecution, go: Callable[[], None]) -> None:
    loop = asyncio.new_event_loop()
    try:

        async def awaited() -> Any:
            return await handle

        task = loop.create_task(awaited())
        loop.run_until_complete(asyncio.sleep(0))  # the task now awaits the handle
        done: list[Any] = []
        handle.add_done_callback(done.append)
        with qtbot.waitSignal(handle.finished, timeout=10_000) as finished:
            go()
        assert finished.args[0] == "cancelled"
        assert handle.status() == "cancelled" and handle.is_finished()
        error = handle.result().error()
        assert error.code == PluginErrorCode.OperationCancelled
        assert "orchestrator was destroyed" in error.message
        assert done == [handle]
        outcome = loop.run_until_complete(asyncio.wait_for(task, 5))
        assert outcome.error().code == PluginErrorCode.OperationCancelled
        steps = {step: handle.step(step).status for step in handle.step_ids()}  # type: ignore[union-attr]
        assert steps["held"] == "cancelled" and steps["after"] == "cancelled"
        assert handle.cancel().error().code == PluginErrorCode.InvalidState
        assert handle.wait(0)
    finally:
        loop.close()


def test_closing_the_parent_window_finishes_every_handle(qtbot: Any) -> None:
    entered = threading.Event()
    window = QWidget()
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    orchestrator = PluginOrchestrator(window, plugin_manager=_plugins(entered))
    handle = _started(orchestrator)
    other = orchestrator.start_workflow("held").value()
    qtbot.waitUntil(entered.is_set, timeout=5000)
    del orchestrator
    _finishes_cancelled(qtbot, handle, window.close)
    assert other.status() == "cancelled"


def test_delete_later_finishes_every_handle(qtbot: Any) -> None:
    entered = threading.Event()
    orchestrator = PluginOrchestrator(plugin_manager=_plugins(entered))
    handle = _started(orchestrator)
    qtbot.waitUntil(entered.is_set, timeout=5000)
    _finishes_cancelled(qtbot, handle, orchestrator.deleteLater)


def test_an_orchestrator_dropped_as_garbage_finishes_its_handles(qtbot: Any) -> None:
    entered = threading.Event()
    orchestrator = PluginOrchestrator(plugin_manager=_plugins(entered))
    handle = _started(orchestrator)  # the application keeps the handle only
    qtbot.waitUntil(entered.is_set, timeout=5000)

    def drop() -> None:
        nonlocal orchestrator
        del orchestrator
        gc.collect()

    _finishes_cancelled(qtbot, handle, drop)
    assert handle.orchestrator() is None


@pytest.mark.slow
def test_application_shutdown_finishes_every_handle() -> None:
    out, _ = run_snippet(
        """
        entered = threading.Event()
        def hold(params, context):
            entered.set()
            while not context.wait(0.01):
                pass
            return {}
        m = q.PluginManager()
        m.register_plugin(q.FunctionPlugin("p", {"hold": hold}))
        o = q.PluginOrchestrator(plugin_manager=m)
        o.register_workflow(q.Workflow("w").add_step(q.WorkflowStep("s", "p", "hold")))
        handle = o.start_workflow("w").value()
        finished = []
        handle.add_done_callback(lambda h: finished.append(h.status()))
        assert entered.wait(5)
        app.shutdown()
        print(handle.status(), finished, handle.result().error().code.name)
        """,
        env_extra={"QT_FATAL_WARNINGS": "1"},
        silent=True,
    )
    assert out.split() == ["cancelled", "['cancelled']", "OperationCancelled"]
