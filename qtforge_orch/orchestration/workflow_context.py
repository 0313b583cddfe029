"""``WorkflowContext``: the C++ header's struct for the state of one execution."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .step_result import StepResult


class WorkflowContext(BaseModel):
    """The state of one execution as the C++ header's ``WorkflowContext`` struct holds it.

    ``WorkflowContext("wf", "exec-1")`` keeps the C++ constructor's order; ``start_time``
    defaults to now. ``PluginOrchestrator.get_execution_status`` reports the same facts as a
    dict; this struct is for code ported from C++ that passes contexts around.
    """

    model_config = ConfigDict(validate_assignment=True, extra="forbid", defer_build=True)

    workflow_id: str = ""
    execution_id: str = ""
    initial_data: dict[str, Any] = Field(default_factory=dict)
    shared_data: dict[str, Any] = Field(
        default_factory=dict, description="Data shared between steps."
    )
    step_results: dict[str, StepResult] = Field(default_factory=dict)
    start_time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    cancelled: bool = False
    transaction_id: str = Field("", description="The transaction the execution belongs to.")

    def __init__(
        self, wf_id: str | None = None, exec_id: str | None = None, /, **data: Any
    ) -> None:
        for key, positional in (("workflow_id", wf_id), ("execution_id", exec_id)):
            if positional is not None:
                if key in data:
                    raise TypeError(f"WorkflowContext() got multiple values for {key!r}")
                data[key] = positional
        super().__init__(**data)


__all__ = ["WorkflowContext"]
