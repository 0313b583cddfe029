"""Reading workflow files for the command line: JSON text, which format, which model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from .._errors import PluginError, PluginErrorCode

Kind = Literal["v1", "v2"]


class UsageError(Exception):
    """Bad command-line input (exit code 2); carries the PluginError describing it."""

    def __init__(self, error: PluginError) -> None:
        super().__init__(str(error))
        self.error = error


def read_document(path: str) -> Any:
    """The JSON value in ``path`` (``-`` reads standard input)."""
    try:
        text = Path(path).read_text(encoding="utf-8") if path != "-" else _stdin()
    except FileNotFoundError:
        raise UsageError(PluginError(PluginErrorCode.FileNotFound, f"no file {path!r}")) from None
    except OSError as exc:
        raise UsageError(
            PluginError(PluginErrorCode.FileSystemError, f"cannot read {path!r}: {exc}")
        ) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(
            PluginError(PluginErrorCode.InvalidFormat, f"{path} is not valid JSON: {exc}")
        ) from None


def _stdin() -> str:
    import sys

    return sys.stdin.read()


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
        value = read_document(text[1:])
    else:
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise UsageError(
                PluginError(PluginErrorCode.InvalidFormat, f"--input is not valid JSON: {exc}")
            ) from None
    if not isinstance(value, dict):
        raise UsageError(
            PluginError(PluginErrorCode.InvalidParameters, "--input must be a JSON object")
        )
    return value
