"""``WorkflowNode``: one node of a v2 workflow graph."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from ...results import Expected
from .._fast_construction import (
    FastFields,
    exact_bool,
    exact_str,
    member_of,
    str_key_dict,
    str_list,
)
from ._model_base import FAST, HeaderNamed
from ._v2_json import model_to_json, parse
from .enums import WorkflowNodeType, _NodeTypeField


class WorkflowNode(HeaderNamed):
    """One node of a v2 workflow graph: a plugin plus its ports and configuration.

    ``display_name`` and ``position`` (the header's names) are ``name`` and ``ui_properties``.
    A node with ``enabled=False`` is Skipped and feeds nothing to its successors.
    """

    HEADER_NAMES: ClassVar[dict[str, str]] = {"name": "display_name", "ui_properties": "position"}

    node_id: str = Field("", description="Unique node identifier.")
    name: str = Field("", description="Human-readable name (the header's display_name).")
    description: str = Field("", description="Node description.")
    plugin_id: str = Field("", description="Id of the plugin the node calls.")
    node_type: _NodeTypeField = Field(WorkflowNodeType.Processor, description="Node type.")
    configuration: dict[str, Any] = Field(
        default_factory=dict, description="Plugin parameters and engine settings (method...)."
    )
    ui_properties: dict[str, Any] = Field(
        default_factory=dict, description="UI position and properties (the header's position)."
    )
    input_ports: list[str] = Field(default_factory=list, description="Input port names.")
    output_ports: list[str] = Field(default_factory=list, description="Output port names.")
    enabled: bool = Field(True, description="A disabled node is skipped (header field).")

    @property
    def display_name(self) -> str:
        """The header's name for ``name``."""
        return self.name

    @display_name.setter
    def display_name(self, value: str) -> None:
        self.name = value

    @property
    def position(self) -> dict[str, Any]:
        """The header's name for ``ui_properties``."""
        return self.ui_properties

    @position.setter
    def position(self, value: dict[str, Any]) -> None:
        self.ui_properties = value

    def to_json(self) -> dict[str, Any]:
        """The node as a JSON-ready dict, as QtForge's ``WorkflowNode::to_json`` writes it.

        Also has the reference's fields QtForge does not know (``description``, ``node_type``).
        """
        return model_to_json(self)

    @staticmethod
    def from_json(json: object) -> Expected[WorkflowNode]:
        """Read a node in either spelling; an error ``Expected`` (InvalidWorkflowStructure)."""
        return parse(WorkflowNode, json)


FAST[WorkflowNode] = FastFields(
    WorkflowNode,
    {
        "node_id": exact_str,
        "name": exact_str,
        "description": exact_str,
        "plugin_id": exact_str,
        "node_type": member_of(WorkflowNodeType),
        "configuration": str_key_dict,
        "ui_properties": str_key_dict,
        "input_ports": str_list,
        "output_ports": str_list,
        "enabled": exact_bool,
    },
)


__all__ = ["WorkflowNode"]
