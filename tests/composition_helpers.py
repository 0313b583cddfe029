"""Components for the composition tests.

``Component`` records what happens to it (thread-safe). Shippable components are in
``composition_shippable`` (a module that does not load Qt, as a worker process imports it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from qtforge_orch import (
    CompositePlugin,
    CompositionBinding,
    Expected,
    IPlugin,
    PluginComposition,
    PluginManager,
    PluginState,
    make_error,
)
from qtforge_orch import PluginErrorCode as Code


class Journal:
    """A thread-safe list of events."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[str, ...]] = []

    def add(self, *event: str) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: str) -> list[str]:
        with self._lock:
            return [event[1] for event in self.events if event[0] == kind]


class Component(IPlugin):
    """A class-based component whose commands are callables ``params -> dict``."""

    def __init__(
        self,
        plugin_id: str,
        journal: Journal | None = None,
        *,
        fail_initialize: bool = False,
        **commands: Callable[..., Any],
    ) -> None:
        self._id = plugin_id
        self.journal = journal or Journal()
        self.fail_initialize = fail_initialize
        self.commands = commands
        self.contexts: list[Any] = []

    def id(self) -> str:
        return self._id

    def available_commands(self) -> list[str]:
        return list(self.commands)

    def initialize(self) -> Expected[None]:
        self.journal.add("initialize", self._id)
        if self.fail_initialize:
            return make_error(Code.InitializationFailed, f"{self._id} cannot start")
        return super().initialize()

    def shutdown(self) -> None:
        self.journal.add("shutdown", self._id)
        super().shutdown()

    def execute_command(self, command: str, params: dict[str, Any], context: Any = None) -> Any:
        self.journal.add("call", self._id, command)
        self.contexts.append(context)
        return self.commands[command](params)


class Lookup:
    """A plugin lookup over plain objects that nobody initialized (unlike a PluginManager)."""

    def __init__(self, *plugins: IPlugin) -> None:
        self.plugins = {plugin.id(): plugin for plugin in plugins}

    def get_plugin(self, plugin_id: str) -> Expected[Any]:
        from qtforge_orch import make_success

        plugin = self.plugins.get(plugin_id)
        if plugin is None:
            return make_error(Code.PluginNotFound, f"plugin '{plugin_id}' is not registered")
        return make_success(plugin)


class FakeContext:
    """What a component sees of a StepContext: ``is_cancelled`` (and a flag to set it)."""

    def __init__(self) -> None:
        self.cancelled = False

    def is_cancelled(self) -> bool:
        return self.cancelled


def register(manager: PluginManager, *plugins: IPlugin) -> PluginManager:
    for plugin in plugins:
        registered = manager.register_plugin(plugin)
        assert registered, registered.error()
    return manager


def not_running(plugin: IPlugin) -> IPlugin:
    plugin._set_state(PluginState.Unloaded)
    return plugin


def pipeline_composite(
    plugins: PluginManager, composition_id: str = "evens_sum"
) -> CompositePlugin:
    """reader -> evens -> summer over the shippable functions, registered in ``plugins``."""
    from .composition_shippable import shippable_plugins

    shippable_plugins(plugins)
    composition = (
        PluginComposition(composition_id)
        .set_strategy("Pipeline")
        .add_plugin("reader")
        .add_plugin("evens")
        .add_plugin("summer")
        .add_binding(CompositionBinding("reader", "numbers", "evens", "numbers"))
        .add_binding(CompositionBinding("evens", "kept", "summer", "values"))
    )
    composite = CompositePlugin(composition, plugins)
    register(plugins, composite)
    return composite
