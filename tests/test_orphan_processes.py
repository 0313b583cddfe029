"""No child process outlives the application: process-executor workers (even one burning a
core in pure Python) and multiprocessing's resource tracker end when the application is killed
with SIGKILL or SIGTERM, which leaves it no chance to clean up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QThreadPool

from qtforge_orch import FunctionPlugin, PluginManager, PluginOrchestrator, Workflow, WorkflowStep

from .executor_fixtures import wait_pid_file
from .executor_plugins import register_all

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc"),
]

ROOT = Path(__file__).resolve().parent.parent
DEADLINE_S = 10.0

APP = """
import os, sys, time
from PySide6.QtCore import QCoreApplication
from qtforge_orch import PluginManager, PluginOrchestrator, Workflow, WorkflowStep
from tests.executor_plugins import register_all

app = QCoreApplication([])
orchestrator = PluginOrchestrator(
    plugin_manager=register_all(PluginManager()), default_executor="process", process_workers=1
)
flow = Workflow("busy").add_step(
    WorkflowStep("spin", "busy", "execute", parameters={"pid_file": sys.argv[1]})
)
assert orchestrator.register_workflow(flow)
assert orchestrator.execute_workflow("busy", async_=True)
time.sleep(600)  # the test kills this process
"""


def _state(pid: int) -> str | None:
    """The /proc state letter of ``pid`` (``Z``: dead, not yet reaped), None once gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if _state(pid) not in (None, "Z")}


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
@pytest.mark.slow
def test_no_child_process_outlives_a_killed_application(tmp_path: Path, how: int) -> None:
    pid_file = tmp_path / "worker.pid"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    app = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(APP), str(pid_file)], env=env, cwd=str(ROOT)
    )
    children: set[int] = set()
    try:
        worker = wait_pid_file(pid_file, timeout=30)
        children = _descendants(app.pid)
        assert worker in children
        assert len(children) >= 2, children  # the worker and the resource tracker
        os.kill(app.pid, how)
        app.wait(10)
        deadline = time.monotonic() + DEADLINE_S
        while _alive(children) and time.monotonic() < deadline:
            time.sleep(0.05)  # polls /proc for processes this test cannot wait on
        survivors = _alive(children)
        assert not survivors, f"{sorted(survivors)} outlived the application ({how!r})"
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)
        for pid in _alive(children):  # never leave a core burning behind a failed test
            os.kill(pid, signal.SIGKILL)


def test_a_worker_outlives_the_thread_that_started_it(qapp: object) -> None:
    """The parent-death signal follows the thread that started a worker: workers are started
    from a thread of their own, so a helping thread (or a retired pool thread) that ends does
    not take its worker with it."""
    release = threading.Event()
    plugins = register_all(PluginManager())
    plugins.register_plugin(FunctionPlugin("block", execute=lambda p: {"ok": release.wait(30)}))
    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    orchestrator = PluginOrchestrator(
        plugin_manager=plugins, thread_pool=pool, default_executor="process", process_workers=1
    )
    try:
        blocker = WorkflowStep("b", "block", "execute", parameters={"executor": "thread"})
        assert orchestrator.register_workflow(Workflow("blocker").add_step(blocker))
        assert orchestrator.register_workflow(
            Workflow("echo").add_step(WorkflowStep("e", "echo", "execute"))
        )
        blocking = orchestrator.execute_workflow("blocker", async_=True).value()
        pids: list[int] = []

        def helper() -> None:  # the pool's only thread is busy: this thread runs the step
            done = orchestrator.execute_workflow("echo")
            assert done, done.error()
            pids.append(orchestrator.get_execution_status(done.value()).value()["result"]["pid"])

        thread = threading.Thread(target=helper)
        thread.start()
        thread.join(60)
        assert not thread.is_alive() and pids
        release.set()
        assert orchestrator.wait_for_execution(blocking, 10_000)
        again = orchestrator.execute_workflow("echo")
        assert again, again.error()
        status = orchestrator.get_execution_status(again.value()).value()
        assert status["result"]["pid"] == pids[0]  # the same worker, alive and well
    finally:
        release.set()
        assert orchestrator.shutdown(10_000)
