"""What the editor edits: one interface over a v2 ``PluginWorkflow`` and a v1 ``Workflow``.

A document holds the workflow being edited as the library's own models and changes them in
place. Every change is reversible exactly: removals hand back a token that ``restore`` puts
back at the same list positions, and field changes hand back the attribute's previous value,
so undoing every command gives back an equal workflow.

Nothing here knows Qt; the scene draws what ``node_info`` and ``edge_info`` describe.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import PluginError, PluginErrorCode
from ...results import Expected, make_error
from .._layout import read_position

#: Field names ``set_node_property`` understands besides the canonical ones.
ALIASES = {
    "display_name": "name",
    "plugin": "plugin_id",
    "method": "command",
    "method_name": "command",
    "type": "node_type",
    "parameters": "configuration",
    "transformation": "data_transformation",
    "id": "workflow_id",
    "mode": "execution_mode",
}


@dataclass(frozen=True)
class NodeInfo:
    """What the drawing shows of one node (v2) or step (v1)."""

    node_id: str
    label: str
    kind: str  # a WorkflowNodeType name, or "Step" for v1
    plugin_id: str
    command: str
    enabled: bool
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class EdgeInfo:
    """What the drawing shows of one connection (v2) or dependency (v1)."""

    edge_id: str
    source: str
    source_port: str
    target: str
    target_port: str
    kind: str  # a ConnectionType name; "DataFlow" for v1
    enabled: bool
    condition: str


@dataclass
class Removed:
    """What a removal took out, to be put back by ``GraphDocument.restore``."""

    node_ids: list[str] = field(default_factory=list)
    edge_ids: list[str] = field(default_factory=list)
    parts: list[Any] = field(default_factory=list)  # kind-specific (index, object) records


def refusal(code: PluginErrorCode, message: str, **context: Any) -> PluginError:
    """A ``PluginError`` describing why an edit was refused."""
    return PluginError(code, message, context=context)


def canonical(name: str) -> str:
    """The canonical name of a settable field (aliases such as ``display_name`` mapped)."""
    return ALIASES.get(name, name)


def write_position(props: dict[str, Any], x: float, y: float) -> dict[str, Any]:
    """A copy of ``props`` with the position set, in the form it already used.

    ``{"x", "y"}`` at the top, or inside ``"position"`` as an object or a pair; new
    positions are written as ``{"x": .., "y": ..}``, whole pixels.
    """
    updated = dict(props)
    nx, ny = round(x), round(y)
    where = updated.get("position")
    if "x" not in updated and isinstance(where, dict) and "x" in where and "y" in where:
        updated["position"] = {**where, "x": nx, "y": ny}
    elif "x" not in updated and isinstance(where, list | tuple) and len(where) == 2:
        updated["position"] = [nx, ny]
    else:
        updated["x"], updated["y"] = nx, ny
    return updated


class GraphDocument(ABC):
    """A workflow being edited; see the module docstring."""

    kind: str  # "v1" or "v2"

    # --- reading ------------------------------------------------------------------------
    @abstractmethod
    def node_ids(self) -> list[str]:
        """Node ids in declaration order."""

    @abstractmethod
    def has_node(self, node_id: str) -> bool:
        """Whether a node has this id."""

    @abstractmethod
    def node_info(self, node_id: str) -> NodeInfo:
        """How to draw a node (its id must exist)."""

    @abstractmethod
    def node_model(self, node_id: str) -> Any:
        """The model object of a node (``WorkflowNode`` or ``WorkflowStep``)."""

    @abstractmethod
    def position(self, node_id: str) -> tuple[float, float] | None:
        """Where the node is placed, if it says."""

    @abstractmethod
    def model_position(self, model: Any) -> tuple[float, float] | None:
        """Where a node model (in the document or not) says it is placed."""

    @abstractmethod
    def edge_ids(self) -> list[str]:
        """Connection ids in declaration order."""

    @abstractmethod
    def has_edge(self, edge_id: str) -> bool:
        """Whether a connection has this id."""

    @abstractmethod
    def edge_info(self, edge_id: str) -> EdgeInfo:
        """How to draw a connection (its id must exist)."""

    @abstractmethod
    def edge_ends(self) -> list[tuple[str, str]]:
        """(source, target) of every connection, in declaration order."""

    @abstractmethod
    def edges_of(self, node_ids: Iterable[str]) -> list[str]:
        """Ids of the connections that touch any of ``node_ids``."""

    @abstractmethod
    def workflow(self) -> Any:
        """An independent copy of the workflow as edited."""

    @abstractmethod
    def errors(self) -> list[PluginError]:
        """Every problem the library's validation finds in the workflow."""

    @abstractmethod
    def target_of(self, error: PluginError) -> str:
        """The node or connection an error is about ("" for the workflow)."""

    @abstractmethod
    def calls_model(self, node_ids: set[str] | None = None) -> Any:
        """The workflow whose calls (plugins, commands) to check.

        All of it, or a workflow of these nodes alone. Read only: it may be the document's own.
        """

    def structure_is_plain(self) -> bool:
        """Whether every node and connection has its own, non-empty id.

        Then the issues of untouched elements cannot change with an edit elsewhere. False:
        always validate whole.
        """
        return False

    def closes_cycle(self, edge_ids: set[str]) -> bool:
        """Whether these (just added) connections lie on a cycle of the graph."""
        return True

    def scoped_errors(self, node_ids: set[str], edge_ids: set[str]) -> list[PluginError] | None:
        """The library's errors of these nodes and connections, judged alone.

        None: this document cannot say (validate whole).
        """
        return None

    # --- changing -----------------------------------------------------------------------
    @abstractmethod
    def new_node(self, node_id: str, plugin_id: str, command: str) -> Any:
        """A node model (not added) for a plugin and command."""

    @abstractmethod
    def node_from_json(self, json: object) -> Expected[Any]:
        """A node model read from its JSON form (as ``node_json`` writes it)."""

    @abstractmethod
    def node_id_of(self, model: Any) -> str:
        """The id of a node model."""

    @abstractmethod
    def node_json(self, node_id: str) -> dict[str, Any]:
        """A node's JSON form (the model's ``to_json``)."""

    @abstractmethod
    def renamed(self, model: Any, node_id: str) -> Any:
        """A copy of a node model under another id."""

    @abstractmethod
    def add_nodes(self, models: list[Any]) -> list[str]:
        """Append node models; their ids."""

    def edge_batch(self) -> Any:
        """What ``new_edge`` takes to give several new connections distinct ids.

        None: one connection at a time.
        """
        return None

    @abstractmethod
    def new_edge(
        self,
        source: str,
        source_port: str,
        target: str,
        target_port: str,
        kind: str,
        batch: Any = None,
    ) -> Expected[Any]:
        """A connection record (not added), with an id no connection has.

        Connections made with one ``edge_batch()`` also get ids distinct from each other.
        """

    @abstractmethod
    def edge_json(self, edge_id: str) -> dict[str, Any]:
        """A connection's JSON form (v2: the model's ``to_json``; v1: its two ends)."""

    @abstractmethod
    def edge_from_json(self, json: object, rename: Mapping[str, str], batch: Any) -> Expected[Any]:
        """A connection record read from ``edge_json``'s form, its ends renamed.

        An end that ``rename`` does not map is an error; ``batch`` is ``edge_batch()``'s.
        """

    @abstractmethod
    def edge_id_of(self, edge: Any) -> str:
        """The id of a connection record."""

    @abstractmethod
    def add_edges(self, edges: list[Any]) -> list[str]:
        """Append connection records; their ids."""

    def drop_last(self, node_ids: list[str], edge_ids: list[str]) -> None:
        """Undo ``add_nodes`` and ``add_edges`` of exactly these (the last ones added)."""
        self.remove(node_ids, edge_ids)

    @abstractmethod
    def remove(self, node_ids: Iterable[str], edge_ids: Iterable[str]) -> Removed:
        """Remove connections, then nodes with every connection left that touches them."""

    @abstractmethod
    def restore(self, removed: Removed) -> None:
        """Undo a ``remove``: everything goes back where it was."""

    @abstractmethod
    def set_position(self, node_id: str, x: float, y: float) -> Any:
        """Place a node; returns what ``restore_position`` needs to undo it."""

    @abstractmethod
    def restore_position(self, node_id: str, previous: Any) -> None:
        """Undo ``set_position``."""

    @abstractmethod
    def fields(self, target_id: str) -> tuple[str, ...]:
        """The settable fields of a node, connection or ("" ) the workflow."""

    @abstractmethod
    def get_field(self, target_id: str, name: str) -> Any:
        """A field's current value, in the form ``set_field`` accepts."""

    @abstractmethod
    def set_field(self, target_id: str, name: str, value: Any) -> Expected[tuple[str, Any]]:
        """Set a field; returns (attribute, previous value) for ``restore_field``.

        Malformed values (a wrong type, an unknown field) are refused without a change.
        """

    @abstractmethod
    def restore_field(self, target_id: str, attribute: str, previous: Any) -> None:
        """Undo ``set_field``."""

    # --- shared helpers -----------------------------------------------------------------
    def unique_node_id(self, base: str, taken: Iterable[str] = ()) -> str:
        """``base`` made into an id no node has: ``reader_1``, ``reader_2``..."""
        stem = "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in base) or "node"
        reserved = set(taken)
        number = 1
        while True:
            candidate = f"{stem}_{number}"
            if not self.has_node(candidate) and candidate not in reserved:
                return candidate
            number += 1

    def positions(self) -> dict[str, tuple[float, float]]:
        """Every node that has a position, by id."""
        found = {}
        for node_id in self.node_ids():
            where = self.position(node_id)
            if where is not None:
                found[node_id] = where
        return found

    def unknown_target(self, target_id: str) -> Expected[Any]:
        """The error for a target id that names nothing."""
        return make_error(
            PluginErrorCode.NodeNotFound,
            f"'{target_id}' is neither a node nor a connection of this workflow",
            context={"target_id": target_id},
        )


def position_from(props: Any) -> tuple[float, float] | None:
    """A position read from a node's ``ui_properties`` (or a step's metadata)."""
    return read_position(props)


def ends_of(json: object) -> tuple[str, str] | None:
    """The (source, target) node ids a connection's JSON names, in either spelling."""
    if not isinstance(json, dict):
        return None
    source = json.get("source_node_id", json.get("source_node"))
    target = json.get("target_node_id", json.get("target_node"))
    if isinstance(source, str) and isinstance(target, str):
        return source, target
    return None


def missing_end(json: object, rename: Mapping[str, str]) -> Expected[Any] | None:
    """The error for a connection whose ends are unreadable or not among ``rename``."""
    ends = ends_of(json)
    if ends is None:
        return make_error(
            PluginErrorCode.InvalidFormat,
            "a copied connection must name its source_node_id and target_node_id",
        )
    for end in ends:
        if end not in rename:
            return make_error(
                PluginErrorCode.NodeNotFound,
                f"a copied connection names node '{end}', which was not copied with it",
            )
    return None
