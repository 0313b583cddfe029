"""``--log-level``: the library's records on standard error while a command runs.

The command line is an application, so it may print diagnostics; the library itself never does
(docs/logging-and-tracing.md). Without the option nothing is configured and nothing is printed
beyond the command's own output. Records go to standard error, so ``--json`` output on standard
output stays one JSON document.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

LEVELS = ("debug", "info", "warning", "error")
FORMAT = "%(levelname)s %(name)s: %(message)s"


def add_log_level_option(parser: argparse.ArgumentParser) -> None:
    """``--log-level LEVEL`` on the root parser (before the command)."""
    parser.add_argument(
        "--log-level",
        choices=LEVELS,
        default=None,
        metavar="LEVEL",
        help="print the library's log records of this level and above on stderr "
        f"({', '.join(LEVELS)}; default: none)",
    )


def log_to_stderr(level: str | None) -> Callable[[], None]:
    """Send ``qtforge_orch``'s records of ``level`` and above to stderr; returns the undo."""
    if level is None:
        return lambda: None
    import logging  # only when asked for: not on every start of the command

    library = logging.getLogger("qtforge_orch")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    previous = library.level
    library.addHandler(handler)
    library.setLevel(getattr(logging, level.upper()))

    def undo() -> None:
        library.removeHandler(handler)
        library.setLevel(previous)

    return undo
