"""The state of one composite, without Qt: lifecycle, components, runtime changes, calls.

``CompositePlugin`` (a QObject) and the copy a worker process rebuilds (``_shipped``) both
delegate here. Calls read one immutable ``Snapshot`` (an attribute read, no lock), so any
number of executions may use one composite at once. Lifecycle and runtime changes are
serialised by ``_lifecycle``; each validates the changed composition as a whole and changes
nothing when that fails. Component code (``initialize``, ``shutdown``, ``configure``) runs under
``_lifecycle``, never under a lock a call takes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from .._jsoncopy import json_copy
from ..errors import PluginError, PluginErrorCode
from ..plugins.interface import PluginState
from ..results import Expected, from_error, make_error, make_success
from . import _strategies as strategies
from ._delivery import sort_by_priority
from ._rules import Clock, RateGate
from ._settings import StrategySettings, parse_settings
from ._validation import composition_error
from .binding import CompositionBinding
from .composition import PluginComposition
from .strategy import PluginRole, parse_enum

LOGGER = logging.getLogger("qtforge_orch.composition")

# A composite that failed to start goes back to Unloaded (not QtForge's Error), so that
# PluginManager.register_plugin, which only initializes Unloaded/Loaded/Stopped plugins,
# initializes it again on the next attempt.
_CAN_START = frozenset({PluginState.Unloaded, PluginState.Loaded, PluginState.Stopped})


class PluginLookup(Protocol):
    """Where components are found: a ``PluginManager`` or anything with ``get_plugin``."""

    def get_plugin(self, plugin_id: str) -> Expected[Any]:
        """The plugin registered under ``plugin_id``, or an error."""


class CompositeCore:
    """One composite's components and configuration, and the calls over them."""

    def __init__(
        self, composition: PluginComposition, lookup: PluginLookup | None, clock: Clock | None
    ) -> None:
        self.composition = composition.copy()
        self.lookup = lookup
        self.gate = RateGate(clock)
        self.state = PluginState.Unloaded
        self.components: dict[str, Any] = {}
        self.started: list[str] = []  # components this composite initialized, in order
        self.configuration: dict[str, Any] = self.composition.configuration()
        self.snapshot: strategies.Snapshot | None = None
        # Bumped on every change, so a shipped copy (process/Dask executors) is rebuilt.
        self.revision = 0
        self._lifecycle = threading.RLock()

    @property
    def composite_id(self) -> str:
        return self.composition.id()

    # --- lifecycle -------------------------------------------------------------------------
    def initialize(self, owner: object) -> Expected[None]:
        with self._lifecycle:
            if self.state not in _CAN_START:
                return make_error(
                    PluginErrorCode.InvalidState,
                    f"composite '{self.composite_id}' is already initialized "
                    f"(state: {self.state.name})",
                    plugin_id=self.composite_id,
                )
            self.state = PluginState.Loading
            started: list[str] = []
            failure = self._start(owner, started)
            if failure is not None:
                for plugin_id in reversed(started):
                    _shutdown(self.composite_id, plugin_id, self.components[plugin_id])
                self.components, self.started, self.snapshot = {}, [], None
                self.state = PluginState.Unloaded
                return from_error(failure)
            self.started = started
            self.state = PluginState.Running
            return make_success()

    def _start(self, owner: object, started: list[str]) -> PluginError | None:
        checked = composition_error(self.composition)
        if checked is not None:
            return checked
        plugin_ids = list(self.composition.plugins())
        resolved: dict[str, Any] = {}
        for plugin_id in plugin_ids:
            found = self._resolve(owner, plugin_id)
            if isinstance(found, PluginError):
                return found
            resolved[plugin_id] = found
        self.components = resolved
        order = strategies.initialization_order(
            plugin_ids, sort_by_priority(self.composition.bindings())
        )
        for plugin_id in order:
            failed = _start_component(self.composite_id, plugin_id, resolved[plugin_id])
            if isinstance(failed, PluginError):
                return failed
            if failed:
                started.append(plugin_id)
        snapshot = self._snapshot_of(self.composition, resolved, self.configuration)
        if isinstance(snapshot, PluginError):
            return snapshot
        self.snapshot = snapshot
        return strategies.roles_check(snapshot)

    def shutdown(self) -> None:
        with self._lifecycle:
            if self.state is PluginState.Unloaded:
                return
            self.state = PluginState.Stopping
            for plugin_id in reversed(self.started):
                _shutdown(self.composite_id, plugin_id, self.components.get(plugin_id))
            self.components, self.started, self.snapshot = {}, [], None
            self.revision += 1
            self.state = PluginState.Unloaded

    def _resolve(self, owner: object, plugin_id: str) -> Any:
        if self.lookup is None:
            return PluginError(
                PluginErrorCode.SystemError,
                f"composite '{self.composite_id}' has no plugin manager to load components from",
            )
        if plugin_id == self.composite_id:
            # Registered under its own id, the composite would find itself as this component.
            return PluginError(
                PluginErrorCode.CircularDependency,
                f"composite '{self.composite_id}' lists itself as a component",
                plugin_id=plugin_id,
            )
        found = self.lookup.get_plugin(plugin_id)
        if not found:
            error = found.error()
            return PluginError(
                PluginErrorCode.PluginNotFound,
                f"composite '{self.composite_id}': component '{plugin_id}' not found: "
                f"{error.message}",
                plugin_id=plugin_id,
            )
        plugin = found.value()
        cycle = _nesting_cycle(owner, plugin, plugin_id)
        if cycle:
            return PluginError(
                PluginErrorCode.CircularDependency,
                f"composite '{self.composite_id}' would contain itself: "
                f"{' -> '.join([self.composite_id, *cycle])}",
                plugin_id=plugin_id,
            )
        return plugin

    # --- calls -----------------------------------------------------------------------------
    def execute(self, command: str, params: Any, context: Any) -> Expected[dict[str, Any]]:
        snapshot = self.snapshot
        if snapshot is None or self.state is not PluginState.Running:
            return make_error(
                PluginErrorCode.InvalidState,
                f"composite '{self.composite_id}' is not initialized (state: {self.state.name}); "
                "call initialize() or register it with a PluginManager",
                plugin_id=self.composite_id,
            )
        if not isinstance(command, str) or not (
            type(params) is dict or isinstance(params, Mapping)
        ):
            return make_error(
                PluginErrorCode.InvalidParameters,
                f"composite '{self.composite_id}': execute_command needs a command name and a "
                f"dict of parameters, got {type(command).__name__} and {type(params).__name__}",
                plugin_id=self.composite_id,
            )
        result = strategies.execute(snapshot, command, dict(params), context, self.gate)
        if isinstance(result, PluginError):
            return from_error(result)
        return make_success(result)

    def available_commands(self) -> list[str]:
        snapshot = self.snapshot
        return [] if snapshot is None else strategies.available_commands(snapshot)

    # --- runtime changes -------------------------------------------------------------------
    def configure(self, config: Any) -> Expected[None]:
        if not isinstance(config, Mapping):
            return make_error(
                PluginErrorCode.InvalidConfiguration,
                f"composite '{self.composite_id}': configuration must be a dict, "
                f"not {type(config).__name__}",
            )
        config = json_copy(dict(config))
        with self._lifecycle:
            plugins = self.composition.plugins()
            for plugin_id in plugins:
                if plugin_id in config and not isinstance(config[plugin_id], Mapping):
                    return make_error(
                        PluginErrorCode.InvalidConfiguration,
                        f"composite '{self.composite_id}': configuration['{plugin_id}'] (the "
                        "component's section) must be an object",
                    )
            changed = self.composition.copy().set_configuration(config)
            snapshot = self._snapshot_of(changed, self.components, config)
            if isinstance(snapshot, PluginError):
                return from_error(snapshot)
            applied = _configure_components(self.composite_id, self.components, config)
            if applied is not None:
                return from_error(applied)
            self.composition, self.configuration = changed, config
            self._publish(snapshot)
            return make_success()

    def add_plugin(self, owner: object, plugin_id: Any, role: Any) -> Expected[None]:
        try:
            role = parse_enum(PluginRole, role)
        except ValueError as exc:
            return make_error(PluginErrorCode.InvalidArgument, str(exc))
        if not isinstance(plugin_id, str) or not plugin_id:
            return make_error(
                PluginErrorCode.InvalidArgument,
                f"composite '{self.composite_id}': a plugin id must be a non-empty string, "
                f"got {plugin_id!r}",
            )
        with self._lifecycle:
            if plugin_id in self.composition.plugins():
                return make_error(
                    PluginErrorCode.AlreadyExists,
                    f"'{plugin_id}' is already a component of composite '{self.composite_id}'",
                    plugin_id=plugin_id,
                )
            changed = self.composition.copy().add_plugin(plugin_id, role)
            components = dict(self.components)
            started = False
            if self.state is PluginState.Running:
                found = self._resolve(owner, plugin_id)
                if isinstance(found, PluginError):
                    return from_error(found)
                components[plugin_id] = found
            snapshot = self._snapshot_of(changed, components, self.configuration)
            if isinstance(snapshot, PluginError):
                return from_error(snapshot)
            if self.state is PluginState.Running:
                outcome = _start_component(self.composite_id, plugin_id, components[plugin_id])
                if isinstance(outcome, PluginError):
                    return from_error(outcome)
                started = outcome
            self.composition, self.components = changed, components
            if started:
                self.started.append(plugin_id)
            self._publish(snapshot)
            return make_success()

    def remove_plugin(self, plugin_id: Any) -> Expected[None]:
        with self._lifecycle:
            if not isinstance(plugin_id, str) or plugin_id not in self.composition.plugins():
                return make_error(
                    PluginErrorCode.PluginNotFound,
                    f"{plugin_id!r} is not a component of composite '{self.composite_id}' "
                    f"(components: {', '.join(self.composition.plugins())})",
                )
            changed = self.composition._without_plugin(plugin_id)
            components = {k: v for k, v in self.components.items() if k != plugin_id}
            snapshot = self._snapshot_of(changed, components, self.configuration)
            if isinstance(snapshot, PluginError):
                return from_error(snapshot)
            removed = self.components.get(plugin_id)
            self.composition, self.components = changed, components
            self._publish(snapshot)
            if plugin_id in self.started:
                self.started.remove(plugin_id)
                _shutdown(self.composite_id, plugin_id, removed)
            return make_success()

    def bind(self, binding: Any) -> Expected[None]:
        if not isinstance(binding, CompositionBinding):
            return make_error(
                PluginErrorCode.InvalidArgument,
                f"bind_plugins needs a CompositionBinding, got {type(binding).__name__}",
            )
        with self._lifecycle:
            changed = self.composition.copy().add_binding(binding)
            snapshot = self._snapshot_of(changed, self.components, self.configuration)
            if isinstance(snapshot, PluginError):
                return from_error(snapshot)
            self.composition = changed
            self._publish(snapshot)
            return make_success()

    def unbind(self, source_plugin: Any, source_method: Any) -> Expected[list[CompositionBinding]]:
        with self._lifecycle:
            removed = [
                binding
                for binding in self.composition._raw_bindings()
                if binding.source_plugin_id == source_plugin
                and binding.source_method == source_method
            ]
            if not removed:
                return make_error(
                    PluginErrorCode.NotFound,
                    f"composite '{self.composite_id}' has no binding from "
                    f"'{source_plugin}.{source_method}'",
                )
            changed = self.composition._without_bindings(removed)
            snapshot = self._snapshot_of(changed, self.components, self.configuration)
            if isinstance(snapshot, PluginError):
                return from_error(snapshot)
            self.composition = changed
            self._publish(snapshot)
            return make_success([binding.copy() for binding in removed])

    # --- helpers ---------------------------------------------------------------------------
    def _snapshot_of(
        self,
        composition: PluginComposition,
        components: Mapping[str, Any],
        configuration: Mapping[str, Any],
    ) -> strategies.Snapshot | PluginError:
        """Validate ``composition`` with ``configuration`` and build the view calls read.

        Nothing is changed here.
        """
        error = composition_error(composition)
        if error is not None:
            return error
        roles = composition.plugins()
        settings = parse_settings(
            composition.id(),
            composition.strategy(),
            roles,
            composition.primary_plugin_id(),
            configuration,
        )
        if isinstance(settings, PluginError):
            return settings
        return _snapshot(composition, components, settings)

    def _publish(self, snapshot: strategies.Snapshot) -> None:
        if self.state is PluginState.Running:
            self.snapshot = snapshot
        self.revision += 1


