"""``WorkflowExecutionContext``: a snapshot of one v2 execution (``get_execution_status``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_serializer,
)

from ...results import Expected
from .._filled_on_read import filled
from ._v2_json import model_to_json, parse
from .enums import WorkflowExecutionStatus, _StatusField


class WorkflowExecutionContext(BaseModel):
    """A snapshot of one execution, as returned by ``get_execution_status``."""

    # Built on first validation: get_execution_status makes these with model_construct, so
    # running a workflow never pays for building a validator it does not use.
    model_config = ConfigDict(validate_assignment=True, extra="forbid", defer_build=True)

    execution_id: str = ""
    workflow_id: str = ""
    status: _StatusField = WorkflowExecutionStatus.Pending
    start_time: datetime | None = None
    end_time: datetime | None = None
    execution_data: dict[str, Any] = Field(default_factory=dict)
    node_states: dict[str, dict[str, Any]] = Field(default_factory=dict)
    progress: float = Field(default=0.0, ge=0.0, le=1.0)
    current_node: str = ""
    error_messages: list[str] = Field(default_factory=list)

    # get_execution_status fills node_states the first time it is read; pydantic's
    # serializer reads a dict's storage directly, so it is filled before serializing.
    @field_serializer("node_states", mode="wrap")
    def _filled_node_states(self, value: Any, handler: SerializerFunctionWrapHandler) -> Any:
        return handler(filled(value))

    # The header's WorkflowExecutionContext names the same facts differently (read-only).
    @property
    def global_data(self) -> dict[str, Any]:
        """The header's name for ``execution_data``."""
        return self.execution_data

    @property
    def node_outputs(self) -> dict[str, Any]:
        """Each node's output (from ``node_states``), keyed by node id."""
        return {key: state.get("output") for key, state in self.node_states.items()}

    @property
    def cancelled(self) -> bool:
        """Whether the execution was cancelled."""
        return self.status is WorkflowExecutionStatus.Cancelled

    def to_json(self) -> dict[str, Any]:
        """The context as JSON: status by name, times as ISO 8601."""
        return model_to_json(self)

    @staticmethod
    def from_json(json: object) -> Expected[WorkflowExecutionContext]:
        """Read a context; an error ``Expected`` (InvalidWorkflowStructure) for bad input."""
        return parse(WorkflowExecutionContext, json)


__all__ = ["WorkflowExecutionContext"]
