"""Components whose commands are module-level functions, so that composites made of them can
be pickled to the process and Dask executors. A worker imports this module to rebuild them, so
it imports nothing that loads Qt."""

from __future__ import annotations

import os
import sys
from typing import Any

from qtforge_orch import FunctionPlugin, PluginManager


def read_numbers(params: dict[str, Any]) -> dict[str, Any]:
    return {"numbers": list(range(1, int(params.get("count", 4)) + 1))}


def keep_even(params: dict[str, Any]) -> dict[str, Any]:
    return {"kept": [n for n in params["numbers"] if n % 2 == 0]}


def total(params: dict[str, Any]) -> dict[str, Any]:
    return {"total": sum(params["values"]), "pid": os.getpid()}


def qt_probe(params: dict[str, Any]) -> dict[str, Any]:
    """Whether Qt is loaded where this runs (a worker rebuilding a composite must not need it)."""
    return {"qt_loaded": "PySide6" in sys.modules, "pid": os.getpid()}


def shippable_plugins(manager: PluginManager) -> PluginManager:
    """FunctionPlugins of module-level functions: they pickle, so composites of them ship."""
    for plugin in (
        FunctionPlugin("reader", process=read_numbers),
        FunctionPlugin("evens", process=keep_even),
        FunctionPlugin("summer", process=total),
        FunctionPlugin("qt_probe", process=qt_probe),
    ):
        if not manager.has_plugin(plugin.id()):
            assert manager.register_plugin(plugin)
    return manager
