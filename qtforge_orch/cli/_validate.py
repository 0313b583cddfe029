"""``qtforge-orch validate``: every problem of a workflow file, each with its error code.

Three layers, all reported: the shipped JSON Schema (stricter than loading: unknown keys,
which loading ignores as QtForge does, are listed), reading the file (``from_json``), and the
rules ``register_workflow`` applies (``iter_workflow_errors``).
"""

from __future__ import annotations

from typing import Any

from .._errors import PluginError, PluginErrorCode
from ._documents import Kind, kind_of


def schema_errors(document: Any, kind: Kind) -> list[PluginError]:
    """Violations of the shipped JSON Schema, one error each, with the JSON path."""
    from jsonschema import Draft202012Validator

    from ..orchestration._schemas import shipped_schema

    code = _structure_code(kind)
    validator = Draft202012Validator(shipped_schema(kind))
    errors: list[PluginError] = []
    for problem in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        path = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem.absolute_path
        )
        where = f"${path}"
        errors.append(
            PluginError(
                code, f"schema: {where}: {_short(problem.message)}", context={"path": where}
            )
        )
    return errors


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _structure_code(kind: Kind) -> PluginErrorCode:
    return (
        PluginErrorCode.InvalidConfiguration
        if kind == "v1"
        else PluginErrorCode.InvalidWorkflowStructure
    )


def all_errors(document: Any) -> tuple[Kind, list[PluginError]]:
    """Every problem found in ``document`` (empty: it would register)."""
    from .. import PluginWorkflow, Workflow
    from ..orchestration._v1_validation import iter_workflow_errors as v1_errors
    from ..orchestration.advanced.workflow import iter_workflow_errors as v2_errors

    kind = kind_of(document)
    errors = schema_errors(document, kind)
    loaded = Workflow.from_json(document) if kind == "v1" else PluginWorkflow.from_json(document)
    if not loaded:
        return kind, [*errors, loaded.error()]
    model = loaded.value()
    rules = v1_errors(model) if isinstance(model, Workflow) else v2_errors(model)
    return kind, [*errors, *rules]
