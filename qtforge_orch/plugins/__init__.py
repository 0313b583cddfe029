"""Plugins: the units of work orchestrators call, and the registry that holds them."""

from ._function_plugin import FunctionPlugin
from ._interface import IPlugin, PluginMetadata, PluginState
from ._manager import PluginManager, default_plugin_manager

__all__ = [
    "FunctionPlugin",
    "IPlugin",
    "PluginManager",
    "PluginMetadata",
    "PluginState",
    "default_plugin_manager",
]
