"""Dask steps wait for their results without a pool thread: the attempt is parked, and the
outcome lands back as work a drainer records. A cluster on 127.0.0.1 started by the tests."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QThreadPool

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    ExecutionMode,
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

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Port 8787 is already in use")]

distributed = pytest.importorskip("distributed")


@pytest.fixture
def small_pool() -> Iterator[QThreadPool]:
    pool = QThreadPool()
    pool.setMaxThreadCount(2)
    yield pool
    pool.waitForDone(10_000)


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_parked_dask_steps_hold_no_pool_thread(
    qapp: object, dask_cluster: Any, small_pool: QThreadPool, tmp_path: Path
) -> None:
    orch = PluginOrchestrator(
        plugin_manager=register_all(PluginManager()),
        thread_pool=small_pool,
        default_executor="dask",
        dask_address=dask_cluster.scheduler_address,
    )
    try:
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
        wait_until(lambda: small_pool.activeThreadCount() == 0)
        executed = orch.execute_workflow("local", {"x": 1})
        assert executed, executed.error()
        assert orch.get_execution_status(execution_id).value()["status"] == "running"

        assert orch.wait_for_execution(execution_id, 30_000)
        report = orch.get_execution_status(execution_id).value()
        assert report["status"] == "completed", report
        assert [r["status"] for r in report["step_results"]] == ["Completed", "Completed"]
    finally:
        assert orch.shutdown(10_000)


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
    qapp: object, dask_cluster: Any, small_pool: QThreadPool
) -> None:
    orch = PluginOrchestrator(
        plugin_manager=register_all(PluginManager()),
        thread_pool=small_pool,
        default_executor="dask",
        dask_address=dask_cluster.scheduler_address,
    )
    try:
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
    finally:
        assert orch.shutdown(10_000)
