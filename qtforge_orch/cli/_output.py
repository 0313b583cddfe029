"""Where the command line writes: a rich console sized for a terminal or a pipe, and errors
as one line on standard error, plus a JSON object on standard output under ``--json``."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

from rich.console import Console

from ..errors import PluginError

# A pipe or a file has no width: rich would fall back to 80 columns and fold every table at
# that width. Lines this long are as good as unwrapped, and a wrapped line still ends somewhere.
UNWRAPPED_WIDTH = 10_000


def make_console(stream: TextIO | None = None) -> Console:
    """A console for ``stream`` (standard output by default).

    In a terminal it takes the terminal's width; into a pipe or a file it does not wrap,
    unless ``COLUMNS`` asks for a width.
    """
    stream = stream if stream is not None else sys.stdout
    width = None if _is_terminal(stream) or os.environ.get("COLUMNS") else UNWRAPPED_WIDTH
    return Console(file=stream, width=width, soft_wrap=False)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def error_object(error: PluginError, exit_code: int) -> dict[str, Any]:
    """The JSON form of an error that ended a command (``details``: a traceback, if any)."""
    return {
        "status": "error",
        "exit_code": exit_code,
        "error": {
            "code": int(error.code),
            "name": error.code.name,
            "message": error.message,
            "details": error.details,
        },
    }


def report_error(error: PluginError, exit_code: int, as_json: bool) -> int:
    """Write ``error`` (one line on stderr; also a JSON object on stdout with ``--json``).

    The line has the code and the message; details (a plugin module's traceback) are left to
    the JSON object, so the line stays readable.
    """
    if as_json:
        sys.stdout.write(json.dumps(error_object(error, exit_code)) + "\n")
    line = f"{error.code.name} ({int(error.code)}): {error.message}"
    sys.stderr.write(f"error: {one_line(line)}\n")
    return exit_code


def one_line(text: str) -> str:
    """``text`` without line breaks, so an error stays one line."""
    return " ".join(text.split())
