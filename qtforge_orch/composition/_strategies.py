"""``CompositePlugin.execute_command`` for each strategy (semantics in docs/composition.md).

Every function works on a ``Snapshot``: the composite's components, bindings and settings as
they were when the call began, an immutable value, so a call never sees a half-applied runtime
change and needs no lock. Components run one after the other in the calling thread; the step's
context is checked before each one, so a cancelled or timed-out step starts no further component.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._order import topological_order
from ..errors import PluginError, PluginErrorCode
from ._calls import call_component, cancelled, cancelled_error, commands_of
from ._delivery import deliver, sort_for_delivery
from ._rules import RateGate, adapter_command, facade_route, proxy_refusal, rename_keys
from ._settings import AFTER, BEFORE, StrategySettings
from .binding import CompositionBinding
from .strategy import CompositionStrategy, PluginRole

LOGGER = logging.getLogger("qtforge_orch.composition")

Result = dict[str, Any] | PluginError


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One consistent view of a running composite."""

    composite_id: str
    strategy: CompositionStrategy
    primary: str
    roles: Mapping[str, PluginRole]
    components: Mapping[str, Any]  # id -> plugin, in the composition's order
    bindings: tuple[CompositionBinding, ...]  # higher priority first, then declaration order
    settings: StrategySettings
    # A Pipeline with bindings, worked out once per snapshot (it does not depend on the
    # command): its stages, its leaves and each stage's bindings in delivery order.
    stages: tuple[str, ...] = ()
    leaves: tuple[str, ...] = ()
    incoming: Mapping[str, tuple[CompositionBinding, ...]] = field(default_factory=dict)


def make_snapshot(
    composite_id: str,
    strategy: CompositionStrategy,
    primary: str,
    roles: Mapping[str, PluginRole],
    components: Mapping[str, Any],
    bindings: tuple[CompositionBinding, ...],
    settings: StrategySettings,
) -> Snapshot:
    """A ``Snapshot``, with a bound Pipeline's stages worked out."""
    stages: list[str] = []
    leaves: list[str] = []
    incoming: dict[str, list[CompositionBinding]] = {}
    if strategy is CompositionStrategy.Pipeline and bindings:
        stages, leaves = pipeline_plan(list(roles), primary, bindings, lambda _pid: True)
        for binding in sort_for_delivery(list(bindings)):
            incoming.setdefault(binding.target_plugin_id, []).append(binding)
    return Snapshot(
        composite_id,
        strategy,
        primary,
        roles,
        components,
        bindings,
        settings,
        tuple(stages),
        tuple(leaves),
        {target: tuple(bound) for target, bound in incoming.items()},
    )


def pipeline_plan(
    component_ids: Sequence[str],
    primary: str,
    bindings: Sequence[CompositionBinding],
    offers: Callable[[str], bool],
) -> tuple[list[str], list[str]]:
    """A Pipeline's stages in order and its leaves (the stages whose outputs form the result).

    With bindings: every bound component, sources before targets, ties broken by the order of
    first appearance in ``bindings`` (priority first). Without: the primary, then the other
    components in composition order, each fed the previous one's output, leaving out those that
    do not offer the command (QtForge's rule); the last one is the leaf.
    """
    if bindings:
        named = []
        for binding in bindings:
            named += [binding.source_plugin_id, binding.target_plugin_id]
        edges = [(b.source_plugin_id, b.target_plugin_id) for b in bindings]
        stages = topological_order(list(dict.fromkeys(named)), edges)
        sources = {binding.source_plugin_id for binding in bindings}
        return stages, [stage for stage in stages if stage not in sources]
    ordered = [primary] if primary else []
    ordered += [plugin_id for plugin_id in component_ids if plugin_id != primary]
    stages = [plugin_id for plugin_id in ordered if offers(plugin_id)]
    return stages, stages[-1:]


