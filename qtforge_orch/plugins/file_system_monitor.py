"""``file_system_monitor``: the built-in event source the reference's EventDriven example uses.

Watches a folder with ``QFileSystemWatcher`` and emits ``{"path", "file_name", "event"}`` for
each matching regular file once it has been written (its size and mtime unchanged for
``settle_ms``). Configuration (see docs/semantics-v2.md, EventDriven):

- ``watch_path`` (required): the folder.
- ``file_pattern``: fnmatch pattern, default ``*``.
- ``emit_existing``: also emit the files already there at the start (as ``created``).
- ``wait_for_path``: a missing folder is waited for instead of failing the start.
- ``settle_ms``: how long a file must stay unchanged before it is emitted (default 200).
- ``emit_modified``: also emit a file again (``"event": "modified"``) when it changes.
"""

from __future__ import annotations

import fnmatch
import os
from typing import Any

from ..contract.event_source import EmitEvent, IEventSource, StopEvents
from ._watch_options import parse_options
from .interface import IPlugin

PLUGIN_ID = "file_system_monitor"


def _matching(folder: str, pattern: str) -> set[str]:
    try:
        names = os.listdir(folder)
    except OSError:
        return set()
    return {name for name in names if fnmatch.fnmatch(name, pattern)}


class FileSystemMonitorPlugin(IPlugin, IEventSource):
    """The built-in ``file_system_monitor`` event source: one event per new file in a folder.

    An EventDriven workflow's Source node with this plugin id runs the graph downstream once per
    new (and, with ``emit_modified``, modified) file matching ``file_pattern`` in
    ``watch_path``; the options are described in the plugin guide. Its ``scan`` command lists
    the matching files present now, for batch modes.

    Args:
        plugin_id: The id to register it under.
    """

    name = "File system monitor"
    description = "Emits an event for every new (and optionally modified) file in a folder"

    def __init__(self, plugin_id: str = PLUGIN_ID) -> None:
        super().__init__()
        self._id = plugin_id

    def id(self) -> str:
        """The plugin id (``file_system_monitor`` by default)."""
        return self._id

    def available_commands(self) -> list[str]:
        """``["scan"]``."""
        return ["scan"]

    def execute_command(self, command: str, params: dict[str, Any]) -> dict[str, Any]:
        """``scan``: the matching files present now (for batch modes)."""
        folder = str(params.get("watch_path", ""))
        names = sorted(_matching(folder, str(params.get("file_pattern", "*"))))
        return {"files": [os.path.join(folder, name) for name in names]}

    def start_events(self, configuration: dict[str, Any], emit: EmitEvent) -> StopEvents:
        """Watch ``watch_path`` and emit an event for every new (optionally modified) file.

        Returns:
            A callable that stops watching.

        Raises:
            PluginError: ``InvalidConfiguration`` for a bad option, ``FileSystemError`` when
                ``watch_path`` is missing (without ``wait_for_path``) or cannot be watched.
                The orchestrator reports it in the execution's ``error_messages``.
        """
        # Qt is imported here, not at module level: importing the plugins package must stay
        # cheap for applications that never watch a folder.
        from ._folder_watch import FolderWatch

        watch = FolderWatch(parse_options(configuration), emit)
        try:
            watch.start()
        except BaseException:
            watch.stop()
            raise
        return watch.stop
