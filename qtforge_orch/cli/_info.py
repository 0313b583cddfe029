"""``qtforge-orch schema`` and ``qtforge-orch plugins``: what the package ships and finds."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.table import Table

from ._output import make_console


def register(commands: Any) -> None:
    """Add ``schema`` and ``plugins`` to the subcommands."""
    schema = commands.add_parser("schema", help="print the JSON Schema of a file format")
    schema.add_argument("kind", nargs="?", choices=("v1", "v2"), default="v1")
    schema.set_defaults(handler=print_schema)

    plugins = commands.add_parser("plugins", help="list plugins installed through entry points")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.set_defaults(handler=list_plugins)


def print_schema(arguments: argparse.Namespace) -> int:
    """Print the shipped JSON Schema of ``kind``."""
    from ..orchestration._schemas import shipped_schema

    sys.stdout.write(json.dumps(shipped_schema(arguments.kind), indent=2) + "\n")
    return 0


def list_plugins(arguments: argparse.Namespace) -> int:
    """List the entry-point plugins; exit code 1 if one failed to load."""
    from .. import PluginManager

    console = make_console()
    manager = PluginManager()
    discovered = manager.discover_plugins()
    rows: list[dict[str, Any]] = []
    for plugin_id in manager.list_plugins():
        plugin = manager.get_plugin(plugin_id).value()
        metadata = plugin.metadata()
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
    return 1 if failed else 0
