"""VisualWorkflowEditor through its methods: the header's API, refusals, undo, validation,
files (QtForge's JSON), v1 workflows and executions."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPointF

from qtforge_orch import (
    FunctionPlugin,
    PluginErrorCode,
    PluginWorkflow,
    Workflow,
    WorkflowConnection,
    WorkflowNode,
)
from qtforge_orch.orchestration.advanced.workflow import iter_workflow_errors
from qtforge_orch.widgets import WorkflowDesigner

from . import qtforge_cpp as cpp
from .editor_helpers import editor_plugins, pipeline, shown_editor, v1_chain

pytestmark = pytest.mark.timeout(60)
GOLDEN = Path(__file__).parent / "golden"
Code = PluginErrorCode


def golden(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text())


def test_header_methods_build_a_workflow_and_signals_report(qtbot: Any) -> None:
    editor = shown_editor(qtbot, editor_plugins())
    with qtbot.waitSignal(editor.workflow_modified, timeout=1000):
        a = editor.add_plugin_node("reader", QPointF(0, 0), "read")
    b = editor.add_plugin_node("count", QPointF(300, 0))
    assert (a, b) == ("reader_1", "count_1")
    connection = editor.connect_nodes(a, "", b, "")
    assert connection == "reader_1->count_1"
    workflow = editor.get_workflow()
    assert isinstance(workflow, PluginWorkflow)
    assert [n.node_id for n in workflow.nodes] == [a, b]
    assert workflow.nodes[0].configuration == {"method": "read"}
    assert workflow.nodes[1].position == {"x": 300, "y": 0}
    assert workflow.connections[0].source_node_id == a
    with qtbot.waitSignal(editor.node_selected, timeout=1000) as selected:
        editor.select([a])
    assert selected.args == [a]
    with qtbot.waitSignal(editor.connection_selected, timeout=1000) as picked:
        editor.select([connection])
    assert picked.args == [connection]
    assert editor.remove_connection(connection)
    assert editor.get_workflow().connections == []
    assert editor.remove_node(a)
    assert editor.node_ids() == [b]
    editor.clear()
    assert editor.node_ids() == [] and editor.get_workflow().workflow_id == "workflow"


def test_refused_connections_say_why_and_change_nothing(qtbot: Any) -> None:
    editor = shown_editor(qtbot, editor_plugins())
    editor.load_workflow(pipeline())
    before = editor.get_workflow()
    refusals = [
        ("sink", "", "source", "", "Dependency", Code.CircularDependency),  # a cycle
        ("work", "", "work", "", "Dependency", Code.CircularDependency),  # self-loop
        ("source", "nope", "work", "", "DataFlow", Code.InvalidConnection),  # unknown port
        ("source", "", "work", "rows", "DataFlow", Code.InvalidConnection),  # fed by c1
        ("source", "rows", "work", "rows", "DataFlow", Code.AlreadyExists),  # c1 again
        ("ghost", "", "work", "", "DataFlow", Code.NodeNotFound),
        ("work", "", "source", "", "DataFlow", Code.InvalidConnection),  # data into a Source
        ("source", "", "work", "", "Teleport", Code.InvalidArgument),
    ]
    for source, out, target, into, kind, code in refusals:
        with qtbot.waitSignal(editor.edit_refused, timeout=1000):
            assert editor.connect_nodes(source, out, target, into, kind) == ""
        refusal = editor.last_refusal()
        assert refusal is not None and refusal.code == code, (source, target, refusal)
        assert refusal.message
    assert editor.get_workflow() == before
    assert editor.undo_stack().count() == 0
    assert not editor.is_modified()


def test_undo_of_everything_returns_the_loaded_workflow(qtbot: Any) -> None:
    editor = shown_editor(qtbot, editor_plugins())
    loaded = pipeline()
    editor.load_workflow(loaded)
    assert editor.get_workflow() == loaded
    new = editor.add_plugin_node("writer", QPointF(600, 200), "write")
    editor.connect_nodes("work", "n", new, "")
    editor.set_node_property("work", "name", "Counter")
    editor.set_node_property("c2", "condition", "n > 1")
    editor.move_nodes({"source": (10.0, 40.0)})
    editor.select(["work"])
    editor.duplicate_selection()
    editor.remove_node("source")
    editor.auto_layout()
    end = editor.get_workflow()
    assert editor.is_modified() and editor.undo_stack().count() == 8
    while editor.undo_stack().canUndo():
        editor.undo()
    assert editor.get_workflow() == loaded and not editor.is_modified()
    while editor.undo_stack().canRedo():
        editor.redo()
    assert editor.get_workflow() == end


def test_set_node_property_covers_every_field_and_checks_cel(qtbot: Any) -> None:
    editor = shown_editor(qtbot, editor_plugins())
    editor.load_workflow(pipeline())
    accepted = {
        "name": "Counter",
        "description": "counts rows",
        "plugin_id": "writer",
        "command": "write",
        "node_type": "Custom",
        "enabled": False,
        "configuration": {"method": "write", "limit": 3},
        "input_ports": "rows, more",
        "output_ports": ["n", "total"],
    }
    for name, value in accepted.items():
        assert editor.set_node_property("work", name, value), (name, editor.last_refusal())
    node = editor.get_workflow().nodes[1]
    assert (node.name, node.plugin_id, node.node_type.name, node.enabled) == (
        "Counter",
        "writer",
        "Custom",
        False,
    )
    assert node.configuration == {"method": "write", "limit": 3}
    assert node.input_ports == ["rows", "more"] and node.output_ports == ["n", "total"]
    assert editor.set_node_property("c2", "condition", "n > 2")
    assert editor.set_node_property("c1", "data_transformation", "{'rows': value}")
    assert editor.set_node_property("c1", "enabled", False)
    refused = [
        ("c2", "condition", "n >", Code.InvalidWorkflowStructure),  # bad CEL
        ("c1", "data_transformation", "value +", Code.InvalidWorkflowStructure),
        ("work", "plugin_id", "missing", Code.PluginNotFound),  # not in the plugin manager
        ("work", "command", "nope", Code.CommandNotFound),
        ("work", "input_ports", ["more"], Code.InvalidConnection),  # 'rows' is in use (c1)
        ("work", "node_type", "Source", Code.InvalidConnection),  # c1 feeds it data
        ("work", "colour", "red", Code.InvalidArgument),
        ("work", "enabled", "yes", Code.InvalidArgument),
        ("ghost", "name", "x", Code.NodeNotFound),
    ]
    before = editor.get_workflow()
    for target, name, value, code in refused:
        result = editor.set_node_property(target, name, value)
        assert not result and result.error().code == code, (name, result)
    assert editor.get_workflow() == before
    assert editor.check_expression("n >") and editor.check_expression("n > 1") == ""
    assert editor.set_workflow_property("execution_mode", "Parallel")
    assert editor.get_workflow().execution_mode.name == "Parallel"
    assert not editor.set_workflow_property("workflow_id", "")


def test_validation_issues_are_the_librarys_own_on_their_targets(qtbot: Any) -> None:
    editor = shown_editor(qtbot, editor_plugins())
    broken = pipeline()
    broken.nodes[1].configuration = {"method": "run", "max_retries": -1}
    broken.connections.append(
        WorkflowConnection(connection_id="bad", source_node="work", target_node="sink",
                           target_port="missing")
    )  # fmt: skip
    broken.nodes.append(WorkflowNode(node_id="lost", plugin_id="elsewhere"))
    editor.load_workflow(broken)
    issues = editor.validation_issues()
    library = list(iter_workflow_errors(editor.get_workflow()))
    assert [(i.code, i.message) for i in issues[: len(library)]] == [
        (e.code, e.message) for e in library
    ]
    targets = {i.target_id: i.code for i in issues}
    assert targets["work"] == Code.InvalidWorkflowStructure
    assert targets["bad"] == Code.InvalidConnection
    assert targets["lost"] == Code.PluginNotFound
    editor.flush()
    assert editor.node_item("work").issues() and editor.connection_item("bad").issues()  # type: ignore[union-attr]
    editor.remove_connection("bad")
    assert "bad" not in {i.target_id for i in editor.validation_issues()}


def test_save_and_open_round_trip_is_what_qtforge_writes(qtbot: Any, tmp_path: Path) -> None:
    editor = shown_editor(qtbot)
    written_by_qtforge = golden("v2_written_by_qtforge.json")
    source = tmp_path / "in.json"
    source.write_text(json.dumps(written_by_qtforge))
    assert editor.open(source)
    target = tmp_path / "out.json"
    assert editor.save(target) and editor.file_path() == str(target)
    saved = json.loads(target.read_text())
    assert saved == golden("v2_written_here.json")  # the library's writer, unchanged

    def as_qtforge(ours: Any, theirs: Any) -> Any:  # only the keys QtForge writes
        if isinstance(theirs, dict):
            return {key: as_qtforge(ours[key], value) for key, value in theirs.items()}
        if isinstance(theirs, list):
            return [as_qtforge(a, b) for a, b in zip(ours, theirs, strict=True)]
        return ours

    assert as_qtforge(saved, written_by_qtforge) == written_by_qtforge
    assert cpp.v2_workflow_from_json(saved) == cpp.v2_workflow_from_json(written_by_qtforge)
    v1 = tmp_path / "v1.json"
    v1.write_text(json.dumps(golden("v1_written_by_qtforge.json")))
    assert editor.open(v1) and isinstance(editor.get_workflow(), Workflow)
    assert editor.save(tmp_path / "v1_out.json")
    again = cpp.v1_workflow_from_json(json.loads((tmp_path / "v1_out.json").read_text()))
    for step in again["steps"].values():  # the designer adds where it placed each step
        assert step["metadata"].pop("ui_properties").keys() == {"x", "y"}
    assert again == cpp.v1_workflow_from_json(golden("v1_written_by_qtforge.json"))


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("{not json", Code.InvalidFormat),
        ('{"workflow_id": "w", "nodes": 3}', Code.InvalidWorkflowStructure),
        ("[1, 2]", Code.InvalidFormat),
        (b"\xff\xfe", Code.InvalidFormat),
    ],
)
def test_a_file_that_does_not_parse_changes_nothing(
    qtbot: Any, tmp_path: Path, content: str | bytes, code: Code
) -> None:
    editor = shown_editor(qtbot)
    editor.load_workflow(pipeline())
    before = editor.get_workflow()
    path = tmp_path / "bad.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = editor.open(path)
    assert not result and result.error().code == code
    assert editor.get_workflow() == before
    assert editor.open(tmp_path / "missing.json").error().code == Code.FileNotFound
    assert not editor.save(tmp_path / "no-such-dir" / "x.json")
    assert editor.load_workflow("not a workflow").error().code == Code.InvalidArgument


def test_paste_of_foreign_text_is_refused(qtbot: Any) -> None:
    editor = shown_editor(qtbot, editor_plugins())
    editor.load_workflow(pipeline())
    before = editor.get_workflow()
    for text in (
        "hello",
        '{"format": "qtforge-orch-nodes", "kind": "v1", "nodes": [{}]}',
        '{"format": "qtforge-orch-nodes", "kind": "v2", "nodes": [{"node_id": 3}]}',
    ):
        result = editor.paste(text)
        assert not result and editor.last_refusal() is not None
    assert editor.get_workflow() == before and editor.undo_stack().count() == 0
    assert editor.add_plugin_node("unknown", QPointF(0, 0)) == ""
    assert editor.last_refusal().code == Code.PluginNotFound  # type: ignore[union-attr]
    assert editor.add_plugin_node("reader", QPointF(0, 0), "nope") == ""
    assert editor.add_plugin_node("reader", "nowhere") == ""  # type: ignore[arg-type]


def test_copy_paste_renames_and_keeps_connections(qtbot: Any) -> None:
    editor = shown_editor(qtbot, editor_plugins())
    editor.load_workflow(pipeline())
    editor.select(["source", "work"])
    text = editor.copy_selection()
    assert json.loads(text)["kind"] == "v2"
    pasted = editor.paste(at=QPointF(0, 400)).value()
    assert pasted == ["source_1", "work_1"]
    assert editor.selected_node_ids() == pasted
    copy = editor.get_workflow().connections[-1]
    assert (copy.source_node, copy.source_port, copy.target_node) == ("source_1", "rows", "work_1")
    assert editor.get_workflow().nodes[3].position == {"x": 0, "y": 400}
    editor.cut_selection()
    assert "source_1" not in editor.node_ids()


def test_read_only_refuses_every_edit(qtbot: Any) -> None:
    editor = shown_editor(qtbot, editor_plugins())
    editor.load_workflow(pipeline())
    editor.set_read_only(True)
    assert editor.is_read_only() and not editor.is_editable()
    assert editor.add_plugin_node("reader", QPointF(0, 0)) == ""
    assert editor.connect_nodes("source", "", "sink", "") == ""
    assert not editor.remove_node("work") and not editor.set_node_property("work", "name", "x")
    assert editor.last_refusal().code == Code.InvalidState  # type: ignore[union-attr]
    assert not editor.action("delete").isEnabled()  # type: ignore[union-attr]
    editor.set_read_only(False)
    assert editor.remove_node("work")


def test_v1_workflows_edit_as_steps_and_dependencies(qtbot: Any) -> None:
    editor = shown_editor(qtbot, editor_plugins())
    loaded = v1_chain(3)
    assert editor.load_workflow(loaded)
    assert editor.connection_ids() == ["s0->s1", "s1->s2"]
    assert editor.connect_nodes("s2", "", "s0", "") == ""
    assert editor.last_refusal().code == Code.CircularDependency  # type: ignore[union-attr]
    assert editor.connect_nodes("s0", "x", "s2", "") == ""  # steps have no ports
    assert editor.connect_nodes("s0", "", "s2", "") == "s0->s2"
    assert editor.set_node_property("s1", "condition", "rows > 0")
    assert not editor.set_node_property("s1", "node_type", "Sink")
    assert editor.last_refusal().code == Code.NotSupported  # type: ignore[union-attr]
    step = editor.add_plugin_node("writer", QPointF(0, 300), "write")
    edited = editor.get_workflow()
    assert isinstance(edited, Workflow)
    assert edited.get_step("s2").dependencies == ["s1", "s0"]  # type: ignore[union-attr]
    assert edited.get_step(step).method_name == "write"  # type: ignore[union-attr]
    while editor.undo_stack().canUndo():
        editor.undo()
    assert editor.get_workflow() == loaded


def test_attach_execution_shows_states_and_locks_edits(
    qtbot: Any, advanced: Any, plugins: Any
) -> None:
    release = threading.Event()
    for plugin_id in ("reader", "writer"):
        plugins.register_plugin(editor_plugins().get_plugin(plugin_id).value())
    # The middle node waits for the test, so the execution is surely running meanwhile.
    plugins.register_plugin(
        FunctionPlugin("count", run=lambda p: {"n": 1} if release.wait(10) else {"n": 0})
    )
    editor = shown_editor(qtbot, plugins)
    editor.load_workflow(pipeline())
    assert advanced.register_workflow(editor.get_workflow())
    handle = advanced.start_workflow("pipe").value()
    with qtbot.waitSignal(editor.editable_changed, timeout=5000) as locked:
        assert editor.attach_execution(handle)
    assert locked.args == [False] and editor.execution() is handle
    assert editor.add_plugin_node("reader", QPointF(0, 0)) == ""
    assert editor.last_refusal().code == Code.InvalidState  # type: ignore[union-attr]
    with qtbot.waitSignal(editor.editable_changed, timeout=10_000) as unlocked:
        release.set()
    assert unlocked.args == [True] and handle.status() == "completed"
    editor.flush()
    statuses = [editor.node_item(n).status() for n in editor.node_ids()]  # type: ignore[union-attr]
    assert statuses == ["completed"] * 3
    assert "completed" in editor.node_item("work").subtitle()  # type: ignore[union-attr]
    assert editor.attach_execution("nope").error().code == Code.InvalidArgument
    editor.set_node_property("work", "name", "again")  # an edit returns to the editing look
    assert editor.node_item("work").status() == ""  # type: ignore[union-attr]


def test_designer_run_registers_then_applies_changes(qtbot: Any) -> None:
    designer = WorkflowDesigner(plugin_manager=editor_plugins())
    qtbot.addWidget(designer)
    editor = designer.editor()
    editor.load_workflow(pipeline())
    first = designer.run().value()
    qtbot.waitUntil(first.is_finished, timeout=10_000)
    assert first.status() == "completed"
    orchestrator = designer.orchestrator()
    extra = editor.add_plugin_node("writer", QPointF(600, 200), "write")
    editor.connect_nodes("work", "n", extra, "")
    editor.remove_connection("c2")
    editor.set_node_property("work", "description", "changed")
    second = designer.run().value()
    assert "updated" in designer.statusBar().currentMessage()
    qtbot.waitUntil(second.is_finished, timeout=10_000)
    registered = orchestrator.get_workflow("pipe").value()
    assert {n.node_id for n in registered.nodes} == set(editor.node_ids())
    assert {c.connection_id for c in registered.connections} == set(editor.connection_ids())
    assert next(n for n in registered.nodes if n.node_id == "work").description == "changed"
    assert editor.set_workflow_property("execution_mode", "Parallel")
    designer.set_input({"rows": [1, 2, 3]})
    with qtbot.waitSignal(designer.message, timeout=5000):
        third = designer.run().value()
    assert "re-registered" in designer.statusBar().currentMessage()
    qtbot.waitUntil(third.is_finished, timeout=10_000)
    assert third.result().value()["sink"] == {"ok": True}
    assert not designer.stop()  # nothing running any more
    designer.new_workflow()
    assert editor.node_ids() == [] and editor.get_workflow().workflow_id == "pipe"
