"""Executors (issue #11): every mode on every executor, and the process executor's hard cases
(timeouts and cancels that kill real workers, a worker killed mid-step, plugins that cannot
ship, shutdown and interpreter exit with work in flight). Dask-only cases: test_executor_dask.py.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
    pid_alive,
    wait_gone,
    wait_pid_file,
)
from .executor_plugins import register_all
from .subprocess_helpers import run_snippet
from .v2_helpers import Mode, NodeType, conn, node, run_to_end, workflow

# Another Dask scheduler on the machine (other test runs) makes distributed warn that its
# HTTP port 8787 is taken before it picks a free one.
# Worker processes and a Dask cluster: the slow part of the suite (pytest -m "not slow" skips it).
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Port 8787 is already in use")]

EXECUTORS = ["thread", "process", "dask"]


def _options(request: pytest.FixtureRequest, executor: str) -> dict[str, Any]:
    options: dict[str, Any] = {"default_executor": executor, "process_workers": 2}
    if executor == "dask":
        options["dask_address"] = request.getfixturevalue("dask_cluster").scheduler_address
    return options


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def v1(qapp: object, request: pytest.FixtureRequest, executor: str) -> Iterator[PluginOrchestrator]:
    orch = PluginOrchestrator(
        plugin_manager=register_all(PluginManager()), **_options(request, executor)
    )
    yield orch
    assert orch.shutdown(10_000)


@pytest.fixture
def v2(
    qapp: object, request: pytest.FixtureRequest, executor: str
) -> Iterator[AdvancedPluginOrchestrator]:
    orch = AdvancedPluginOrchestrator(
        plugin_manager=register_all(PluginManager()), **_options(request, executor)
    )
    yield orch
    assert orch.shutdown(10_000)


@pytest.fixture
def process_orch(qapp: object) -> Iterator[PluginOrchestrator]:
    orch = PluginOrchestrator(
        plugin_manager=register_all(PluginManager()), default_executor="process", process_workers=2
    )
    yield orch
    assert orch.shutdown(10_000)


def ran_where_expected(executor: str, pid: int) -> None:
    if executor == "thread":
        assert pid == os.getpid()
    else:
        assert pid != os.getpid(), "the step ran in the orchestrator's process"


def chain(workflow_id: str, mode: ExecutionMode, plugin: str = "add_one", n: int = 3) -> Workflow:
    wf = Workflow(workflow_id).set_execution_mode(mode)
    for i in range(n):
        deps = [f"s{i - 1}"] if i else []
        wf.add_step(WorkflowStep(f"s{i}", plugin, "execute", dependencies=deps))
    return wf


def run_v1(orch: PluginOrchestrator, workflow_id: str, data: dict[str, Any]) -> dict[str, Any]:
    executed = orch.execute_workflow(workflow_id, data)
    assert executed, executed.error()
    found = orch.get_execution_status(executed.value())
    assert found, found.error()
    return found.value()


# --------------------------------------------------------------------------------------------
# every mode on every executor


def test_v1_sequential(v1: PluginOrchestrator, executor: str) -> None:
    assert v1.register_workflow(chain("seq", ExecutionMode.Sequential))
    status = run_v1(v1, "seq", {"x": 0})
    assert status["status"] == "completed"
    assert status["result"]["x"] == 3
    ran_where_expected(executor, status["result"]["pid"])


def test_v1_parallel_delivers_every_signal(v1: PluginOrchestrator, executor: str) -> None:
    wf = Workflow("par").set_execution_mode(ExecutionMode.Parallel)
    for i in range(6):
        wf.add_step(WorkflowStep(f"p{i}", "counter", "count", parameters={"x": i}))
    assert v1.register_workflow(wf)
    completed: list[tuple[str, Any]] = []
    v1.step_completed.connect(lambda _e, step, data: completed.append((step, data)))
    status = run_v1(v1, "par", {})
    assert status["status"] == "completed"
    assert sorted(data["count"] for _, data in completed) == [100, 101, 102, 103, 104, 105]
    for _, data in completed:
        ran_where_expected(executor, data["pid"])


def test_v1_pipeline(v1: PluginOrchestrator, executor: str) -> None:
    assert v1.register_workflow(chain("pipe", ExecutionMode.Pipeline))
    status = run_v1(v1, "pipe", {"x": 5})
    assert status["status"] == "completed"
    assert status["result"]["x"] == 8


def test_v1_plugin_errors_and_retries_behave_the_same(v1: PluginOrchestrator) -> None:
    wf = Workflow("fails").add_step(WorkflowStep("f", "fail", "execute", max_retries=1))
    wf.steps()[0].retry_delay = 10
    assert v1.register_workflow(wf)
    retried: list[int] = []
    v1.step_retrying.connect(lambda _e, _s, attempt: retried.append(attempt))
    executed = v1.execute_workflow("fails")
    assert not executed
    assert executed.error().code == PluginErrorCode.ExecutionFailed
    assert "ValueError: boom" in executed.error().message
    assert retried == [1]


def test_v1_errors_keep_the_workers_traceback_and_exception(v1: PluginOrchestrator) -> None:
    """Raised in a process or Dask worker, a step's error still names the file and line."""
    assert v1.register_workflow(Workflow("tb").add_step(WorkflowStep("f", "fail", "execute")))
    error = v1.execute_workflow("tb").error()
    assert error.context["exception_type"] == "ValueError"
    assert error.context["exception_message"] == "boom"
    traceback = error.context["traceback"]
    assert "executor_plugins.py" in traceback and "in fail" in traceback
    assert 'raise ValueError("boom")' in traceback and error.details == traceback
    assert isinstance(error.exception, ValueError)  # it pickles, so it crossed back
    step = v1.get_step_results(error.context["execution_id"]).value()[0]
    assert step.error_info is not None and "in fail" in step.error_info["traceback"]


