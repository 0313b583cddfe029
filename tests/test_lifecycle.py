"""Orchestrators come and go without touching each other: destroying one (its parent deleted,
deleteLater, its last reference dropped) while a step of it ignores cancellation does not
delay another orchestrator's timeout, and no QObject is destroyed outside its thread. Each
case runs in a fresh interpreter under ``QT_FATAL_WARNINGS=1``, with a deadline."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from .subprocess_helpers import PRELUDE

pytestmark = pytest.mark.timeout(60)

TWO_ORCHESTRATORS = """
from PySide6.QtCore import QEventLoop, QObject, QTimer

STUCK_S = 1.5
entered = threading.Event()

def stuck(params):
    entered.set()
    time.sleep(STUCK_S)  # ignores cancellation
    return {}

def slow(params, context):
    context.wait(10)
    return {}

stuck_plugins = q.PluginManager()
stuck_plugins.register_plugin(q.FunctionPlugin("p", {"stuck": stuck}))
slow_plugins = q.PluginManager()
slow_plugins.register_plugin(q.FunctionPlugin("p", {"slow": slow}))

parent = QObject()
a = q.PluginOrchestrator(plugin_manager=stuck_plugins, parent=parent if PARENTED else None)
stuck_flow = q.Workflow("stuck").add_step(q.WorkflowStep("s", "p", "stuck"))
stuck_flow.set_timeout(A_TIMEOUT_MS)
assert a.register_workflow(stuck_flow)
a.execute_workflow("stuck", async_=True)
future = a.execute_workflow_async("stuck") if WITH_FUTURE else None
destroyed_in = []
a.destroyed.connect(lambda *_: destroyed_in.append(threading.current_thread().name))
import weakref
freed_in = []
weakref.finalize(a, lambda: freed_in.append(threading.current_thread().name))
assert entered.wait(5)

b = q.PluginOrchestrator(plugin_manager=slow_plugins)
slow_flow = q.Workflow("slow").add_step(q.WorkflowStep("s", "p", "slow"))
slow_flow.set_timeout(300)
assert b.register_workflow(slow_flow)
loop = QEventLoop()
ended = []

def end(*_):
    ended.append(time.monotonic())
    loop.quit()

b.workflow_cancelled.connect(end)
b.workflow_failed.connect(end)
started = time.monotonic()
assert b.execute_workflow("slow", async_=True)
DROP
QTimer.singleShot(8000, loop.quit)
loop.exec()
assert ended, "b's workflow timeout never arrived"
print(f"timeout after {ended[0] - started:.3f}")
if WAIT_FOR_A_GONE:
    deadline = time.monotonic() + 5
    while not (destroyed_in and freed_in) and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)  # polls for the orchestrator's destruction from a plain script
print("destroyed in", destroyed_in, "freed in", freed_in)
assert future is None or future.result(5) is not None  # resolved: the run was cancelled
b.shutdown()
"""

DROPS = {
    # Deleting the parent destroys the orchestrator at once, in this thread.
    "parent_deleted": ("del a\ndel parent", True, 60_000, False, True),
    # deleteLater: destroyed by the event loop the wait runs.
    "parent_delete_later": ("parent.deleteLater()\ndel a", True, 60_000, False, True),
    # The last reference dropped while its runs hold on: its own workflow timeout (on the
    # shared timer thread) ends them meanwhile, and whatever lets go of them last must not
    # be where the orchestrator is destroyed.
    "last_reference_dropped": ("del a", False, 100, True, True),
    "last_reference_dropped_no_future": ("del a", False, 100, True, False),
}


def _run(
    drop: str, parented: bool, a_timeout_ms: int, wait_for_a_gone: bool, with_future: bool
) -> str:
    body = (
        TWO_ORCHESTRATORS.replace("DROP", drop)
        .replace("PARENTED", str(parented))
        .replace("A_TIMEOUT_MS", str(a_timeout_ms))
        .replace("WAIT_FOR_A_GONE", str(wait_for_a_gone))
        .replace("WITH_FUTURE", str(with_future))
    )
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "QT_API": "pyside6",
        "QT_FATAL_WARNINGS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(body)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.stderr == "", done.stderr  # no Qt warning, no traceback
    return done.stdout


@pytest.mark.slow
def test_destroying_an_orchestrator_with_a_stuck_step_does_not_delay_another() -> None:
    # The cases mostly wait (a stuck step sleeps): run side by side, one interpreter each.
    with ThreadPoolExecutor(len(DROPS)) as pool:
        outputs = dict(zip(DROPS, pool.map(lambda case: _run(*DROPS[case]), DROPS), strict=True))
    for case, out in outputs.items():
        took = float(out.split("timeout after ")[1].split()[0])
        # Before, the other orchestrator's timeout waited for the stuck step (1.5 s).
        assert took < 0.9, f"{case}: another orchestrator's 300 ms timeout fired after {took} s"
        # Its C++ object and its Python object both went in the thread they live in.
        assert "destroyed in ['MainThread'] freed in ['MainThread']" in out, (case, out)
