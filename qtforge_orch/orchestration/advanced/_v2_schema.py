"""JSON Schema of the v2 file format, derived from the models' own schema.

pydantic describes the Python models; the file differs in three ways, applied here: fields
the header names differently are listed under both names, enums are written as names (or
QtForge's integers), and ``data_transformation`` may be a bare CEL string. Like QtForge, the
reader ignores unknown keys; the schema does not (``additionalProperties: false``), so
``qtforge-orch validate`` points out typos that loading would silently skip.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from pydantic import BaseModel

from .enums import ConnectionType, WorkflowExecutionMode, WorkflowNodeType
from .workflow import PluginWorkflow
from .workflow_connection import WorkflowConnection
from .workflow_node import WorkflowNode

_ENUMS: tuple[type[IntEnum], ...] = (WorkflowExecutionMode, WorkflowNodeType, ConnectionType)


def _enum_schema(enum_cls: type[IntEnum], description: str) -> dict[str, Any]:
    return {
        "title": enum_cls.__name__,
        "description": description,
        "anyOf": [
            {"type": "integer", "enum": [int(m) for m in enum_cls]},
            {"type": "string", "enum": [m.name for m in enum_cls]},
        ],
    }


def _both_spellings(definition: dict[str, Any], model: type[BaseModel]) -> None:
    names: dict[str, str] = getattr(model, "HEADER_NAMES", {})
    properties = definition["properties"]
    renamed: dict[str, Any] = {}
    for field, spec in properties.items():
        header = names.get(field)
        if header is None:
            renamed[field] = spec
            continue
        renamed[header] = spec
        renamed[field] = {**spec, "description": f"The reference's name for {header!r}."}
    definition["properties"] = renamed


def v2_document_schema() -> dict[str, Any]:
    """The schema of a ``PluginWorkflow`` document (what ``from_json`` reads)."""
    schema = PluginWorkflow.model_json_schema()
    defs = schema["$defs"]
    for enum_cls in _ENUMS:
        defs[enum_cls.__name__] = _enum_schema(
            enum_cls, str(defs[enum_cls.__name__].get("description", ""))
        )
    defs.pop("WorkflowExecutionStatus", None)
    for model in (WorkflowNode, WorkflowConnection):
        _both_spellings(defs[model.__name__], model)
    transformation = defs["WorkflowConnection"]["properties"]["data_transformation"]
    defs["WorkflowConnection"]["properties"]["data_transformation"] = {
        "description": transformation["description"],
        "anyOf": [
            {
                "type": "object",
                "properties": {"expression": {"type": "string"}},
                "additionalProperties": True,
            },
            {"type": "string", "description": "Short for {'expression': ...}."},
        ],
    }
    schema["properties"] = {
        "$schema": {"type": "string", "description": "Optional URI of this schema, for editors."},
        "format_version": {
            "type": "integer",
            "minimum": 1,
            "maximum": 2,
            "description": "qtforge_orch format version (absent: 1 or QtForge).",
        },
        **schema["properties"],
    }
    schema["title"] = "PluginWorkflow"
    return schema
