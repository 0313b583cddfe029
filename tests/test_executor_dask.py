"""The Dask executor's own cases (issue #11): a worker or the scheduler lost mid-step, cancel
and timeout cancelling Dask futures, shipping rules, shutdown, the on-demand local cluster, and
steps that wait parked (no pool thread held). All clusters are LocalClusters on 127.0.0.1,
started inside the test run."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
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

from .executor_fixtures import (  # the *_fixture names register fixtures
    dask_cluster_fixture,  # noqa: F401
    wait_pid_file,
)
from .executor_plugins import register_all
from .v2_helpers import Mode, conn, node, start, states, status, workflow

# Another Dask scheduler on the machine (other test runs) makes distributed warn that its
# HTTP port 8787 is taken before it picks a free one.
# A Dask cluster per test: the slow part of the suite (pytest -m "not slow" skips it).
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Port 8787 is already in use")]

distributed = pytest.importorskip("distributed")


@pytest.fixture
def orch(qapp: object, dask_cluster: Any) -> Iterator[PluginOrchestrator]:
    orchestrator = PluginOrchestrator(
        plugin_manager=register_all(PluginManager()),
        default_executor="dask",
        dask_address=dask_cluster.scheduler_address,
    )
    yield orchestrator
    assert orchestrator.shutdown(10_000)


def hang_step(pid_file: Path, plugin: str = "hang", **fields: Any) -> WorkflowStep:
    # Short hangs: a cancelled Dask task still occupies its worker thread until it returns.
    params = {"pid_file": str(pid_file), "hang_s": 3}
    return WorkflowStep("hang", plugin, "execute", parameters=params, **fields)


def client_of(orch: PluginOrchestrator) -> Any:
    return orch._core.engine.executors.get("dask").client()  # type: ignore[attr-defined]


def status_of(orch: PluginOrchestrator, execution_id: str) -> dict[str, Any]:
    found = orch.get_execution_status(execution_id)
    assert found, found.error()
    return found.value()


def test_worker_lost_mid_step_fails_the_attempt_and_the_retry_succeeds(
    orch: PluginOrchestrator, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    step = hang_step(pid_file, "hang_once", max_retries=1)
    step.retry_delay = 10
    assert orch.register_workflow(Workflow("lost").add_step(step))
    execution_id = orch.execute_workflow("lost", async_=True).value()
    worker = wait_pid_file(pid_file)
    assert worker != os.getpid()
    os.kill(worker, signal.SIGKILL)
    assert orch.wait_for_execution(execution_id, 60_000)
    status = status_of(orch, execution_id)
    assert status["status"] == "completed", status["error"]
    assert status["result"]["recovered"] is True
    assert status["step_results"][0]["retry_count"] == 1


def test_worker_lost_without_retries_is_a_clear_failure(
    orch: PluginOrchestrator, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    assert orch.register_workflow(Workflow("lost1").add_step(hang_step(pid_file)))
    execution_id = orch.execute_workflow("lost1", async_=True).value()
    os.kill(wait_pid_file(pid_file), signal.SIGKILL)
    assert orch.wait_for_execution(execution_id, 60_000)
    status = status_of(orch, execution_id)
    assert status["status"] == "failed"
    assert "the Dask worker running it was lost" in status["error"]


def test_cancel_cancels_the_dask_future(orch: PluginOrchestrator, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    assert orch.register_workflow(Workflow("cancel").add_step(hang_step(pid_file)))
    execution_id = orch.execute_workflow("cancel", async_=True).value()
    wait_pid_file(pid_file)
    client = client_of(orch)
    assert len(client.futures) == 1
    started = time.monotonic()
    assert orch.cancel_workflow(execution_id)
    assert orch.wait_for_execution(execution_id, 10_000)
    assert time.monotonic() - started < 2
    assert status_of(orch, execution_id)["status"] == "cancelled"
    deadline = time.monotonic() + 10
    while client.futures:  # released once the drainer cancelled it
        assert time.monotonic() < deadline, f"futures left: {list(client.futures)}"
        time.sleep(0.02)


def test_timeout_on_dask(orch: PluginOrchestrator, tmp_path: Path) -> None:
    step = hang_step(tmp_path / "pid", timeout=500)
    assert orch.register_workflow(Workflow("slow").add_step(step))
    started = time.monotonic()
    executed = orch.execute_workflow("slow")
    assert not executed
    assert executed.error().code == PluginErrorCode.Timeout
    assert time.monotonic() - started < 2.5


def test_shipping_rules_on_dask(orch: PluginOrchestrator) -> None:
    # cloudpickle ships lambdas by value; a plugin holding a lock still cannot ship.
    assert orch.register_workflow(
        Workflow("lam").add_step(WorkflowStep("s", "lambda_plugin", "execute"))
    )
    assert orch.execute_workflow("lam")
    assert orch.register_workflow(Workflow("lock").add_step(WorkflowStep("s", "locked", "count")))
    refused = orch.execute_workflow("lock")
    assert not refused
    assert refused.error().code == PluginErrorCode.InvalidConfiguration
    assert "cannot run on the dask executor" in refused.error().message


def test_shutdown_with_work_in_flight(qapp: object, dask_cluster: Any, tmp_path: Path) -> None:
    orch = PluginOrchestrator(
        plugin_manager=register_all(PluginManager()),
        default_executor="dask",
        dask_address=dask_cluster.scheduler_address,
    )
    pid_file = tmp_path / "pid"
    assert orch.register_workflow(Workflow("inflight").add_step(hang_step(pid_file)))
    execution_id = orch.execute_workflow("inflight", async_=True).value()
    wait_pid_file(pid_file)
    started = time.monotonic()
    assert orch.shutdown(10_000)
    assert time.monotonic() - started < 5
    assert status_of(orch, execution_id)["status"] == "cancelled"


def test_scheduler_lost_mid_step_is_a_failure_not_a_hang(qapp: object, tmp_path: Path) -> None:
    cluster = distributed.LocalCluster(
        host="127.0.0.1", n_workers=1, processes=True, dashboard_address=None
    )
    orch = PluginOrchestrator(
        plugin_manager=register_all(PluginManager()),
        default_executor="dask",
        dask_address=cluster.scheduler_address,
    )
    try:
        pid_file = tmp_path / "pid"
        step = hang_step(pid_file)
        step.parameters["hang_s"] = 30
        assert orch.register_workflow(Workflow("gone").add_step(step))
        execution_id = orch.execute_workflow("gone", async_=True).value()
        worker = wait_pid_file(pid_file)
        cluster.close(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)  # closing may leave the busy worker behind
        assert orch.wait_for_execution(execution_id, 60_000)
        status = status_of(orch, execution_id)
        assert status["status"] == "failed"
        assert "dask executor" in status["error"]
    finally:
        orch.shutdown(10_000)
        cluster.close()


def test_local_cluster_started_on_demand_on_the_loopback(
    qapp: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Freezing the test process's heap would keep other tests' cyclic garbage alive.
    monkeypatch.setenv("QTFORGE_ORCH_GC_FREEZE", "0")
    monkeypatch.setenv("QTFORGE_ORCH_SWITCH_INTERVAL", "keep")
    orch = PluginOrchestrator(plugin_manager=register_all(PluginManager()), default_executor="dask")
    try:
        assert orch.register_workflow(Workflow("local").add_step(WorkflowStep("s", "add_one")))
        assert orch._core.engine.executors.built() == {}
        executed = orch.execute_workflow("local", {"x": 1})
        assert executed, executed.error()
        client = client_of(orch)
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        # The cluster runs at a lower CPU priority than the application, workers included.
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        workers = client.run(os.getpriority, os.PRIO_PROCESS, 0)
        assert workers and all(nice == min(ours + 10, 19) for nice in workers.values()), workers
    finally:
        assert orch.shutdown(10_000)
    assert client.status == "closed"


# --------------------------------------------------------------------------------------------
# a Dask step waits parked, without a pool thread


@pytest.fixture
def pooled(qapp: object, dask_cluster: Any) -> Iterator[tuple[PluginOrchestrator, QThreadPool]]:
    """An orchestrator on the test cluster whose pool has two threads."""
    pool = QThreadPool()
    pool.setMaxThreadCount(2)
    orch = PluginOrchestrator(
        plugin_manager=register_all(PluginManager()),
        thread_pool=pool,
        default_executor="dask",
        dask_address=dask_cluster.scheduler_address,
    )
    yield orch, pool
    assert orch.shutdown(10_000)
    pool.waitForDone(10_000)


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_parked_dask_steps_hold_no_pool_thread(
    pooled: tuple[PluginOrchestrator, QThreadPool], tmp_path: Path
) -> None:
    orch, pool = pooled
    hanging = Workflow("hanging").set_execution_mode(ExecutionMode.Parallel)
    for name in ("a", "b"):
        params = {"pid_file": str(tmp_path / name), "hang_s": 4}
        hanging.add_step(WorkflowStep(name, "hang", "execute", parameters=params))
    assert orch.register_workflow(hanging)
    local = WorkflowStep("local", "add_one", "execute", parameters={"executor": "thread"})
    assert orch.register_workflow(Workflow("local").add_step(local))

    execution_id = orch.execute_workflow("hanging", async_=True).value()
    wait_pid_file(tmp_path / "a")
    wait_pid_file(tmp_path / "b")
    # Both steps run on the cluster and both pool threads are free again.
    wait_until(lambda: pool.activeThreadCount() == 0)
    executed = orch.execute_workflow("local", {"x": 1})
    assert executed, executed.error()
    assert orch.get_execution_status(execution_id).value()["status"] == "running"

    assert orch.wait_for_execution(execution_id, 30_000)
    report = orch.get_execution_status(execution_id).value()
    assert report["status"] == "completed", report
    assert [r["status"] for r in report["step_results"]] == ["Completed", "Completed"]


def test_a_result_landing_while_paused_is_recorded_and_resume_goes_on(
    qapp: object, qtbot: Any, dask_cluster: Any, tmp_path: Path
) -> None:
    orch = AdvancedPluginOrchestrator(
        plugin_manager=register_all(PluginManager()),
        default_executor="dask",
        dask_address=dask_cluster.scheduler_address,
    )
    try:
        pid_file = tmp_path / "pid"
        wf = workflow(
            "paused",
            Mode.Sequential,
            [
                node("slow", "hang", configuration={"pid_file": str(pid_file), "hang_s": 1}),
                node("next", "add_one"),
            ],
            [conn("slow", "next")],
        )
        assert orch.register_workflow(wf)
        execution_id = start(orch, "paused", {"x": 1})
        wait_pid_file(pid_file)
        with qtbot.waitSignal(orch.node_completed, timeout=20_000) as completed:
            assert orch.pause_execution(execution_id)
        assert completed.args[:2] == [execution_id, "slow"]
        assert status(orch, execution_id).status.name == "Paused"
        assert states(orch, execution_id)["next"] == "pending"

        assert orch.resume_execution(execution_id)
        assert orch.wait_for_execution(execution_id, 20_000)
        assert status(orch, execution_id).status.name == "Completed"
    finally:
        assert orch.shutdown(10_000)


def test_many_parked_steps_with_retries_all_land_once(
    pooled: tuple[PluginOrchestrator, QThreadPool],
) -> None:
    orch, _ = pooled
    wide = Workflow("wide").set_execution_mode(ExecutionMode.Parallel)
    for i in range(40):
        failing = i % 10 == 0
        step = WorkflowStep(
            f"s{i}", "fail" if failing else "add_one", "execute", critical=not failing
        )
        step.max_retries = 1
        step.retry_delay = 1
        wide.add_step(step)
    assert orch.register_workflow(wide)
    ended: list[tuple[str, str]] = []
    orch.step_completed.connect(lambda _e, step, _data: ended.append(("completed", step)))
    orch.step_failed.connect(lambda _e, step, _error: ended.append(("failed", step)))
    executed = orch.execute_workflow("wide", {"x": 1})
    assert executed, executed.error()
    report = orch.get_execution_status(executed.value()).value()
    assert report["status"] == "completed"
    by_step = {r["step_id"]: r for r in report["step_results"]}
    assert len(by_step) == 40
    for i in range(40):
        result = by_step[f"s{i}"]
        if i % 10 == 0:
            assert (result["status"], result["retry_count"]) == ("Failed", 1)
        else:
            assert result["status"] == "Completed"
            assert result["result_data"]["pid"] != os.getpid()
    assert len(ended) == len(set(ended)) == 40
    assert ended.count(("failed", "s0")) == 1
