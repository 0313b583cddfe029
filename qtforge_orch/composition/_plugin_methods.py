"""The ``IPlugin`` side of a composite, shared by ``CompositePlugin`` and its shipped copy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..plugins.interface import IPlugin, PluginState
from ..results import Expected
from ._runtime import CompositeCore
from .composition import PluginComposition

if TYPE_CHECKING:
    from ..plugins.metadata import PluginMetadata

AUTHOR = "QtPlugin Composition System"  # QtForge's CompositePlugin::m_author


class CompositeMethods(IPlugin):
    """``IPlugin`` implemented over a ``CompositeCore`` held in ``_core``."""

    _core: CompositeCore

    def id(self) -> str:
        """The composition id."""
        return self._core.composite_id

    def state(self) -> PluginState:
        """``Unloaded`` until initialized, ``Running`` after, ``Unloaded`` after shutdown."""
        return self._core.state

    def initialize(self) -> Expected[None]:
        """Load the components from the plugin manager and start them.

        Components are resolved first (a missing one is ``PluginNotFound``; one that is, or
        contains, this composite is ``CircularDependency``), then the ones that are not
        running are initialized in binding order (sources before targets, priority first,
        then the others). If one fails, those it started are shut down again, the state goes
        back to ``Unloaded`` and the error is returned. ``InvalidState`` if already running.
        """
        return self._core.initialize(self)

    def shutdown(self) -> None:
        """Shut down, in reverse order, the components this composite initialized.

        Components that were already running when it started (those a ``PluginManager``
        initialized) belong to their manager and keep running. The state becomes ``Unloaded``.
        """
        self._core.shutdown()

    def execute_command(
        self, command: str, params: dict[str, Any] | None = None, context: Any = None
    ) -> Expected[dict[str, Any]]:
        """Run ``command`` over the components by the composition's strategy.

        ``params`` defaults to ``{}`` (as in QtForge). ``context`` is the step's ``StepContext``
        when an orchestrator calls: it is handed on to components that declare one, and checked
        before each component call, so a cancelled or timed-out step starts no further
        component. The meaning of each strategy is in docs/composition.md.

        Returns:
            The result dict, or an error ``Expected`` (``InvalidState`` before
            ``initialize``, ``InvalidParameters`` for a non-dict ``params``, or the
            strategy's and the components' errors).
        """
        return self._core.execute(command, {} if params is None else params, context)

    def resolve_command(
        self, command: str, context: Any = None
    ) -> Callable[[dict[str, Any]], Expected[dict[str, Any]]]:
        """``execute_command`` for ``command``, with ``context`` bound.

        The plugin contract's fast way in (docs/plugins.md): orchestrators call it with the
        parameters instead of checking ``available_commands`` first. A command no component
        takes is reported by the call itself (``CommandNotFound``).
        """
        execute = self.execute_command
        return lambda params: execute(command, params, context)

    def available_commands(self) -> list[str]:
        """The commands the strategy exposes, sorted.

        The components' union for Aggregation, Pipeline and Facade; see docs/composition.md
        for the others.
        """
        return self._core.available_commands()

    def configure(self, config: dict[str, Any]) -> Expected[None]:
        """Replace the configuration (strategy settings and per-component sections).

        The strategy settings are checked first and each component whose id is a key gets
        ``config[id]`` through its ``configure``; if one refuses, the components already
        configured get their previous configuration back and nothing changes.
        """
        return self._core.configure(config)

    def get_configuration(self) -> dict[str, Any]:
        """A copy of the current configuration."""
        from .._jsoncopy import json_copy

        return json_copy(self._core.configuration)  # type: ignore[no-any-return]

    def metadata(self) -> PluginMetadata:
        """The composition's name and description; ``dependencies`` lists the components."""
        from ..plugins.metadata import PluginMetadata

        composition = self._core.composition
        return PluginMetadata(
            name=composition.name(),
            description=composition.description(),
            author=AUTHOR,
            category="composition",
            tags=["composite", composition.strategy().name],
            dependencies=list(composition.plugins()),
        )

    def composition(self) -> PluginComposition:
        """A copy of the composition as it is now (runtime changes included)."""
        return self._core.composition.copy()

    def get_component_plugins(self) -> list[str]:
        """The ids of the loaded components (empty before ``initialize``)."""
        return list(self._core.components)

    def get_component_plugin(self, plugin_id: str) -> IPlugin | None:
        """A loaded component, or None."""
        plugin: IPlugin | None = self._core.components.get(plugin_id)
        return plugin
