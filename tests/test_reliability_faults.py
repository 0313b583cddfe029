"""Issue #5: plugin faults, raising slots, re-entrancy, shutdown mid-run, unregister mid-run,
and load_plugin of broken files. v1 and v2."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    StepContext,
    Workflow,
    WorkflowExecutionStatus,
    make_error,
)
from qtforge_orch.testing import HangingPlugin

from .reliability_helpers import CallCounter, step, v1_status
from .v2_helpers import Mode, conn, node, register, workflow

pytestmark = pytest.mark.timeout(60)

Code = PluginErrorCode
V2Status = WorkflowExecutionStatus


class _Custom(BaseException):
    pass


def _raise(exc: BaseException) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def run(params: dict[str, Any]) -> dict[str, Any]:
        raise exc

    return run


# (name, command, expected step/workflow code, step timeout in ms or None)
_release_hang = threading.Event()


def _hang(params: dict[str, Any]) -> dict[str, Any]:
    # Uncooperative: ignores the context; released at the end of the test.
    _release_hang.wait(20)
    return {"late": True}


FAULTS: list[tuple[str, Callable[..., Any], PluginErrorCode, int | None]] = [
    ("system_exit", _raise(SystemExit(3)), Code.ExecutionFailed, None),
    ("keyboard_interrupt", _raise(KeyboardInterrupt()), Code.ExecutionFailed, None),
    ("base_exception", _raise(_Custom("custom")), Code.ExecutionFailed, None),
    ("generator_exit", _raise(GeneratorExit()), Code.ExecutionFailed, None),
    ("non_dict", lambda p: [1, 2, 3], Code.InvalidParameters, None),
    ("none", lambda p: None, Code.InvalidParameters, None),
    (
        "error_expected",
        lambda p: make_error(Code.PermissionDenied, "nope"),
        Code.PermissionDenied,
        None,
    ),
    ("hang", _hang, Code.Timeout, 150),
]


@pytest.mark.parametrize(("name", "command", "code", "timeout"), FAULTS, ids=[f[0] for f in FAULTS])
def test_v1_plugin_fault_fails_the_step_and_others_complete(
    orchestrator: PluginOrchestrator,
    plugins: PluginManager,
    name: str,
    command: Callable[..., Any],
    code: PluginErrorCode,
    timeout: int | None,
) -> None:
    _release_hang.clear()
    plugins.register_plugin(FunctionPlugin("bad", run=command))
    plugins.register_plugin(FunctionPlugin("good", ok=lambda p: {"ok": p.get("n")}))
    extra = {"timeout": timeout} if timeout else {}
    assert orchestrator.register_workflow(
        Workflow("bad").add_step(step("s", "bad", "run", **extra))
    )
    assert orchestrator.register_workflow(Workflow("good").add_step(step("g", "good", "ok")))
    try:
        good = [orchestrator.execute_workflow("good", {"n": i}, async_=True) for i in range(10)]
        failed = orchestrator.execute_workflow("bad")
        assert not failed
        assert failed.error().code == code, failed.error()
        execution_id = failed.error().context["execution_id"]
        status = v1_status(orchestrator, execution_id)
        assert status["status"] == "failed"
        assert status["step_results"][0]["status"] == "Failed"
        for i, started in enumerate(good):
            assert started, started
            assert orchestrator.wait_for_execution(started.value(), 10_000)
            done = v1_status(orchestrator, started.value())
            assert done["status"] == "completed" and done["result"]["ok"] == i
        # the orchestrator stays usable
        again = orchestrator.execute_workflow("good", {"n": 99})
        assert again, again
    finally:
        _release_hang.set()


@pytest.mark.parametrize(("name", "command", "code", "timeout"), FAULTS, ids=[f[0] for f in FAULTS])
def test_v2_plugin_fault_fails_the_node_and_others_complete(
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    name: str,
    command: Callable[..., Any],
    code: PluginErrorCode,
    timeout: int | None,
) -> None:
    _release_hang.clear()
    plugins.register_plugin(FunctionPlugin.from_callable("bad", command))
    plugins.register_plugin(FunctionPlugin.from_callable("good", lambda p: {"ok": p.get("n")}))
    config = {"timeout": timeout} if timeout else {}
    register(advanced, workflow("bad", Mode.Sequential, [node("b", "bad", configuration=config)]))
    register(advanced, workflow("good", Mode.Sequential, [node("g", "good")]))
    try:
        good = [advanced.execute_workflow("good", {"n": i}) for i in range(10)]
        bad = advanced.execute_workflow("bad")
        assert bad, bad
        assert advanced.wait_for_execution(bad.value(), 10_000)
        status = advanced.get_execution_status(bad.value()).value()
        assert status.status == V2Status.Failed
        node_state = advanced.get_node_status(bad.value(), "b").value()
        assert node_state["status"] == "failed"
        assert node_state["error"]
        for started in good:
            assert started, started
            assert advanced.wait_for_execution(started.value(), 10_000)
            assert advanced.get_execution_status(started.value()).value().status == (
                V2Status.Completed
            )
    finally:
        _release_hang.set()


def test_v1_plugin_unregistered_while_step_waits_on_dependency(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    hold = HangingPlugin(output={"a": 1})
    plugins.register_plugin(FunctionPlugin("holder", run=hold))
    plugins.register_plugin(FunctionPlugin("victim", run=lambda p: {"b": 2}))
    wf = (
        Workflow("w").add_step(step("a", "holder", "run")).add_step(step("b", "victim", "run", "a"))
    )
    assert orchestrator.register_workflow(wf)
    execution_id = orchestrator.execute_workflow("w", async_=True).value()
    assert hold.entered.wait(5)
    assert plugins.unregister_plugin("victim")
    hold.release()
    assert orchestrator.wait_for_execution(execution_id, 10_000)
    status = v1_status(orchestrator, execution_id)
    assert status["status"] == "failed"
    assert status["error_code"] == Code.PluginNotFound
    assert orchestrator.list_active_executions() == []


def test_v2_plugin_unregistered_while_node_waits_on_dependency(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    hold = HangingPlugin(output={"a": 1})
    plugins.register_plugin(FunctionPlugin.from_callable("holder", hold))
    plugins.register_plugin(FunctionPlugin.from_callable("victim", lambda p: {"b": 2}))
    register(
        advanced,
        workflow(
            "w", Mode.Sequential, [node("a", "holder"), node("b", "victim")], [conn("a", "b")]
        ),
    )
    execution_id = advanced.execute_workflow("w").value()
    assert hold.entered.wait(5)
    assert plugins.unregister_plugin("victim")
    hold.release()
    assert advanced.wait_for_execution(execution_id, 10_000)
    assert advanced.get_execution_status(execution_id).value().status == V2Status.Failed
    b = advanced.get_node_status(execution_id, "b").value()
    assert b["status"] == "failed" and "victim" in b["error"]
    assert advanced.get_active_executions() == []


# --- 2. raising slots -----------------------------------------------------------------------


def test_v1_raising_slot_does_not_stop_other_slots(
    qtbot: Any, capfd: Any, orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin("p", **{n: (lambda p: {}) for n in "abcd"}))
    wf = Workflow("w")
    for i, n in enumerate("abcd"):
        wf.add_step(step(n, "p", n, *("abcd"[i - 1],) if i else ()))
    assert orchestrator.register_workflow(wf)

    def boom(*args: Any) -> None:
        raise RuntimeError("slot boom")

    seen: list[str] = []
    orchestrator.step_completed.connect(boom)
    orchestrator.step_completed.connect(lambda e, s, r: seen.append(s))
    orchestrator.workflow_completed.connect(boom)
    done: list[str] = []
    orchestrator.workflow_completed.connect(lambda e, r: done.append(e))
    with qtbot.capture_exceptions():
        first = orchestrator.execute_workflow("w")
        second = orchestrator.execute_workflow("w", async_=True)
        assert orchestrator.wait_for_execution(second.value(), 10_000)
    assert first, first
    assert seen == list("abcd") * 2
    assert done == [first.value(), second.value()]
    assert orchestrator.list_active_executions() == []
    capfd.readouterr()


def test_v2_raising_slot_does_not_stop_other_slots(
    qtbot: Any, capfd: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin.from_callable("p", lambda p: {"x": 1}))
    register(
        advanced,
        workflow(
            "w",
            Mode.Sequential,
            [node("a", "p"), node("b", "p"), node("c", "p")],
            [conn("a", "b"), conn("b", "c")],
        ),
    )

    def boom(*args: Any) -> None:
        raise ValueError("slot boom")

    seen: list[str] = []
    advanced.node_completed.connect(boom)
    advanced.node_completed.connect(lambda e, n, r: seen.append(n))
    with qtbot.capture_exceptions():
        execution_id = advanced.execute_workflow("w").value()
        assert advanced.wait_for_execution(execution_id, 10_000)
    assert seen == ["a", "b", "c"]
    assert advanced.get_execution_status(execution_id).value().status == V2Status.Completed
    capfd.readouterr()


# --- 3. re-entrancy -------------------------------------------------------------------------


def test_v1_plugin_cancels_its_own_execution(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    outcome: list[Any] = []

    def self_cancel(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        outcome.append(orchestrator.cancel_workflow(context.execution_id))
        outcome.append(orchestrator.get_execution_status(context.execution_id))
        return {"after": True}

    plugins.register_plugin(FunctionPlugin("p", run=self_cancel, next=lambda p: {"n": 1}))
    wf = Workflow("w").add_step(step("s", "p", "run")).add_step(step("t", "p", "next", "s"))
    assert orchestrator.register_workflow(wf)
    result = orchestrator.execute_workflow("w")
    assert not result and result.error().code == Code.OperationCancelled
    assert outcome[0], outcome[0]
    assert outcome[1] and outcome[1].value()["status"] in ("running", "cancelled")
    status = v1_status(orchestrator, result.error().context["execution_id"])
    assert status["status"] == "cancelled"
    assert orchestrator.list_active_executions() == []


def test_v1_plugin_registers_workflow_and_queries_status(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    orchestrator.thread_pool().setMaxThreadCount(1)
    seen: dict[str, Any] = {}

    def meta(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        wf = Workflow("made_inside").add_step(step("x", "p", "leaf"))
        seen["register"] = orchestrator.register_workflow(wf)
        seen["status"] = orchestrator.get_execution_status(context.execution_id).value()["status"]
        seen["active"] = orchestrator.list_active_executions()
        seen["nested"] = orchestrator.execute_workflow("made_inside")
        seen["async"] = orchestrator.execute_workflow("made_inside", async_=True)
        return {"ok": True}

    plugins.register_plugin(FunctionPlugin("p", meta=meta, leaf=lambda p: {"leaf": 1}))
    assert orchestrator.register_workflow(Workflow("outer").add_step(step("m", "p", "meta")))
    result = orchestrator.execute_workflow("outer")
    assert result, result
    assert seen["register"], seen["register"]
    assert seen["status"] == "running"
    assert result.value() in seen["active"]
    assert seen["nested"], seen["nested"]
    assert orchestrator.wait_for_execution(seen["async"].value(), 10_000)
    assert "made_inside" in orchestrator.list_workflows()


def test_v2_node_cancels_its_own_execution_and_queries_status(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    seen: dict[str, Any] = {}

    def self_cancel(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        seen["status"] = advanced.get_execution_status(context.execution_id).value().status
        seen["cancel"] = advanced.cancel_execution(context.execution_id)
        seen["register"] = advanced.register_workflow(
            workflow("inner", Mode.Sequential, [node("z", "leaf")])
        )
        return {"x": 1}

    plugins.register_plugin(FunctionPlugin.from_callable("sc", self_cancel))
    plugins.register_plugin(FunctionPlugin.from_callable("leaf", lambda p: {"leaf": 1}))
    register(
        advanced,
        workflow("w", Mode.Sequential, [node("a", "sc"), node("b", "leaf")], [conn("a", "b")]),
    )
    execution_id = advanced.execute_workflow("w").value()
    assert advanced.wait_for_execution(execution_id, 10_000)
    assert seen["status"] == V2Status.Running
    assert seen["cancel"], seen["cancel"]
    assert seen["register"], seen["register"]
    assert advanced.get_execution_status(execution_id).value().status == V2Status.Cancelled
    assert advanced.get_node_status(execution_id, "b").value()["status"] != "completed"


@pytest.mark.parametrize("pool_threads", [1, 2])
def test_v2_node_runs_and_waits_for_a_nested_execution(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, pool_threads: int
) -> None:
    """A node starting another v2 execution and waiting on it from the pool worker."""
    advanced.thread_pool().setMaxThreadCount(pool_threads)
    seen: dict[str, Any] = {}

    def outer(params: dict[str, Any]) -> dict[str, Any]:
        inner = advanced.execute_workflow("inner")
        # No timeout: the waiting worker helps run the inner execution, even when it is the
        # pool's only thread.
        seen["waited"] = advanced.wait_for_execution(inner.value())
        seen["status"] = advanced.get_execution_status(inner.value()).value().status
        return {"done": True}

    plugins.register_plugin(FunctionPlugin.from_callable("outer", outer))
    plugins.register_plugin(FunctionPlugin.from_callable("leaf", lambda p: {"leaf": 1}))
    register(advanced, workflow("inner", Mode.Sequential, [node("z", "leaf")]))
    register(advanced, workflow("outer", Mode.Sequential, [node("o", "outer")]))
    execution_id = advanced.execute_workflow("outer").value()
    assert advanced.wait_for_execution(execution_id, 10_000)
    assert advanced.get_execution_status(execution_id).value().status == V2Status.Completed
    assert seen["waited"] is True and seen["status"] == V2Status.Completed


def test_v1_nested_sync_on_one_thread_pool_runs_nested_three_deep(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    orchestrator.thread_pool().setMaxThreadCount(1)

    def level(n: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def run(params: dict[str, Any]) -> dict[str, Any]:
            if n == 0:
                return {"depth": 0}
            inner = orchestrator.execute_workflow(f"l{n - 1}")
            assert inner, inner
            return {f"depth{n}": v1_status(orchestrator, inner.value())["result"]}

        return run

    plugins.register_plugin(FunctionPlugin("p", **{f"l{n}": level(n) for n in range(4)}))
    for n in range(4):
        assert orchestrator.register_workflow(Workflow(f"l{n}").add_step(step("s", "p", f"l{n}")))
    result = orchestrator.execute_workflow("l3")
    assert result, result
    assert "depth3" in v1_status(orchestrator, result.value())["result"]


# --- 4. shutdown while work runs ------------------------------------------------------------


def test_v1_shutdown_while_running_cancels_and_compensates(
    qapp: object, plugins: PluginManager
) -> None:
    orch = PluginOrchestrator(plugin_manager=plugins)
    holds = [HangingPlugin() for _ in range(4)]
    undo = CallCounter()

    def undo_fn(params: dict[str, Any]) -> dict[str, Any]:
        undo.hit(params["made_by"])
        return {}

    commands: dict[str, Any] = {"undo": undo_fn}
    for i, h in enumerate(holds):
        commands[f"hold{i}"] = h
    commands["first"] = lambda p: {"made_by": p["tag"]}
    plugins.register_plugin(FunctionPlugin("p", commands))
    ids = []
    for i in range(4):
        wf = Workflow(f"w{i}").add_step(step("first", "p", "first", parameters={"tag": i}))
        wf.add_step(step("hang", "p", f"hold{i}", "first"))
        wf.add_rollback_step("first", step("undo", "p", "undo"))
        assert orch.register_workflow(wf)
        ids.append(orch.execute_workflow(f"w{i}", async_=True).value())
    for h in holds:
        assert h.entered.wait(5)
    started = time.monotonic()
    assert orch.shutdown(5000) is True
    assert time.monotonic() - started < 5
    for execution_id in ids:
        assert v1_status(orch, execution_id)["status"] == "cancelled"
    assert undo.snapshot() == {i: 1 for i in range(4)}
    assert orch.list_active_executions() == []
    # shutdown is idempotent
    assert orch.shutdown(1000) is True


def test_v2_shutdown_while_running_cancels(qapp: object, plugins: PluginManager) -> None:
    orch = AdvancedPluginOrchestrator(plugin_manager=plugins)
    hold = HangingPlugin()
    plugins.register_plugin(FunctionPlugin.from_callable("h", hold))
    plugins.register_plugin(FunctionPlugin.from_callable("leaf", lambda p: {}))
    wf = workflow("w", Mode.Parallel, [node("a", "h"), node("b", "leaf")], [conn("a", "b")])
    register(orch, wf)
    ids = [orch.execute_workflow("w").value() for _ in range(3)]
    assert hold.entered.wait(5)
    started = time.monotonic()
    assert orch.shutdown(5000) is True
    assert time.monotonic() - started < 5
    for execution_id in ids:
        assert orch.get_execution_status(execution_id).value().status == V2Status.Cancelled
    assert orch.get_active_executions() == []


# --- 10. unregistering a workflow while it runs ----------------------------------------------


def test_v1_unregister_workflow_while_running(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    holds = [HangingPlugin(output={"h": i}) for i in range(2)]
    plugins.register_plugin(FunctionPlugin("p", h0=holds[0], h1=holds[1], after=lambda p: {}))
    for i in range(2):
        wf = Workflow(f"w{i}").add_step(step("h", "p", f"h{i}"))
        wf.add_step(step("after", "p", "after", "h"))
        assert orchestrator.register_workflow(wf)
    finish = orchestrator.execute_workflow("w0", async_=True).value()
    cancel = orchestrator.execute_workflow("w1", async_=True).value()
    assert holds[0].entered.wait(5) and holds[1].entered.wait(5)
    assert orchestrator.unregister_workflow("w0") and orchestrator.unregister_workflow("w1")
    assert orchestrator.execute_workflow("w0").error().code == Code.NotFound
    holds[0].release()
    assert orchestrator.cancel_workflow(cancel)
    assert orchestrator.wait_for_execution(finish, 10_000)
    assert orchestrator.wait_for_execution(cancel, 10_000)
    assert v1_status(orchestrator, finish)["status"] == "completed"
    assert v1_status(orchestrator, cancel)["status"] == "cancelled"
    # the same id can be registered again
    assert orchestrator.register_workflow(Workflow("w0").add_step(step("a", "p", "after")))
    assert orchestrator.execute_workflow("w0")


def test_v2_unregister_workflow_while_running(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    hold = HangingPlugin(output={"h": 1})
    plugins.register_plugin(FunctionPlugin.from_callable("h", hold))
    plugins.register_plugin(FunctionPlugin.from_callable("leaf", lambda p: {"leaf": 1}))
    register(
        advanced,
        workflow("w", Mode.Sequential, [node("a", "h"), node("b", "leaf")], [conn("a", "b")]),
    )
    finish = advanced.execute_workflow("w").value()
    cancel = advanced.execute_workflow("w").value()
    assert hold.entered.wait(5)
    assert advanced.unregister_workflow("w")
    assert advanced.execute_workflow("w").error().code == Code.NotFound
    assert advanced.cancel_execution(cancel)
    hold.release()
    assert advanced.wait_for_execution(finish, 10_000)
    assert advanced.wait_for_execution(cancel, 10_000)
    assert advanced.get_execution_status(finish).value().status == V2Status.Completed
    assert advanced.get_execution_status(cancel).value().status == V2Status.Cancelled


# --- 7. load_plugin of broken sources -------------------------------------------------------


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("case", "codes"),
    [
        ("missing", {Code.FileNotFound}),
        ("text_file", {Code.InvalidFormat}),
        ("binary_py", {Code.LoadFailed, Code.InvalidFormat}),
        ("syntax_error", {Code.LoadFailed, Code.InvalidFormat}),
        ("raises", {Code.LoadFailed}),
        ("system_exit", {Code.LoadFailed}),
        ("no_plugin", {Code.LoadFailed, Code.NotFound, Code.PluginNotFound}),
        ("directory", {Code.InvalidFormat, Code.FileNotFound, Code.LoadFailed}),
        ("missing_module", {Code.FileNotFound}),
        ("half_registers", {Code.LoadFailed, Code.AlreadyExists}),
    ],
)
def test_load_plugin_broken_sources(
    plugins: PluginManager, tmp_path: Path, case: str, codes: set[PluginErrorCode]
) -> None:
    plugins.register_plugin(FunctionPlugin("existing", run=lambda p: {}))
    sources: dict[str, Any] = {
        "missing": tmp_path / "nope.py",
        "text_file": _write(tmp_path, "notes.txt", "just text"),
        "binary_py": _write(tmp_path, "bin.py", b"\x00\xff\xfe garbage \x00"),
        "syntax_error": _write(tmp_path, "syn.py", "def broken(:\n"),
        "raises": _write(
            tmp_path,
            "raises.py",
            "import qtforge_orch as q\nP = q.FunctionPlugin('from_raises', run=lambda p: {})\n"
            "raise RuntimeError('import boom')\n",
        ),
        "system_exit": _write(tmp_path, "exits.py", "import sys\nsys.exit(4)\n"),
        "no_plugin": _write(tmp_path, "empty.py", "X = 1\n"),
        "directory": tmp_path,
        "missing_module": "qtforge_no_such_module_xyz",
        "half_registers": _write(
            tmp_path,
            "half.py",
            "import qtforge_orch as q\n"
            "A = q.FunctionPlugin('half_new', run=lambda p: {})\n"
            "B = q.FunctionPlugin('existing', run=lambda p: {})\n",
        ),
    }
    before = sorted(plugins.list_plugins())
    result = plugins.load_plugin(sources[case])
    assert not result, result
    assert result.error().code in codes, result.error()
    assert result.error().message
    assert sorted(plugins.list_plugins()) == before
