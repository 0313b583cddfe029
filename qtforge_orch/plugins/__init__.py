"""Plugins: the units of work orchestrators call, and the registry that holds them.

``FileSystemMonitorPlugin`` (Qt's file watcher) and ``PluginMetadata`` (pydantic) load on first
access, so running plugins imports neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..contract.event_source import IEventSource
from .function_plugin import FunctionPlugin
from .interface import IPlugin, PluginState
from .manager import PluginManager, default_plugin_manager

if TYPE_CHECKING:
    from .file_system_monitor import FileSystemMonitorPlugin
    from .metadata import PluginMetadata

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

_LAZY = {
    "FileSystemMonitorPlugin": ".file_system_monitor",
    "PluginMetadata": ".metadata",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
