"""The strategy settings a composition's configuration holds, parsed and checked once.

Each strategy reads its own top-level keys of the configuration (documented in
docs/composition.md); every other top-level key is a component's section for ``configure``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._conditions import ConditionError, compile_condition
from ..errors import PluginError, PluginErrorCode
from .strategy import CompositionStrategy, PluginRole

Strategy = CompositionStrategy

SETTING_KEYS: dict[CompositionStrategy, tuple[str, ...]] = {
    Strategy.Facade: ("routing",),
    Strategy.Proxy: ("allowed_commands", "rate_limit"),
    Strategy.Adapter: ("command_map", "parameter_map", "result_map"),
    Strategy.Bridge: ("implementation",),
}
"""The configuration keys each strategy reads; a component may not have one of them as id."""

# Decorators offer these commands (either or both).
BEFORE, AFTER = "before", "after"


@dataclass(frozen=True, slots=True)
class Route:
    """A Facade routing rule.

    ``plugin`` takes the call when ``command`` (if set) is the command and ``when`` (a CEL
    condition over the parameters and ``command``) is true.
    """

    plugin: str
    command: str | None = None
    when: str | None = None


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A Proxy's limit: at most ``max_calls`` accepted calls in any ``per_ms`` window."""

    max_calls: int
    per_ms: int


@dataclass(frozen=True, slots=True)
class StrategySettings:
    """What a strategy needs besides the components, read from the configuration."""

    # Decorator, Proxy, Adapter: the wrapped component; Bridge: the chosen implementation.
    subject: str = ""
    decorators: tuple[str, ...] = ()
    implementations: tuple[str, ...] = ()
    routing: tuple[Route, ...] = ()
    allowed_commands: tuple[str, ...] | None = None
    rate_limit: RateLimit | None = None
    command_map: Mapping[str, str] = field(default_factory=dict)
    parameter_map: Mapping[str, str] = field(default_factory=dict)
    result_map: Mapping[str, str] = field(default_factory=dict)


def parse_settings(
    composition_id: str,
    strategy: CompositionStrategy,
    plugins: Mapping[str, PluginRole],
    primary: str,
    configuration: Any,
) -> StrategySettings | PluginError:
    """The strategy's settings, or an ``InvalidConfiguration`` naming what is wrong."""
    try:
        return _parse(composition_id, strategy, plugins, primary, configuration)
    except _Invalid as problem:
        return PluginError(
            PluginErrorCode.InvalidConfiguration,
            f"composition '{composition_id}' ({strategy.name}): {problem.message}",
            context={"field": problem.field} if problem.field else None,
        )


class _Invalid(Exception):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _parse(
    composition_id: str,
    strategy: CompositionStrategy,
    plugins: Mapping[str, PluginRole],
    primary: str,
    configuration: Any,
) -> StrategySettings:
    if not isinstance(configuration, Mapping):
        raise _Invalid(
            f"the configuration must be an object, not {type(configuration).__name__}",
            "configuration",
        )
    for key in SETTING_KEYS.get(strategy, ()):
        if key in plugins:
            raise _Invalid(
                f"component id '{key}' is also a {strategy.name} setting of the configuration; "
                "rename the component",
                "plugins",
            )
    if strategy is Strategy.Facade:
        return StrategySettings(routing=_routing(configuration.get("routing"), plugins))
    if strategy is Strategy.Decorator:
        decorators = tuple(p for p, role in plugins.items() if role is PluginRole.Decorator)
        others = [p for p in plugins if p not in decorators]
        return StrategySettings(
            subject=_subject(strategy, plugins, primary, others), decorators=decorators
        )
    if strategy is Strategy.Proxy:
        return StrategySettings(
            subject=_subject(strategy, plugins, primary, list(plugins)),
            allowed_commands=_allowed(configuration.get("allowed_commands")),
            rate_limit=_rate_limit(configuration.get("rate_limit")),
        )
    if strategy is Strategy.Adapter:
        return StrategySettings(
            subject=_subject(strategy, plugins, primary, list(plugins)),
            command_map=_name_map(configuration, "command_map"),
            parameter_map=_name_map(configuration, "parameter_map"),
            result_map=_name_map(configuration, "result_map"),
        )
    if strategy is Strategy.Bridge:
        return _bridge(plugins, configuration.get("implementation"))
    return StrategySettings()


