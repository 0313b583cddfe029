"""Opening and saving workflow files in QtForge's JSON, through the library's readers and writers.

A v2 document names ``workflow_id`` or ``nodes``, a v1 document ``id`` or ``steps``; either is
read with the model's own ``from_json`` (every format version, QtForge's spelling or ours) and
written with its ``to_json``. Saving writes a temporary file next to the target and renames
it over, so a failed save never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ...errors import PluginErrorCode
from ...orchestration.advanced.workflow import PluginWorkflow
from ...orchestration.workflow import Workflow
from ...results import Expected, make_error, make_success

#: Larger files are refused before they are read (a workflow is not a data file).
MAX_FILE_BYTES = 256 * 1024 * 1024


def read_workflow(path: str | os.PathLike[str]) -> Expected[Any]:
    """The ``PluginWorkflow`` or ``Workflow`` a file holds, or why it cannot be read."""
    where = str(path)
    try:
        if Path(where).stat().st_size > MAX_FILE_BYTES:
            return make_error(PluginErrorCode.InvalidFormat, f"{where} is too large to open")
        text = Path(where).read_text(encoding="utf-8")
    except FileNotFoundError:
        return make_error(PluginErrorCode.FileNotFound, f"no file {where!r}")
    except UnicodeDecodeError as exc:
        return make_error(PluginErrorCode.InvalidFormat, f"{where} is not UTF-8 text: {exc}")
    except OSError as exc:
        return make_error(PluginErrorCode.FileSystemError, f"cannot read {where!r}: {exc}")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return make_error(PluginErrorCode.InvalidFormat, f"{where} is not valid JSON: {exc}")
    return workflow_from_document(document, where)


def workflow_from_document(document: Any, where: str = "the document") -> Expected[Any]:
    """Read a parsed JSON document as a v2 or v1 workflow."""
    if not isinstance(document, dict):
        return make_error(
            PluginErrorCode.InvalidFormat, f"{where} must hold a JSON object (a workflow)"
        )
    read: Expected[Any]
    if "workflow_id" in document or "nodes" in document:
        read = PluginWorkflow.from_json(document)
    else:
        read = Workflow.from_json(document)
    if not read:
        error = read.error()
        return make_error(error.code, f"{where}: {error.message}", context=dict(error.context))
    return read


def write_workflow(path: str | os.PathLike[str], workflow: Any) -> Expected[None]:
    """Write ``workflow.to_json()`` to ``path`` (replaced whole, or left as it was)."""
    target = Path(path)
    try:
        text = json.dumps(workflow.to_json(), indent=2, ensure_ascii=False) + "\n"
    except (TypeError, ValueError) as exc:  # a callable condition has no JSON form
        return make_error(PluginErrorCode.InvalidFormat, f"cannot write {target}: {exc}")
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        return make_error(PluginErrorCode.FileSystemError, f"cannot write {str(target)!r}: {exc}")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        return make_error(PluginErrorCode.FileSystemError, f"cannot write {str(target)!r}: {exc}")
    return make_success()