def test_v2_errors_keep_the_workers_traceback_and_exception(
    v2: AdvancedPluginOrchestrator,
) -> None:
    """A node's error from a process or Dask worker keeps its file and line too."""
    assert v2.register_workflow(workflow("tb2", Mode.Sequential, [node("f", "fail")]))
    _, ctx = run_to_end(v2, "tb2", timeout_ms=60_000)
    assert ctx.status.name == "Failed"
    info = v2.get_node_status(ctx.execution_id, "f").value()["error_info"]
    assert (info["exception_type"], info["exception_message"]) == ("ValueError", "boom")
    assert "executor_plugins.py" in info["traceback"] and "in fail" in info["traceback"]


def test_v1_rollback_runs_on_the_executor(
    v1: PluginOrchestrator, executor: str, tmp_path: Path
) -> None:
    undo_file = tmp_path / "undo"
    wf = Workflow("rb").set_execution_mode(ExecutionMode.Sequential)
    wf.add_step(WorkflowStep("a", "add_one", "execute"))
    wf.add_step(WorkflowStep("b", "fail", "execute", dependencies=["a"]))
    wf.add_rollback_step(
        "a", WorkflowStep("undo_a", "undo", "execute", parameters={"undo_file": str(undo_file)})
    )
    assert v1.register_workflow(wf)
    assert not v1.execute_workflow("rb")
    deadline = time.monotonic() + 20
    while not undo_file.exists():
        assert time.monotonic() < deadline, "the rollback step never ran"
        time.sleep(0.02)


def test_v2_parallel(v2: AdvancedPluginOrchestrator, executor: str) -> None:
    wf = workflow(
        "v2par",
        Mode.Parallel,
        [
            node("src", "add_one", NodeType.Source),
            node("left", "add_one"),
            node("right", "counter", configuration={"method": "count"}),
        ],
        [conn("src", "left"), conn("src", "right")],
    )
    assert v2.register_workflow(wf)
    _, ctx = run_to_end(v2, "v2par", {"x": 1}, timeout_ms=60_000)
    assert ctx.status.name == "Completed", ctx.error_messages
    left = v2.get_node_status(ctx.execution_id, "left").value()["output"]
    right = v2.get_node_status(ctx.execution_id, "right").value()["output"]
    assert left["x"] == 3
    assert right["count"] == 102
    ran_where_expected(executor, left["pid"])


