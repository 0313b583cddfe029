"""Turning a registered plugin into bytes a worker can rebuild it from, checked up front.

A plugin ships as its pickle: a ``FunctionPlugin`` whose commands are module-level functions,
or any picklable ``IPlugin`` instance, pickles as references to importable code plus its
state. A plugin loaded from a ``.py`` file lives in a generated module; its (name, path) pair
goes along so the worker imports the same file under the same name first.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from ...contract.plan import TaskSpec
from ...errors import PluginError, PluginErrorCode
from ...plugins._loading import _FILE_MODULE_PREFIX
from ..invoke import PluginLookup, plugin_finder


class Shipped(NamedTuple):
    blob: bytes
    modules: tuple[tuple[str, str], ...]

    def call_args(
        self, task: TaskSpec, params: dict[str, Any], allow_stream: bool
    ) -> tuple[Any, ...]:
        """``remote.run_remote``'s arguments for one call of ``task`` with ``params``."""
        return (
            self.blob,
            self.modules,
            task.plugin_id,
            task.command,
            params,
            task.key,
            allow_stream,
        )


class Shipper:
    """Pickles each plugin once (per registered instance) and remembers the verdict."""

    def __init__(self, plugins: PluginLookup, dumps: Callable[[Any], bytes], executor: str) -> None:
        self._plugins = plugins
        self._dumps = dumps
        self._executor = executor
        # plugin id -> (the instance it was made from, its revision, its shipment or why it
        # cannot ship). A plugin whose content changes while registered (a composite gaining a
        # component) says so with a ``_shipping_revision`` that changes with it.
        self._cache: dict[str, tuple[Any, Any, Shipped | PluginError]] = {}

    def ship(self, plugin_id: str) -> Shipped | PluginError:
        found = self._plugins.get_plugin(plugin_id)
        if not found:
            error: PluginError = found.error()
            return error
        plugin = found.value()
        revision = getattr(plugin, "_shipping_revision", None)
        cached = self._cache.get(plugin_id)
        if cached is not None and cached[0] is plugin and cached[1] == revision:
            return cached[2]
        shipped = self._pack(plugin_id, plugin)
        self._cache[plugin_id] = (plugin, revision, shipped)
        return shipped

    def _pack(self, plugin_id: str, plugin: Any) -> Shipped | PluginError:
        try:
            blob = self._dumps(plugin)
        except Exception as exc:
            return PluginError(
                PluginErrorCode.InvalidConfiguration,
                f"plugin '{plugin_id}' cannot run on the {self._executor} executor: it cannot "
                f"be pickled ({type(exc).__name__}: {exc}). A plugin that ships is a "
                "FunctionPlugin whose commands are module-level functions of an importable "
                "module, or an IPlugin instance without locks, open files, Qt objects or "
                "lambdas; or run this step on the 'thread' executor",
                details="unpicklable",
                plugin_id=plugin_id,
            )
        return Shipped(blob, _file_modules(blob))


def _file_modules(blob: bytes) -> tuple[tuple[str, str], ...]:
    """The file-loaded plugin modules the pickle refers to (by name, as pickle does)."""
    found: list[tuple[str, str]] = []
    for name, module in list(sys.modules.items()):
        if name.startswith(_FILE_MODULE_PREFIX) and name.encode() in blob:
            path = getattr(module, "__file__", None)
            if path:
                found.append((name, path))
    return tuple(found)


def refusal_at_registration(plugins: PluginLookup, tasks: Iterable[TaskSpec]) -> str | None:
    """Why a workflow cannot be registered as it is: a step on the process or Dask executor
    whose plugin, already registered, says it cannot be sent there (``_shipping_refusal``,
    which a ``CompositePlugin`` offers). Other plugins are checked when their step runs."""
    find = plugin_finder(plugins)
    for task in tasks:
        for spec in (task, task.rollback):
            if spec is None or spec.executor == "thread":
                continue
            plugin = find(spec.plugin_id) if find is not None else None
            refuse = getattr(plugin, "_shipping_refusal", None)
            reason = refuse(spec.executor) if callable(refuse) else None
            if reason:
                return f"'{spec.key}': {reason}"
    return None
