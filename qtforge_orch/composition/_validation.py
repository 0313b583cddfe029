"""``PluginComposition.validate``: QtForge's rules, then field types, cycles and settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._conditions import ConditionError, compile_condition
from .._limits import id_problem, short
from ..errors import PluginError, PluginErrorCode
from ._settings import parse_settings
from ._shape import CompositionShape
from .binding import CompositionBinding
from .strategy import PluginRole

_CONFIG = PluginErrorCode.InvalidConfiguration


def composition_error(composition: CompositionShape) -> PluginError | None:
    """The first problem found, in QtForge's order (id, plugins, primary, bindings)."""
    cid = composition.id()
    if not isinstance(cid, str) or not cid:
        return _error(_CONFIG, "Composition ID cannot be empty", "id")
    problem = id_problem(cid)
    if problem:
        return _error(_CONFIG, f"composition id {problem}", "id")
    plugins = composition.plugins()
    if not plugins:
        return _error(_CONFIG, f"composition '{cid}' must have at least one plugin", "plugins")
    for plugin_id in plugins:
        if not plugin_id:
            return _error(_CONFIG, f"composition '{cid}': a plugin id is empty", "plugins")
        problem = id_problem(plugin_id)
        if problem:
            return _error(_CONFIG, f"composition '{cid}': plugin id {problem}", "plugins")
    primary = composition.primary_plugin_id()
    if primary and plugins.get(primary) is None:
        return _error(
            _CONFIG,
            f"composition '{cid}': primary plugin '{short(primary)}' is not one of its plugins",
            "primary_plugin_id",
        )
    if primary and plugins[primary] is not PluginRole.Primary:
        return _error(
            _CONFIG,
            f"composition '{cid}': primary plugin '{short(primary)}' is not marked Primary "
            f"(its role is {plugins[primary].name}); use set_primary_plugin()",
            "primary_plugin_id",
        )
    bindings = composition._raw_bindings()
    for index, binding in enumerate(bindings):
        error = _binding_error(cid, index, binding, plugins)
        if error is not None:
            return error
    cycle = binding_cycle(bindings)
    if cycle:
        return _error(
            PluginErrorCode.CircularDependency,
            f"composition '{cid}': bindings form a cycle: {' -> '.join(cycle)}",
            "bindings",
        )
    settings = parse_settings(
        cid, composition.strategy(), plugins, primary, composition._raw_configuration()
    )
    return settings if isinstance(settings, PluginError) else None


def _binding_error(
    cid: str, index: int, binding: CompositionBinding, plugins: Mapping[str, Any]
) -> PluginError | None:
    where = f"bindings[{index}]"
    for name in ("source_plugin_id", "source_method", "target_plugin_id", "target_method"):
        if not isinstance(getattr(binding, name), str):
            return _error(
                _CONFIG,
                f"composition '{cid}': {where}.{name} must be a string, "
                f"got {type(getattr(binding, name)).__name__}",
                f"{where}.{name}",
            )
    mapping = binding.parameter_mapping
    if not isinstance(mapping, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in mapping.items()
    ):
        return _error(
            _CONFIG,
            f"composition '{cid}': {where}.parameter_mapping must map target parameter names "
            "to source output keys (non-empty strings)",
            f"{where}.parameter_mapping",
        )
    if not isinstance(binding.bidirectional, bool):
        return _error(
            _CONFIG,
            f"composition '{cid}': {where}.bidirectional must be a bool",
            f"{where}.bidirectional",
        )
    if not isinstance(binding.priority, int) or isinstance(binding.priority, bool):
        return _error(
            _CONFIG,
            f"composition '{cid}': {where}.priority must be an integer",
            f"{where}.priority",
        )
    transformer = binding.transformer
    if isinstance(transformer, str):
        try:
            compile_condition(transformer)
        except ConditionError as exc:
            return _error(
                _CONFIG, f"composition '{cid}': {where}.transformer: {exc}", f"{where}.transformer"
            )
    elif transformer is not None and not callable(transformer):
        return _error(
            _CONFIG,
            f"composition '{cid}': {where}.transformer must be a callable, a CEL expression "
            f"string or {{'expression': '<CEL>'}}, got {type(transformer).__name__}",
            f"{where}.transformer",
        )
    for end, plugin_id in (
        ("source", binding.source_plugin_id),
        ("target", binding.target_plugin_id),
    ):
        if plugin_id not in plugins:
            return _error(
                PluginErrorCode.DependencyMissing,
                f"composition '{cid}': binding {binding.label()}: {end} plugin "
                f"'{short(plugin_id)}' is not one of its plugins ({', '.join(plugins)})",
                f"{where}.{end}_plugin_id",
            )
    return None


def binding_cycle(bindings: list[CompositionBinding]) -> list[str]:
    """One cycle over the bindings' source -> target edges, self-bindings included.

    The plugin ids with the first repeated at the end; empty when there is none.
    """
    successors: dict[str, list[str]] = {}
    for binding in bindings:
        successors.setdefault(binding.source_plugin_id, []).append(binding.target_plugin_id)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in successors:
        if state.get(start):
            continue
        path: list[str] = [start]
        stack = [iter(successors.get(start, ()))]
        state[start] = 1
        while stack:
            following = next(stack[-1], None)
            if following is None:
                state[path.pop()] = 2
                stack.pop()
                continue
            seen = state.get(following)
            if seen == 1:
                return [*path[path.index(following) :], following]
            if seen is None:
                state[following] = 1
                path.append(following)
                stack.append(iter(successors.get(following, ())))
    return []


def _error(code: PluginErrorCode, message: str, field: str) -> PluginError:
    return PluginError(code, message, context={"field": field})
