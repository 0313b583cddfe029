"""A composition's JSON form, key by key as QtForge's ``to_json`` / ``from_json`` have it.

QtForge builds a ``QJsonObject``, which keeps its keys sorted (by UTF-16 code unit), so that is
the order written here, at every level. ``from_json`` reads what QtForge writes and also the
reference page's binding keys; unlike QtForge's reader it refuses values of the wrong type and
unknown strategies or roles with an ``InvalidConfiguration`` that names the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .._jsoncopy import deeper_than, json_type
from ..errors import PluginError, PluginErrorCode
from ..results import Expected, from_error, make_success
from ._shape import CompositionBuilder, CompositionShape
from .binding import CompositionBinding, normalise_transformer
from .strategy import CompositionStrategy, PluginRole, parse_enum

B = TypeVar("B", bound=CompositionBuilder)

# Each binding key, then the reference page's name for it.
_BINDING_KEYS = (
    ("source_plugin_id", "source_plugin"),
    ("source_method", "source_port"),
    ("target_plugin_id", "target_plugin"),
    ("target_method", "target_port"),
)


def qt_key_order(key: str) -> bytes:
    """QJsonObject's key order: UTF-16 code units (not code points)."""
    return key.encode("utf-16-be", "surrogatepass")


def sorted_json(value: Any) -> Any:
    """A copy of dicts and lists with every object's keys in QJsonObject's order.

    Iterative (no recursion limit) and cycle-safe; leaves are shared.
    """
    if not isinstance(value, dict | list):
        return value
    memo: dict[int, Any] = {}
    root: Any = {} if isinstance(value, dict) else []
    memo[id(value)] = root
    stack: list[tuple[Any, Any]] = [(value, root)]
    while stack:
        source, target = stack.pop()
        if isinstance(source, dict):
            keyed = {str(key): item for key, item in source.items()}
            items: Any = ((key, keyed[key]) for key in sorted(keyed, key=qt_key_order))
        else:
            items = enumerate(source)
        for key, item in items:
            if isinstance(item, dict | list):
                copied = memo.get(id(item))
                if copied is None:
                    copied = memo[id(item)] = {} if isinstance(item, dict) else []
                    stack.append((item, copied))
                item = copied
            if isinstance(target, dict):
                target[key] = item
            else:
                target.append(item)
    return root


def composition_to_json(composition: CompositionShape) -> dict[str, Any]:
    bindings = []
    for binding in composition._raw_bindings():
        written: dict[str, Any] = {
            "bidirectional": binding.bidirectional,
            "parameter_mapping": sorted_json(dict(binding.parameter_mapping)),
            "priority": binding.priority,
            "source_method": binding.source_method,
            "source_plugin_id": binding.source_plugin_id,
            "target_method": binding.target_method,
            "target_plugin_id": binding.target_plugin_id,
        }
        if isinstance(binding.transformer, str):
            # QtForge's transformer is a function object and is not written; an expression
            # is data, so it is (QtForge's reader ignores the key).
            written["transformer"] = binding.transformer
        bindings.append(written)
    plugins = composition.plugins()
    return {
        "bindings": bindings,
        "configuration": sorted_json(composition._raw_configuration()),
        "description": composition.description(),
        "id": composition.id(),
        "name": composition.name(),
        "plugins": {key: int(plugins[key]) for key in sorted(plugins, key=qt_key_order)},
        "primary_plugin_id": composition.primary_plugin_id(),
        "strategy": int(composition.strategy()),
    }


