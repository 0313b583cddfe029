"""JSON Schemas of both workflow file formats, generated from the models.

The generated schemas are also shipped as files in ``qtforge_orch/schemas/`` (a test keeps them
equal to what this module generates), so editors and other tools can use them without Python;
``qtforge-orch validate`` checks documents against the shipped files.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .._jsoncopy import json_copy
from .execution_mode import ExecutionMode
from .workflow_step import WorkflowStep

Kind = Literal["v1", "v2"]
SCHEMA_FILES: dict[str, str] = {"v1": "workflow-v1.schema.json", "v2": "workflow-v2.schema.json"}
_BASE_URI = "https://qtforge-orch.invalid/schemas/"

_MODE_NAMES = Literal["Sequential", "Parallel", "Conditional", "Pipeline"]


class _V1Document(BaseModel):
    """A PluginOrchestrator workflow (QtForge ``Workflow::to_json`` or qtforge_orch)."""

    model_config = ConfigDict(title="Workflow", extra="forbid", populate_by_name=True)

    schema_: str | None = Field(
        None, alias="$schema", description="Optional URI of this schema, for editors."
    )
    format_version: int | None = Field(
        None, ge=1, le=2, description="qtforge_orch format version (absent: 1 or QtForge)."
    )
    id: str = Field(description="Workflow id, unique within an orchestrator.")
    name: str = Field("", description="Human-readable name (defaults to the id).")
    description: str = ""
    execution_mode: ExecutionMode | _MODE_NAMES = Field(
        ExecutionMode.Sequential,
        description="QtForge's integer 0-3 (what QtForge reads) or the mode's name.",
    )
    timeout: int | None = Field(
        300000, gt=0, description="Whole-workflow timeout in milliseconds; null means none."
    )
    steps: dict[str, WorkflowStep] | list[WorkflowStep] = Field(
        default_factory=dict,
        description="Steps keyed by step id (QtForge), or an array in declaration order.",
    )
    rollback_steps: dict[str, WorkflowStep] = Field(
        default_factory=dict,
        description="Rollback steps keyed by the id of the step they undo.",
    )
    global_condition: str | None = Field(
        None, description="CEL expression every step must meet besides its own condition."
    )


def _generate(kind: Kind) -> dict[str, Any]:
    if kind == "v1":
        schema = _V1Document.model_json_schema(by_alias=True)
    else:
        from .advanced._v2_schema import v2_document_schema

        schema = v2_document_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": _BASE_URI + SCHEMA_FILES[kind],
        **schema,
    }


@cache
def _generated(kind: Kind) -> dict[str, Any]:
    return _generate(kind)


def generated_schema(kind: Kind) -> dict[str, Any]:
    """The schema generated from the models now (a copy the caller may change)."""
    copied: dict[str, Any] = json_copy(_generated(kind))
    return copied


def shipped_schema(kind: Kind) -> dict[str, Any]:
    """The schema file shipped in the package."""
    text = resources.files("qtforge_orch").joinpath("schemas", SCHEMA_FILES[kind]).read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def schema_text(kind: Kind) -> str:
    """The schema as the shipped file spells it (2-space indent, trailing newline)."""
    return json.dumps(generated_schema(kind), indent=2) + "\n"
