"""Built-in plugins, found after the user's manager so a user plugin with the same id wins."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..results import Expected, make_success
from .interface import IPlugin
from .manager import PluginManager


def _file_watcher() -> IPlugin:
    # Imported when a workflow first names the plugin, not with every orchestrator.
    from .file_system_monitor import FileSystemMonitorPlugin

    return FileSystemMonitorPlugin()


# Built-in plugin id -> factory (``_file_watcher.PLUGIN_ID``, spelled here so the module
# loads only when used; tests/test_file_watcher.py checks the two agree).
_FACTORIES: dict[str, Callable[[], IPlugin]] = {"file_system_monitor": _file_watcher}


class WithBuiltins:
    """A plugin lookup: the manager's plugins first, then the built-ins."""

    def __init__(self, manager: PluginManager) -> None:
        self.manager = manager
        self._builtins: dict[str, IPlugin] = {}
        self._lock = threading.Lock()

    def _registered_finder(self) -> Callable[[str], IPlugin | None]:
        """The manager's plain lookup: built-ins are not in it (the engine falls back to
        ``get_plugin`` when it finds nothing)."""
        return self.manager._registered_finder()

    def get_plugin(self, plugin_id: str) -> Expected[Any]:
        found = self.manager.get_plugin(plugin_id)
        if found or plugin_id not in _FACTORIES:
            return found
        with self._lock:
            plugin = self._builtins.get(plugin_id)
            if plugin is None:
                plugin = self._builtins[plugin_id] = _FACTORIES[plugin_id]()
                plugin.initialize()
        return make_success(plugin)
