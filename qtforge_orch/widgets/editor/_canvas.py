"""The document and its drawing changed together: the primitives undo commands are made of.

Each primitive changes the document, updates the scene's items and bumps ``revision``;
validation runs once per revision, when its result is first asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ...errors import PluginError
from ...results import Expected, from_error, make_success
from ._document import GraphDocument, Removed
from ._issues import Delta, collect_issues, updated_issues
from ._scene import EditorScene
from .validation_issue import ValidationIssue


class Canvas:
    """A ``GraphDocument`` and the ``EditorScene`` that draws it."""

    def __init__(self, scene: EditorScene, plugin_manager: Any, changed: Callable[[], None]):
        self.scene = scene
        self.plugin_manager = plugin_manager
        scene.nested_of = self._nested_workflow
        self.document: GraphDocument | None = None
        self.revision = 0
        self._changed = changed
        self._issues: list[ValidationIssue] = []
        self._issues_revision = -1
        # What changed since ``_issues`` was worked out (validation looks at that only).
        self._delta = Delta(everything=True)
        self._pending: list[ValidationIssue] | None = None

    def _nested_workflow(self, plugin_id: str) -> str | None:
        """The workflow ``plugin_id`` runs, when it names a nested workflow's plugin."""
        manager = self.plugin_manager
        if manager is None or not plugin_id:
            return None
        found = manager.get_plugin(plugin_id)
        workflow_id = getattr(found.value(), "workflow_id", None) if found else None
        nested = found and getattr(found.value(), "nested_name", None) is not None
        return workflow_id if nested and isinstance(workflow_id, str) else None

    def doc(self) -> GraphDocument:
        """The document (one is always loaded once the editor exists)."""
        assert self.document is not None
        return self.document

    def load(self, document: GraphDocument, where: Mapping[str, tuple[float, float]]) -> None:
        """Show a new document; ``where`` places the nodes that have no position."""
        self.document = document
        for node_id, (x, y) in where.items():
            document.set_position(node_id, x, y)
        self.scene.clear_items()
        self.scene.add_nodes(document, document.node_ids(), {})
        self.scene.add_edges(document, document.edge_ids())
        self._bump(Delta(everything=True))

    def _bump(self, delta: Delta) -> None:
        self._delta.merge(delta)
        self.revision += 1
        self._changed()

    # --- primitives ---------------------------------------------------------------------
    def add(
        self, models: list[Any], edges: list[Any], where: Mapping[str, tuple[float, float]]
    ) -> tuple[list[str], list[str]]:
        """Add nodes (placed at ``where``) and connections."""
        doc = self.doc()
        node_ids = doc.add_nodes(models)
        for node_id in node_ids:
            if node_id in where:
                doc.set_position(node_id, *where[node_id])
        edge_ids = doc.add_edges(edges)
        self.scene.add_nodes(doc, node_ids, {})
        self.scene.add_edges(doc, edge_ids)
        self._bump(added(node_ids, edge_ids))
        return node_ids, edge_ids

    def drop_last(self, node_ids: list[str], edge_ids: list[str]) -> None:
        """Undo ``add`` (what it added is last in the document's lists)."""
        self.doc().drop_last(node_ids, edge_ids)
        self.scene.remove_items(node_ids, edge_ids)
        self._bump(Delta(gone={*node_ids, *edge_ids}))

    def remove(self, node_ids: Iterable[str], edge_ids: Iterable[str]) -> Removed:
        """Remove connections, then nodes and what is left of their connections."""
        removed = self.doc().remove(node_ids, edge_ids)
        self.scene.remove_items(removed.node_ids, removed.edge_ids)
        self._bump(Delta(gone={*removed.node_ids, *removed.edge_ids}))
        return removed

    def restore(self, removed: Removed) -> None:
        """Undo ``remove``."""
        doc = self.doc()
        doc.restore(removed)
        self.scene.add_nodes(doc, removed.node_ids, {})
        self.scene.add_edges(doc, removed.edge_ids)
        self._bump(added(removed.node_ids, removed.edge_ids))

    def move(self, positions: Mapping[str, tuple[float, float]]) -> dict[str, Any]:
        """Place nodes; returns what ``unmove`` needs."""
        doc = self.doc()
        previous = {
            node_id: doc.set_position(node_id, x, y) for node_id, (x, y) in positions.items()
        }
        self.scene.place(
            {node_id: doc.position(node_id) or xy for node_id, xy in positions.items()}
        )
        self._bump(Delta())  # positions: nothing validation looks at
        return previous

    def unmove(self, previous: Mapping[str, Any]) -> None:
        """Undo ``move``."""
        doc = self.doc()
        for node_id, before in previous.items():
            doc.restore_position(node_id, before)
        self.scene.place({node_id: doc.position(node_id) or (0.0, 0.0) for node_id in previous})
        self._bump(Delta())

    def set_field(self, target_id: str, name: str, value: Any) -> Expected[tuple[str, Any]]:
        """Set a field of a node, a connection or (``""``) the workflow."""
        done = self.doc().set_field(target_id, name, value)
        if not done:
            return from_error(done.error())
        self._show_field(target_id)
        return make_success(done.value())

    def restore_field(self, target_id: str, attribute: str, previous: Any) -> None:
        """Undo ``set_field``."""
        self.doc().restore_field(target_id, attribute, previous)
        self._show_field(target_id)

    def _show_field(self, target_id: str) -> None:
        doc = self.doc()
        if doc.has_node(target_id):
            self.scene.refresh_node(doc, target_id)
        elif doc.has_edge(target_id):
            self.scene.refresh_edge(doc, target_id)
        self._bump(field_delta(doc, target_id))

    # --- validation ---------------------------------------------------------------------
    def issues(self) -> list[ValidationIssue]:
        """The current issues.

        Worked out again only after a change, and then only for what it touched when that
        is exact (see ``updated_issues``).
        """
        if self._issues_revision != self.revision:
            doc = self.doc()
            if self._issues_revision < 0:
                self._issues = collect_issues(doc, self.plugin_manager)
            else:
                self._issues = updated_issues(doc, self.plugin_manager, self._issues, self._delta)
            self._issues_revision = self.revision
            self._delta = Delta()
        return self._issues

    def new_problems(
        self, change: Callable[[], Any], undo: Callable[[Any], None], delta: Delta
    ) -> list[ValidationIssue]:
        """The issues a change would add: made on the document alone, validated, undone.

        The scene is not touched, and the issues of the changed document are kept: when the
        change is then made for real (the same change), they need not be computed again.
        """
        doc = self.doc()
        previous = self.issues()
        before = {(i.target_id, i.code, i.message) for i in previous}
        token = change()
        after = updated_issues(doc, self.plugin_manager, previous, delta)
        undo(token)
        self._pending = after
        return [i for i in after if (i.target_id, i.code, i.message) not in before]

    def adopt_probe(self) -> None:
        """The change just made is the one ``new_problems`` validated: reuse its issues."""
        pending = self._pending
        if pending is not None:
            self._issues = pending
            self._issues_revision = self.revision
            self._delta = Delta()
            self._pending = None


def added(node_ids: Iterable[str], edge_ids: Iterable[str]) -> Delta:
    """The change that adds these nodes and connections."""
    edges = set(edge_ids)
    return Delta(nodes=set(node_ids), edges=edges, new_edges=set(edges))


def field_delta(document: GraphDocument, target_id: str) -> Delta:
    """The change of a field of a node, a connection or ("") the workflow.

    A node's connections are judged again with it (its ports and type are theirs too).
    """
    if not target_id:
        return Delta(everything=True)
    if document.has_node(target_id):
        return Delta(nodes={target_id}, edges=set(document.edges_of([target_id])))
    return Delta(edges={target_id})


def first_problem(problems: list[ValidationIssue]) -> PluginError:
    """The error an edit is refused with: the first issue it would add."""
    issue = problems[0]
    return PluginError(issue.code, issue.message, context={"target_id": issue.target_id})
