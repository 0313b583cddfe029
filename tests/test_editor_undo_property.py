"""Undo and redo, as a property: any sequence of edits, then undo everything (the loaded
workflow, exactly) and redo everything (the edited one, exactly). After every edit the
issues the editor worked out (only for what the edit touched, when that is exact) are those
of validating the whole workflow. Bounded: a few dozen random sequences of up to a dozen
edits, on both workflow kinds, valid and broken."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import shiboken6
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QPointF

from qtforge_orch import WorkflowNode
from qtforge_orch.widgets import VisualWorkflowEditor
from qtforge_orch.widgets.editor._issues import collect_issues

from .editor_helpers import editor_plugins, pipeline, v1_chain

pytestmark = pytest.mark.timeout(120)
_PLUGINS = editor_plugins()
_FIELDS: list[tuple[str, Any]] = [
    ("name", "renamed"),
    ("description", "changed"),
    ("enabled", False),
    ("node_type", "Custom"),
    ("output_ports", "n, extra"),
    ("configuration", {"method": "run", "limit": 2}),
    ("condition", "n > 5"),
    ("command", "write"),
]

edit = st.tuples(
    st.sampled_from(
        ["add", "remove", "connect", "disconnect", "field", "move", "duplicate", "layout", "cut"]
    ),
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, len(_FIELDS) - 1),
)


def _apply(editor: VisualWorkflowEditor, action: str, a: int, b: int, field: int) -> None:
    nodes, edges = editor.node_ids(), editor.connection_ids()
    node = nodes[a % len(nodes)] if nodes else ""
    other = nodes[b % len(nodes)] if nodes else ""
    if action == "add":
        editor.add_plugin_node(("reader", "count", "writer")[a % 3], QPointF(a * 20, b * 20))
    elif action == "remove" and node:
        editor.remove_node(node)
    elif action == "connect" and node:
        editor.connect_nodes(node, "", other, "", ("DataFlow", "Dependency")[b % 2])
    elif action == "disconnect" and edges:
        editor.remove_connection(edges[a % len(edges)])
    elif action == "field" and (node or edges):
        name, value = _FIELDS[field]
        target = edges[a % len(edges)] if name == "condition" and edges else node
        editor.set_node_property(target, name, value)  # may be refused: fine
    elif action == "move" and node:
        editor.move_nodes({node: (a * 7.5, b * 3.25)})
    elif action == "duplicate" and node:
        editor.select([node, other])
        editor.duplicate_selection()
    elif action == "layout":
        editor.auto_layout()
    elif action == "cut" and node:
        editor.select([node])
        editor.cut_selection()


def _same_issues(editor: VisualWorkflowEditor) -> None:
    seen = Counter((i.target_id, i.code, i.message) for i in editor.validation_issues())
    whole = collect_issues(editor._canvas.doc(), _PLUGINS)
    assert seen == Counter((i.target_id, i.code, i.message) for i in whole)


def _check(editor: VisualWorkflowEditor, workflow: Any, edits: list[Any]) -> None:
    editor.load_workflow(workflow)
    start = editor.get_workflow()
    for step in edits:
        _apply(editor, *step)
        _same_issues(editor)
    end = editor.get_workflow()
    stack = editor.undo_stack()
    while stack.canUndo():
        assert editor.undo()
    _same_issues(editor)
    assert editor.get_workflow() == start
    assert not editor.is_modified()
    while stack.canRedo():
        assert editor.redo()
    _same_issues(editor)
    assert editor.get_workflow() == end


@pytest.fixture
def editor(qapp: Any) -> Any:
    # CEL's parser is loaded before Hypothesis starts (loading it raises the recursion
    # limit, which Hypothesis would warn about).
    assert VisualWorkflowEditor.check_expression("n > 1") == ""
    made = VisualWorkflowEditor(plugin_manager=_PLUGINS)
    made.resize(800, 500)
    yield made
    if shiboken6.isValid(made):
        made.deleteLater()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits=st.lists(edit, max_size=12))
def test_undo_all_then_redo_all_v2(editor: VisualWorkflowEditor, edits: list[Any]) -> None:
    _check(editor, pipeline(), edits)


def broken() -> Any:
    """The pipeline with problems: a bad engine setting, a port nobody declares, a stray
    node whose plugin is missing."""
    workflow = pipeline()
    workflow.nodes[1].configuration = {"method": "run", "max_retries": -1}
    workflow.connections[0].target_port = "missing"
    workflow.nodes.append(WorkflowNode(node_id="stray", plugin_id="elsewhere"))
    return workflow


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits=st.lists(edit, max_size=10))
def test_undo_redo_and_issues_on_a_broken_workflow(
    editor: VisualWorkflowEditor, edits: list[Any]
) -> None:
    _check(editor, broken(), edits)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits=st.lists(edit, max_size=10))
def test_undo_all_then_redo_all_v1(editor: VisualWorkflowEditor, edits: list[Any]) -> None:
    _check(editor, v1_chain(3), edits)
