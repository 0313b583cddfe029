"""v2 data model (pydantic structs, JSON format) and structural validation."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from qtforge_orch.errors import PluginErrorCode
from qtforge_orch.orchestration.advanced._v2_validation import assign_connection_ids
from qtforge_orch.orchestration.advanced.enums import (
    ConnectionType,
    WorkflowExecutionMode,
    WorkflowExecutionStatus,
    WorkflowNodeType,
)
from qtforge_orch.orchestration.advanced.execution_context import WorkflowExecutionContext
from qtforge_orch.orchestration.advanced.workflow import (
    PluginWorkflow,
    iter_workflow_errors,
    validate_workflow,
)
from qtforge_orch.orchestration.advanced.workflow_connection import WorkflowConnection
from qtforge_orch.orchestration.advanced.workflow_node import WorkflowNode
from qtforge_orch.results import Expected

Code = PluginErrorCode
STRUCTS: list[Any] = [WorkflowNode, WorkflowConnection, PluginWorkflow, WorkflowExecutionContext]


# --------------------------------------------------------------------------------------------
# helpers


def node(node_id: str, **fields: Any) -> WorkflowNode:
    fields.setdefault("plugin_id", f"{node_id}_plugin")
    return WorkflowNode(node_id=node_id, **fields)


def conn(source: str, target: str, **fields: Any) -> WorkflowConnection:
    return WorkflowConnection(source_node=source, target_node=target, **fields)


def workflow(
    nodes: list[WorkflowNode], connections: list[WorkflowConnection] | None = None, **fields: Any
) -> PluginWorkflow:
    return PluginWorkflow(
        workflow_id=fields.pop("workflow_id", "wf"),
        nodes=nodes,
        connections=connections or [],
        **fields,
    )


def error_code(result: Expected[Any]) -> PluginErrorCode:
    assert not result, f"expected an error, got {result!r}"
    return result.error().code


def full_node() -> WorkflowNode:
    return WorkflowNode(
        node_id="filter",
        name="Filter",
        description="drops bad rows",
        plugin_id="data_filter",
        node_type=WorkflowNodeType.Decision,
        configuration={"method": "run", "timeout": 500, "nested": {"a": [1, 2.5, None, True]}},
        ui_properties={"x": 10, "y": -3.5},
        input_ports=["input"],
        output_ports=["kept", "dropped"],
    )


def full_connection() -> WorkflowConnection:
    return WorkflowConnection(
        connection_id="c1",
        source_node="filter",
        source_port="kept",
        target_node="sink",
        target_port="data",
        connection_type=ConnectionType.Control,
        properties={"condition": "ok == true", "weight": 2},
    )


def full_workflow() -> PluginWorkflow:
    return PluginWorkflow(
        workflow_id="wf",
        name="Pipeline",
        description="d",
        execution_mode=WorkflowExecutionMode.Streaming,
        nodes=[full_node(), node("sink", node_type=WorkflowNodeType.Sink, input_ports=["data"])],
        connections=[full_connection()],
        global_configuration={"stream_channel_capacity": 64, "app": {"k": "v"}},
        metadata={"author": "me", "tags": ["a", "b"]},
    )


def full_context() -> WorkflowExecutionContext:
    return WorkflowExecutionContext(
        execution_id="e1",
        workflow_id="wf",
        status=WorkflowExecutionStatus.Paused,
        start_time=datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC),
        end_time=datetime(2024, 5, 1, 12, 0, 5, tzinfo=timezone(timedelta(hours=2))),
        execution_data={"rows": 3},
        node_states={"filter": {"status": "completed", "attempts": 1}},
        progress=0.5,
        current_node="sink",
        error_messages=["one", "two"],
    )


# --------------------------------------------------------------------------------------------
# enums and defaults


@pytest.mark.parametrize(
    ("enum_cls", "names"),
    [
        (
            WorkflowExecutionMode,
            ["Sequential", "Parallel", "Conditional", "EventDriven", "Streaming"],
        ),
        (
            WorkflowNodeType,
            ["Source", "Processor", "Sink", "Decision", "Aggregator", "Splitter", "Custom"],
        ),
        (ConnectionType, ["DataFlow", "Control", "Event", "Dependency"]),
        (
            WorkflowExecutionStatus,
            ["Pending", "Running", "Paused", "Completed", "Failed", "Cancelled"],
        ),
    ],
)
def test_enum_members_follow_reference_order(enum_cls: Any, names: list[str]) -> None:
    assert [m.name for m in enum_cls] == names
    assert [int(m) for m in enum_cls] == list(range(len(names)))


def test_node_defaults() -> None:
    n = WorkflowNode()
    assert (n.node_id, n.name, n.description, n.plugin_id) == ("", "", "", "")
    assert n.node_type is WorkflowNodeType.Processor
    assert n.configuration == {} and n.ui_properties == {}
    assert n.input_ports == [] and n.output_ports == []


def test_connection_defaults() -> None:
    c = WorkflowConnection()
    assert c.connection_id == c.source_node == c.source_port == ""
    assert c.target_node == c.target_port == ""
    assert c.connection_type is ConnectionType.DataFlow
    assert c.properties == {}


def test_workflow_defaults() -> None:
    w = PluginWorkflow()
    assert (w.workflow_id, w.name, w.description) == ("", "", "")
    assert w.execution_mode is WorkflowExecutionMode.Sequential
    assert w.nodes == [] and w.connections == []
    assert w.global_configuration == {} and w.metadata == {}


def test_context_defaults() -> None:
    c = WorkflowExecutionContext()
    assert c.execution_id == c.workflow_id == c.current_node == ""
    assert c.status is WorkflowExecutionStatus.Pending
    assert c.start_time is None and c.end_time is None
    assert c.execution_data == {} and c.node_states == {}
    assert c.progress == 0.0 and c.error_messages == []


def test_mutable_defaults_are_not_shared() -> None:
    a, b = WorkflowNode(), WorkflowNode()
    a.input_ports.append("x")
    a.configuration["k"] = 1
    assert b.input_ports == [] and b.configuration == {}


def test_reference_python_snippet() -> None:
    wf = PluginWorkflow()
    wf.workflow_id = "python_pipeline"
    wf.execution_mode = WorkflowExecutionMode.Streaming
    source_node = WorkflowNode()
    source_node.node_id = "source"
    source_node.plugin_id = "data_source"
    source_node.node_type = WorkflowNodeType.Source
    wf.nodes.append(source_node)
    assert wf.nodes == [source_node]
    assert validate_workflow(wf)


def test_assignment_is_validated() -> None:
    n = WorkflowNode()
    with pytest.raises(ValidationError):
        n.node_id = 5  # type: ignore[assignment]
    with pytest.raises(ValidationError):
        n.node_type = 42  # type: ignore[assignment]
    with pytest.raises(ValidationError):
        n.node_type = True  # type: ignore[assignment]
    n.node_type = "sink"  # type: ignore[assignment]
    assert n.node_type is WorkflowNodeType.Sink
    ctx = WorkflowExecutionContext()
    with pytest.raises(ValidationError):
        ctx.progress = 1.5
    with pytest.raises(ValidationError):
        WorkflowNode(nodeid="typo")


def test_json_schema_documents_the_format() -> None:
    schema = PluginWorkflow.model_json_schema()
    assert {"workflow_id", "nodes", "connections", "execution_mode"} <= set(schema["properties"])


# --------------------------------------------------------------------------------------------
# JSON


@pytest.mark.parametrize(
    "make",
    [
        full_node,
        full_connection,
        full_workflow,
        full_context,
        WorkflowNode,
        WorkflowConnection,
        PluginWorkflow,
        WorkflowExecutionContext,
    ],
)
def test_json_round_trip(make: Any) -> None:
    original = make()
    data = original.to_json()
    # to_json produces plain JSON: it survives text serialisation unchanged.
    assert json.loads(json.dumps(data)) == data
    back = type(original).from_json(data)
    assert back, back
    assert back.value() == original
    assert back.value().to_json() == data


def test_to_json_writes_header_names_and_enum_names() -> None:
    """Issue 13: the header's names and integer mode (what QtForge reads), enums QtForge does
    not have by name, and the format version."""
    data = full_workflow().to_json()
    assert set(data) == {"format_version", *PluginWorkflow.model_fields}
    assert data["format_version"] == 2
    assert data["execution_mode"] == 4  # Streaming, as QtForge's toInt() reads it
    assert data["nodes"][0]["node_type"] == "Decision"
    header_node = {"display_name": "name", "position": "ui_properties"}
    assert set(data["nodes"][0]) == {
        *header_node,
        *(set(WorkflowNode.model_fields) - {"name", "ui_properties"}),
    }
    assert data["nodes"][0]["display_name"] == "Filter"
    assert data["nodes"][0]["position"] == {"x": 10, "y": -3.5}
    assert data["connections"][0]["connection_type"] == "Control"
    assert set(data["connections"][0]) == {
        "source_node_id",
        "target_node_id",
        *(set(WorkflowConnection.model_fields) - {"source_node", "target_node"}),
    }
    ctx = full_context().to_json()
    assert set(ctx) == set(WorkflowExecutionContext.model_fields)
    assert ctx["status"] == "Paused"
    assert ctx["start_time"] == "2024-05-01T12:00:00.123456+00:00"


def test_to_json_and_from_json_do_not_alias() -> None:
    n = full_node()
    data = n.to_json()
    data["configuration"]["nested"]["a"].append(99)
    assert n.configuration["nested"]["a"] == [1, 2.5, None, True]
    source = {"node_id": "a", "configuration": {"inner": {"x": 1}}}
    parsed = WorkflowNode.from_json(source).value()
    source["configuration"]["inner"]["x"] = 2  # type: ignore[index]
    assert parsed.configuration == {"inner": {"x": 1}}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Source", WorkflowNodeType.Source),
        ("sink", WorkflowNodeType.Sink),
        ("AGGREGATOR", WorkflowNodeType.Aggregator),
        (0, WorkflowNodeType.Source),
        (6, WorkflowNodeType.Custom),
        (None, WorkflowNodeType.Processor),
    ],
)
def test_node_type_by_name_or_integer(raw: Any, expected: WorkflowNodeType) -> None:
    parsed = WorkflowNode.from_json({"node_id": "n", "node_type": raw}).value()
    assert parsed.node_type is expected
    assert parsed.to_json()["node_type"] == expected.name


def test_other_enums_by_name_or_integer() -> None:
    assert (
        PluginWorkflow.from_json({"execution_mode": "event_driven"}).value().execution_mode
        is WorkflowExecutionMode.EventDriven
    )
    assert (
        PluginWorkflow.from_json({"execution_mode": 4}).value().execution_mode
        is WorkflowExecutionMode.Streaming
    )
    assert (
        WorkflowConnection.from_json({"connection_type": "dataflow"}).value().connection_type
        is ConnectionType.DataFlow
    )
    assert (
        WorkflowConnection.from_json({"connection_type": 3}).value().connection_type
        is ConnectionType.Dependency
    )
    assert (
        WorkflowExecutionContext.from_json({"status": "cancelled"}).value().status
        is WorkflowExecutionStatus.Cancelled
    )
    assert (
        WorkflowExecutionContext.from_json({"status": 1}).value().status
        is WorkflowExecutionStatus.Running
    )


@pytest.mark.parametrize("raw", [7, -1, True, 1.0, "Sourcey", "", [0], {}])
def test_bad_enum_values_are_errors(raw: Any) -> None:
    result = WorkflowNode.from_json({"node_type": raw})
    assert error_code(result) is Code.InvalidWorkflowStructure
    assert "node_type" in result.error().message
    assert result.error().context["field"] == "node_type"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"nodes": [{"node_id": "a"}, {"input_ports": ["ok", 3]}]}, "nodes[1].input_ports[1]"),
        ({"nodes": {"a": {}}}, "nodes"),
        ({"nodes": [[]]}, "nodes[0]"),
        ({"connections": [{"properties": []}]}, "connections[0].properties"),
        ({"connections": [{"target_port": 1}]}, "connections[0].target_port"),
        ({"workflow_id": 12}, "workflow_id"),
        ({"metadata": "x"}, "metadata"),
        ({"global_configuration": [1]}, "global_configuration"),
    ],
)
def test_workflow_from_json_errors_name_the_field(data: Any, field: str) -> None:
    result = PluginWorkflow.from_json(data)
    assert error_code(result) is Code.InvalidWorkflowStructure
    assert f"'{field}'" in result.error().message
    assert result.error().context["field"] == field


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"progress": 1.5}, "progress"),
        ({"progress": "0.5"}, "progress"),
        ({"progress": float("nan")}, "progress"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"end_time": [2024]}, "end_time"),
        ({"end_time": 10**30}, "end_time"),
        ({"node_states": {"a": 1}}, "node_states['a']"),
        ({"error_messages": "boom"}, "error_messages"),
    ],
)
def test_context_from_json_errors_name_the_field(data: Any, field: str) -> None:
    result = WorkflowExecutionContext.from_json(data)
    assert error_code(result) is Code.InvalidWorkflowStructure
    assert result.error().context["field"] == field


@pytest.mark.parametrize("struct", STRUCTS)
@pytest.mark.parametrize("value", [None, 1, "text", [], [{}], True, 2.5])
def test_from_json_rejects_non_objects(struct: Any, value: Any) -> None:
    result = struct.from_json(value)
    assert error_code(result) is Code.InvalidWorkflowStructure
    assert "JSON object" in result.error().message


def test_from_json_null_and_missing_mean_default_and_unknown_keys_are_ignored() -> None:
    parsed = WorkflowNode.from_json(
        {"node_id": "a", "name": None, "input_ports": None, "future_field": [1, 2]}
    ).value()
    assert parsed == WorkflowNode(node_id="a")


def test_context_times_from_milliseconds_and_iso() -> None:
    ctx = WorkflowExecutionContext.from_json(
        {"start_time": 1_700_000_000_000, "end_time": "2024-01-02T03:04:05"}
    ).value()
    assert ctx.start_time == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert ctx.end_time == datetime(2024, 1, 2, 3, 4, 5)
    assert WorkflowExecutionContext.from_json(ctx.to_json()).value() == ctx


# Arbitrary JSON values: from_json must never raise, whatever it is given.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)

enum_like = st.sampled_from(
    ["Source", "sink", "DataFlow", "control", "Streaming", "running", "paused", "bogus"]
) | st.integers(min_value=-1, max_value=8)
plausible = (
    json_values
    | enum_like
    | st.lists(st.text(max_size=4), max_size=3)
    | st.dictionaries(st.text(max_size=4), json_values, max_size=3)
    | st.floats(min_value=0.0, max_value=1.0)
    | st.integers(min_value=0, max_value=2**45)
    | st.datetimes().map(lambda d: d.isoformat())
)


def fields_of(struct: Any, inner: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={name: inner for name in struct.model_fields})


node_objects = fields_of(WorkflowNode, plausible)
connection_objects = fields_of(WorkflowConnection, plausible)
workflow_objects = st.fixed_dictionaries(
    {},
    optional={
        **{name: plausible for name in PluginWorkflow.model_fields},
        "nodes": st.lists(node_objects | json_values, max_size=3),
        "connections": st.lists(connection_objects | json_values, max_size=3),
    },
)
context_objects = st.fixed_dictionaries(
    {},
    optional={
        **{name: plausible for name in WorkflowExecutionContext.model_fields},
        "node_states": st.dictionaries(st.text(max_size=4), json_values, max_size=3),
    },
)


def check_never_raises_and_round_trips(struct: Any, value: Any) -> None:
    result = struct.from_json(value)
    assert isinstance(result, Expected)
    if not result:
        assert result.error().code is Code.InvalidWorkflowStructure
        assert result.error().message.startswith(f"{struct.__name__}.from_json")
        return
    model: Any = result.value()
    assert type(model) is struct
    data = model.to_json()
    again = struct.from_json(data)
    assert again, again
    assert again.value() == model
    assert again.value().to_json() == data


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(struct=st.sampled_from(STRUCTS), value=json_values)
def test_from_json_never_raises_for_arbitrary_json(struct: Any, value: Any) -> None:
    check_never_raises_and_round_trips(struct, value)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    pair=st.one_of(
        st.tuples(st.just(WorkflowNode), node_objects),
        st.tuples(st.just(WorkflowConnection), connection_objects),
        st.tuples(st.just(PluginWorkflow), workflow_objects),
        st.tuples(st.just(WorkflowExecutionContext), context_objects),
    )
)
def test_from_json_never_raises_for_field_shaped_json(pair: tuple[Any, Any]) -> None:
    check_never_raises_and_round_trips(*pair)


def test_deeply_nested_json_is_an_error_not_a_crash() -> None:
    deep: Any = {}
    for _ in range(100_000):
        deep = {"x": deep}
    result = WorkflowNode.from_json({"configuration": deep})
    assert error_code(result) is Code.InvalidWorkflowStructure


# --------------------------------------------------------------------------------------------
# validation


def chain(count: int) -> PluginWorkflow:
    nodes = [node(f"n{i}", input_ports=["in"], output_ports=["out"]) for i in range(count)]
    connections = [
        conn(f"n{i}", f"n{i + 1}", source_port="out", target_port="in") for i in range(count - 1)
    ]
    return workflow(nodes, connections)


def test_valid_workflow_passes() -> None:
    assert validate_workflow(chain(5))
    assert validate_workflow(full_workflow())


def test_validation_does_not_mutate() -> None:
    wf = chain(4)
    wf.connections.append(conn("n3", "n0"))  # a cycle, so every check runs
    before = wf.model_dump()
    assert error_code(validate_workflow(wf)) is Code.CircularDependency
    assert wf.model_dump() == before


@pytest.mark.parametrize(
    "make",
    [
        lambda: workflow([node("a")], workflow_id=""),
        lambda: workflow([node("a")], workflow_id="   "),
        lambda: workflow([]),
        lambda: workflow([node("a"), WorkflowNode(plugin_id="p")]),
        lambda: workflow([node("a"), node("a")]),
        lambda: workflow([WorkflowNode(node_id="a")]),
        lambda: workflow(
            [node("a"), node("b")],
            [conn("a", "b", connection_id="x"), conn("a", "b", connection_id="x")],
        ),
        lambda: workflow([node("a", input_ports=["in", "in"])]),
        lambda: workflow([node("a", output_ports=[""])]),
    ],
    ids=[
        "empty-id",
        "blank-id",
        "no-nodes",
        "empty-node-id",
        "duplicate-node-id",
        "empty-plugin-id",
        "duplicate-connection-id",
        "duplicate-port",
        "empty-port",
    ],
)
def test_invalid_structure(make: Any) -> None:
    result = validate_workflow(make())
    assert error_code(result) is Code.InvalidWorkflowStructure
    assert result.error().message


def test_appended_junk_is_reported_not_raised() -> None:
    wf = workflow([node("a")])
    wf.nodes.append({"node_id": "b"})  # type: ignore[arg-type]
    assert error_code(validate_workflow(wf)) is Code.InvalidWorkflowStructure
    wf = workflow([node("a")])
    wf.connections.append("a->b")  # type: ignore[arg-type]
    assert error_code(validate_workflow(wf)) is Code.InvalidWorkflowStructure
    assert error_code(validate_workflow("not a workflow")) is Code.InvalidWorkflowStructure  # type: ignore[arg-type]


@pytest.mark.parametrize(("source", "target"), [("a", "ghost"), ("ghost", "a")])
def test_connection_to_missing_node(source: str, target: str) -> None:
    result = validate_workflow(workflow([node("a")], [conn(source, target)]))
    assert error_code(result) is Code.NodeNotFound
    assert "'ghost'" in result.error().message
    assert result.error().context["node_id"] == "ghost"


def test_undeclared_output_port_lists_declared_ports() -> None:
    wf = workflow(
        [node("a", output_ports=["out", "err"]), node("b", input_ports=["in"])],
        [conn("a", "b", source_port="result", target_port="in")],
    )
    result = validate_workflow(wf)
    assert error_code(result) is Code.InvalidConnection
    assert "'result'" in result.error().message and "'out', 'err'" in result.error().message


def test_undeclared_input_port() -> None:
    wf = workflow(
        [node("a", output_ports=["out"]), node("b")],
        [conn("a", "b", source_port="out", target_port="in")],
    )
    result = validate_workflow(wf)
    assert error_code(result) is Code.InvalidConnection
    assert "declared input ports: none" in result.error().message


def test_portless_connection_between_nodes_with_ports_is_fine() -> None:
    wf = workflow(
        [node("a", output_ports=["out"]), node("b", input_ports=["in"])], [conn("a", "b")]
    )
    assert validate_workflow(wf)


def test_dataflow_into_source_is_invalid() -> None:
    wf = workflow([node("a"), node("s", node_type=WorkflowNodeType.Source)], [conn("a", "s")])
    assert error_code(validate_workflow(wf)) is Code.InvalidConnection
    # Ordering a source after something is not a data flow, so it is allowed.
    wf.connections[0].connection_type = ConnectionType.Dependency
    assert validate_workflow(wf)


def test_dataflow_out_of_sink_is_invalid() -> None:
    wf = workflow([node("k", node_type=WorkflowNodeType.Sink), node("b")], [conn("k", "b")])
    assert error_code(validate_workflow(wf)) is Code.InvalidConnection
    wf.connections[0].connection_type = ConnectionType.Control
    assert validate_workflow(wf)


@pytest.mark.parametrize(
    "ctype", [ConnectionType.DataFlow, ConnectionType.Control, ConnectionType.Dependency]
)
def test_cycle_is_named(ctype: ConnectionType) -> None:
    wf = workflow(
        [node("a"), node("b"), node("c")],
        [conn("a", "b"), conn("b", "c"), conn("c", "a", connection_type=ctype)],
    )
    result = validate_workflow(wf)
    assert error_code(result) is Code.CircularDependency
    assert result.error().context["cycle"] == ["a", "b", "c"]
    assert "a -> b -> c -> a" in result.error().message
    assert " -> " in result.error().message


def test_self_loop_is_a_cycle() -> None:
    result = validate_workflow(workflow([node("a")], [conn("a", "a")]))
    assert error_code(result) is Code.CircularDependency
    assert result.error().context["cycle"] == ["a"]


def test_event_connections_count_for_cycles() -> None:
    wf = workflow(
        [node("a"), node("b")],
        [conn("a", "b"), conn("b", "a", connection_type=ConnectionType.Event)],
    )
    assert error_code(validate_workflow(wf)) is Code.CircularDependency


def control(condition: Any) -> PluginWorkflow:
    return workflow(
        [node("d", node_type=WorkflowNodeType.Decision), node("p")],
        [
            conn(
                "d",
                "p",
                connection_type=ConnectionType.Control,
                properties={"condition": condition},
            )
        ],
    )


def test_valid_control_condition() -> None:
    assert validate_workflow(control("file_valid == true"))
    assert validate_workflow(control('row_count < 10000 && kind == "csv"'))


@pytest.mark.parametrize("condition", [42, None, ["x"], "file_valid ==", "(("])
def test_bad_control_condition(condition: Any) -> None:
    result = validate_workflow(control(condition))
    assert error_code(result) is Code.InvalidWorkflowStructure
    assert "condition" in result.error().message


@pytest.mark.parametrize("key", ["stream_channel_capacity", "max_concurrency"])
@pytest.mark.parametrize("value", [0, -1, 1.5, "8", True, None])
def test_bad_global_configuration(key: str, value: Any) -> None:
    wf = workflow([node("a")], global_configuration={key: value})
    result = validate_workflow(wf)
    assert error_code(result) is Code.InvalidWorkflowStructure
    assert key in result.error().message
    wf.global_configuration[key] = 4
    assert validate_workflow(wf)


@pytest.mark.parametrize(("bad", "good"), [(0, 60_000), ("10s", None), (2.5, 1)])
def test_bad_global_timeout(bad: Any, good: Any) -> None:
    wf = workflow([node("a")], global_configuration={"timeout": bad})
    result = validate_workflow(wf)
    assert error_code(result) is Code.InvalidWorkflowStructure
    assert "timeout" in result.error().message
    wf.global_configuration["timeout"] = good
    assert validate_workflow(wf)


@pytest.mark.parametrize(
    ("key", "bad", "good"),
    [
        ("timeout", 0, 1000),
        ("timeout", "1s", None),
        ("timeout", 1.5, 1),
        ("max_retries", -1, 0),
        ("max_retries", True, 3),
        ("retry_delay", -5, 0),
        ("retry_delay", "100", 250),
        ("critical", 1, False),
        ("method", "", "process"),
        ("method", 3, "execute"),
    ],
)
def test_bad_node_configuration(key: str, bad: Any, good: Any) -> None:
    wf = workflow([node("a", configuration={key: bad, "other": object()})])
    result = validate_workflow(wf)
    assert error_code(result) is Code.InvalidWorkflowStructure
    assert "'a'" in result.error().message and key in result.error().message
    wf.nodes[0].configuration[key] = good
    assert validate_workflow(wf)


def test_iter_workflow_errors_lists_every_problem() -> None:
    wf = workflow(
        [node("a"), node("a"), WorkflowNode(node_id="b")],
        [conn("a", "ghost"), conn("a", "b", target_port="nope")],
        workflow_id="",
    )
    codes = [e.code for e in iter_workflow_errors(wf)]
    assert codes == [
        Code.InvalidWorkflowStructure,  # empty workflow id
        Code.InvalidWorkflowStructure,  # duplicate node id
        Code.InvalidWorkflowStructure,  # empty plugin id
        Code.NodeNotFound,
        Code.InvalidConnection,
    ]


def test_assign_connection_ids() -> None:
    wf = workflow(
        [node("a", output_ports=["out"]), node("b", input_ports=["in"])],
        [
            conn("a", "b", source_port="out", target_port="in"),
            conn("a", "b"),
            conn("a", "b"),
            conn("a", "b", connection_id="a->b#2"),
            conn("a", "b", connection_id="mine"),
        ],
    )
    before = wf.model_dump()
    ids = [c.connection_id for c in assign_connection_ids(wf)]
    assert ids == ["a:out->b:in", "a->b", "a->b#3", "a->b#2", "mine"]
    assert wf.model_dump() == before  # the input is untouched
    assert ids == [c.connection_id for c in assign_connection_ids(wf)]  # deterministic
    wf.connections = assign_connection_ids(wf)
    assert validate_workflow(wf)


def test_validating_a_large_chain_is_fast() -> None:
    wf = chain(10_000)
    validate_workflow(wf)  # warm up the lazy imports
    started = time.perf_counter()
    result = validate_workflow(wf)
    elapsed = time.perf_counter() - started
    assert result
    assert elapsed < 1.0, f"validating 10,000 nodes took {elapsed:.3f}s"


def test_long_cycle_message_stays_readable() -> None:
    wf = chain(500)
    wf.connections.append(conn("n499", "n100"))
    result = validate_workflow(wf)
    assert error_code(result) is Code.CircularDependency
    cycle = result.error().context["cycle"]
    assert cycle == [f"n{i}" for i in range(100, 500)]
    assert "(400 nodes)" in result.error().message and len(result.error().message) < 300


def test_cycle_behind_a_cycle_is_found_from_any_start() -> None:
    # "x" is only downstream of the cycle: it is left over by Kahn's algorithm but not on it.
    wf = workflow(
        [node("x"), node("a"), node("b")],
        [conn("a", "b"), conn("b", "a"), conn("b", "x")],
    )
    result = validate_workflow(wf)
    assert error_code(result) is Code.CircularDependency
    assert result.error().context["cycle"] == ["a", "b"]


def test_engine_configuration_keys_with_good_values_pass() -> None:
    config = {
        "timeout": None,
        "max_retries": 2,
        "retry_delay": 0,
        "critical": False,
        "method": "run",
    }
    assert validate_workflow(workflow([node("a", configuration=config)]))


NODE_IDS = ["a", "b", "c", "d", ""]
PORTS = ["in", "out", "x", ""]


@st.composite
def random_workflows(draw: st.DrawFn) -> PluginWorkflow:
    nodes = [
        WorkflowNode(
            node_id=draw(st.sampled_from(NODE_IDS)),
            plugin_id=draw(st.sampled_from(["p", "", " "])),
            node_type=draw(st.sampled_from(list(WorkflowNodeType))),
            input_ports=draw(st.lists(st.sampled_from(PORTS), max_size=2)),
            output_ports=draw(st.lists(st.sampled_from(PORTS), max_size=2)),
            configuration=draw(
                st.dictionaries(
                    st.sampled_from(["timeout", "max_retries", "critical", "method", "app"]),
                    st.sampled_from([None, -1, 0, 5, True, "run", ""]),
                    max_size=2,
                )
            ),
        )
        for _ in range(draw(st.integers(0, 5)))
    ]
    connections = [
        WorkflowConnection(
            connection_id=draw(st.sampled_from(["", "", "c1", "c2"])),
            source_node=draw(st.sampled_from([*NODE_IDS, "ghost"])),
            source_port=draw(st.sampled_from(PORTS)),
            target_node=draw(st.sampled_from([*NODE_IDS, "ghost"])),
            target_port=draw(st.sampled_from(PORTS)),
            connection_type=draw(st.sampled_from(list(ConnectionType))),
            properties=draw(st.sampled_from([{}, {"condition": "ok == true"}, {"condition": 1}])),
        )
        for _ in range(draw(st.integers(0, 6)))
    ]
    return PluginWorkflow(
        workflow_id=draw(st.sampled_from(["wf", ""])),
        nodes=nodes,
        connections=connections,
        global_configuration=draw(
            st.sampled_from(
                [{}, {"max_concurrency": 2}, {"stream_channel_capacity": 0}, {"buffer_size": 8}]
            )
        ),
    )


# No deadline: the first example imports networkx (the reference cycle check), which can take
# a second on a busy machine (hypothesis then reports "unreliable timings").
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wf=random_workflows())
def test_fast_paths_agree_with_full_checks(wf: PluginWorkflow) -> None:
    from qtforge_orch._engine import find_cycle
    from qtforge_orch.orchestration.advanced import _v2_validation as v

    before = wf.model_dump()
    errors = list(iter_workflow_errors(wf))
    result = validate_workflow(wf)
    assert wf.model_dump() == before
    assert bool(result) == (not errors)
    if errors:
        assert result.error().code is errors[0].code

    # The fast paths may only say "fine" when the detailed checks find nothing.
    seen: dict[str, WorkflowNode] = {}
    for index, n in enumerate(wf.nodes):
        if v._node_ok(n, seen):
            assert list(v._node_errors(n, index, seen)) == []
        if n.node_id.strip() and n.node_id not in seen:
            seen[n.node_id] = n
    ids: set[str] = set()
    for index, c in enumerate(wf.connections):
        if v._connection_ok(c, seen, set(ids)):
            assert list(v._connection_errors(c, index, seen, set(ids))) == []
        if c.connection_id:
            ids.add(c.connection_id)

    # The linear cycle search agrees with networkx, and what it reports is a real cycle.
    edges = [
        (c.source_node, c.target_node)
        for c in wf.connections
        if c.source_node in seen and c.target_node in seen
    ]
    cycle = find_cycle(list(seen), edges)
    assert (cycle is not None) == _networkx_has_cycle(list(seen), edges)
    if cycle is not None:
        edge_set = set(edges)
        assert len(set(cycle)) == len(cycle)
        assert all((cycle[i], cycle[(i + 1) % len(cycle)]) in edge_set for i in range(len(cycle)))


def _networkx_has_cycle(nodes: list[str], edges: list[tuple[str, str]]) -> bool:
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    return not nx.is_directed_acyclic_graph(graph)


# --------------------------------------------------------------------------------------------
# The frozen form registration keeps (_v2_frozen)


def _state(workflow: PluginWorkflow) -> tuple[Any, ...]:
    return (
        workflow.model_dump(),
        set(workflow.model_fields_set),
        [set(n.model_fields_set) for n in workflow.nodes],
        [set(c.model_fields_set) for c in workflow.connections],
    )


@st.composite
def valid_workflows(draw: st.DrawFn) -> PluginWorkflow:
    """Workflows that pass validation: unique ids, forward connections (no cycle), declared
    ports, engine settings of the right types, some connection ids left to be assigned."""
    count = draw(st.integers(1, 6))
    ids = [f"n{i}" for i in range(count)]
    nodes = [
        WorkflowNode(
            node_id=node_id,
            plugin_id="p",
            node_type=draw(
                st.sampled_from([WorkflowNodeType.Processor, WorkflowNodeType.Decision])
            ),
            input_ports=draw(st.sampled_from([[], ["in"], ["in", "x"]])),
            output_ports=draw(st.sampled_from([[], ["out"]])),
            configuration=draw(
                st.dictionaries(
                    st.sampled_from(["timeout", "max_retries", "app"]),
                    st.integers(1, 5),
                    max_size=2,
                )
            ),
            ui_properties=draw(st.sampled_from([{}, {"x": 1, "y": [2]}])),
            enabled=draw(st.booleans()),
        )
        for node_id in ids
    ]
    connections = []
    for _ in range(draw(st.integers(0, 8)) if count > 1 else 0):
        source = draw(st.integers(0, count - 2))
        target = draw(st.integers(source + 1, count - 1))
        kind = draw(st.sampled_from(list(ConnectionType)))
        connections.append(
            WorkflowConnection(
                source_node=ids[source],
                target_node=ids[target],
                source_port=draw(st.sampled_from(["", *nodes[source].output_ports])),
                target_port=draw(st.sampled_from(["", *nodes[target].input_ports])),
                connection_type=kind,
                properties={"condition": "ok == true"}
                if kind is ConnectionType.Control and draw(st.booleans())
                else {},
                data_transformation=draw(st.sampled_from([{}, {"expression": "value"}])),
                enabled=draw(st.booleans()),
            )
        )
    for index in draw(st.lists(st.integers(0, 7), max_size=2, unique=True)):
        if index < len(connections):
            connections[index].connection_id = f"c{index}"
    return PluginWorkflow(
        workflow_id="wf",
        execution_mode=draw(
            st.sampled_from([WorkflowExecutionMode.Sequential, WorkflowExecutionMode.Parallel])
        ),
        nodes=nodes,
        connections=connections,
        global_configuration=draw(st.sampled_from([{}, {"max_concurrency": 2, "app": [1]}])),
        metadata=draw(st.sampled_from([{}, {"owner": "me"}])),
    )


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(wf=valid_workflows())
def test_the_frozen_form_thaws_to_what_a_copy_with_ids_was(wf: PluginWorkflow) -> None:
    """``FrozenGraph(wf).thaw()`` equals what registration used to keep: a deep copy whose
    connections were assigned ``assign_connection_ids``."""
    from qtforge_orch.orchestration.advanced._model_base import copy_model as copy_workflow
    from qtforge_orch.orchestration.advanced._v2_frozen import FrozenGraph

    assert validate_workflow(wf), validate_workflow(wf).error()
    expected = copy_workflow(wf)
    expected.connections = assign_connection_ids(expected)
    frozen = FrozenGraph(wf)
    thawed = frozen.thaw()
    assert thawed == expected
    assert _state(thawed) == _state(expected)
    assert list(thawed.__dict__) == list(expected.__dict__)
    # Independent: changing the original or a thawed copy changes no later copy.
    for node in wf.nodes:
        node.configuration["changed"] = 1
        node.input_ports.append("changed")
    for node in thawed.nodes:
        node.ui_properties["changed"] = 1
    assert _state(frozen.thaw()) == _state(expected)


# --------------------------------------------------------------------------------------------
# The fast construction/assignment path (orchestration._fast) builds what pydantic builds


class _Str(str):
    pass


_VALUES = st.sampled_from(
    [
        "",
        "a",
        "sink",
        "value * 2",
        _Str("s"),
        0,
        1,
        3,
        -1,
        1.0,
        True,
        False,
        None,
        [],
        ["in"],
        ["in", 2],
        ("in",),
        {},
        {"k": [1]},
        {"expression": "value"},
        {1: "x"},
        WorkflowNodeType.Sink,
        ConnectionType.Control,
        WorkflowExecutionMode.Parallel,
    ]
)


def _model_values(cls: type[Any]) -> st.SearchStrategy[dict[str, Any]]:
    names = [*cls.model_fields, *getattr(cls, "HEADER_NAMES", {}).values(), "unknown"]
    return st.dictionaries(st.sampled_from(names), _VALUES, max_size=5)


def _built(build: Any) -> tuple[str, Any]:
    try:
        model = build()
    except ValidationError as exc:
        return ("error", [(e["type"], e["loc"]) for e in exc.errors()])
    return ("ok", (model.__dict__, model.model_fields_set))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([WorkflowNode, WorkflowConnection]).flatmap(
        lambda cls: st.tuples(st.just(cls), _model_values(cls))
    )
)
def test_fast_node_and_connection_construction_matches_pydantic(
    case: tuple[type[Any], dict[str, Any]],
) -> None:
    cls, data = case
    assert _built(lambda: cls(**data)) == _built(lambda: cls.model_validate(data))


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*PluginWorkflow.model_fields, "unknown"]),
        st.one_of(
            _VALUES,
            st.just([WorkflowNode(node_id="a", plugin_id="p")]),
            st.just([WorkflowConnection(source_node="a", target_node="b")]),
            st.just([{"node_id": "a"}]),
        ),
        max_size=5,
    )
)
def test_fast_workflow_construction_matches_pydantic(data: dict[str, Any]) -> None:
    fast = _built(lambda: PluginWorkflow(**data))
    assert fast == _built(lambda: PluginWorkflow.model_validate(data))
    if fast[0] == "ok":
        built = PluginWorkflow(**data)
        for name in ("nodes", "connections"):
            if name in data:
                assert getattr(built, name) is not data[name]
                for a, b in zip(getattr(built, name), data[name], strict=True):
                    assert a is b or isinstance(b, dict)  # instances kept, dicts validated


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [
            WorkflowNode(node_id="n", plugin_id="p"),
            WorkflowConnection(source_node="a", target_node="b"),
            PluginWorkflow(workflow_id="w"),
        ]
    ),
    st.sampled_from(
        [
            *WorkflowNode.model_fields,
            *WorkflowConnection.model_fields,
            *PluginWorkflow.model_fields,
            "display_name",
            "position",
            "source_node_id",
            "unknown",
        ]
    ),
    _VALUES,
)
def test_fast_assignment_matches_pydantic(template: Any, name: str, value: Any) -> None:
    from pydantic import BaseModel

    def assign(setter: Any) -> tuple[str, Any]:
        model = template.model_copy(deep=True)
        try:
            setter(model, name, value)
        except (ValidationError, AttributeError, ValueError, TypeError) as exc:
            return ("error", type(exc).__name__)
        return ("ok", (model.__dict__, model.model_fields_set))

    assert assign(setattr) == assign(BaseModel.__setattr__)


def test_connections_against_declaration_order_still_validate_and_cycles_are_found() -> None:
    nodes = [WorkflowNode(node_id=i, plugin_id="p") for i in ("a", "b", "c")]
    backwards = PluginWorkflow(
        workflow_id="w",
        nodes=nodes,
        connections=[
            WorkflowConnection(source_node="c", target_node="b"),
            WorkflowConnection(source_node="b", target_node="a"),
        ],
    )
    assert validate_workflow(backwards)
    looped = PluginWorkflow(
        workflow_id="w",
        nodes=nodes,
        connections=[
            WorkflowConnection(source_node="a", target_node="b"),
            WorkflowConnection(source_node="b", target_node="c"),
            WorkflowConnection(source_node="c", target_node="b"),
        ],
    )
    assert validate_workflow(looped).error().code is PluginErrorCode.CircularDependency


def test_the_one_pass_check_takes_the_common_case() -> None:
    from qtforge_orch.orchestration.advanced._v2_validation import looks_valid as _looks_valid

    nodes = [WorkflowNode(node_id=f"n{i}", plugin_id="p") for i in range(3)]
    chain = [WorkflowConnection(source_node=f"n{i}", target_node=f"n{i + 1}") for i in range(2)]
    assert _looks_valid(PluginWorkflow(workflow_id="w", nodes=nodes, connections=chain))
    backwards = [WorkflowConnection(source_node="n1", target_node="n0")]
    assert not _looks_valid(PluginWorkflow(workflow_id="w", nodes=nodes, connections=backwards))
    assert validate_workflow(PluginWorkflow(workflow_id="w", nodes=nodes, connections=backwards))


# The one-pass check and the one-pass freeze share their examples: building the random
# workflows costs more than both checks. No deadline: run on its own, the first example loads
# the condition language (a second on a busy machine).
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wf=st.one_of(random_workflows(), valid_workflows()))
def test_the_one_pass_check_and_freeze_keep_their_promises(wf: PluginWorkflow) -> None:
    """``looks_valid`` (validation's fast path) only passes workflows without errors, and
    ``validate_workflow`` agrees with the detailed checks. ``plain_graph`` (registration's fast
    path) returns a graph only for a workflow without errors, and then exactly what
    validating and freezing would have kept."""
    from qtforge_orch.orchestration.advanced._v2_frozen import FrozenGraph, plain_graph
    from qtforge_orch.orchestration.advanced._v2_validation import looks_valid as _looks_valid

    fast = plain_graph(wf)  # first, on the workflow as generated (every check only reads it)
    errors = list(iter_workflow_errors(wf))
    if type(wf) is PluginWorkflow and _looks_valid(wf):
        assert errors == []
    assert bool(validate_workflow(wf)) == (not errors)

    if fast is None:
        return
    assert errors == []
    slow = FrozenGraph(wf)
    for name in FrozenGraph.__slots__:
        assert getattr(fast, name) == getattr(slow, name), name
    assert _state(fast.thaw()) == _state(slow.thaw())


def test_the_one_pass_freeze_takes_plain_workflows() -> None:
    from qtforge_orch.orchestration.advanced._v2_frozen import plain_graph

    nodes = [
        WorkflowNode(node_id="a", plugin_id="p", output_ports=["out"], configuration={"k": 1}),
        WorkflowNode(node_id="b", plugin_id="p", input_ports=["in"]),
    ]
    wf = PluginWorkflow(
        workflow_id="w",
        nodes=nodes,
        connections=[
            WorkflowConnection(
                source_node="a", source_port="out", target_node="b", target_port="in"
            )
        ],
    )
    frozen = plain_graph(wf)
    assert frozen is not None
    assert frozen.thaw().connections[0].connection_id == "a:out->b:in"
    wf.connections[0].data_transformation = {"expression": "value"}
    assert plain_graph(wf) is None  # transformations get the full checks