def test_v1_transaction_rollback_runs_on_the_executor(
    v1: PluginOrchestrator, tmp_path: Path
) -> None:
    undo_file = tmp_path / "undo"
    wf = Workflow("tx").add_step(WorkflowStep("a", "add_one", "execute"))
    wf.add_rollback_step(
        "a", WorkflowStep("undo_a", "undo", "execute", parameters={"undo_file": str(undo_file)})
    )
    assert v1.register_workflow(wf)
    assert v1.begin_transaction("t1")
    assert v1.execute_workflow("tx", {"x": 0}, transaction_id="t1")
    assert not undo_file.exists()
    rolled_back = v1.rollback_transaction("t1")
    assert rolled_back, rolled_back.error()
    assert undo_file.read_text() == "undone"


def test_v2_splitter_fan_out(v2: AdvancedPluginOrchestrator, executor: str) -> None:
    wf = workflow(
        "fan",
        Mode.Parallel,
        [node("split", "split_numbers", NodeType.Splitter), node("double", "double")],
        [conn("split", "double")],
    )
    assert v2.register_workflow(wf)
    execution_id, ctx = run_to_end(v2, "fan", timeout_ms=60_000)
    assert ctx.status.name == "Completed", ctx.error_messages
    output = v2.get_node_status(execution_id, "double").value()["output"]
    assert output == {"items": [{"value": 2}, {"value": 4}, {"value": 6}]}


def test_v2_streaming(v2: AdvancedPluginOrchestrator) -> None:
    wf = workflow(
        "stream",
        Mode.Streaming,
        [
            node("src", "ints", NodeType.Source, output_ports=["value"]),
            node("double", "double", input_ports=["value"], output_ports=["value"]),
            node("sink", "noop", NodeType.Sink, input_ports=["value"]),
        ],
        [
            conn("src", "double", source_port="value", target_port="value"),
            conn("double", "sink", source_port="value", target_port="value"),
        ],
    )
    assert v2.register_workflow(wf)
    execution_id, ctx = run_to_end(v2, "stream", {"count": 20}, timeout_ms=60_000)
    assert ctx.status.name == "Completed", ctx.error_messages
    double = v2.get_node_status(execution_id, "double").value()
    assert (double["items_in"], double["items_out"], double["items_failed"]) == (20, 20, 0)
    assert v2.get_node_status(execution_id, "sink").value()["items_in"] == 20


def test_v2_event_driven(v2: AdvancedPluginOrchestrator) -> None:
    wf = workflow(
        "events",
        Mode.EventDriven,
        [
            node("src", "numbers", NodeType.Source),
            node("double", "double"),
            node("sink", "echo", NodeType.Sink, configuration={"executor": "thread"}),
        ],
        [conn("src", "double"), conn("double", "sink")],
    )
    assert v2.register_workflow(wf)
    execution_id, ctx = run_to_end(v2, "events", {"count": 4}, timeout_ms=60_000)
    assert ctx.status.name == "Completed", ctx.error_messages
    assert ctx.execution_data["events_completed"] == 4
    assert v2.get_node_status(execution_id, "double").value()["runs"] == 4


# --------------------------------------------------------------------------------------------
# choosing an executor


def test_step_parameter_overrides_the_default_and_is_not_passed_on(qapp: object) -> None:
    orch = PluginOrchestrator(plugin_manager=register_all(PluginManager()))
    try:
        wf = Workflow("pick").set_execution_mode(ExecutionMode.Sequential)
        wf.add_step(WorkflowStep("here", "echo", "execute"))
        wf.add_step(WorkflowStep("there", "echo", "execute", parameters={"executor": "process"}))
        assert orch.register_workflow(wf)
        status = run_v1(orch, "pick", {})
        here, there = (r["result_data"] for r in status["step_results"])
        assert here["pid"] == os.getpid()
        assert there["pid"] != os.getpid()
        assert "executor" not in there["keys"]
    finally:
        assert orch.shutdown(10_000)


