"""Issue #5: hostile input (hypothesis over arbitrary JSON) and size/depth limits."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    PluginWorkflow,
    Workflow,
    WorkflowStep,
)

from .reliability_helpers import step, v1_status
from .v2_helpers import Mode, conn, control, node, workflow

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]  # huge and random inputs

Code = PluginErrorCode
FAST = 5.0  # seconds: a loose guard against pathological slowness, not a benchmark

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)

_V1_KEYS = ["id", "name", "description", "execution_mode", "timeout", "steps", "rollback_steps"]
_STEP_KEYS = [
    "id",
    "name",
    "plugin_id",
    "method_name",
    "parameters",
    "dependencies",
    "timeout",
    "max_retries",
    "retry_delay",
    "critical",
    "condition",
    "metadata",
    "service_name",
]
_V2_KEYS = [
    "workflow_id",
    "name",
    "execution_mode",
    "nodes",
    "connections",
    "global_configuration",
    "metadata",
]
_NODE_KEYS = ["node_id", "plugin_id", "node_type", "configuration", "input_ports", "output_ports"]
_CONN_KEYS = [
    "connection_id",
    "source_node",
    "source_port",
    "target_node",
    "target_port",
    "connection_type",
    "properties",
]


def _shaped(keys: list[str], values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.dictionaries(st.sampled_from(keys), values, max_size=len(keys))


_small_ids = st.sampled_from(["a", "b", "c", "", "p", "execute", "Parallel", "Sequential"])
_field = json_values | _small_ids | st.integers(min_value=-3, max_value=6)
_v1_step = _shaped(_STEP_KEYS, _field | st.lists(_small_ids, max_size=3))
v1_docs = json_values | _shaped(
    _V1_KEYS,
    _field | st.lists(_v1_step, max_size=4) | st.dictionaries(_small_ids, _v1_step, max_size=3),
)
_v2_node = _shaped(_NODE_KEYS, _field | st.lists(_small_ids, max_size=3))
_v2_conn = _shaped(_CONN_KEYS, _field | st.dictionaries(st.just("condition"), _field))
v2_docs = json_values | _shaped(
    _V2_KEYS, _field | st.lists(_v2_node, max_size=4) | st.lists(_v2_conn, max_size=4)
)

HYPO = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- 5. hypothesis ----------------------------------------------------------------------------


# Parsing, the round trip and registration share their examples: generating a document
# costs far more than what is checked on it.
@HYPO
@given(doc=v1_docs)
def test_v1_from_json_never_raises_round_trips_and_registers(
    orchestrator: PluginOrchestrator, doc: Any
) -> None:
    parsed = Workflow.from_json(doc)
    if not parsed:
        assert parsed.error().code == Code.InvalidConfiguration
        return
    first = parsed.value().to_json()
    json.dumps(first, allow_nan=True)
    again = Workflow.from_json(first)
    assert again, again.error()
    assert again.value().to_json() == first
    # Registering what parsed never raises either.
    result = orchestrator.register_workflow(parsed.value())
    if result:
        assert orchestrator.unregister_workflow(parsed.value().id())
    else:
        assert isinstance(result.error().code, PluginErrorCode)


def test_v1_from_json_refuses_a_steps_array_that_repeats_an_id() -> None:
    step_a = {"id": "a", "plugin_id": "p", "method_name": "run"}
    repeated = {"id": "dup", "steps": [step_a, {"id": "b", "plugin_id": "p"}, dict(step_a)]}
    parsed = Workflow.from_json(repeated)
    assert not parsed
    error = parsed.error()
    assert error.code == Code.InvalidConfiguration
    assert "'a'" in error.message and "steps[0]" in error.message and "steps[2]" in error.message
    # What it accepts keeps every step: an array of distinct ids round-trips whole.
    distinct = {"id": "ok", "steps": [step_a, {"id": "b", "plugin_id": "p"}]}
    written = Workflow.from_json(distinct).value().to_json()
    assert list(written["steps"]) == ["a", "b"]
    assert Workflow.from_json(written).value().to_json() == written


@HYPO
@given(doc=v2_docs)
def test_v2_from_json_never_raises_round_trips_and_registers(
    advanced: AdvancedPluginOrchestrator, doc: Any
) -> None:
    parsed = PluginWorkflow.from_json(doc)
    if not parsed:
        assert parsed.error().code == Code.InvalidWorkflowStructure
        return
    first = parsed.value().to_json()
    again = PluginWorkflow.from_json(first)
    assert again, again.error()
    assert again.value().to_json() == first
    # Registering what parsed never raises either.
    result = advanced.register_workflow(parsed.value())
    if result:
        assert advanced.unregister_workflow(parsed.value().workflow_id)
    else:
        assert isinstance(result.error().code, PluginErrorCode)


# --- 6. limits --------------------------------------------------------------------------------


def _timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def _deep(depth: int) -> Any:
    value: Any = {"leaf": 1}
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


def test_v1_megabyte_step_id(orchestrator: PluginOrchestrator, plugins: PluginManager) -> None:
    plugins.register_plugin(FunctionPlugin("p", run=lambda p: {"ok": 1}))
    big = "s" * 1_000_000
    wf = Workflow("big").add_step(step(big, "p", "run"))
    registered, took = _timed(lambda: orchestrator.register_workflow(wf))
    assert took < FAST
    assert not registered and registered.error().code == Code.InvalidConfiguration
    assert "limited to 1024" in registered.error().message
    assert len(registered.error().message) < 300  # the id is not echoed in full


def test_v2_megabyte_node_id(advanced: AdvancedPluginOrchestrator, plugins: PluginManager) -> None:
    plugins.register_plugin(FunctionPlugin.from_callable("p", lambda p: {"ok": 1}))
    big = "n" * 1_000_000
    registered, took = _timed(
        lambda: advanced.register_workflow(workflow("big", Mode.Sequential, [node(big, "p")]))
    )
    assert took < FAST
    assert not registered and registered.error().code == Code.InvalidWorkflowStructure
    assert "limited to 1024" in registered.error().message
    assert len(registered.error().message) < 300


def test_v1_deeply_nested_parameters(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin("p", run=lambda p: {"seen": "deep" in p}))
    wf = Workflow("deep").add_step(step("s", "p", "run", parameters={"deep": _deep(5000)}))
    registered, took = _timed(lambda: orchestrator.register_workflow(wf))
    assert took < FAST
    if registered:
        result, took = _timed(lambda: orchestrator.execute_workflow("deep"))
        assert took < FAST
        if result:
            assert v1_status(orchestrator, result.value())["result"]["seen"] is True
            # the status and JSON paths must cope with the depth too
            assert orchestrator.get_step_results(result.value())
        got = orchestrator.get_workflow("deep")
        assert got
        Workflow.from_json(got.value().to_json())
    else:
        assert registered.error().code == Code.InvalidConfiguration


def test_from_json_of_deeply_nested_documents() -> None:
    deep = _deep(5000)
    for doc in (
        deep,
        {"id": "w", "steps": [{"id": "s", "plugin_id": "p", "parameters": {"d": deep}}]},
    ):
        result, took = _timed(lambda d=doc: Workflow.from_json(d))
        assert took < FAST
        if result:
            result.value().to_json()
    for doc in (
        deep,
        {"workflow_id": "w", "nodes": [{"node_id": "n", "configuration": {"d": deep}}]},
    ):
        parsed, took = _timed(lambda d=doc: PluginWorkflow.from_json(d))
        assert took < FAST
        if parsed:
            parsed.value().to_json()


@pytest.mark.parametrize("depth", [600, 5000])
def test_v2_deeply_nested_configuration(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, depth: int
) -> None:
    plugins.register_plugin(FunctionPlugin.from_callable("p", lambda p: {"seen": "deep" in p}))
    wf = workflow("deep", Mode.Sequential, [node("n", "p", configuration={"deep": _deep(depth)})])
    registered, took = _timed(lambda: advanced.register_workflow(wf))
    assert took < FAST
    if registered:
        execution_id = advanced.execute_workflow("deep").value()
        assert advanced.wait_for_execution(execution_id, 5000)
        advanced.get_execution_status(execution_id)
    else:
        assert registered.error().code == Code.InvalidWorkflowStructure


def test_v2_add_node_with_deeply_nested_configuration(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin.from_callable("p", lambda p: {}))
    assert advanced.register_workflow(workflow("w", Mode.Sequential, [node("a", "p")]))
    deep = node("n", "p", configuration={"deep": _deep(600)})
    result, took = _timed(lambda: advanced.add_node_to_workflow("w", deep))
    assert took < FAST
    assert result or result.error().code == Code.InvalidWorkflowStructure


def test_v2_moderately_nested_configuration_works(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin.from_callable("p", lambda p: {"seen": "deep" in p}))
    wf = workflow("deep", Mode.Sequential, [node("n", "p", configuration={"deep": _deep(300)})])
    assert advanced.register_workflow(wf)
    execution_id = advanced.execute_workflow("deep").value()
    assert advanced.wait_for_execution(execution_id, 5000)
    assert advanced.get_node_status(execution_id, "n").value()["output"] == {"seen": True}


N = 20_000


def test_v1_twenty_thousand_step_cycle(orchestrator: PluginOrchestrator) -> None:
    wf = Workflow("cycle")
    for i in range(N):
        wf.add_step(step(f"s{i}", "p", "run", f"s{(i + 1) % N}"))
    result, took = _timed(lambda: orchestrator.register_workflow(wf))
    assert not result and result.error().code == Code.CircularDependency
    assert took < FAST


def test_v1_twenty_thousand_step_chain(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin("p", run=lambda p: {}))
    wf = Workflow("chain")
    for i in range(N):
        wf.add_step(step(f"s{i}", "p", "run", *((f"s{i - 1}",) if i else ())))
    result, took = _timed(lambda: orchestrator.register_workflow(wf))
    assert result, result
    assert took < FAST
    executed, took = _timed(lambda: orchestrator.execute_workflow("chain"))
    assert executed, executed
    assert took < 3 * FAST
    assert v1_status(orchestrator, executed.value())["completed_steps"] == N


def test_v2_twenty_thousand_node_cycle_and_chain(advanced: AdvancedPluginOrchestrator) -> None:
    nodes = [node(f"n{i}", "p") for i in range(N)]
    chain = [conn(f"n{i}", f"n{i + 1}") for i in range(N - 1)]
    cyc = workflow("cycle", Mode.Sequential, nodes, [*chain, conn(f"n{N - 1}", "n0")])
    result, took = _timed(lambda: advanced.register_workflow(cyc))
    assert not result and result.error().code == Code.CircularDependency
    assert took < FAST
    ok, took = _timed(
        lambda: advanced.register_workflow(workflow("chain", Mode.Sequential, nodes, chain))
    )
    assert ok, ok
    assert took < FAST


def _v1_condition(orch: PluginOrchestrator, expression: str) -> Any:
    wf = Workflow("cond").add_step(step("s", "p", "run", condition=expression))
    result = orch.register_workflow(wf)
    if result:
        orch.unregister_workflow("cond")
    return result


def _v1_condition_step(expression: str) -> Any:
    try:
        return WorkflowStep("s", "p", "run", condition=expression)
    except Exception as exc:  # pydantic may refuse at construction: a clear error too
        return exc


@pytest.mark.parametrize(
    "expression",
    [
        " || ".join(f"x{i} == {i}" for i in range(20_000)),  # ~250 KB
        "x == '" + "a" * 1_000_000 + "'",
        "(" * 5000 + "x" + ")" * 5000,
        "!" * 5000 + "x",
        "-" * 5000 + "1 == x",
        "[" * 3000 + "1" + "]" * 3000 + " == x",
        "x" + ".y" * 5000 + " == 1",
        "a ? " * 3000 + "1" + " : 2" * 3000,
    ],
    ids=[
        "long_or",
        "megabyte_literal",
        "parens",
        "nots",
        "negations",
        "lists",
        "selects",
        "ternaries",
    ],
)
def test_v1_hostile_cel_expression_is_refused_or_works_quickly(
    orchestrator: PluginOrchestrator, plugins: PluginManager, expression: str
) -> None:
    plugins.register_plugin(FunctionPlugin("p", run=lambda p: {"ran": True}))
    made = _v1_condition_step(expression)
    if isinstance(made, Exception):
        assert not isinstance(made, RecursionError)
        return
    wf = Workflow("cond").add_step(made)
    result, took = _timed(lambda: orchestrator.register_workflow(wf))
    assert took < FAST
    if not result:
        assert result.error().code == Code.InvalidConfiguration, result.error()
        return
    executed, took = _timed(lambda: orchestrator.execute_workflow("cond", {"x": 1}))
    assert took < FAST
    if not executed:
        assert executed.error().code != Code.Unknown


@pytest.mark.parametrize(
    "expression",
    [
        "(" * 5000 + "x" + ")" * 5000 + " == 1",
        " && ".join(["x == 1"] * 20_000),
    ],
    ids=["parens", "long_and"],
)
def test_v2_hostile_cel_on_control_connection(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, expression: str
) -> None:
    plugins.register_plugin(FunctionPlugin.from_callable("p", lambda p: {"x": 1}))
    wf = workflow(
        "cond", Mode.Conditional, [node("a", "p"), node("b", "p")], [control("a", "b", expression)]
    )
    result, took = _timed(lambda: advanced.register_workflow(wf))
    assert took < FAST
    if not result:
        assert result.error().code == Code.InvalidWorkflowStructure, result.error()
        return
    execution_id = advanced.execute_workflow("cond").value()
    assert advanced.wait_for_execution(execution_id, 5000)


ESCAPES = [
    "__import__('os').system('echo pwned')",
    "__import__('os')",
    "x.__class__.__mro__[1].__subclasses__()",
    "x.__class__ == 1",
    "().__class__.__bases__[0]",
    "lambda: 1",
    "(lambda: 1)()",
    "'{0.__class__}'.format(x)",
    "f'{x.__class__}'",
    "'%s' % x",
    "open('/etc/passwd')",
    "eval('1')",
    "exec('1')",
    "globals()",
    "x; import os",
    "[c for c in x]",
    "x.y.__globals__",
    "getattr(x, '__class__')",
]


@pytest.mark.parametrize("expression", ESCAPES)
def test_conditions_never_run_python(
    orchestrator: PluginOrchestrator, plugins: PluginManager, expression: str
) -> None:
    called: list[bool] = []
    plugins.register_plugin(FunctionPlugin("p", run=lambda p: called.append(True) or {}))
    made = _v1_condition_step(expression)
    if isinstance(made, Exception):
        return
    wf = Workflow("cond").add_step(made)
    result = orchestrator.register_workflow(wf)
    if not result:
        assert result.error().code == Code.InvalidConfiguration
        return

    # Accepted as CEL (e.g. a field select): it must evaluate as data, never as Python, and
    # with an object that would reveal attribute walks it cannot reach Python attributes.
    class Spy:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"attribute walk reached Python: {name}")

    executed = orchestrator.execute_workflow("cond", {"x": Spy(), "y": {"a": 1}})
    assert executed or executed.error().code != Code.Unknown


@pytest.mark.parametrize("expression", ["__import__('os').getcwd() == ''", "lambda: 1"])
def test_v2_conditions_never_run_python(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, expression: str
) -> None:
    plugins.register_plugin(FunctionPlugin.from_callable("p", lambda p: {"x": 1}))
    wf = workflow(
        "cond", Mode.Conditional, [node("a", "p"), node("b", "p")], [control("a", "b", expression)]
    )
    result = advanced.register_workflow(wf)
    assert not result and result.error().code == Code.InvalidWorkflowStructure


def test_step_and_node_counts_are_limited(
    orchestrator: PluginOrchestrator,
    advanced: AdvancedPluginOrchestrator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qtforge_orch import _limits
    from qtforge_orch.orchestration import _v1_validation
    from qtforge_orch.orchestration.advanced import _v2_validation

    monkeypatch.setattr(_v1_validation, "MAX_TASKS", 3)
    monkeypatch.setattr(_v2_validation, "MAX_TASKS", 3)
    assert _limits.MAX_TASKS == 100_000  # the documented default
    wf = Workflow("many")
    for i in range(4):
        wf.add_step(step(f"s{i}", "p", "run"))
    refused = orchestrator.register_workflow(wf)
    assert not refused and "the limit is 3" in refused.error().message
    graph = workflow("many", Mode.Sequential, [node(f"n{i}", "p") for i in range(4)])
    refused = advanced.register_workflow(graph)
    assert not refused and refused.error().code == Code.InvalidWorkflowStructure
    assert "the limit is 3" in refused.error().message
