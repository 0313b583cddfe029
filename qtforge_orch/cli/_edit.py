"""``qtforge-orch edit [FILE]``: the workflow designer on a file.

The palette lists the installed plugins (entry points) and those ``--plugins`` loads. A FILE
that does not exist yet is where Save writes. ``--screenshot PNG`` draws the designer into
an image and exits instead of opening the window (CI, docs).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._documents import UsageError, add_plugins_option, plugin_manager

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(commands: Any) -> None:
    """Add ``edit`` to the subcommands."""
    add_edit_parser(commands)


def add_edit_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``edit`` command to the CLI's subparsers."""
    edit: argparse.ArgumentParser = subparsers.add_parser(
        "edit", help="open a workflow file in the designer"
    )
    edit.add_argument("file", nargs="?", help="workflow JSON (v1 or v2); created on save")
    add_plugins_option(edit, "a module or .py file defining plugins for the palette")
    edit.add_argument("--screenshot", metavar="PNG", help="save a picture of the designer, exit")
    edit.set_defaults(handler=handle)
    return edit


def handle(arguments: argparse.Namespace) -> int:
    """The ``edit`` command."""
    return edit_main(arguments.file, arguments.plugins, arguments.screenshot)


def edit_main(path: str | None, plugins: Sequence[str] = (), screenshot: str | None = None) -> int:
    """Open the designer on ``path`` (None: an empty workflow); returns the exit code.

    2 when the file cannot be opened or a plugin does not load, 1 when a screenshot cannot
    be written, else the window's exit code.
    """
    from PySide6.QtWidgets import QApplication

    from ..widgets import WorkflowDesigner

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    try:
        manager = plugin_manager(list(plugins))
    except UsageError as exc:
        print(f"qtforge-orch edit: error: {exc.error.message}", file=sys.stderr)
        return EXIT_USAGE
    designer = WorkflowDesigner(plugin_manager=manager)
    if path is not None:
        if Path(path).exists():
            opened = designer.open_file(path)
            if not opened:
                designer.deleteLater()
                print(f"qtforge-orch edit: error: {opened.error().message}", file=sys.stderr)
                return EXIT_USAGE
        else:
            designer.editor().set_file_path(path)
    designer.show()
    if not screenshot:
        return int(app.exec())
    app.processEvents()
    designer.editor().fit()
    designer.editor().flush()
    app.processEvents()
    saved = designer.grab().save(screenshot)
    designer.close()
    designer.deleteLater()
    if not saved:
        print(f"qtforge-orch edit: error: cannot write {screenshot}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