def test_v2_global_configuration_and_node_configuration(qapp: object) -> None:
    orch = AdvancedPluginOrchestrator(plugin_manager=register_all(PluginManager()))
    try:
        wf = workflow(
            "cfg",
            Mode.Sequential,
            [node("a", "echo"), node("b", "echo", configuration={"executor": "thread"})],
            [conn("a", "b")],
            global_configuration={"executor": "process"},
        )
        assert orch.register_workflow(wf)
        execution_id, ctx = run_to_end(orch, "cfg", timeout_ms=60_000)
        assert ctx.status.name == "Completed", ctx.error_messages
        a = orch.get_node_status(execution_id, "a").value()["output"]
        b = orch.get_node_status(execution_id, "b").value()["output"]
        assert a["pid"] != os.getpid()
        assert b["pid"] == os.getpid()
        assert "executor" not in a["keys"]
    finally:
        assert orch.shutdown(10_000)


def test_unknown_executor_names_are_refused_at_registration(qapp: object) -> None:
    v1 = PluginOrchestrator(plugin_manager=register_all(PluginManager()))
    v2 = AdvancedPluginOrchestrator(plugin_manager=register_all(PluginManager()))
    try:
        wf = Workflow("bad").add_step(
            WorkflowStep("s", "echo", "execute", parameters={"executor": "gpu"})
        )
        refused = v1.register_workflow(wf)
        assert not refused
        assert refused.error().code == PluginErrorCode.InvalidConfiguration
        assert "step 's': unknown executor 'gpu'" in refused.error().message
        for bad in (
            workflow("n", Mode.Parallel, [node("a", "echo", configuration={"executor": 3})]),
            workflow(
                "g", Mode.Parallel, [node("a", "echo")], global_configuration={"executor": "x"}
            ),
        ):
            refused = v2.register_workflow(bad)
            assert not refused
            assert refused.error().code == PluginErrorCode.InvalidWorkflowStructure
            assert "unknown executor" in refused.error().message
        with pytest.raises(Exception, match="unknown executor 'cuda'"):
            PluginOrchestrator(default_executor="cuda")
    finally:
        v1.shutdown()
        v2.shutdown()


def test_workers_start_lazily(process_orch: PluginOrchestrator) -> None:
    assert process_orch.register_workflow(chain("lazy", ExecutionMode.Sequential))
    assert process_orch._core.engine.executors.built() == {}
    run_v1(process_orch, "lazy", {"x": 0})
    process = process_orch._core.engine.executors.get("process")
    assert len(process.worker_pids()) == 1  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# the process executor's hard cases


