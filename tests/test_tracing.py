"""OpenTelemetry spans (``qtforge_orch.tracing``, docs/logging-and-tracing.md): one per
execution and per step attempt, with ids, status and error, read back from the SDK's in-memory
exporter."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    ExecutionEvent,
    ExecutionMode,
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    PluginWorkflow,
    Workflow,
    WorkflowConnection,
    WorkflowExecutionMode,
    WorkflowNode,
)
from qtforge_orch.testing import HangingPlugin
from qtforge_orch.tracing import ExecutionTracing, trace_executions

from .helpers import step

pytest.importorskip("opentelemetry.sdk", reason="the dev extra installs opentelemetry-sdk")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def tracing(
    orchestrator: PluginOrchestrator, provider: TracerProvider
) -> Iterator[ExecutionTracing]:
    traced = trace_executions(orchestrator, provider)
    assert traced, traced
    yield traced.value()
    traced.value().close()


def _by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        found.setdefault(span.name, []).append(span)
    return found


def test_one_span_per_execution_and_step_with_ids_and_parents(
    orchestrator: PluginOrchestrator,
    plugins: PluginManager,
    tracing: ExecutionTracing,
    exporter: InMemorySpanExporter,
) -> None:
    plugins.register_plugin(FunctionPlugin("p", ok=lambda p: {"ok": True}))
    wf = Workflow("etl").set_execution_mode(ExecutionMode.Sequential)
    wf.add_step(step("load", "p", "ok")).add_step(step("save", "p", "ok", "load"))
    assert orchestrator.register_workflow(wf)
    execution_id = orchestrator.execute_workflow("etl").value()
    spans = _by_name(exporter.get_finished_spans())
    assert sorted(spans) == ["execution etl", "step load", "step save"]
    (execution,) = spans["execution etl"]
    assert execution.parent is None
    assert execution.status.status_code is StatusCode.OK
    assert dict(execution.attributes or {}) == {
        "qtforge.execution_id": execution_id,
        "qtforge.workflow_id": "etl",
        "qtforge.status": "completed",
    }
    for name, step_id in (("step load", "load"), ("step save", "save")):
        (span,) = spans[name]
        assert span.parent is not None and span.parent.span_id == execution.context.span_id
        assert span.context.trace_id == execution.context.trace_id
        assert span.status.status_code is StatusCode.OK
        assert dict(span.attributes or {}) == {
            "qtforge.execution_id": execution_id,
            "qtforge.workflow_id": "etl",
            "qtforge.step_id": step_id,
            "qtforge.attempt": 1,
            "qtforge.status": "completed",
        }
        assert execution.start_time <= span.start_time <= span.end_time <= execution.end_time
    load, save = spans["step load"][0], spans["step save"][0]
    assert load.end_time <= save.start_time  # sequential


@pytest.mark.slow
def test_each_attempt_is_a_span_and_failures_carry_the_error(
    orchestrator: PluginOrchestrator,
    plugins: PluginManager,
    tracing: ExecutionTracing,
    exporter: InMemorySpanExporter,
) -> None:
    def always_down(params: dict[str, Any]) -> dict[str, Any]:
        raise ConnectionError("the server is down")

    plugins.register_plugin(FunctionPlugin("net", fetch=always_down))
    fetch = step("fetch", "net", "fetch")
    fetch.max_retries = 2
    assert orchestrator.register_workflow(Workflow("sync").add_step(fetch))
    failed = orchestrator.execute_workflow("sync")
    assert not failed
    spans = _by_name(exporter.get_finished_spans())
    attempts = sorted(spans["step fetch"], key=lambda s: s.start_time or 0)
    assert [s.attributes["qtforge.attempt"] for s in attempts] == [1, 2, 3]  # type: ignore[index]
    assert [s.attributes["qtforge.status"] for s in attempts] == [  # type: ignore[index]
        "retrying",
        "retrying",
        "failed",
    ]
    assert all(s.status.status_code is StatusCode.ERROR for s in attempts)
    message = "plugin 'net' command 'fetch' raised ConnectionError: the server is down"
    assert attempts[-1].status.description == message
    (exception,) = attempts[-1].events
    assert exception.name == "exception"
    assert exception.attributes is not None
    assert exception.attributes["exception.message"] == message
    (retried,) = attempts[0].events
    assert retried.attributes is not None
    if "error" in ExecutionEvent._fields:  # the events carry the step's error: type, traceback
        for attributes in (exception.attributes, retried.attributes):
            assert attributes["exception.type"] == "ConnectionError"
            stacktrace = str(attributes["exception.stacktrace"])
            assert stacktrace.rstrip().endswith("ConnectionError: the server is down")
        assert retried.attributes["exception.message"] == message
    else:
        assert dict(exception.attributes) == {"exception.message": message}
        assert dict(retried.attributes) == {
            "exception.message": "the attempt failed; retry 1 follows"
        }
    (execution,) = spans["execution sync"]
    assert execution.status.status_code is StatusCode.ERROR
    assert execution.status.description == f"step 'fetch' failed: {message}"
    assert execution.attributes["qtforge.status"] == "failed"  # type: ignore[index]
    assert all(a.parent.span_id == execution.context.span_id for a in attempts)  # type: ignore[union-attr]


def test_a_cancelled_execution_ends_its_open_attempts(
    orchestrator: PluginOrchestrator,
    plugins: PluginManager,
    tracing: ExecutionTracing,
    exporter: InMemorySpanExporter,
) -> None:
    hanging = HangingPlugin()
    plugins.register_plugin(hanging)
    assert orchestrator.register_workflow(
        Workflow("hang").add_step(step("h", "hanging", "execute"))
    )
    execution_id = orchestrator.execute_workflow("hang", async_=True).value()
    assert hanging.entered.wait(10)
    assert orchestrator.cancel_workflow(execution_id)
    assert orchestrator.wait_for_execution(execution_id, 10_000)
    orchestrator._core.engine.pump.drain(None)
    spans = _by_name(exporter.get_finished_spans())
    (execution,) = spans["execution hang"]
    assert execution.attributes["qtforge.status"] == "cancelled"  # type: ignore[index]
    assert execution.status.status_code is StatusCode.UNSET
    (attempt,) = spans["step h"]
    assert attempt.attributes["qtforge.status"] in ("cancelled", "failed")  # type: ignore[index]


def test_close_stops_tracing(
    orchestrator: PluginOrchestrator,
    plugins: PluginManager,
    tracing: ExecutionTracing,
    exporter: InMemorySpanExporter,
) -> None:
    plugins.register_plugin(FunctionPlugin("p", ok=lambda p: {"ok": True}))
    assert orchestrator.register_workflow(Workflow("w").add_step(step("s", "p", "ok")))
    assert tracing.is_active()
    tracing.close()
    assert not tracing.is_active()
    assert orchestrator.execute_workflow("w")
    assert exporter.get_finished_spans() == ()


def test_graph_workflows_are_traced_per_node(
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
) -> None:
    plugins.register_plugin(FunctionPlugin("g", a=lambda p: {"out": 1}, b=lambda p: {"out": 2}))
    nodes = [
        WorkflowNode(
            node_id="a", plugin_id="g", configuration={"method": "a"}, output_ports=["out"]
        ),
        WorkflowNode(
            node_id="b",
            plugin_id="g",
            configuration={"method": "b"},
            input_ports=["in"],
            output_ports=["out"],
        ),
    ]
    workflow = PluginWorkflow(
        workflow_id="graph",
        execution_mode=WorkflowExecutionMode.Sequential,
        nodes=nodes,
        connections=[
            WorkflowConnection(
                source_node="a", source_port="out", target_node="b", target_port="in"
            )
        ],
    )
    tracing = trace_executions(advanced, provider).value()
    try:
        assert advanced.register_workflow(workflow)
        execution_id = advanced.execute_workflow("graph").value()
        assert advanced.wait_for_execution(execution_id, 10_000)
        advanced._core.engine.pump.drain(None)
    finally:
        tracing.close()
    spans = _by_name(exporter.get_finished_spans())
    assert sorted(spans) == ["execution graph", "step a", "step b"]
    assert spans["step b"][0].attributes["qtforge.step_id"] == "b"  # type: ignore[index]


def test_bad_arguments_are_errors_not_exceptions(provider: TracerProvider) -> None:
    refused = trace_executions("not an orchestrator", provider)  # type: ignore[arg-type]
    assert not refused
    assert refused.error().code is PluginErrorCode.InvalidArgument


@pytest.mark.slow
def test_without_opentelemetry_it_says_what_to_install(tmp_path: Path) -> None:
    # A meta path finder that refuses ``opentelemetry``: as if it were not installed.
    script = (
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'opentelemetry':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "from qtforge_orch import PluginOrchestrator\n"
        "from qtforge_orch.tracing import trace_executions\n"
        "result = trace_executions(PluginOrchestrator())\n"
        "print(result.error().code.name, result.error().message)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("DependencyMissing tracing needs OpenTelemetry's API: ")
    assert "pip install 'qtforge_orch[otel]'" in done.stdout
