"""Plugins: the units of work orchestrators call, and the registry that holds them."""

from ._event_source import IEventSource
from ._file_watcher import FileSystemMonitorPlugin
from ._function_plugin import FunctionPlugin
from ._interface import IPlugin, PluginMetadata, PluginState
from ._manager import PluginManager, default_plugin_manager

__all__ = [
    "FileSystemMonitorPlugin",
    "FunctionPlugin",
    "IEventSource",
    "IPlugin",
    "PluginManager",
    "PluginMetadata",
    "PluginState",
    "default_plugin_manager",
]
