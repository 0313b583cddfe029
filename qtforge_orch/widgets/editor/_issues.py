"""The bridge from the library's validation to what the editor draws and lists.

The rules are the library's own (``iter_workflow_errors`` of v2 and v1, CEL checking in
``_conditions``): a workflow that shows no issue here registers. Each error is pinned to the
node or connection it is about. When the editor knows the plugin manager, nodes whose
plugin or command it does not have are reported too (what running them would fail with).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import PluginErrorCode
from ._document import GraphDocument
from .validation_issue import ValidationIssue


@dataclass
class Delta:
    """What changed since the issues were last worked out."""

    nodes: set[str] = field(default_factory=set)  # added or changed, present now
    edges: set[str] = field(default_factory=set)  # added or changed, present now
    new_edges: set[str] = field(default_factory=set)  # added (they may close a cycle)
    gone: set[str] = field(default_factory=set)  # removed nodes and connections
    everything: bool = False  # a change incremental checking cannot scope (workflow fields)

    def merge(self, other: Delta) -> None:
        """Add another change to this one."""
        self.nodes |= other.nodes
        self.edges |= other.edges
        self.new_edges |= other.new_edges
        self.gone |= other.gone
        self.everything = self.everything or other.everything

    def empty(self) -> bool:
        """Whether nothing that validation looks at changed (a move, for example)."""
        return not (self.nodes or self.edges or self.gone or self.everything)


def collect_issues(document: GraphDocument, plugin_manager: Any) -> list[ValidationIssue]:
    """Every issue of ``document``: the library's validation, then missing plugins."""
    issues = [
        ValidationIssue(document.target_of(error), error.code, error.message)
        for error in document.errors()
    ]
    if plugin_manager is not None:
        issues.extend(plugin_issues(document, plugin_manager))
    return issues


def updated_issues(
    document: GraphDocument,
    plugin_manager: Any,
    previous: list[ValidationIssue],
    delta: Delta,
) -> list[ValidationIssue]:
    """The issues after a change, checking only what the change touched when that is exact.

    The library's validation of a graph is a set of checks of each node (its own fields)
    and of each connection (its fields and its two end nodes), plus a few of the whole
    graph: ids unique and not empty, the workflow's own fields, no cycle. So after a change
    that keeps the whole-graph checks as they were, the issues are those of the untouched
    elements as before, plus the library's verdict on the touched ones alone
    (``GraphDocument.scoped_errors``). Anything else (a workflow field, a possible cycle, a
    graph that already has whole-graph problems) is validated whole.
    """
    if delta.empty():
        return previous
    # Changes add up (an edit, its undo...): what is judged is what is there now.
    mentioned = delta.nodes | delta.edges | delta.gone
    delta = Delta(
        nodes={n for n in mentioned if document.has_node(n)},
        edges={e for e in mentioned if document.has_edge(e)},
        new_edges={e for e in delta.new_edges if document.has_edge(e)},
        gone={t for t in mentioned if not document.has_node(t) and not document.has_edge(t)},
        everything=delta.everything,
    )
    scoped = _scoped(document, previous, delta)
    if scoped is None:
        return collect_issues(document, plugin_manager)
    touched = delta.nodes | delta.edges | delta.gone
    kept = [issue for issue in previous if issue.target_id not in touched]
    fresh = [ValidationIssue(document.target_of(e), e.code, e.message) for e in scoped]
    if plugin_manager is not None:
        fresh.extend(plugin_issues(document, plugin_manager, delta.nodes))
    return kept + fresh


def _scoped(
    document: GraphDocument, previous: list[ValidationIssue], delta: Delta
) -> list[Any] | None:
    """The library's errors of the touched elements, or None when that would not be exact."""
    if delta.everything or not document.structure_is_plain():
        return None
    for issue in previous:
        # A problem of the whole graph may come or go with any change.
        if not issue.target_id or issue.code == PluginErrorCode.CircularDependency:
            return None
    if delta.new_edges and document.closes_cycle(delta.new_edges):
        return None  # the library's own message for the cycle
    if not delta.nodes and not delta.edges:
        return []  # only removals: the issues of what is left stay as they were
    errors = document.scoped_errors(delta.nodes, delta.edges)
    if errors is None:
        return None
    wanted = delta.nodes | delta.edges
    found = []
    for error in errors:
        target = document.target_of(error)
        if not target:
            return None  # a problem of the whole graph: validate it whole
        if target in wanted:
            found.append(error)
        # else: an untouched end node's own problem, among the previous issues already
    return found


def plugin_issues(
    document: GraphDocument, plugin_manager: Any, only: set[str] | None = None
) -> list[ValidationIssue]:
    """Nodes whose plugin is not registered, or whose command the plugin does not offer.

    The library's check (``qtforge-orch validate --plugins`` makes the same), of every node
    or of the nodes in ``only``.
    """
    from ...orchestration._plugin_calls import plugin_errors

    model = document.calls_model(only)
    return [
        ValidationIssue(document.target_of(error), error.code, error.message)
        for error in plugin_errors(model, plugin_manager)
    ]


def expression_problem(text: str) -> str:
    """Why a CEL expression is not valid (the library's own check), or ``""``."""
    if not text.strip():
        return ""
    from ..._conditions import ConditionError, compile_condition

    try:
        compile_condition(text)
    except ConditionError as exc:
        return str(exc)
    return ""
