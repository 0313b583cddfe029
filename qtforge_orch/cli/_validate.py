"""``qtforge-orch validate``: every problem of a workflow file, each with its error code.

Three layers, all reported: the shipped JSON Schema (stricter than loading: unknown keys,
which loading ignores as QtForge does, are listed), reading the file (``from_json``), and the
rules ``register_workflow`` applies (``iter_workflow_errors``). With ``--plugins``, a fourth:
every step's or node's plugin is registered and offers the command it is called with.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from ..errors import PluginError, PluginErrorCode
from ..orchestration._plugin_calls import plugin_errors
from ._documents import Kind, add_plugins_option, kind_of, plugin_manager, read_document
from ._output import make_console

# A schema message quotes the offending value; a whole ``steps`` array would bury the point.
_MESSAGE_LIMIT = 200


def register(commands: Any) -> None:
    """Add ``validate`` to the subcommands."""
    validate = commands.add_parser("validate", help="list every problem of a workflow file")
    validate.add_argument("file", help="workflow JSON (v1 or v2)")
    add_plugins_option(
        validate, "also check that the plugin ids and commands exist in this module or .py file"
    )
    validate.add_argument("--json", action="store_true", help="machine-readable output")
    validate.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """List the problems; exit code 1 when there are any."""
    document = read_document(arguments.file)
    manager = plugin_manager(arguments.plugins) if arguments.plugins else None
    kind, problems = all_errors(document, manager)
    console = make_console()
    if arguments.json:
        listed = [
            {"code": int(e.code), "name": e.code.name, "message": e.message} for e in problems
        ]
        console.print_json(json.dumps({"format": kind, "valid": not problems, "errors": listed}))
    elif not problems:
        checked = " and its plugins" if manager is not None else ""
        console.print(f"[green]{arguments.file}: valid ({kind} workflow{checked})[/]")
    else:
        table = Table(title=f"{arguments.file}: {len(problems)} problem(s)", title_justify="left")
        table.add_column("Code")
        table.add_column("Message", overflow="fold")
        for error in problems:
            table.add_row(f"{error.code.name} ({int(error.code)})", error.message)
        console.print(table)
    return 1 if problems else 0


def schema_errors(document: Any, kind: Kind) -> list[PluginError]:
    """Violations of the shipped JSON Schema, one error each, with the JSON path.

    Each violation is reduced to its most relevant cause (jsonschema's ``best_match``): a
    step that fails inside an ``anyOf`` is reported at the step's field, not as the whole
    ``steps`` value failing every alternative.
    """
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    from ..orchestration._schemas import shipped_schema

    code = _structure_code(kind)
    validator = Draft202012Validator(shipped_schema(kind))
    errors: list[PluginError] = []
    seen: set[str] = set()
    for problem in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        relevant = best_match([problem]) or problem
        path = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in relevant.absolute_path
        )
        where = f"${path}"
        message = f"schema: {where}: {_short(relevant.message)}"
        if message in seen:
            continue
        seen.add(message)
        errors.append(PluginError(code, message, context={"path": where}))
    return errors


def _short(text: str, limit: int = _MESSAGE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _structure_code(kind: Kind) -> PluginErrorCode:
    return (
        PluginErrorCode.InvalidConfiguration
        if kind == "v1"
        else PluginErrorCode.InvalidWorkflowStructure
    )


def all_errors(document: Any, manager: Any = None) -> tuple[Kind, list[PluginError]]:
    """Every problem found in ``document`` (empty: it would register).

    With a ``PluginManager``, the plugins the workflow calls are checked against it too.
    """
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
    plugins = plugin_errors(model, manager) if manager is not None else []
    return kind, [*errors, *rules, *plugins]