def _snapshot(
    composition: PluginComposition, components: Mapping[str, Any], settings: StrategySettings
) -> strategies.Snapshot:
    roles = composition.plugins()
    return strategies.make_snapshot(
        composite_id=composition.id(),
        strategy=composition.strategy(),
        primary=composition.primary_plugin_id(),
        roles=roles,
        components={pid: components[pid] for pid in roles if pid in components},
        bindings=tuple(sort_by_priority(composition.bindings())),
        settings=settings,
    )


def _start_component(composite_id: str, plugin_id: str, plugin: Any) -> bool | PluginError:
    """Initialize a component that is not running (True), or leave a running one (False)."""
    try:
        if plugin.state() is PluginState.Running:
            return False
        result = plugin.initialize()
    except Exception as exc:
        return PluginError(
            PluginErrorCode.InitializationFailed,
            f"composite '{composite_id}': component '{plugin_id}' raised in initialize(): "
            f"{type(exc).__name__}: {exc}",
            plugin_id=plugin_id,
        )
    if isinstance(result, Expected) and not result:
        error = result.error()
        return PluginError(
            error.code,
            f"composite '{composite_id}': component '{plugin_id}' failed to initialize: "
            f"{error.message}",
            error.details,
            plugin_id=plugin_id,
            context=error.context,
        )
    return True


