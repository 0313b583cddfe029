"""What a binding delivers from one component's output into the next one's parameters.

The rule is a v2 DataFlow connection's (``_engine/dataflow.deliver``), so a pipeline built as a
workflow gives the same data: ``output[source_method]`` (the whole output when the method is
empty), rewritten by the transformer, lands on ``target_method`` (merged when that is empty and
the value is a dict). Then each ``parameter_mapping`` entry ``{target: source_key}`` passes
``output[source_key]`` as parameter ``target`` (like one more connection between those ports).
Unlike a v2 port, a key the output lacks is an error here: it is almost always a misspelt port.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .._conditions import compile_condition
from ..errors import PluginError, PluginErrorCode
from .binding import CompositionBinding

_missing = object()


def transform_value(transformer: Callable[[Any], Any] | str, value: Any) -> Any:
    """Apply a transformer; raises whatever the transformer raised.

    A CEL string sees the value's keys and ``value``, as a v2 ``data_transformation`` does.
    """
    if isinstance(transformer, str):
        variables: dict[str, Any] = dict(value) if isinstance(value, Mapping) else {}
        variables.setdefault("value", value)
        return compile_condition(transformer).evaluate_value(variables)
    return transformer(value)


def deliver(
    composite_id: str,
    binding: CompositionBinding,
    output: Mapping[str, Any],
    params: dict[str, Any],
) -> PluginError | None:
    """Add what ``binding`` carries from ``output`` to ``params``.

    Returns an error for a missing key or a failing transformer (``params`` may then be partly
    filled: the call is abandoned).
    """
    source_method, target_method = binding.source_method, binding.target_method
    mapping = binding.parameter_mapping
    if source_method or target_method or not mapping:
        value: Any = output
        if source_method:
            value = output.get(source_method, _missing)
            if value is _missing:
                return _missing_key(composite_id, binding, source_method, output)
        if binding.transformer is not None:
            try:
                value = transform_value(binding.transformer, value)
            except Exception as exc:
                return PluginError(
                    PluginErrorCode.ExecutionFailed,
                    f"composite '{composite_id}': binding {binding.label()}: the transformer "
                    f"failed: {type(exc).__name__}: {exc}",
                    plugin_id=binding.target_plugin_id,
                )
        if target_method:
            params[target_method] = value
        elif isinstance(value, dict):
            params.update(value)
        else:
            params[source_method or "value"] = value
    for target, source_key in mapping.items():
        value = output.get(source_key, _missing)
        if value is _missing:
            return _missing_key(composite_id, binding, source_key, output)
        params[target] = value
    return None


def _missing_key(
    composite_id: str, binding: CompositionBinding, key: str, output: Mapping[str, Any]
) -> PluginError:
    keys = ", ".join(map(str, list(output)[:10])) or "nothing"
    return PluginError(
        PluginErrorCode.InvalidParameters,
        f"composite '{composite_id}': binding {binding.label()}: component "
        f"'{binding.source_plugin_id}' returned no '{key}' (its output has: {keys})",
        plugin_id=binding.source_plugin_id,
        context={"binding": binding.label(), "missing": key},
    )


def sort_for_delivery(bindings: list[CompositionBinding]) -> list[CompositionBinding]:
    """Bindings in the order they deliver: lowest priority first.

    On a key collision the higher priority is applied last and wins; equal priorities keep
    declaration order (the later one wins, as with v2 connections).
    """
    return sorted(bindings, key=lambda binding: binding.priority)


def sort_by_priority(bindings: list[CompositionBinding]) -> list[CompositionBinding]:
    """Higher priority first, equal priorities in declaration order (QtForge's sort, stable)."""
    return sorted(bindings, key=lambda binding: -binding.priority)
