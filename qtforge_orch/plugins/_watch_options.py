"""The ``file_system_monitor`` configuration, checked once before anything is watched."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..errors import PluginError, PluginErrorCode

DEFAULT_SETTLE_MS = 200
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class WatchOptions:
    folder: str  # absolute and normalised, so it compares equal to what the watcher reports
    pattern: str
    emit_existing: bool
    wait_for_path: bool
    emit_modified: bool
    settle_ms: int


def _invalid(message: str) -> PluginError:
    return PluginError(PluginErrorCode.InvalidConfiguration, f"file_system_monitor: {message}")


def _flag(configuration: dict[str, Any], key: str) -> bool:
    value = configuration.get(key, False)
    if isinstance(value, str):
        # Configurations written by hand or loaded from INI-like sources carry strings; "false"
        # must not be truthy.
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise _invalid(f"'{key}' must be a boolean, got {value!r}")
    return bool(value)


def _settle_ms(configuration: dict[str, Any]) -> int:
    value = configuration.get("settle_ms", DEFAULT_SETTLE_MS)
    if isinstance(value, timedelta):
        value = value.total_seconds() * 1000
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _invalid(f"'settle_ms' must be a number of milliseconds >= 0, got {value!r}")
    return int(value)


def parse_options(configuration: dict[str, Any]) -> WatchOptions:
    """Raises ``PluginError(InvalidConfiguration)`` for a value that cannot mean anything."""
    raw_path = configuration.get("watch_path", "")
    path = os.fsdecode(raw_path) if isinstance(raw_path, str | bytes | os.PathLike) else ""
    if not path:
        raise _invalid("'watch_path' is required (the folder to watch)")
    pattern = configuration.get("file_pattern", "*")
    if not isinstance(pattern, str) or not pattern:
        raise _invalid(f"'file_pattern' must be a non-empty fnmatch pattern, got {pattern!r}")
    return WatchOptions(
        folder=os.path.normpath(os.path.abspath(path)),
        pattern=pattern,
        emit_existing=_flag(configuration, "emit_existing"),
        wait_for_path=_flag(configuration, "wait_for_path"),
        emit_modified=_flag(configuration, "emit_modified"),
        settle_ms=_settle_ms(configuration),
    )