def _subject(
    strategy: CompositionStrategy,
    plugins: Mapping[str, PluginRole],
    primary: str,
    candidates: list[str],
) -> str:
    if primary:
        if strategy is Strategy.Decorator and plugins.get(primary) is PluginRole.Decorator:
            raise _Invalid("the primary (the decorated component) cannot be a Decorator")
        return primary
    if len(candidates) == 1:
        return candidates[0]
    wraps = {
        Strategy.Decorator: "the decorated component",
        Strategy.Proxy: "the component behind the proxy",
        Strategy.Adapter: "the adapted component",
    }[strategy]
    raise _Invalid(
        f"needs a primary plugin ({wraps}): call set_primary_plugin(...) "
        f"(components: {', '.join(plugins) or 'none'})",
        "primary_plugin_id",
    )


def _routing(value: Any, plugins: Mapping[str, PluginRole]) -> tuple[Route, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Invalid(
            "'routing' must be a list of rules such as "
            '{"plugin": "image_processor", "when": "file.endsWith(\'.png\')"}',
            "configuration.routing",
        )
    routes: list[Route] = []
    for index, rule in enumerate(value):
        where = f"configuration.routing[{index}]"
        if not isinstance(rule, Mapping):
            raise _Invalid(
                f"{where} must be an object with 'plugin' (and 'command', 'when')", where
            )
        unknown = set(rule) - {"plugin", "command", "when"}
        if unknown:
            raise _Invalid(
                f"{where} has unknown keys {sorted(unknown)}; use plugin, command, when", where
            )
        plugin = rule.get("plugin")
        if not isinstance(plugin, str) or plugin not in plugins:
            raise _Invalid(
                f"{where}.plugin must name a component (components: {', '.join(plugins)}), "
                f"got {plugin!r}",
                f"{where}.plugin",
            )
        command = rule.get("command")
        if command is not None and (not isinstance(command, str) or not command):
            raise _Invalid(f"{where}.command must be a non-empty string", f"{where}.command")
        when = rule.get("when")
        if when is not None:
            if not isinstance(when, str):
                raise _Invalid(f"{where}.when must be a CEL expression string", f"{where}.when")
            try:
                compile_condition(when)
            except ConditionError as exc:
                raise _Invalid(f"{where}.when: {exc}", f"{where}.when") from None
        routes.append(Route(plugin, command, when))
    return tuple(routes)


def _allowed(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _Invalid(
            "'allowed_commands' must be a list of command names", "configuration.allowed_commands"
        )
    return tuple(dict.fromkeys(value))


def _rate_limit(value: Any) -> RateLimit | None:
    if value is None:
        return None
    where = "configuration.rate_limit"
    if not isinstance(value, Mapping) or set(value) != {"max_calls", "per_ms"}:
        raise _Invalid(
            '\'rate_limit\' must be {"max_calls": N, "per_ms": M} (both positive integers)', where
        )
    numbers = [value["max_calls"], value["per_ms"]]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in numbers):
        raise _Invalid(f"'rate_limit' values must be positive integers, got {dict(value)}", where)
    return RateLimit(*numbers)


def _name_map(configuration: Mapping[str, Any], key: str) -> dict[str, str]:
    value = configuration.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in value.items()
    ):
        raise _Invalid(
            f"'{key}' must map names to names (non-empty strings)", f"configuration.{key}"
        )
    return dict(value)


def _bridge(plugins: Mapping[str, PluginRole], chosen: Any) -> StrategySettings:
    bridges = tuple(p for p, role in plugins.items() if role is PluginRole.Bridge)
    implementations = bridges or tuple(plugins)
    if chosen is None:
        if len(implementations) != 1:
            raise _Invalid(
                "needs configuration['implementation'] naming the implementation to use "
                f"(one of: {', '.join(implementations)})",
                "configuration.implementation",
            )
        chosen = implementations[0]
    if not isinstance(chosen, str) or chosen not in implementations:
        raise _Invalid(
            f"'implementation' must name one of the implementations "
            f"({', '.join(implementations)}), got {chosen!r}",
            "configuration.implementation",
        )
    return StrategySettings(subject=chosen, implementations=implementations)
