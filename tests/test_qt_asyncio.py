"""``await handle`` under qasync; cancelling the awaiting task cancels the execution."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import PySide6.QtCore  # noqa: F401  (qasync picks the binding already imported)
import pytest

from qtforge_orch import FunctionPlugin, PluginManager, PluginOrchestrator, Workflow, WorkflowStep
from qtforge_orch.testing.plugins import HangingPlugin

pytestmark = pytest.mark.timeout(30)


def gated(orch: PluginOrchestrator, plugins: PluginManager, gate: HangingPlugin) -> None:
    plugins.register_plugin(FunctionPlugin("p", wait=gate, run=lambda p: {"done": True}))
    wf = Workflow("wf")
    wf.add_step(WorkflowStep("g", "p", "wait"))
    after = WorkflowStep("after", "p", "run")
    after.dependencies = ["g"]
    wf.add_step(after)
    assert orch.register_workflow(wf)


def test_await_handle_gives_the_result(
    qapp: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    import qasync

    gate = HangingPlugin()
    gate.release()
    gated(orchestrator, plugins, gate)
    loop = qasync.QEventLoop(qapp, already_running=False)
    try:

        async def main() -> Any:
            return await orchestrator.start_workflow("wf").value()

        outcome = loop.run_until_complete(asyncio.wait_for(main(), 10))
    finally:
        loop.close()
    assert outcome.value()["done"] is True


def test_cancelling_the_awaiting_task_cancels_the_execution(
    qapp: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    import qasync

    gate = HangingPlugin()
    gated(orchestrator, plugins, gate)
    loop = qasync.QEventLoop(qapp, already_running=False)
    try:

        async def main() -> str:
            handle = orchestrator.start_workflow("wf").value()

            async def consume() -> Any:
                return await handle

            task = asyncio.ensure_future(consume())
            # A plain thread hands "entered" to the loop: qasync's default executor (QThreads)
            # left behind by run_in_executor made a later test crash in Qt's event dispatch.
            entered: asyncio.Future[bool] = loop.create_future()
            threading.Thread(
                target=lambda: (
                    gate.entered.wait(10) and loop.call_soon_threadsafe(entered.set_result, True)
                ),
                daemon=True,
            ).start()
            await asyncio.wait_for(entered, 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            ended: asyncio.Future[str] = loop.create_future()
            handle.add_done_callback(lambda h: ended.set_result(h.status()))
            return await ended

        status = loop.run_until_complete(asyncio.wait_for(main(), 10))
    finally:
        loop.close()
    assert status == "cancelled"
    assert gate.cancelled.is_set()
