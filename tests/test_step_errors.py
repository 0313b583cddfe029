"""Errors users can debug (issue #21, section 6): a failing step keeps the exception type, its
message and the formatted traceback (its file and line), and the exception itself; status, the
journal (read back after a restart) and the events carry them; ``retry_on`` takes exception
classes and a predicate, so a programming error is not retried."""

from __future__ import annotations

import json
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    FunctionPlugin,
    IEventSource,
    IPlugin,
    PluginError,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    Workflow,
    WorkflowStep,
)
from qtforge_orch.events import EventKind, ExecutionEvent

from .v2_helpers import Mode, NodeType, conn, node, register, workflow

pytestmark = pytest.mark.timeout(60)


def divide(params: dict[str, Any]) -> dict[str, Any]:
    return {"ratio": params["total"] / params["count"]}  # ZeroDivisionError for count 0


def _plugins(**commands: Any) -> PluginManager:
    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("calc", divide=divide, **commands))
    return plugins


def _assert_debuggable(error: PluginError, *, exception: bool = True) -> None:
    assert error.code == PluginErrorCode.ExecutionFailed
    assert error.context["exception_type"] == "ZeroDivisionError"
    assert error.context["exception_message"] == "division by zero"
    traceback = error.context["traceback"]
    assert error.details == traceback
    assert "test_step_errors.py" in traceback and "in divide" in traceback
    assert 'params["total"] / params["count"]' in traceback
    assert traceback.rstrip().endswith("ZeroDivisionError: division by zero")
    if exception:
        assert isinstance(error.exception, ZeroDivisionError)
        assert error.__cause__ is error.exception
        assert error.exception.__traceback__ is None  # its frames (and locals) were let go


def test_a_failing_step_keeps_type_message_traceback_and_exception(
    qapp: Any, tmp_path: Path
) -> None:
    journal = tmp_path / "runs.sqlite"
    plugins = _plugins()
    orch = PluginOrchestrator(plugin_manager=plugins, journal=str(journal))
    posted: list[ExecutionEvent] = []
    failures = [EventKind.TASK_FAILED, EventKind.WORKFLOW_FAILED]
    assert orch.subscribe(posted.append, None, failures)
    try:
        wf = Workflow("ratio").add_step(WorkflowStep("divide", "calc", "divide"))
        assert orch.register_workflow(wf)
        result = orch.execute_workflow("ratio", {"total": 3, "count": 0})
        assert not result
        _assert_debuggable(result.error())  # the execution's error
        execution_id = result.error().context["execution_id"]
        step = orch.get_step_results(execution_id).value()[0]
        assert step.error_message.endswith("ZeroDivisionError: division by zero")
        assert step.error_info is not None
        assert step.error_info["exception_type"] == "ZeroDivisionError"
        assert "in divide" in step.error_info["traceback"]
        assert step.to_json()["error_info"] == step.error_info
        report = orch.get_execution_status(execution_id).value()["step_results"][0]
        assert report["error_info"] == step.error_info
        # The events carry the error itself, for whoever logs them (the signals its message).
        failed = [e for e in posted if e.kind is EventKind.TASK_FAILED]
        assert failed and failed[0].message == step.error_message
        assert failed[0].error is not None
        _assert_debuggable(failed[0].error)
        ended = [e for e in posted if e.kind is EventKind.WORKFLOW_FAILED]
        assert ended and ended[0].error is not None
        _assert_debuggable(ended[0].error)
    finally:
        assert orch.shutdown(5000)

    later = PluginOrchestrator(plugin_manager=plugins, journal=str(journal))
    try:
        step = later.get_step_results(execution_id).value()[0]
        assert step.error_info is not None
        assert step.error_info["exception_type"] == "ZeroDivisionError"
        assert "in divide" in step.error_info["traceback"]
        (record,) = later.journal().task_records(execution_id)  # type: ignore[union-attr]
        assert record.error_info is not None and record.error_info["code"] == 300
    finally:
        assert later.shutdown(5000)


