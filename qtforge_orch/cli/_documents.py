"""The command line's inputs: workflow files, ``--input`` and ``--plugins``.

Every problem with them is a ``UsageError`` (exit code 2) carrying a ``PluginError`` whose
message fits on one line: a file that is missing, unreadable, not UTF-8, not JSON or nested
deeper than ``MAX_JSON_DEPTH``; plugins that do not load.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._log import logger
from ..errors import PluginError, PluginErrorCode

if TYPE_CHECKING:
    from ..plugins import PluginManager

Kind = Literal["v1", "v2"]

MAX_JSON_DEPTH = 200
"""Deepest nesting of arrays and objects a workflow file or ``--input`` may have. Real
workflows stay far below it; far deeper input would exhaust the interpreter's recursion limit
in the parser, the schema check or the models, so it is refused up front."""


class UsageError(Exception):
    """Bad command-line input (exit code 2); carries the PluginError describing it."""

    def __init__(self, error: PluginError) -> None:
        super().__init__(str(error))
        self.error = error


def usage_error(code: PluginErrorCode, message: str) -> UsageError:
    """A ``UsageError`` for ``code`` and ``message``."""
    return UsageError(PluginError(code, message))


def read_document(path: str, what: str | None = None) -> Any:
    """The JSON value in ``path`` (``-`` reads standard input); ``what`` names it in errors."""
    name = what or path
    try:
        raw = Path(path).read_bytes() if path != "-" else _stdin()
    except FileNotFoundError:
        raise usage_error(PluginErrorCode.FileNotFound, f"no file {path!r}") from None
    except OSError as exc:
        raise usage_error(
            PluginErrorCode.FileSystemError, f"cannot read {path!r}: {exc.strerror or exc}"
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise usage_error(
            PluginErrorCode.InvalidFormat,
            f"{name} is not UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 1]!r}); "
            "save it as UTF-8",
        ) from None
    return parse_json(text, name)


def parse_json(text: str, name: str) -> Any:
    """``text`` parsed, or a ``UsageError`` naming ``name``."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep(name) from None
    except ValueError as exc:
        raise usage_error(
            PluginErrorCode.InvalidFormat, f"{name} is not valid JSON: {exc}"
        ) from None
    if _depth_exceeds(value, MAX_JSON_DEPTH):
        raise _too_deep(name)
    return value


def _too_deep(name: str) -> UsageError:
    return usage_error(
        PluginErrorCode.InvalidFormat,
        f"{name} is nested more than {MAX_JSON_DEPTH} levels deep (arrays and objects)",
    )


def _depth_exceeds(value: Any, limit: int) -> bool:
    # Iterative: the point is to refuse what recursion could not handle.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _stdin() -> bytes:
    import sys

    return sys.stdin.buffer.read()


def kind_of(document: Any) -> Kind:
    """v2 documents name ``workflow_id``/``nodes``; v1 documents ``id``/``steps``."""
    if isinstance(document, dict) and ("workflow_id" in document or "nodes" in document):
        return "v2"
    return "v1"


def load_workflow(document: Any) -> tuple[Kind, Any]:
    """(kind, Workflow or PluginWorkflow); UsageError when the file cannot be read."""
    from .. import PluginWorkflow, Workflow

    kind = kind_of(document)
    loaded = Workflow.from_json(document) if kind == "v1" else PluginWorkflow.from_json(document)
    if not loaded:
        raise UsageError(loaded.error())
    return kind, loaded.value()


def parse_input(text: str | None) -> dict[str, Any]:
    """``--input``: a JSON object, given inline or as ``@file``."""
    if text is None:
        return {}
    if text.startswith("@"):
        value = read_document(text[1:], f"--input file {text[1:]!r}")
    else:
        value = parse_json(text, "--input")
    if not isinstance(value, dict):
        raise usage_error(PluginErrorCode.InvalidParameters, "--input must be a JSON object")
    return value


def add_plugins_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--plugins MODULE|PATH``, repeatable, anywhere on the command line."""
    parser.add_argument(
        "--plugins",
        action="append",
        default=[],
        metavar="MODULE|PATH",
        help=f"{what}; repeat for several (installed entry points load too)",
    )


def plugin_manager(sources: list[str]) -> PluginManager:
    """A fresh ``PluginManager`` with the installed entry-point plugins and ``sources``.

    ``sources`` are the ``--plugins`` values (modules or ``.py`` files), loaded as
    ``PluginManager.load_plugin`` does; one that does not load is a ``UsageError``. A broken
    installed entry point is not fatal here (``qtforge-orch plugins`` lists it).
    """
    from ..plugins import PluginManager

    manager = PluginManager()
    manager.discover_plugins()
    for source in sources:
        loaded = manager.load_plugin(source)
        if not loaded:
            raise UsageError(loaded.error())
        logger("cli").info("loaded plugins from %s: %s", source, ", ".join(loaded.value()))
    return manager