def execute(
    snap: Snapshot, command: str, params: dict[str, Any], context: Any, gate: RateGate
) -> Result:
    """Run ``command`` by the snapshot's strategy."""
    strategy = snap.strategy
    if strategy is CompositionStrategy.Pipeline:
        return _pipeline(snap, command, params, context)
    if strategy is CompositionStrategy.Facade:
        return _facade(snap, command, params, context)
    if strategy is CompositionStrategy.Decorator:
        return _decorator(snap, command, params, context)
    if strategy is CompositionStrategy.Proxy:
        return _proxy(snap, command, params, context, gate)
    if strategy is CompositionStrategy.Adapter:
        return _adapter(snap, command, params, context)
    if strategy is CompositionStrategy.Bridge:
        return _call(snap, snap.settings.subject, command, dict(params), context)
    return _aggregation(snap, command, params, context)


def available_commands(snap: Snapshot) -> list[str]:
    """The commands the composite accepts under its strategy, sorted (as QtForge's set)."""
    strategy, settings = snap.strategy, snap.settings
    if strategy in (CompositionStrategy.Decorator, CompositionStrategy.Bridge):
        return sorted(set(_commands(snap, settings.subject)))
    if strategy is CompositionStrategy.Proxy:
        allowed = settings.allowed_commands
        own = _commands(snap, settings.subject)
        return sorted({c for c in own if allowed is None or c in allowed})
    if strategy is CompositionStrategy.Adapter:
        offered = set(_commands(snap, settings.subject))
        renamed = settings.command_map
        exposed = {outer for outer, inner in renamed.items() if inner in offered}
        exposed |= {c for c in offered if c not in renamed.values()}
        return sorted(exposed)
    union: set[str] = set()
    for plugin in snap.components.values():
        union.update(commands_of(plugin))
    return sorted(union)


def _commands(snap: Snapshot, plugin_id: str) -> list[str]:
    plugin = snap.components.get(plugin_id)
    return commands_of(plugin) if plugin is not None else []


def _call(
    snap: Snapshot, plugin_id: str, command: str, params: dict[str, Any], context: Any
) -> Result:
    if cancelled(context):
        return cancelled_error(snap.composite_id, f"component '{plugin_id}'")
    plugin = snap.components.get(plugin_id)
    if plugin is None:  # a snapshot names only resolved components; kept for safety
        return PluginError(
            PluginErrorCode.PluginNotFound,
            f"composite '{snap.composite_id}': component '{plugin_id}' is not loaded",
        )
    return call_component(snap.composite_id, plugin, plugin_id, command, params, context)


def _offering(snap: Snapshot, command: str) -> list[str]:
    return [pid for pid, plugin in snap.components.items() if command in commands_of(plugin)]


def _no_component(snap: Snapshot, command: str) -> PluginError:
    return PluginError(
        PluginErrorCode.CommandNotFound,
        f"composite '{snap.composite_id}' ({snap.strategy.name}): no component offers "
        f"command '{command}' (commands: {', '.join(available_commands(snap)) or 'none'})",
    )


def _aggregation(snap: Snapshot, command: str, params: dict[str, Any], context: Any) -> Result:
    offering = _offering(snap, command)
    if not offering:
        return _no_component(snap, command)
    results: dict[str, Any] = {}
    errors: dict[str, PluginError] = {}
    for plugin_id in offering:
        output = _call(snap, plugin_id, command, dict(params), context)
        if isinstance(output, PluginError):
            if output.code is PluginErrorCode.OperationCancelled and cancelled(context):
                return output
            LOGGER.warning(
                "composite '%s': component '%s' failed '%s': %s",
                snap.composite_id,
                plugin_id,
                command,
                output,
            )
            errors[plugin_id] = output
        else:
            results[plugin_id] = output
    if results:
        return results
    return PluginError(
        PluginErrorCode.ExecutionFailed,
        f"composite '{snap.composite_id}': no component could execute '{command}': "
        + "; ".join(f"{pid}: {error}" for pid, error in errors.items()),
        context={
            "errors": {
                pid: {"code": int(error.code), "message": error.message}
                for pid, error in errors.items()
            }
        },
    )


def _pipeline(snap: Snapshot, command: str, params: dict[str, Any], context: Any) -> Result:
    if snap.bindings:
        return _bound_pipeline(snap, command, params, context)
    # Without bindings (QtForge's rule) the stages depend on who offers the command.
    stages, _ = pipeline_plan(
        list(snap.components),
        snap.primary,
        (),
        lambda pid: command in commands_of(snap.components[pid]),
    )
    if not stages:
        return _no_component(snap, command)
    current: dict[str, Any] = params
    for stage in stages:
        output = _call(snap, stage, command, dict(current), context)
        if isinstance(output, PluginError):
            return output
        current = output
    return current