def test_a_v2_node_status_keeps_the_error_as_data(qapp: Any, tmp_path: Path) -> None:
    journal = str(tmp_path / "runs.sqlite")
    plugins = _plugins()
    orch = AdvancedPluginOrchestrator(plugin_manager=plugins, journal=journal)
    try:
        graph = workflow("g", Mode.Sequential, [node("n", "calc", configuration={})])
        graph.nodes[0].configuration = {"method": "divide", "total": 1, "count": 0}
        register(orch, graph)
        execution_id = orch.execute_workflow("g").value()
        assert orch.wait_for_execution(execution_id, 10_000)
        state = orch.get_node_status(execution_id, "n").value()
        assert state["status"] == "failed"
        assert state["error_info"]["exception_type"] == "ZeroDivisionError"
        assert "in divide" in state["error_info"]["traceback"]
        context = orch.get_execution_status(execution_id).value()
        assert context.node_states["n"]["error_info"] == state["error_info"]
    finally:
        assert orch.shutdown(5000)
    later = AdvancedPluginOrchestrator(plugin_manager=plugins, journal=journal)
    try:  # read back from the journal after a restart
        assert (
            later.get_node_status(execution_id, "n").value()["error_info"] == (state["error_info"])
        )
    finally:
        assert later.shutdown(5000)


