"""``PluginComposition``, ``CompositionStrategy`` and ``PluginRole``: what a composite is made of.

Mirrors QtForge's ``qtplugin/workflow/composition.hpp`` (v3.1.0; the reference page calls it
``qtplugin/composition/plugin_composition.hpp``): the enums in the header's order (so QtForge's
integers read back as the same members), the fluent setters, the accessors, ``validate``,
``to_json`` and ``from_json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Self

from .._jsoncopy import json_copy
from ..results import Expected, from_error, make_success
from ._json import composition_to_json, read_composition
from ._validation import composition_error
from .binding import CompositionBinding
from .strategy import CompositionStrategy, PluginRole, parse_enum


class PluginComposition:
    """A composition definition: components with roles, bindings, a strategy, configuration.

    Setters return ``self`` so that calls chain as in QtForge. They raise ``TypeError`` or
    ``ValueError`` for a value of the wrong kind (a setter has no ``Expected`` to return);
    ``validate()`` checks the composition as a whole.

    Args:
        composition_id: The composition's id (also the composite plugin's id).
        name: A display name; defaults to the id.
    """

    def __init__(self, composition_id: str = "", name: str = "") -> None:
        self._id = composition_id
        self._name = name or composition_id
        self._description = ""
        self._strategy = CompositionStrategy.Aggregation
        self._primary_plugin_id = ""
        self._plugins: dict[str, PluginRole] = {}
        self._bindings: list[CompositionBinding] = []
        self._configuration: dict[str, Any] = {}

    # --- configuration (fluent) ------------------------------------------------------------
    def set_description(self, desc: str) -> Self:
        """Set the description."""
        self._description = _text(desc, "description")
        return self

    def set_strategy(self, strategy: CompositionStrategy | int | str) -> Self:
        """Set the strategy (the enum, QtForge's integer or the name in any case)."""
        self._strategy = parse_enum(CompositionStrategy, strategy)
        return self

    def add_plugin(
        self, plugin_id: str, role: PluginRole | int | str = PluginRole.Secondary
    ) -> Self:
        """Add a component (or change its role); insertion order is kept."""
        self._plugins[_text(plugin_id, "plugin_id")] = parse_enum(PluginRole, role)
        return self

    def set_primary_plugin(self, plugin_id: str) -> Self:
        """Make ``plugin_id`` the primary component (added with role ``Primary``)."""
        plugin_id = _text(plugin_id, "plugin_id")
        self._plugins[plugin_id] = PluginRole.Primary
        self._primary_plugin_id = plugin_id
        return self

    def add_binding(self, binding: CompositionBinding) -> Self:
        """Add a copy of ``binding``."""
        if not isinstance(binding, CompositionBinding):
            raise TypeError(
                f"add_binding() needs a CompositionBinding, got {type(binding).__name__}"
            )
        self._bindings.append(binding.copy())
        return self

    def set_configuration(self, config: Mapping[str, Any]) -> Self:
        """Set the configuration: strategy settings and per-component sections."""
        if not isinstance(config, Mapping):
            raise TypeError(f"set_configuration() needs a dict, got {type(config).__name__}")
        self._configuration = json_copy(dict(config))
        return self

    # --- access ----------------------------------------------------------------------------
    def id(self) -> str:
        """The composition id."""
        return self._id

    def name(self) -> str:
        """The display name (the id unless one was given)."""
        return self._name

    def description(self) -> str:
        """The description."""
        return self._description

    def strategy(self) -> CompositionStrategy:
        """The strategy (``Aggregation`` unless set)."""
        return self._strategy

    def primary_plugin_id(self) -> str:
        """The primary component's id, or ``""``."""
        return self._primary_plugin_id

    def plugins(self) -> dict[str, PluginRole]:
        """A copy of the components: id -> role, in insertion order."""
        return dict(self._plugins)

    def bindings(self) -> list[CompositionBinding]:
        """Copies of the bindings, in the order they were added."""
        return [binding.copy() for binding in self._bindings]

    def configuration(self) -> dict[str, Any]:
        """A copy of the configuration."""
        return json_copy(self._configuration)  # type: ignore[no-any-return]

    def get_plugins_by_role(self, role: PluginRole | int | str) -> list[str]:
        """The ids of the components with ``role``, in insertion order."""
        wanted = parse_enum(PluginRole, role)
        return [plugin_id for plugin_id, held in self._plugins.items() if held is wanted]

    # --- validation and JSON ---------------------------------------------------------------
    def validate(self) -> Expected[None]:
        """Check the composition: QtForge's rules plus binding cycles and strategy settings.

        Returns:
            Success, or ``InvalidConfiguration`` (empty id, no components, a primary that is
            not a Primary component, malformed fields, bad strategy settings),
            ``DependencyMissing`` (a binding names a plugin that is not a component) or
            ``CircularDependency`` (bindings form a cycle).
        """
        error = composition_error(self)
        return make_success() if error is None else from_error(error)

    def to_json(self) -> dict[str, Any]:
        """The composition as QtForge's ``to_json`` writes it.

        Keys are in QJsonObject's sorted order at every level; a CEL transformer is written as
        ``"transformer"`` and a callable is left out.
        """
        return composition_to_json(self)

    @staticmethod
    def from_json(json: object) -> Expected[PluginComposition]:
        """Read and validate a composition as QtForge writes it.

        The reference page's binding keys are read too. ``InvalidConfiguration`` names the
        field that is wrong (``error().context["field"]``).
        """
        read = read_composition(json, PluginComposition)
        if not read:
            return from_error(read.error())
        composition = read.value()
        checked = composition.validate()
        return make_success(composition) if checked else from_error(checked.error())

    # --- helpers ---------------------------------------------------------------------------
    def copy(self) -> PluginComposition:
        """An independent copy (callable transformers are shared)."""
        other = PluginComposition(self._id, self._name)
        other._description = self._description
        other._strategy = self._strategy
        other._primary_plugin_id = self._primary_plugin_id
        other._plugins = dict(self._plugins)
        other._bindings = [binding.copy() for binding in self._bindings]
        other._configuration = json_copy(self._configuration)
        return other

    def _without_plugin(self, plugin_id: str) -> PluginComposition:
        other = self.copy()
        other._plugins.pop(plugin_id, None)
        if other._primary_plugin_id == plugin_id:
            other._primary_plugin_id = ""
        return other

    def _without_bindings(self, removed: Iterable[CompositionBinding]) -> PluginComposition:
        drop = {id(binding) for binding in removed}
        other = self.copy()
        other._bindings = [
            copy
            for original, copy in zip(self._bindings, other._bindings, strict=True)
            if id(original) not in drop
        ]
        return other

    def _raw_bindings(self) -> list[CompositionBinding]:
        return self._bindings

    def _raw_configuration(self) -> dict[str, Any]:
        return self._configuration

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PluginComposition):
            return NotImplemented
        return (
            self._id == other._id
            and self._name == other._name
            and self._description == other._description
            and self._strategy == other._strategy
            and self._primary_plugin_id == other._primary_plugin_id
            and self._plugins == other._plugins
            and self._bindings == other._bindings
            and self._configuration == other._configuration
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"<PluginComposition id={self._id!r} strategy={self._strategy.name} "
            f"plugins={len(self._plugins)} bindings={len(self._bindings)}>"
        )


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__}")
    return value


__all__ = ["CompositionStrategy", "PluginComposition", "PluginRole"]