def _shutdown(composite_id: str, plugin_id: str, plugin: Any) -> None:
    if plugin is None:
        return
    try:
        plugin.shutdown()
    except Exception:
        LOGGER.exception(
            "composite '%s': component '%s' raised in shutdown()", composite_id, plugin_id
        )


def _configure_components(
    composite_id: str, components: Mapping[str, Any], config: Mapping[str, Any]
) -> PluginError | None:
    """Hand each component its section.

    On a failure the ones already configured get their previous configuration back, so a
    failed ``configure`` changes nothing.
    """
    done: list[tuple[Any, Any]] = []
    for plugin_id, plugin in components.items():
        section = config.get(plugin_id)
        if section is None:
            continue
        try:
            previous = plugin.get_configuration()
            result = plugin.configure(dict(section))
        except Exception as exc:
            result = make_error(PluginErrorCode.ConfigurationError, f"{type(exc).__name__}: {exc}")
        if isinstance(result, Expected) and not result:
            for configured, before in reversed(done):
                try:
                    configured.configure(before)
                except Exception:
                    LOGGER.exception(
                        "composite '%s': restoring a configuration failed", composite_id
                    )
            error = result.error()
            return PluginError(
                error.code,
                f"composite '{composite_id}': component '{plugin_id}' refused its configuration: "
                f"{error.message}",
                plugin_id=plugin_id,
            )
        done.append((plugin, previous))
    return None


def _nesting_cycle(owner: object, plugin: Any, plugin_id: str) -> list[str]:
    """The component ids by which ``plugin`` leads back to ``owner``; empty if it does not.

    That is a composite nested in itself, directly or through other composites.
    """
    stack: list[tuple[Any, list[str]]] = [(plugin, [plugin_id])]
    seen: set[int] = set()
    while stack:
        current, path = stack.pop()
        if current is owner:
            return path
        if id(current) in seen:
            continue
        seen.add(id(current))
        members = getattr(current, "get_component_plugins", None)
        member = getattr(current, "get_component_plugin", None)
        if not callable(members) or not callable(member):
            continue
        try:
            for child_id in members():
                child = member(child_id)
                if child is not None:
                    stack.append((child, [*path, str(child_id)]))
        except Exception:
            continue
    return []
