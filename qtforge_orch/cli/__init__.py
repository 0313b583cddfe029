"""``qtforge-orch``: run, check and draw workflow files from a terminal or a CI job.

Commands: ``run``, ``validate``, ``graph``, ``schema``, ``plugins``, ``edit``,
``completion``. Exit codes: 0 success (the run completed, the file is valid), 1 failure (the
run failed, the file has problems), 2 usage error (bad arguments, unreadable file, plugins
that do not load), 130 interrupted (Ctrl-C cancelled the run).

Each command lives in its own module with a ``register(commands)`` function that adds its
subparser and sets ``handler`` (``handler(arguments) -> exit code``); adding a command is one
import and one entry in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ..errors import PluginError, PluginErrorCode
from . import _completion, _edit, _graph, _info, _run, _validate
from ._documents import UsageError
from ._logging import add_log_level_option, log_to_stderr
from ._output import report_error

EXIT_OK = 0
"""Success: the run completed, the file is valid, the output was written."""
EXIT_FAILED = 1
"""Failure: the run failed or timed out, the file has problems, an entry point did not load."""
EXIT_USAGE = 2
"""Usage error: bad arguments, an unreadable file, plugins that do not load."""
EXIT_INTERRUPTED = _run.EXIT_INTERRUPTED
"""Ctrl-C cancelled the run: 128 + SIGINT, what shells report for an interrupted program."""

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "main"]

COMMANDS: tuple[Any, ...] = (_run, _validate, _graph, _info, _edit, _completion)
"""The modules that register the subcommands, in the order ``--help`` lists them."""


class _Parser(argparse.ArgumentParser):
    """Argument errors are one line (plus a JSON object under ``--json``), exit code 2."""

    json_errors = False

    def error(self, message: str) -> NoReturn:
        error = PluginError(
            PluginErrorCode.InvalidArgument,
            f"{self.prog}: {message} (see {self.prog} --help)",
        )
        report_error(error, EXIT_USAGE, self.json_errors)
        raise SystemExit(EXIT_USAGE)


def _version() -> str:
    from .._version import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    """The ``qtforge-orch`` argument parser, with every command of ``COMMANDS``."""
    parser = _Parser(
        prog="qtforge-orch",
        description="Run, check and draw workflow files from a terminal or a CI job.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {_version()}", help="show the version"
    )
    add_log_level_option(parser)
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, metavar="COMMAND"
    )
    for module in COMMANDS:
        module.register(commands)
    # A command that describes the CLI itself (shell completion) reads the whole parser here.
    parser.set_defaults(root_parser=parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qtforge-orch`` console script; returns the exit code."""
    arguments_list = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in arguments_list
    _Parser.json_errors = as_json
    undo_logging: Callable[[], None] = _nothing
    try:
        arguments = build_parser().parse_args(arguments_list)
        undo_logging = log_to_stderr(arguments.log_level)
        handler = arguments.handler
        code: int = handler(arguments)
        return code
    except UsageError as exc:
        return report_error(exc.error, EXIT_USAGE, as_json)
    except KeyboardInterrupt:
        # Ctrl-C outside a run's wait (loading, a second Ctrl-C while cancelling).
        sys.stderr.write("cancelled\n")
        return EXIT_INTERRUPTED
    except SystemExit as exc:
        if exc.code is None:
            return EXIT_OK
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except RecursionError:
        error = PluginError(
            PluginErrorCode.InvalidFormat, "the input is nested too deeply to process"
        )
        return report_error(error, EXIT_USAGE, as_json)
    finally:
        undo_logging()


def _nothing() -> None:
    """No logging was configured: nothing to undo."""
