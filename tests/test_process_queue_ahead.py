"""The process executor sends a busy worker its next call before the worker is free, and keeps
every promise it made without that: a queued call that is cancelled or timed out never runs,
one queued on a worker that dies is sent again (never lost), one queued behind a long call
moves to a worker that becomes free, and a paused execution starts no step it had not taken.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QThreadPool

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    ExecutionMode,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    Workflow,
    WorkflowStep,
)
from qtforge_orch._engine.executors.process import ProcessExecutor
from qtforge_orch.contract.context import StepContext
from qtforge_orch.contract.outcome import Outcome

from .executor_fixtures import call_in_thread, pid_alive, wait_for, wait_pid_file
from .executor_plugins import register_all
from .v2_helpers import Mode, node, start, states, workflow

pytestmark = pytest.mark.slow  # worker processes

_RUNNING = threading.Event()
_RUNNING.set()


def _context(step_id: str) -> StepContext:
    return StepContext("exec", step_id, 1, _RUNNING)


def _cancelled(outcome: Outcome) -> bool:
    return outcome.error is not None and outcome.error.code == PluginErrorCode.OperationCancelled


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


@pytest.fixture
def workers(request: pytest.FixtureRequest) -> Iterator[ProcessExecutor]:
    executor = ProcessExecutor(register_all(PluginManager()), workers=request.param)
    yield executor
    executor.shutdown(5.0)


class Held:
    """A call that runs until the test releases it: its context, outcome and worker pid."""

    def __init__(self, executor: ProcessExecutor, tmp_path: Path, name: str) -> None:
        self.release_file = tmp_path / f"{name}.release"
        params = {"pid_file": str(tmp_path / f"{name}.pid"), "release_file": str(self.release_file)}
        self.context = _context(name)
        self.outcome = call_in_thread(executor, "wait_release", params, self.context)
        self.pid = wait_pid_file(tmp_path / f"{name}.pid")

    def release(self) -> Outcome:
        self.release_file.touch()
        return self.outcome.result(timeout=20)


def queue_behind(
    executor: ProcessExecutor, tmp_path: Path, context: StepContext
) -> tuple[Future[Outcome], Path]:
    """A call that records its worker's pid, sent behind a held call on a one-worker executor:
    its future and its record file, once the executor has handed it to the busy worker."""
    record_file = tmp_path / "b.record"
    queued = call_in_thread(executor, "record", {"record_file": str(record_file)}, context)
    wait_for(lambda: executor.unanswered() == 2, "the second call sent to the busy worker")
    return queued, record_file


@pytest.mark.parametrize("workers", [1], indirect=True)
def test_a_busy_worker_holds_the_next_call_and_runs_it_next(
    workers: ProcessExecutor, tmp_path: Path
) -> None:
    held = Held(workers, tmp_path, "a")
    queued, record_file = queue_behind(workers, tmp_path, _context("b"))
    assert not queued.done()
    assert held.release().error is None
    outcome = queued.result(timeout=20)
    assert outcome.error is None and outcome.output["pid"] == held.pid
    assert _lines(record_file) == [str(held.pid)]


@pytest.mark.parametrize("workers", [1], indirect=True)
def test_a_queued_call_cancelled_before_it_starts_never_runs_and_kills_no_one(
    workers: ProcessExecutor, tmp_path: Path
) -> None:
    held = Held(workers, tmp_path, "a")
    context = _context("b")
    queued, record_file = queue_behind(workers, tmp_path, context)
    context.cancel()
    assert _cancelled(queued.result(timeout=10))
    assert pid_alive(held.pid) and not held.outcome.done()
    assert held.release().error is None
    # The worker answers calls in order: once a later call is back, the withdrawn one was
    # skipped, not run.
    after = call_in_thread(workers, "add_one", {"x": 1}, _context("c")).result(timeout=20)
    assert after.output == {"x": 2, "pid": held.pid}
    assert _lines(record_file) == []
    assert workers.unanswered() == 0


@pytest.mark.parametrize("workers", [1], indirect=True)
def test_a_worker_that_dies_with_a_queued_call_loses_nothing(
    workers: ProcessExecutor, tmp_path: Path
) -> None:
    held = Held(workers, tmp_path, "a")
    queued, record_file = queue_behind(workers, tmp_path, _context("b"))
    os.kill(held.pid, signal.SIGKILL)
    died = held.outcome.result(timeout=20)
    assert died.error is not None and "worker process running it died" in died.error.message
    outcome = queued.result(timeout=30)
    assert outcome.error is None
    assert outcome.output["pid"] != held.pid
    assert _lines(record_file) == [str(outcome.output["pid"])]  # ran once, on the new worker


@pytest.mark.parametrize("workers", [2], indirect=True)
def test_a_call_queued_behind_a_long_one_moves_to_the_worker_that_frees_first(
    workers: ProcessExecutor, tmp_path: Path
) -> None:
    long = Held(workers, tmp_path, "long")
    short = Held(workers, tmp_path, "short")
    record_file = tmp_path / "b.record"
    queued = call_in_thread(workers, "record", {"record_file": str(record_file)}, _context("b"))
    wait_for(lambda: workers.unanswered() == 3, "the third call sent to a busy worker")
    assert short.release().error is None
    outcome = queued.result(timeout=20)
    assert outcome.output["pid"] == short.pid
    assert not long.outcome.done()
    assert long.release().error is None
    wait_for(lambda: workers.unanswered() == 0, "every call answered")
    assert _lines(record_file) == [str(short.pid)]


@pytest.fixture
def one_worker_orch(qapp: object) -> Iterator[PluginOrchestrator]:
    pool = QThreadPool()
    pool.setMaxThreadCount(4)
    orch = PluginOrchestrator(
        plugin_manager=register_all(PluginManager()),
        default_executor="process",
        process_workers=1,
        thread_pool=pool,
    )
    yield orch
    assert orch.shutdown(10_000)


def test_a_queued_step_that_times_out_never_runs_and_its_worker_goes_on(
    qtbot: Any, one_worker_orch: PluginOrchestrator, tmp_path: Path
) -> None:
    release, record_file = tmp_path / "a.release", tmp_path / "b.record"
    wf = Workflow("timeouts").set_execution_mode(ExecutionMode.Parallel)
    params = {"pid_file": str(tmp_path / "a.pid"), "release_file": str(release)}
    wf.add_step(WorkflowStep("a", "wait_release", "execute", parameters=params, timeout=60_000))
    queued = WorkflowStep("b", "record", "execute", parameters={"record_file": str(record_file)})
    queued.timeout = 1000
    queued.critical = False  # the run goes on: step a must still complete on its worker
    wf.add_step(queued)
    assert one_worker_orch.register_workflow(wf)
    execution_id = one_worker_orch.execute_workflow("timeouts", async_=True).value()
    pid = wait_pid_file(tmp_path / "a.pid")
    with qtbot.waitSignal(
        one_worker_orch.step_failed, timeout=20_000, check_params_cb=lambda e, s, m: s == "b"
    ) as failed:
        pass
    assert "timed out" in failed.args[2]
    assert pid_alive(pid)
    release.touch()
    assert one_worker_orch.wait_for_execution(execution_id, 30_000)
    reports = one_worker_orch.get_execution_status(execution_id).value()["step_results"]
    by_step = {r["step_id"]: r for r in reports}
    assert by_step["a"]["status"] == "Completed"
    assert by_step["a"]["result_data"]["pid"] == pid
    assert by_step["b"]["status"] == "Failed"
    assert _lines(record_file) == []


def test_a_paused_execution_starts_no_step_it_had_not_taken(
    qtbot: Any, qapp: object, tmp_path: Path
) -> None:
    advanced = AdvancedPluginOrchestrator(
        plugin_manager=register_all(PluginManager()), process_workers=1
    )
    try:
        _paused_run(qtbot, advanced, tmp_path)
    finally:
        assert advanced.shutdown(10_000)


def _paused_run(qtbot: Any, advanced: AdvancedPluginOrchestrator, tmp_path: Path) -> None:
    release = tmp_path / "a.release"
    first = node(
        "a",
        "wait_release",
        configuration={"pid_file": str(tmp_path / "a.pid"), "release_file": str(release)},
    )
    others = [
        node(name, "record", configuration={"record_file": str(tmp_path / f"{name}.record")})
        for name in "bcde"
    ]
    settings = {"executor": "process", "max_concurrency": 3}
    wf = workflow("paused", Mode.Parallel, [first, *others], global_configuration=settings)
    assert advanced.register_workflow(wf)
    completed: list[str] = []
    advanced.node_completed.connect(lambda e, node_id, *_: completed.append(node_id))
    execution_id = start(advanced, "paused")
    wait_pid_file(tmp_path / "a.pid")
    assert advanced.pause_execution(execution_id)
    # The three steps taken before the pause (one running, one queued ahead on the worker,
    # one waiting for it) run to their end; no other step is taken while paused.
    with qtbot.waitSignal(
        advanced.node_completed, timeout=30_000, check_params_cb=lambda *_: len(completed) == 3
    ):
        release.touch()
    assert sorted(completed) == ["a", "b", "c"]
    assert {n: s for n, s in states(advanced, execution_id).items() if n in "de"} == {
        "d": "pending",
        "e": "pending",
    }
    assert not (tmp_path / "d.record").exists() and not (tmp_path / "e.record").exists()
    assert advanced.resume_execution(execution_id)
    assert advanced.wait_for_execution(execution_id, 30_000)
    assert sorted(completed) == list("abcde")
    assert all(len(_lines(tmp_path / f"{n}.record")) == 1 for n in "bcde")
