"""The v1 workflow file format: its versions, and what reading one reports.

QtForge (``plugin_orchestrator.cpp``) writes ``steps`` as an object keyed by step id,
``execution_mode`` as an integer, ``timeout`` always (ms), and rollback steps as
``plugin_id``/``method_name``/``parameters`` only; it ignores keys it does not know. The
models write that shape (``Workflow.to_json``, ``WorkflowStep.to_json``), add
``format_version`` and the fields QtForge has no JSON for (a string ``condition``,
``global_condition``, rollback fields that differ from the defaults), and read QtForge's
files, this library's files of every format version, and hand-written variants (a ``steps``
array, mode names). Keys nobody knows are ignored as in C++, except close misspellings of
known keys, which are reported (a silently dropped ``dependancies`` would run steps out of
order). This module holds what the models share for that: the problem a document has
(``Bad``), the version check and upgrade (``migrate``), and the readers of plain values.

Format versions: 1 (unversioned, qtforge_orch 0.1: ``steps`` array, mode name, an absent
``timeout`` meant no limit) and 2 (QtForge's shape). ``migrate`` upgrades a document to the
current version before it is read.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from .._jsoncopy import json_type
from ..errors import PluginErrorCode
from ..results import Expected, make_error, make_success

FORMAT_VERSION = 2
FORMAT_KEY = "format_version"
_INVALID = PluginErrorCode.InvalidConfiguration


class Bad(Exception):
    """A problem in the document; becomes an InvalidConfiguration error."""


def unknown_key(key: str, known: tuple[str, ...] | frozenset[str], where: str) -> None:
    """Unknown keys are ignored (C++ does); a near miss of a known one is an error."""
    match = difflib.get_close_matches(key, list(known), n=1, cutoff=0.8)
    if match:
        raise Bad(
            f"{where} has unknown field {key!r} (did you mean {match[0]!r}?); "
            f"fields are {', '.join(known)}"
        )


def format_validation_error(exc: ValidationError, where: str) -> str:
    """One line per bad field (first error of each), prefixed with where it was found."""
    seen: set[str] = set()
    parts: list[str] = []
    for error in exc.errors(include_url=False):
        loc = error.get("loc", ())
        field = str(loc[0]) if loc else ""
        if field in seen:
            continue  # a union (condition) reports one error per alternative
        seen.add(field)
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        if field == "condition" and error.get("type") in ("string_type", "callable_type"):
            message = "must be a CEL expression string (or a callable in Python), or null"
        parts.append(f"{where}.{field}: {message}" if field else f"{where}: {message}")
    return "; ".join(parts[:5]) or f"{where}: invalid value"


def guard(read: Callable[[], Any], what: str) -> Expected[Any]:
    """``read()``'s value, or the InvalidConfiguration error it ran into; never raises."""
    try:
        return make_success(read())
    except Bad as exc:
        return make_error(_INVALID, str(exc))
    except Exception as exc:  # a safety net: from_json must not raise for any input
        return make_error(_INVALID, f"{what}: cannot be read ({type(exc).__name__}: {exc})")


# --------------------------------------------------------------------------- plain values


def read_text(name: str, value: Any) -> str:
    """A workflow's string field (``name``, ``description``)."""
    if not isinstance(value, str):
        raise Bad(f"workflow {name!r} must be a string, got {json_type(value)}")
    return value


def read_timeout(value: Any) -> int | None:
    """A workflow's ``timeout``: milliseconds, or None for no limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Bad(
            f"workflow 'timeout' must be milliseconds (a number) or null, got {json_type(value)}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise Bad(f"workflow 'timeout' must be a finite number, got {value!r}")
    return int(value)


def read_condition(value: Any) -> str | None:
    """A workflow's ``global_condition``: a CEL string, or None."""
    if value is not None and not isinstance(value, str):
        raise Bad(f"workflow 'global_condition' must be a CEL string, got {json_type(value)}")
    return value


# --------------------------------------------------------------------------- versions


def document_version(json: Mapping[str, Any]) -> int:
    """The format version a document declares (1 when it declares none)."""
    version = json.get(FORMAT_KEY, 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise Bad(f"workflow {FORMAT_KEY!r} must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise Bad(
            f"workflow {FORMAT_KEY!r} is {version}, newer than this qtforge_orch reads "
            f"({FORMAT_VERSION}): upgrade qtforge_orch"
        )
    return version


def migrate(json: Any) -> dict[str, Any]:
    """A copy of the top level of ``json`` upgraded to ``FORMAT_VERSION``."""
    if not isinstance(json, Mapping):
        raise Bad(f"a workflow must be a JSON object, got {json_type(json)}")
    for key in json:
        if not isinstance(key, str):
            raise Bad(f"workflow JSON has a non-string key {key!r}")
    document = dict(json)
    version = document_version(document)
    if version == 1:
        document = _from_version_1(document)
    document[FORMAT_KEY] = FORMAT_VERSION
    return document


def _from_version_1(document: dict[str, Any]) -> dict[str, Any]:
    # Version 1 omitted "timeout" for "no limit"; QtForge always writes it (an integer mode
    # or keyed steps mean QtForge wrote the file), and reads a missing one as 5 minutes.
    written_by_qtforge = isinstance(document.get("steps"), Mapping) or (
        isinstance(document.get("execution_mode"), int)
        and not isinstance(document.get("execution_mode"), bool)
    )
    if "timeout" not in document and not written_by_qtforge:
        document["timeout"] = None
    return document


__all__ = [
    "FORMAT_KEY",
    "FORMAT_VERSION",
    "Bad",
    "document_version",
    "format_validation_error",
    "guard",
    "migrate",
    "read_condition",
    "read_text",
    "read_timeout",
    "unknown_key",
]