class _Bad(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def read_composition(json: object, new: Callable[[str, str], B]) -> Expected[B]:
    """A composition built by ``new(id, name)`` and filled from ``json`` (not validated)."""
    if not isinstance(json, Mapping):
        return _failed("", f"a composition document must be a JSON object, not {json_type(json)}")
    if deeper_than(dict(json)):
        return _failed("", "the document nests too deeply")
    try:
        return make_success(_read(json, new))
    except _Bad as bad:
        return _failed(bad.field, bad.message)


def _read(json: Mapping[str, Any], new: Callable[[str, str], B]) -> B:
    composition_id = json.get("id")
    if not isinstance(composition_id, str):
        raise _Bad("id", "Missing composition ID: 'id' must be a string")
    name = _string(json, "name", composition_id)
    composition = new(composition_id, name)
    composition.set_description(_string(json, "description", ""))
    strategy = json.get("strategy", 0)
    try:
        composition.set_strategy(parse_enum(CompositionStrategy, _integral(strategy)))
    except ValueError as exc:
        raise _Bad("strategy", str(exc)) from None
    configuration = json.get("configuration", {})
    if configuration is None:
        configuration = {}
    if not isinstance(configuration, Mapping):
        raise _Bad(
            "configuration", f"'configuration' must be an object, not {json_type(configuration)}"
        )
    composition.set_configuration(configuration)
    # In QtForge's order: the primary first, then the plugins (whose roles win).
    primary = _string(json, "primary_plugin_id", "")
    if primary:
        composition.set_primary_plugin(primary)
    plugins = json.get("plugins", {})
    if plugins is not None and not isinstance(plugins, Mapping):
        raise _Bad(
            "plugins", f"'plugins' must be an object of id -> role, not {json_type(plugins)}"
        )
    for plugin_id, role in (plugins or {}).items():
        try:
            composition.add_plugin(str(plugin_id), parse_enum(PluginRole, _integral(role)))
        except ValueError as exc:
            raise _Bad(f"plugins.{plugin_id}", str(exc)) from None
    bindings = json.get("bindings", [])
    if bindings is not None and not isinstance(bindings, list):
        raise _Bad("bindings", f"'bindings' must be an array, not {json_type(bindings)}")
    for index, raw in enumerate(bindings or []):
        composition.add_binding(_binding(raw, f"bindings[{index}]"))
    return composition


def _binding(raw: Any, where: str) -> CompositionBinding:
    if not isinstance(raw, Mapping):
        raise _Bad(where, f"{where} must be an object, not {json_type(raw)}")
    ends = []
    for key, alias in _BINDING_KEYS:
        value = raw.get(key, raw.get(alias, ""))
        if not isinstance(value, str):
            raise _Bad(f"{where}.{key}", f"{where}.{key} must be a string, not {json_type(value)}")
        ends.append(value)
    mapping = raw.get("parameter_mapping", {})
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, Mapping):
        raise _Bad(f"{where}.parameter_mapping", f"{where}.parameter_mapping must be an object")
    bidirectional = raw.get("bidirectional", False)
    if not isinstance(bidirectional, bool):
        raise _Bad(f"{where}.bidirectional", f"{where}.bidirectional must be true or false")
    priority = _integral(raw.get("priority", 0))
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise _Bad(f"{where}.priority", f"{where}.priority must be an integer")
    transformer = normalise_transformer(raw.get("transformer", raw.get("transformation")))
    if transformer is not None and not isinstance(transformer, str):
        raise _Bad(
            f"{where}.transformer",
            f"{where}.transformer must be a CEL expression string or {{'expression': '<CEL>'}}",
        )
    return CompositionBinding(
        *ends,
        parameter_mapping=mapping,
        transformer=transformer,
        bidirectional=bidirectional,
        priority=priority,
    )


def _string(json: Mapping[str, Any], key: str, default: str) -> str:
    value = json.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _Bad(key, f"'{key}' must be a string, not {json_type(value)}")
    return value


def _integral(value: Any) -> Any:
    """QtForge writes enums as JSON numbers, which a parser may hand over as 1.0."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _failed(field: str, message: str) -> Expected[Any]:
    return from_error(
        PluginError(
            PluginErrorCode.InvalidConfiguration,
            message,
            context={"field": field} if field else None,
        )
    )
