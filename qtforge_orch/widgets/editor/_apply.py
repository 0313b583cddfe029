"""Putting the designed workflow into an orchestrator before a run.

A workflow the orchestrator does not have is registered. A v2 workflow it already has is
changed in place through the dynamic-modification methods (``remove_node_from_workflow``,
``add_node_to_workflow``, ``add_connection_to_workflow``), each of which validates and
refuses without changing anything: removed nodes go, changed nodes are removed and added
again (a connection that went away is removed the same way, through its target node, since
there is no method to remove one connection alone), new nodes and connections are added.
Workflow-wide settings, which no such method changes, and v1 workflows (the v1 orchestrator
has no such methods) are registered again instead. Node positions are not re-applied.
"""

from __future__ import annotations

from typing import Any

from ...errors import PluginError, PluginErrorCode
from ...orchestration.advanced.workflow import PluginWorkflow
from ...orchestration.advanced.workflow_node import WorkflowNode
from ...orchestration.workflow import Workflow
from ...results import Expected, from_error, make_error, make_success

_SETTINGS = ("name", "description", "execution_mode", "global_configuration", "metadata")


def apply_workflow(orchestrator: Any, workflow: PluginWorkflow | Workflow) -> Expected[str]:
    """Make the orchestrator's copy equal to ``workflow``; says what it did.

    Returns:
        ``"registered"``, ``"updated"`` (changed in place), ``"re-registered"`` or
        ``"unchanged"``; or the first refusal (the orchestrator keeps what it had then).
    """
    workflow_id = workflow.workflow_id if isinstance(workflow, PluginWorkflow) else workflow.id()
    found = orchestrator.get_workflow(workflow_id)
    if not found:
        registered = orchestrator.register_workflow(workflow)
        return make_success("registered") if registered else from_error(registered.error())
    current = found.value()
    if isinstance(workflow, Workflow) or any(
        getattr(current, name) != getattr(workflow, name) for name in _SETTINGS
    ):
        if _same(current, workflow):
            return make_success("unchanged")
        return _register_again(orchestrator, workflow_id, current, workflow)
    return _update(orchestrator, workflow_id, current, workflow)


def _same(current: Any, wanted: Any) -> bool:
    if isinstance(wanted, Workflow):
        return bool(current.to_json() == wanted.to_json())
    return bool(current == wanted)


def _register_again(
    orchestrator: Any, workflow_id: str, current: Any, wanted: Any
) -> Expected[str]:
    removed = orchestrator.unregister_workflow(workflow_id)
    if not removed:
        return from_error(removed.error())
    registered = orchestrator.register_workflow(wanted)
    if not registered:
        orchestrator.register_workflow(current)  # put the working one back
        return from_error(registered.error())
    return make_success("re-registered")


def _without_position(node: WorkflowNode) -> dict[str, Any]:
    fields = dict(node.__dict__)
    fields.pop("ui_properties", None)
    return fields


def _update(
    orchestrator: Any, workflow_id: str, current: PluginWorkflow, wanted: PluginWorkflow
) -> Expected[str]:
    old_nodes = {n.node_id: n for n in current.nodes}
    new_nodes = {n.node_id: n for n in wanted.nodes}
    old_edges = {c.connection_id: c for c in current.connections}
    new_edges = {c.connection_id: c for c in wanted.connections}
    gone = [n for n in old_nodes if n not in new_nodes]
    redo = {
        n
        for n in old_nodes
        if n in new_nodes and _without_position(old_nodes[n]) != _without_position(new_nodes[n])
    }
    # A connection removed or changed between kept nodes goes with its target node.
    for edge_id, edge in old_edges.items():
        both_kept = edge.source_node in new_nodes and edge.target_node in new_nodes
        if both_kept and new_edges.get(edge_id) != edge:
            redo.add(edge.target_node)
    recycled = set(gone) | redo
    steps: list[tuple[str, Any]] = []
    steps += [("remove", n) for n in gone]
    steps += [("remove", n) for n in old_nodes if n in redo]
    steps += [("add", node) for node in wanted.nodes if node.node_id in redo]
    steps += [("add", node) for node in wanted.nodes if node.node_id not in old_nodes]
    for edge_id, edge in new_edges.items():
        kept = old_edges.get(edge_id) == edge and not (
            {edge.source_node, edge.target_node} & recycled
        )
        if not kept:
            steps.append(("connect", edge))
    if not steps:
        return make_success("unchanged")
    for what, item in steps:
        if what == "remove":
            done = orchestrator.remove_node_from_workflow(workflow_id, item)
        elif what == "add":
            done = orchestrator.add_node_to_workflow(workflow_id, item)
        else:
            done = orchestrator.add_connection_to_workflow(workflow_id, item)
        if not done:
            error = done.error()
            return make_error(
                error.code,
                f"the orchestrator refused a change to '{workflow_id}' ({what} "
                f"{getattr(item, 'node_id', '') or getattr(item, 'connection_id', item)}): "
                f"{error.message}",
                context=dict(error.context),
            )
    return make_success("updated")


def kind_mismatch(orchestrator: Any, workflow: Any) -> PluginError | None:
    """The error for running a v2 workflow on a v1 orchestrator (or the reverse), or None."""
    graph = hasattr(type(orchestrator), "node_started")
    if isinstance(workflow, PluginWorkflow) != graph:
        wanted = (
            "AdvancedPluginOrchestrator"
            if isinstance(workflow, PluginWorkflow)
            else ("PluginOrchestrator")
        )
        return PluginError(
            PluginErrorCode.InvalidArgument,
            f"this workflow runs on a {wanted}, not a {type(orchestrator).__name__}",
        )
    return None
