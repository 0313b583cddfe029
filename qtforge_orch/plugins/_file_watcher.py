"""``file_system_monitor``: the built-in event source the reference's EventDriven example uses.

Watches a folder with ``QFileSystemWatcher`` and emits ``{"path", "file_name"}`` for each new
file whose name matches ``file_pattern`` (fnmatch syntax, default ``*``).
"""

from __future__ import annotations

import fnmatch
import os
from typing import Any

from PySide6.QtCore import QFileSystemWatcher

from ._event_source import EmitEvent, IEventSource, StopEvents
from ._interface import IPlugin

PLUGIN_ID = "file_system_monitor"


def _matching(folder: str, pattern: str) -> set[str]:
    try:
        names = os.listdir(folder)
    except OSError:
        return set()
    return {name for name in names if fnmatch.fnmatch(name, pattern)}


class FileSystemMonitorPlugin(IPlugin, IEventSource):
    name = "File system monitor"
    description = "Emits an event for every new file in a watched folder"

    def __init__(self, plugin_id: str = PLUGIN_ID) -> None:
        super().__init__()
        self._id = plugin_id

    def id(self) -> str:
        return self._id

    def available_commands(self) -> list[str]:
        return ["scan"]

    def execute_command(self, command: str, params: dict[str, Any]) -> dict[str, Any]:
        """``scan``: the matching files present now (for batch modes)."""
        folder = str(params.get("watch_path", ""))
        names = sorted(_matching(folder, str(params.get("file_pattern", "*"))))
        return {"files": [os.path.join(folder, name) for name in names]}

    def start_events(self, configuration: dict[str, Any], emit: EmitEvent) -> StopEvents:
        folder = str(configuration.get("watch_path", ""))
        pattern = str(configuration.get("file_pattern", "*"))
        known = set() if configuration.get("emit_existing") else _matching(folder, pattern)
        watcher = QFileSystemWatcher([folder]) if os.path.isdir(folder) else QFileSystemWatcher()

        def rescan(_changed: str = "") -> None:
            current = _matching(folder, pattern)
            for name in sorted(current - known):
                emit({"path": os.path.join(folder, name), "file_name": name})
            known.intersection_update(current)
            known.update(current)

        watcher.directoryChanged.connect(rescan)
        if configuration.get("emit_existing"):
            rescan()

        def stop() -> None:
            watcher.directoryChanged.disconnect(rescan)
            watcher.removePaths(watcher.directories())
            watcher.deleteLater()

        return stop