def test_timeout_kills_the_stuck_worker_and_the_pool_recovers(
    process_orch: PluginOrchestrator, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    wf = Workflow("stuck").set_execution_mode(ExecutionMode.Sequential)
    params = {"pid_file": str(pid_file)}
    # Long enough for a worker to start on a loaded machine before the timeout kills it.
    wf.add_step(WorkflowStep("hang", "hang", "execute", parameters=params, timeout=4000))
    assert process_orch.register_workflow(wf)
    started = time.monotonic()
    executed = process_orch.execute_workflow("stuck")
    assert not executed
    assert executed.error().code == PluginErrorCode.Timeout
    assert time.monotonic() - started < 20
    wait_gone(wait_pid_file(pid_file))
    assert process_orch.register_workflow(chain("after", ExecutionMode.Sequential))
    assert run_v1(process_orch, "after", {"x": 0})["result"]["x"] == 3


def test_cancel_kills_the_worker(process_orch: PluginOrchestrator, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    wf = Workflow("cancel").add_step(
        WorkflowStep("hang", "hang", "execute", parameters={"pid_file": str(pid_file)})
    )
    assert process_orch.register_workflow(wf)
    execution_id = process_orch.execute_workflow("cancel", async_=True).value()
    pid = wait_pid_file(pid_file)
    assert process_orch.cancel_workflow(execution_id)
    assert process_orch.wait_for_execution(execution_id, 10_000)
    assert process_orch.get_execution_status(execution_id).value()["status"] == "cancelled"
    wait_gone(pid)


def test_worker_killed_mid_step_fails_the_attempt_and_the_retry_succeeds(
    process_orch: PluginOrchestrator, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    step = WorkflowStep(
        "flaky", "hang_once", "execute", parameters={"pid_file": str(pid_file)}, max_retries=1
    )
    step.retry_delay = 10
    assert process_orch.register_workflow(Workflow("killed").add_step(step))
    errors: list[str] = []
    process_orch.step_retrying.connect(lambda *_: errors.append("retrying"))
    execution_id = process_orch.execute_workflow("killed", async_=True).value()
    os.kill(wait_pid_file(pid_file), signal.SIGKILL)
    assert process_orch.wait_for_execution(execution_id, 30_000)
    status = process_orch.get_execution_status(execution_id).value()
    assert status["status"] == "completed", status["error"]
    assert status["result"]["recovered"] is True
    assert status["step_results"][0]["retry_count"] == 1
    assert errors == ["retrying"]


def test_worker_death_message_without_retries(
    process_orch: PluginOrchestrator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pid_file = tmp_path / "pid"
    wf = Workflow("dies").add_step(
        WorkflowStep("hang", "hang", "execute", parameters={"pid_file": str(pid_file)})
    )
    assert process_orch.register_workflow(wf)
    execution_id = process_orch.execute_workflow("dies", async_=True).value()
    os.kill(wait_pid_file(pid_file), signal.SIGKILL)
    assert process_orch.wait_for_execution(execution_id, 30_000)
    status = process_orch.get_execution_status(execution_id).value()
    assert status["status"] == "failed"
    assert "worker process running it died" in status["error"]
    (record,) = [r for r in caplog.records if r.name == "qtforge_orch.executors"]
    assert record.levelname == "WARNING"
    assert (record.execution_id, record.step_id, record.executor) == (
        execution_id,
        "hang",
        "process",
    )
    assert "worker process running it died" in record.getMessage()


@pytest.mark.parametrize("plugin", ["locked", "lambda_plugin"])
def test_unshippable_plugins_are_refused_clearly_and_not_retried(
    process_orch: PluginOrchestrator, plugin: str
) -> None:
    step = WorkflowStep("s", plugin, "count" if plugin == "locked" else "execute", max_retries=3)
    assert process_orch.register_workflow(Workflow("ship").add_step(step))
    started = time.monotonic()
    executed = process_orch.execute_workflow("ship")
    assert not executed
    error = executed.error()
    assert error.code == PluginErrorCode.InvalidConfiguration
    assert f"plugin '{plugin}' cannot run on the process executor" in error.message
    assert "cannot be pickled" in error.message
    assert time.monotonic() - started < 5
    assert process_orch._core.engine.executors.get("process").worker_pids() == []  # type: ignore[attr-defined]


def test_outputs_that_do_not_pickle_fail_the_step(process_orch: PluginOrchestrator) -> None:
    assert process_orch.register_workflow(
        Workflow("out").add_step(WorkflowStep("s", "unpicklable_output", "execute"))
    )
    executed = process_orch.execute_workflow("out")
    assert not executed
    assert executed.error().code == PluginErrorCode.ExecutionFailed
    assert "process executor" in executed.error().message


def test_shutdown_with_work_in_flight_kills_the_workers(qapp: object, tmp_path: Path) -> None:
    orch = PluginOrchestrator(
        plugin_manager=register_all(PluginManager()), default_executor="process"
    )
    pid_file = tmp_path / "pid"
    wf = Workflow("inflight").add_step(
        WorkflowStep("hang", "hang", "execute", parameters={"pid_file": str(pid_file)})
    )
    assert orch.register_workflow(wf)
    execution_id = orch.execute_workflow("inflight", async_=True).value()
    pid = wait_pid_file(pid_file)
    started = time.monotonic()
    assert orch.shutdown(10_000)
    assert time.monotonic() - started < 5
    assert orch.get_execution_status(execution_id).value()["status"] == "cancelled"
    wait_gone(pid)


def test_interpreter_exit_with_work_in_flight_kills_the_workers(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    out, seconds = run_snippet(
        f"""
        from tests.executor_plugins import register_all
        orch = q.PluginOrchestrator(plugin_manager=register_all(q.PluginManager()),
                                    default_executor="process")
        wf = q.Workflow("w").add_step(
            q.WorkflowStep("h", "hang", "execute", parameters={{"pid_file": {str(pid_file)!r}}}))
        orch.register_workflow(wf)
        orch.execute_workflow("w", async_=True)
        while not os.path.exists({str(pid_file)!r}):
            time.sleep(0.02)
        time.sleep(0.1)
        print("exiting")
        """,
        timeout_s=60,
    )
    assert "exiting" in out
    assert seconds < 30, "the exit waited for the stuck worker"
    wait_gone(int(pid_file.read_text()))


# --------------------------------------------------------------------------------------------
# docs/scaling-out.md runs as written


def test_scaling_out_guide_runs_as_written(tmp_path: Path) -> None:
    import re
    import subprocess
    import sys

    guide = (Path(__file__).resolve().parent.parent / "docs" / "scaling-out.md").read_text()
    files = dict(re.findall(r"```python\n# (\w+\.py)\n(.*?)```", guide, re.S))
    assert set(files) == {"heavy.py", "app.py", "existing_cluster.py"}
    for name, body in files.items():
        (tmp_path / name).write_text(f"# {name}\n{body}")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    # The two scripts are independent (each its own pool or cluster, ports chosen free), and
    # much of each one's time is waiting for processes to start: run them side by side.
    running = {
        script: subprocess.Popen(
            [sys.executable, script],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for script in ("app.py", "existing_cluster.py")
    }
    outputs = {}
    try:
        for script, process in running.items():
            stdout, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, f"{script}:\n{stdout}\n{stderr}"
            outputs[script] = stdout
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert "parts: ['sum_0', 'sum_1', 'sum_2', 'sum_3']" in outputs["app.py"]
    assert "node b: {'parts': ['sum_0']}" in outputs["existing_cluster.py"]


def test_deleting_the_orchestrator_stops_its_workers(qapp: object, tmp_path: Path) -> None:
    orch = PluginOrchestrator(
        plugin_manager=register_all(PluginManager()), default_executor="process"
    )
    assert orch.register_workflow(chain("gone", ExecutionMode.Sequential, "echo", 1))
    run_v1(orch, "gone", {})
    pids = orch._core.engine.executors.get("process").worker_pids()  # type: ignore[attr-defined]
    assert len(pids) == 1
    orch.deleteLater()
    del orch
    deadline = time.monotonic() + 10
    while pid_alive(pids[0]):
        qapp.processEvents()  # type: ignore[attr-defined]
        from PySide6.QtCore import QCoreApplication, QEvent

        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        assert time.monotonic() < deadline, "the worker outlived its orchestrator"
        time.sleep(0.02)


def test_parameters_that_do_not_pickle_fail_the_step(process_orch: PluginOrchestrator) -> None:
    import threading

    step = WorkflowStep("s", "echo", "execute", parameters={"lock": threading.Lock()})
    assert process_orch.register_workflow(Workflow("badparams").add_step(step))
    executed = process_orch.execute_workflow("badparams")
    assert not executed
    assert "process executor" in executed.error().message
    assert "pickle" in executed.error().message