def broken_feed(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A source that yields one item, then breaks."""

    def generate() -> Iterator[dict[str, Any]]:
        yield {"n": 1}
        raise ValueError("feed broke")

    return generate()


class BrokenStart(IPlugin, IEventSource):
    """An event source that cannot start."""

    def id(self) -> str:
        return "feed"

    def available_commands(self) -> list[str]:
        return ["execute"]

    def execute_command(self, command: str, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    def start_events(self, configuration: dict[str, Any], emit: Any) -> Any:
        raise KeyError("no broker configured")


@pytest.mark.parametrize(
    ("mode", "plugin"),
    [
        (Mode.Streaming, "iterator"),
        (Mode.EventDriven, "iterator"),
        (Mode.EventDriven, "start_events"),
    ],
    ids=["streaming", "event-driven", "event-driven-start"],
)
def test_a_v2_source_that_breaks_keeps_the_traceback(
    qapp: Any, qtbot: Any, mode: Mode, plugin: str
) -> None:
    """A source that raises while it feeds (Streaming, EventDriven) or while its events start
    fails its node with the exception's type, message and traceback, as a step does."""
    plugins = PluginManager()
    if plugin == "iterator":
        plugins.register_plugin(FunctionPlugin.from_callable("feed", broken_feed))
    else:
        plugins.register_plugin(BrokenStart())
    plugins.register_plugin(FunctionPlugin.from_callable("sink", lambda p: {}))
    orch = AdvancedPluginOrchestrator(plugin_manager=plugins)
    failed: list[ExecutionEvent] = []
    assert orch.subscribe(failed.append, None, [EventKind.TASK_FAILED])
    try:
        graph = workflow(
            "g",
            mode,
            [node("feed", node_type=NodeType.Source), node("sink", node_type=NodeType.Sink)],
            [conn("feed", "sink")],
        )
        register(orch, graph)
        execution_id = orch.execute_workflow("g").value()
        assert orch.wait_for_execution(execution_id, 10_000)
        state = orch.get_node_status(execution_id, "feed").value()
        assert state["status"] == "failed"
        info = state["error_info"]
        if plugin == "iterator":
            assert info["exception_type"] == "ValueError"
            assert 'raise ValueError("feed broke")' in info["traceback"]
            assert "in generate" in info["traceback"]
        else:
            assert info["exception_type"] == "KeyError"
            assert "in start_events" in info["traceback"]
        qtbot.waitUntil(lambda: bool(failed), timeout=10_000)
        assert failed[0].step == "feed"
        assert failed[0].error is not None and failed[0].error.exception is not None
    finally:
        assert orch.shutdown(5000)


def test_a_plugin_error_raised_by_the_plugin_keeps_where_it_was_raised(qapp: Any) -> None:
    def refuse(params: dict[str, Any]) -> dict[str, Any]:
        raise PluginError(PluginErrorCode.PermissionDenied, "no write access")

    orch = PluginOrchestrator(plugin_manager=_plugins(refuse=refuse))
    try:
        assert orch.register_workflow(Workflow("w").add_step(WorkflowStep("s", "calc", "refuse")))
        error = orch.execute_workflow("w").error()
        assert error.code == PluginErrorCode.PermissionDenied
        assert "in refuse" in error.context["traceback"]
        assert "exception_type" not in error.context  # the error is the plugin's own
    finally:
        assert orch.shutdown(5000)


def test_the_error_pickles_without_its_exception() -> None:
    try:
        divide({"total": 1, "count": 0})
    except ZeroDivisionError as exc:
        from qtforge_orch.errors import error_from_exception

        error = error_from_exception(exc, PluginErrorCode.ExecutionFailed, "failed", skip_frames=0)
    copy = pickle.loads(pickle.dumps(error))
    assert copy.context["exception_type"] == "ZeroDivisionError"
    assert copy.details == error.details and copy.exception is None
    json.dumps(copy.context)


# --------------------------------------------------------------------------------------------
# retry_on: codes, exception classes, a predicate


class Flaky:
    """Raises ``errors`` in turn, then succeeds; counts attempts."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.attempts = 0

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"ok": True}


def _retrying(retry_on: Any, flaky: Flaky, plugins: PluginManager | None = None) -> Any:
    plugins = plugins or PluginManager()
    plugins.register_plugin(FunctionPlugin("net", fetch=flaky))
    step = WorkflowStep("fetch", "net", "fetch", max_retries=3, retry_delay=0)
    step.parameters = {"retry_policy": {"retry_on": retry_on}}
    return Workflow("fetch").add_step(step), plugins


@pytest.mark.parametrize(
    ("retry_on", "error", "retried"),
    [
        ((ConnectionError, TimeoutError), ConnectionResetError("reset"), True),
        ((ConnectionError, TimeoutError), ZeroDivisionError("bug"), False),
        (ConnectionError, ConnectionError("down"), True),
        (["NetworkError", OSError], FileNotFoundError("gone"), True),
        (["NetworkError", OSError], KeyError("bug"), False),
        (lambda error: "busy" in error.message, RuntimeError("server busy"), True),
        (lambda error: "busy" in error.message, RuntimeError("bad request"), False),
    ],
)
def test_retry_on_exception_classes_and_a_predicate(
    qapp: Any, retry_on: Any, error: BaseException, retried: bool
) -> None:
    flaky = Flaky(error)
    wf, plugins = _retrying(retry_on, flaky)
    orch = PluginOrchestrator(plugin_manager=plugins)
    retries: list[ExecutionEvent] = []
    assert orch.subscribe(retries.append, None, [EventKind.TASK_RETRYING])
    try:
        assert orch.register_workflow(wf)
        result = orch.execute_workflow("fetch")
        assert bool(result) is retried
        assert flaky.attempts == (2 if retried else 1)
        # A retry's event carries the error retried, exception and all.
        assert [event.error.exception for event in retries if event.error] == (
            [error] if retried else []
        )
        assert len(retries) == (1 if retried else 0)
    finally:
        assert orch.shutdown(5000)


def test_the_predicate_runs_without_an_engine_lock_and_a_raising_one_means_no(
    qapp: Any,
) -> None:
    asked: list[str] = []
    holder: dict[str, Any] = {}
    ready = threading.Event()  # the execution id is known

    def decide(error: PluginError) -> bool:
        # A status read takes the run's lock: it would deadlock if the predicate ran under it.
        assert holder["orch"].get_execution_status(holder["id"])
        asked.append(threading.current_thread().name)
        raise LookupError("the predicate itself is broken")

    def fetch(params: dict[str, Any]) -> dict[str, Any]:
        assert ready.wait(10)
        raise RuntimeError("x")

    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("net", fetch=fetch))
    step = WorkflowStep("fetch", "net", "fetch", max_retries=3, retry_delay=0)
    step.parameters = {"retry_policy": {"retry_on": decide}}
    orch = PluginOrchestrator(plugin_manager=plugins)
    holder["orch"] = orch
    try:
        assert orch.register_workflow(Workflow("fetch").add_step(step))
        execution = orch.execute_workflow_async("fetch")
        holder["id"] = execution.execution_id
        ready.set()
        outcome = execution.result(10)
        assert not outcome and len(asked) == 1  # asked once, answered no: not retried
        error = outcome.error()
        assert error.context["retry_predicate_error"] == (
            "LookupError: the predicate itself is broken"
        )
        assert orch.get_step_results(execution.execution_id).value()[0].retry_count == 0
    finally:
        ready.set()
        assert orch.shutdown(5000)


def test_retry_on_classes_and_predicates_leave_to_json_named_and_read_back_retrying_codes_only(
    qapp: Any,
) -> None:
    def is_transient(error: PluginError) -> bool:
        return True

    wf, _ = _retrying(["Timeout", ConnectionError, is_transient], Flaky())
    written = wf.to_json()
    json.dumps(written)  # plain JSON
    step = (
        next(iter(written["steps"].values()))
        if isinstance(written["steps"], dict)
        else (written["steps"][0])
    )
    policy = step["parameters"]["retry_policy"]
    assert policy["retry_on"] == ["Timeout"]
    assert policy["retry_on_python"] == [
        "ConnectionError (exception class)",
        f"{__name__}.test_retry_on_classes_and_predicates_leave_to_json_named_and_read_back_"
        "retrying_codes_only.<locals>.is_transient (predicate)",
    ]
    again = Workflow.from_json(written)
    assert again, again.error()
    assert again.value().to_json() == written  # round-trips
    orch = PluginOrchestrator(plugin_manager=PluginManager())
    try:
        assert orch.register_workflow(again.value())
    finally:
        assert orch.shutdown(5000)


def test_a_v2_node_retry_policy_takes_exception_classes(qapp: Any) -> None:
    flaky = Flaky(ConnectionError("down"), ValueError("bug"))
    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin.from_callable("net", flaky))
    graph = workflow("g", Mode.Sequential, [node("n", "net")])
    graph.nodes[0].configuration = {
        "max_retries": 5,
        "retry_delay": 0,
        "retry_policy": {"retry_on": [ConnectionError]},
    }
    orch = AdvancedPluginOrchestrator(plugin_manager=plugins)
    try:
        register(orch, graph)
        execution_id = orch.execute_workflow("g").value()
        assert orch.wait_for_execution(execution_id, 10_000)
        state = orch.get_node_status(execution_id, "n").value()
        assert state["status"] == "failed" and flaky.attempts == 2  # ValueError: no retry
        assert state["error_info"]["exception_type"] == "ValueError"
        assert graph.to_json()["nodes"][0]["configuration"]["retry_policy"]["retry_on"] == []
    finally:
        assert orch.shutdown(5000)


def test_bad_retry_on_entries_are_refused_at_registration(qapp: Any) -> None:
    orch = PluginOrchestrator(plugin_manager=PluginManager())
    try:
        for bad in ([object()], [len, str.upper], "Timeout"):
            wf, _ = _retrying(bad, Flaky())
            refused = orch.register_workflow(wf)
            assert not refused
            assert refused.error().code == PluginErrorCode.InvalidConfiguration
            assert "retry_on" in refused.error().message
    finally:
        assert orch.shutdown(5000)
