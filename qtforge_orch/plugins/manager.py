"""``PluginManager``: the registry orchestrators resolve plugin ids against."""

from __future__ import annotations

import os
import threading
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import PluginError, PluginErrorCode
from ..results import Expected, from_error, make_error, make_success
from . import _loading
from .interface import IPlugin, PluginState

if TYPE_CHECKING:
    from collections.abc import Callable
    from importlib import metadata as importlib_metadata

# difflib, logging, traceback and importlib.metadata (~20 ms of imports together) are only
# needed for errors and entry-point discovery: imported there, not with every orchestrator.
LOGGER_NAME = "qtforge_orch.plugins"

ENTRY_POINT_GROUP = "qtforge_orch.plugins"

# Plugins in these states have not been started (or were stopped), so registering starts them.
_NEEDS_INITIALIZE = frozenset({PluginState.Unloaded, PluginState.Loaded, PluginState.Stopped})
_LISTED_IN_ERRORS = 10


class PluginManager:
    """A thread-safe registry of plugins by id.

    Registration initializes a plugin, unregistration shuts it down; both run the plugin's
    code outside the lock, so a slow ``initialize()`` does not block lookups.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plugins: dict[str, IPlugin] = {}
        # Ids being initialized: reserved so a concurrent duplicate fails fast.
        self._pending: set[str] = set()
        # Entry points already loaded, so discovering twice does not report duplicates.
        self._discovered: dict[tuple[str, str, str], list[str]] = {}

    # -- registry -------------------------------------------------------------------------

    def register_plugin(self, plugin: IPlugin) -> Expected[None]:
        """Initialize ``plugin`` (unless it is already running) and register it under its id.

        Returns:
            Success, ``InvalidArgument`` (not an ``IPlugin``, or ``id()`` raised or is not a
            non-empty string), ``AlreadyExists`` (the id is taken) or
            ``InitializationFailed`` (``initialize()`` raised or returned an error); the
            plugin is not registered on an error.
        """
        if not isinstance(plugin, IPlugin):
            return make_error(
                PluginErrorCode.InvalidArgument,
                f"register_plugin expects an IPlugin, not {type(plugin).__name__}",
            )
        try:
            plugin_id = plugin.id()
        except Exception as exc:
            return make_error(PluginErrorCode.InvalidArgument, f"plugin id() raised: {exc!r}")
        if not isinstance(plugin_id, str) or not plugin_id:
            return make_error(
                PluginErrorCode.InvalidArgument,
                f"plugin id must be a non-empty string, got {plugin_id!r}",
            )
        with self._lock:
            if plugin_id in self._plugins or plugin_id in self._pending:
                return make_error(
                    PluginErrorCode.AlreadyExists,
                    f"a plugin with id '{plugin_id}' is already registered",
                    plugin_id=plugin_id,
                )
            self._pending.add(plugin_id)
        started = False
        try:
            result = _initialize(plugin, plugin_id)
            started = bool(result)
        finally:
            # Also on KeyboardInterrupt inside initialize(): never leave the id reserved.
            with self._lock:
                self._pending.discard(plugin_id)
                if started:
                    self._plugins[plugin_id] = plugin
        return result

    def unregister_plugin(self, plugin_id: str) -> Expected[None]:
        """Remove a plugin and call its ``shutdown()`` (an exception there is logged, not raised).

        Returns:
            Success, ``InvalidArgument`` (the id is not a string) or ``PluginNotFound``.
        """
        if not isinstance(plugin_id, str):
            return _bad_id(plugin_id)
        with self._lock:
            plugin = self._plugins.pop(plugin_id, None)
        if plugin is None:
            return self._not_found(plugin_id)
        _shutdown(plugin, plugin_id)
        return make_success()

    def get_plugin(self, plugin_id: str) -> Expected[IPlugin]:
        """The registered plugin, ``InvalidArgument`` (not a string) or ``PluginNotFound``."""
        if not isinstance(plugin_id, str):
            return _bad_id(plugin_id)
        plugin = self._plugins.get(plugin_id)  # one dict read: atomic, no lock on the hot path
        if plugin is None:
            return self._not_found(plugin_id)
        return make_success(plugin)

    def _registered_finder(self) -> Callable[[str], IPlugin | None]:
        """(engine use) A plain lookup of registered plugins, None when absent.

        One dict read and no ``Expected`` built; the registry dict is never replaced, only
        changed, so the bound ``get`` stays current.
        """
        return self._plugins.get

    def has_plugin(self, plugin_id: str) -> bool:
        """Whether a plugin is registered under ``plugin_id``."""
        return isinstance(plugin_id, str) and plugin_id in self._plugins

    def list_plugins(self) -> list[str]:
        """The registered plugin ids, in registration order."""
        with self._lock:
            return list(self._plugins)

    def _not_found(self, plugin_id: str) -> Expected[Any]:
        registered = self.list_plugins()
        shown = ", ".join(registered[:_LISTED_IN_ERRORS]) or "none"
        if len(registered) > _LISTED_IN_ERRORS:
            shown += f", ... ({len(registered) - _LISTED_IN_ERRORS} more)"
        message = f"plugin '{plugin_id}' is not registered (registered: {shown})"
        import difflib

        close = difflib.get_close_matches(plugin_id, registered, n=1)
        if close:
            message += f"; did you mean '{close[0]}'?"
        return make_error(PluginErrorCode.PluginNotFound, message, plugin_id=plugin_id)

    # -- loading --------------------------------------------------------------------------

    def load_plugin(self, path_or_module: str | os.PathLike[str]) -> Expected[list[str]]:
        """Import a ``.py`` file or a dotted module name and register the plugins it defines.

        All or nothing: if one of the module's plugins fails to register, none stays
        registered. Returns the registered ids.
        """
        if not isinstance(path_or_module, (str, os.PathLike)) or not str(path_or_module):
            return make_error(
                PluginErrorCode.InvalidArgument,
                f"load_plugin expects a file path or module name, got {path_or_module!r}",
            )
        is_file = _loading.looks_like_path(path_or_module)
        imported = (
            _loading.import_file(path_or_module)
            if is_file
            else _loading.import_module(str(path_or_module))
        )
        if not imported:
            return from_error(imported.error())
        module = imported.value()
        loaded = self._register_from_module(module, str(path_or_module))
        if not loaded and is_file:
            _loading.forget_file_module(module)
        return loaded

    def discover_plugins(self, group: str = ENTRY_POINT_GROUP) -> Expected[list[str]]:
        """Register the plugins installed packages declare in entry-point ``group``.

        Each entry point may name an ``IPlugin`` subclass, an instance, a factory, or a module.
        Entry points are independent: one that fails does not stop the others. Returns the ids
        registered by this call; if any entry point failed, returns a ``LoadFailed`` error
        instead, with ``context["loaded"]`` (ids registered anyway) and ``context["failed"]``
        (entry-point name -> error text).
        """
        try:
            from importlib import metadata as importlib_metadata

            entry_points = sorted(importlib_metadata.entry_points(group=group), key=_ep_key)
        except Exception as exc:
            return make_error(PluginErrorCode.LoadFailed, f"reading entry points failed: {exc}")
        loaded: list[str] = []
        failed: dict[str, str] = {}
        for entry_point in entry_points:
            key = _ep_key(entry_point)
            with self._lock:
                previous = self._discovered.get(key)
                if previous and all(pid in self._plugins for pid in previous):
                    continue
            result = self._load_entry_point(entry_point)
            if result:
                with self._lock:
                    self._discovered[key] = result.value()
                loaded.extend(result.value())
            else:
                failed[entry_point.name] = str(result.error())
        if failed:
            return make_error(
                PluginErrorCode.LoadFailed,
                f"{len(failed)} of the '{group}' entry points failed: "
                + "; ".join(f"{name}: {text}" for name, text in failed.items()),
                context={"loaded": loaded, "failed": failed},
            )
        return make_success(loaded)

    def _load_entry_point(self, entry_point: importlib_metadata.EntryPoint) -> Expected[list[str]]:
        source = f"entry point '{entry_point.name} = {entry_point.value}'"
        try:
            target = entry_point.load()
        except Exception as exc:
            return make_error(
                PluginErrorCode.LoadFailed,
                f"loading {source} failed: {type(exc).__name__}: {exc}",
                _traceback(exc),
            )
        if isinstance(target, ModuleType):
            return self._register_from_module(target, source)
        plugins = _loading.as_plugins(target, source)
        if not plugins:
            return from_error(plugins.error())
        return self._register_all(plugins.value(), source)

    def _register_from_module(self, module: ModuleType, source: str) -> Expected[list[str]]:
        plugins = _loading.plugins_in_module(module)
        if not plugins:
            return _with_source(plugins.error(), source)
        return self._register_all(plugins.value(), source)

    def _register_all(self, plugins: list[IPlugin], source: str) -> Expected[list[str]]:
        if not plugins:
            return make_error(
                PluginErrorCode.LoadFailed,
                f"'{source}' defines no plugin (give it a PLUGINS list, a create_plugins() "
                "function, or an IPlugin subclass)",
            )
        registered: list[str] = []
        for plugin in plugins:
            result = self.register_plugin(plugin)
            if not result:
                for plugin_id in reversed(registered):
                    self.unregister_plugin(plugin_id)
                return _with_source(result.error(), source)
            registered.append(plugin.id())
        return make_success(registered)


def _initialize(plugin: IPlugin, plugin_id: str) -> Expected[None]:
    try:
        if plugin.state() not in _NEEDS_INITIALIZE:
            return make_success()
        result = plugin.initialize()
    except Exception as exc:
        return make_error(
            PluginErrorCode.InitializationFailed,
            f"plugin '{plugin_id}' raised in initialize(): {type(exc).__name__}: {exc}",
            _traceback(exc),
            plugin_id=plugin_id,
        )
    if isinstance(result, Expected) and not result:
        return from_error(result.error())
    return make_success()


def _shutdown(plugin: IPlugin, plugin_id: str) -> None:
    try:
        plugin.shutdown()
    except Exception:
        # The plugin is already out of the registry; a failing shutdown must not undo that
        # or surprise the caller, but it should not vanish silently either.
        from .._log import logger

        logger(LOGGER_NAME.rsplit(".", 1)[1]).exception(
            "plugin '%s' raised in shutdown()", plugin_id
        )


def _traceback(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(exc))


def _bad_id(plugin_id: object) -> Expected[Any]:
    return make_error(PluginErrorCode.InvalidArgument, f"plugin ids are strings, got {plugin_id!r}")


def _with_source(error: PluginError, source: str) -> Expected[list[str]]:
    return make_error(
        error.code,
        f"{source}: {error.message}",
        error.details,
        plugin_id=error.plugin_id,
        context={**error.context, "source": source},
    )


def _ep_key(entry_point: importlib_metadata.EntryPoint) -> tuple[str, str, str]:
    return (entry_point.group, entry_point.name, entry_point.value)


_default: PluginManager | None = None
_default_lock = threading.Lock()


def default_plugin_manager() -> PluginManager:
    """The process-wide manager orchestrators use when given no ``plugin_manager=``."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = PluginManager()
    return _default