def _bound_pipeline(snap: Snapshot, command: str, params: dict[str, Any], context: Any) -> Result:
    outputs: dict[str, dict[str, Any]] = {}
    for stage in snap.stages:
        bound = snap.incoming.get(stage)
        if bound:
            stage_params: dict[str, Any] = {}
            for binding in bound:
                failed = deliver(
                    snap.composite_id, binding, outputs[binding.source_plugin_id], stage_params
                )
                if failed is not None:
                    return failed
        else:
            stage_params = dict(params)  # a stage no binding feeds takes the call's parameters
        output = _call(snap, stage, command, stage_params, context)
        if isinstance(output, PluginError):
            return output
        outputs[stage] = output
    result: dict[str, Any] = {}
    for leaf in snap.leaves:
        result.update(outputs[leaf])
    return result


def _facade(snap: Snapshot, command: str, params: dict[str, Any], context: Any) -> Result:
    chosen = facade_route(
        snap.composite_id,
        command,
        params,
        _offering(snap, command),
        snap.primary,
        snap.settings.routing,
    )
    if isinstance(chosen, PluginError):
        return chosen
    return _call(snap, chosen, command, dict(params), context)


def _decorator(snap: Snapshot, command: str, params: dict[str, Any], context: Any) -> Result:
    decorators = snap.settings.decorators
    current: dict[str, Any] = dict(params)
    for decorator in decorators:
        if BEFORE in _commands(snap, decorator):
            output = _call(snap, decorator, BEFORE, current, context)
            if isinstance(output, PluginError):
                return output
            current = output
    result = _call(snap, snap.settings.subject, command, current, context)
    if isinstance(result, PluginError):
        return result
    for decorator in reversed(decorators):
        if AFTER in _commands(snap, decorator):
            result = _call(snap, decorator, AFTER, result, context)
            if isinstance(result, PluginError):
                return result
    return result


def _proxy(
    snap: Snapshot, command: str, params: dict[str, Any], context: Any, gate: RateGate
) -> Result:
    settings = snap.settings
    refused = proxy_refusal(snap.composite_id, command, settings.allowed_commands)
    if refused is None and command not in _commands(snap, settings.subject):
        refused = _no_component(snap, command)
    if refused is None:
        refused = gate.admit(snap.composite_id, settings.rate_limit)
    if refused is not None:
        return refused
    return _call(snap, settings.subject, command, dict(params), context)


def _adapter(snap: Snapshot, command: str, params: dict[str, Any], context: Any) -> Result:
    settings = snap.settings
    inner = adapter_command(snap.composite_id, command, settings.command_map)
    if isinstance(inner, PluginError):
        return inner
    output = _call(
        snap, settings.subject, inner, rename_keys(settings.parameter_map, params), context
    )
    if isinstance(output, PluginError):
        return output
    return rename_keys(settings.result_map, output)


def initialization_order(
    component_ids: Sequence[str], bindings: Sequence[CompositionBinding]
) -> list[str]:
    """Components in binding order (sources before targets, priority first), then the rest."""
    stages, _ = pipeline_plan(component_ids, "", bindings, lambda _pid: True)
    if not bindings:
        return list(component_ids)
    return stages + [pid for pid in component_ids if pid not in stages]


def roles_check(snap: Snapshot) -> PluginError | None:
    """Strategy checks that need the resolved components: each decorator offers a hook."""
    if snap.strategy is not CompositionStrategy.Decorator:
        return None
    for decorator in snap.settings.decorators:
        commands = _commands(snap, decorator)
        if BEFORE not in commands and AFTER not in commands:
            return PluginError(
                PluginErrorCode.InvalidConfiguration,
                f"composite '{snap.composite_id}' (Decorator): decorator '{decorator}' offers "
                f"neither '{BEFORE}' nor '{AFTER}' (its commands: {', '.join(commands) or 'none'})",
                plugin_id=decorator,
            )
    return None
