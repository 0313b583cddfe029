"""``WorkflowConnection``: an edge between two nodes of a v2 workflow graph."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field

from ...results import Expected
from .._fast_construction import FastFields, exact_bool, exact_str, member_of, str_key_dict
from ._model_base import FAST, HeaderNamed
from ._v2_json import model_to_json, parse
from .enums import ConnectionType, _ConnTypeField


def _transformation_before(value: object) -> object:
    # A bare CEL string is the short form of {"expression": "..."}.
    return {"expression": value} if isinstance(value, str) else value


_TransformationField = Annotated[dict[str, Any], BeforeValidator(_transformation_before)]


class WorkflowConnection(HeaderNamed):
    """An edge between two nodes. An empty ``connection_id`` is filled in at registration.

    ``source_node_id`` and ``target_node_id`` (the header's names) are ``source_node`` and
    ``target_node``. A disabled connection is dropped when the workflow is compiled.
    ``data_transformation`` holds a CEL expression (``{"expression": "..."}``, or the bare
    string) that rewrites the data on the connection before it is delivered.
    """

    HEADER_NAMES: ClassVar[dict[str, str]] = {
        "source_node": "source_node_id",
        "target_node": "target_node_id",
    }

    connection_id: str = Field("", description="Unique connection identifier.")
    source_node: str = Field("", description="Source node id (the header's source_node_id).")
    source_port: str = Field("", description="Source output port; empty: the whole output.")
    target_node: str = Field("", description="Target node id (the header's target_node_id).")
    target_port: str = Field("", description="Target input port; empty: merged into the input.")
    connection_type: _ConnTypeField = Field(
        ConnectionType.DataFlow, description="What the connection carries."
    )
    properties: dict[str, Any] = Field(
        default_factory=dict, description="Connection properties (a Control 'condition')."
    )
    data_transformation: _TransformationField = Field(
        default_factory=dict,
        description="{'expression': CEL} applied to the data on the connection (header field).",
    )
    enabled: bool = Field(True, description="A disabled connection is ignored (header field).")

    @property
    def source_node_id(self) -> str:
        """The header's name for ``source_node``."""
        return self.source_node

    @source_node_id.setter
    def source_node_id(self, value: str) -> None:
        self.source_node = value

    @property
    def target_node_id(self) -> str:
        """The header's name for ``target_node``."""
        return self.target_node

    @target_node_id.setter
    def target_node_id(self, value: str) -> None:
        self.target_node = value

    def to_json(self) -> dict[str, Any]:
        """The connection as QtForge writes it, plus ``connection_type`` and ``properties``."""
        return model_to_json(self)

    @staticmethod
    def from_json(json: object) -> Expected[WorkflowConnection]:
        """Read a connection in either spelling; an error ``Expected`` for bad input."""
        return parse(WorkflowConnection, json)


FAST[WorkflowConnection] = FastFields(
    WorkflowConnection,
    {
        "connection_id": exact_str,
        "source_node": exact_str,
        "source_port": exact_str,
        "target_node": exact_str,
        "target_port": exact_str,
        "connection_type": member_of(ConnectionType),
        "properties": str_key_dict,
        "data_transformation": str_key_dict,  # a bare CEL string: pydantic's before-hook
        "enabled": exact_bool,
    },
)


__all__ = ["WorkflowConnection"]
