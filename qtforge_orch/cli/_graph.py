"""``qtforge-orch graph``: draw a workflow file as Mermaid, DOT or PNG."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import PluginErrorCode
from ._documents import load_workflow, read_document, usage_error


def register(commands: Any) -> None:
    """Add ``graph`` to the subcommands."""
    graph = commands.add_parser("graph", help="draw a workflow file")
    graph.add_argument("file", help="workflow JSON (v1 or v2)")
    graph.add_argument("--format", choices=("mermaid", "dot", "png"), default="mermaid")
    graph.add_argument("-o", "--output", help="file to write (required for png)")
    graph.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Write the drawing to ``--output`` or standard output."""
    from .._export import to_dot, to_graph, to_mermaid

    _, workflow = load_workflow(read_document(arguments.file))
    output: str | None = arguments.output
    if output is not None:
        _check_folder(output)
    if arguments.format == "png":
        if not output:
            raise usage_error(PluginErrorCode.InvalidArgument, "--format png needs -o FILE.png")
        from ._png import render_png

        if not render_png(to_graph(workflow), output):
            raise usage_error(PluginErrorCode.FileSystemError, f"cannot write {output!r}")
        return 0
    text = to_mermaid(workflow) if arguments.format == "mermaid" else to_dot(workflow)
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise usage_error(
                PluginErrorCode.FileSystemError, f"cannot write {output!r}: {exc.strerror or exc}"
            ) from None
    else:
        sys.stdout.write(text)
    return 0


def _check_folder(output: str) -> None:
    folder = Path(output).parent
    if not folder.is_dir():
        raise usage_error(
            PluginErrorCode.FileNotFound,
            f"cannot write {output!r}: no folder {str(folder)!r} (create it first)",
        )
