"""``qtforge-orch``: run, check and draw workflow files from a terminal or a CI job.

Commands: ``run``, ``validate``, ``graph``, ``schema``, ``plugins``. Exit codes: 0 success
(the run completed, the file is valid), 1 failure (the run failed or was cancelled, the file
has problems), 2 usage error (bad arguments, unreadable file, plugins that do not load).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from ._documents import UsageError, load_workflow, parse_input, read_document

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="qtforge-orch",
        description="Run, check and draw workflow files from a terminal or a CI job.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="execute a workflow file")
    run.add_argument("file", help="workflow JSON (v1 or v2, QtForge's or this library's)")
    run.add_argument(
        "--plugins",
        nargs="+",
        default=[],
        metavar="MODULE|PATH",
        help="modules or .py files defining plugins (installed entry points load too)",
    )
    run.add_argument("--input", help="initial data: a JSON object, or @file.json")
    run.add_argument("--timeout", type=float, help="cancel after this many seconds")
    run.add_argument("--json", action="store_true", help="machine-readable output")

    validate = commands.add_parser("validate", help="list every problem of a workflow file")
    validate.add_argument("file")
    validate.add_argument("--json", action="store_true", help="machine-readable output")

    graph = commands.add_parser("graph", help="draw a workflow file")
    graph.add_argument("file")
    graph.add_argument("--format", choices=("mermaid", "dot", "png"), default="mermaid")
    graph.add_argument("-o", "--output", help="file to write (required for png)")

    schema = commands.add_parser("schema", help="print the JSON Schema of a file format")
    schema.add_argument("kind", nargs="?", choices=("v1", "v2"), default="v1")

    plugins = commands.add_parser("plugins", help="list plugins installed through entry points")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")

    from ._edit import add_edit_parser

    add_edit_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qtforge-orch`` console script; returns the exit code."""
    arguments = _parser().parse_args(argv)
    console = Console(soft_wrap=False)
    errors = Console(stderr=True)
    try:
        if arguments.command == "run":
            return _run(arguments, console)
        if arguments.command == "validate":
            return _validate(arguments, console)
        if arguments.command == "graph":
            return _graph(arguments, console)
        if arguments.command == "edit":
            from ._edit import edit_main

            return edit_main(arguments.file, arguments.plugins, arguments.screenshot)
        if arguments.command == "schema":
            from ..orchestration._schemas import shipped_schema

            sys.stdout.write(json.dumps(shipped_schema(arguments.kind), indent=2) + "\n")
            return EXIT_OK
        return _plugins(arguments, console)
    except UsageError as exc:
        errors.print(f"[red]error:[/] {exc.error}", highlight=False)
        return EXIT_USAGE


def _run(arguments: argparse.Namespace, console: Console) -> int:
    from ._run import run_workflow

    kind, workflow = load_workflow(read_document(arguments.file))
    data = parse_input(arguments.input)
    return run_workflow(
        kind, workflow, arguments.plugins, data, arguments.json, arguments.timeout, console
    )


def _validate(arguments: argparse.Namespace, console: Console) -> int:
    from ._validate import all_errors

    kind, problems = all_errors(read_document(arguments.file))
    if arguments.json:
        listed = [
            {"code": int(e.code), "name": e.code.name, "message": e.message} for e in problems
        ]
        console.print_json(json.dumps({"format": kind, "valid": not problems, "errors": listed}))
    elif not problems:
        console.print(f"[green]{arguments.file}: valid ({kind} workflow)[/]")
    else:
        table = Table(title=f"{arguments.file}: {len(problems)} problem(s)", title_justify="left")
        table.add_column("Code")
        table.add_column("Message", overflow="fold")
        for error in problems:
            table.add_row(f"{error.code.name} ({int(error.code)})", error.message)
        console.print(table)
    return EXIT_FAILED if problems else EXIT_OK


def _graph(arguments: argparse.Namespace, console: Console) -> int:
    from .._errors import PluginError, PluginErrorCode
    from .._export import to_dot, to_graph, to_mermaid

    _, workflow = load_workflow(read_document(arguments.file))
    if arguments.format == "png":
        if not arguments.output:
            raise UsageError(
                PluginError(PluginErrorCode.InvalidArgument, "--format png needs -o FILE.png")
            )
        from ._png import render_png

        if not render_png(to_graph(workflow), arguments.output):
            raise UsageError(
                PluginError(PluginErrorCode.FileSystemError, f"cannot write {arguments.output}")
            )
        return EXIT_OK
    text = to_mermaid(workflow) if arguments.format == "mermaid" else to_dot(workflow)
    if arguments.output:
        with open(arguments.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _plugins(arguments: argparse.Namespace, console: Console) -> int:
    from .. import PluginManager

    manager = PluginManager()
    discovered = manager.discover_plugins()
    rows: list[dict[str, Any]] = []
    for plugin_id in manager.list_plugins():
        metadata = manager.get_plugin(plugin_id).value().metadata()
        plugin = manager.get_plugin(plugin_id).value()
        rows.append(
            {
                "id": plugin_id,
                "name": metadata.name,
                "version": metadata.version,
                "commands": list(plugin.available_commands()),
                "description": metadata.description,
            }
        )
    failed = {} if discovered else dict(discovered.error().context.get("failed", {}))
    if arguments.json:
        console.print_json(json.dumps({"plugins": rows, "failed": failed}))
    else:
        table = Table(title="Plugins (entry point group 'qtforge_orch.plugins')")
        for column in ("Id", "Version", "Commands", "Description"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(row["id"], row["version"], ", ".join(row["commands"]), row["description"])
        console.print(table)
        for name, text in failed.items():
            console.print(f"[red]entry point {name} failed:[/] {text}")
    return EXIT_FAILED if failed else EXIT_OK
