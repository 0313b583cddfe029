"""The plugin behind the helper nodes of a workflow built from a composition.

A built workflow's nodes are the components themselves plus, where a strategy decides
something, a node of this plugin (``qtforge_orch.composition``) that decides it with the same
code ``CompositePlugin`` uses (``_rules``). Its settings travel in the node's configuration under
``__composition__``, a key no input is expected to use.
"""

from __future__ import annotations

import threading
from typing import Any

from ..errors import PluginError, PluginErrorCode
from ..plugins.interface import IPlugin
from ..results import Expected, from_error, make_error, make_success
from ._rules import RateGate, facade_route, proxy_refusal, rename_keys
from ._settings import RateLimit, Route

HELPER_PLUGIN_ID = "qtforge_orch.composition"
SETTINGS_KEY = "__composition__"
INPUT_PORT = "__composition_input__"
ITEMS_PORT = "items"  # an Aggregation collector's one input: the tagged component results
ROUTE_PORT = "params"

PASSTHROUGH, ROUTE, AGGREGATE, GATE, RENAME = "passthrough", "route", "aggregate", "gate", "rename"
TAG = "tag"


class CompositionStepsPlugin(IPlugin):
    """The helper steps of workflows built by ``create_workflow_from_composition``.

    Commands: ``passthrough`` (returns its input), ``route`` (a Facade's decision:
    ``{"route": component id, "params": input}``), ``tag`` (``{key: input}``), ``aggregate``
    (an Aggregation's result from the list its Aggregator node receives: the input, then the
    tagged outputs of the components that succeeded), ``gate`` (a Proxy's allowed commands and
    rate limit) and ``rename`` (an Adapter's key renaming).
    """

    description = "Helper steps of workflows built from plugin compositions"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gates: dict[str, RateGate] = {}

    def id(self) -> str:
        """``qtforge_orch.composition``."""
        return HELPER_PLUGIN_ID

    def available_commands(self) -> list[str]:
        """The six helper commands."""
        return [PASSTHROUGH, ROUTE, AGGREGATE, GATE, RENAME, TAG]

    def execute_command(self, command: str, params: dict[str, Any]) -> Expected[dict[str, Any]]:
        """Run one helper step; its settings are ``params["__composition__"]``."""
        data = dict(params)
        settings = data.pop(SETTINGS_KEY, None) or {}
        if command == PASSTHROUGH:
            return make_success(data)
        if command == RENAME:
            return make_success(rename_keys(settings.get("map", {}), data))
        if command == TAG:
            return make_success({str(settings.get("key", "")): data})
        composite = str(settings.get("composite", ""))
        step_command = str(settings.get("command", ""))
        if command == ROUTE:
            chosen = facade_route(
                composite,
                step_command,
                data,
                settings.get("offering", []),
                settings.get("primary", ""),
                tuple(Route(**rule) for rule in settings.get("routing", [])),
            )
            if isinstance(chosen, PluginError):
                return from_error(chosen)
            return make_success({"route": chosen, ROUTE_PORT: data})
        if command == AGGREGATE:
            components = settings.get("components", [])
            results = _tagged_results(data.get(ITEMS_PORT), components)
            if not results:
                return make_error(
                    PluginErrorCode.ExecutionFailed,
                    f"composite '{composite}': no component could execute '{step_command}' "
                    f"({', '.join(components)} failed; see their nodes' errors)",
                )
            return make_success(results)
        if command == GATE:
            refused = proxy_refusal(composite, step_command, settings.get("allowed"))
            limit = settings.get("rate_limit")
            if refused is None and limit:
                refused = self._gate(composite).admit(composite, RateLimit(**limit))
            return from_error(refused) if refused is not None else make_success(data)
        return make_error(
            PluginErrorCode.CommandNotFound,
            f"plugin '{HELPER_PLUGIN_ID}' has no command '{command}'",
        )

    def _gate(self, key: str) -> RateGate:
        with self._lock:
            gate = self._gates.get(key)
            if gate is None:
                gate = self._gates[key] = RateGate()
            return gate

    def __getstate__(self) -> dict[str, Any]:
        return {}  # rate windows are per process

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]


def _tagged_results(items: Any, components: list[str]) -> dict[str, Any]:
    """``{component: output}``, in composition order, from an Aggregator's list.

    The list is the input first, then one ``{component: output}`` per component that
    succeeded.
    """
    delivered: dict[str, Any] = {}
    for item in items[1:] if isinstance(items, list) else ():
        if isinstance(item, dict):
            delivered.update(item)
    return {pid: delivered[pid] for pid in components if pid in delivered}


def ensure_helper(plugin_manager: Any) -> PluginError | None:
    """Register the helper plugin in ``plugin_manager`` unless it is there already."""
    for _ in range(2):
        found = plugin_manager.get_plugin(HELPER_PLUGIN_ID)
        if found:
            if isinstance(found.value(), CompositionStepsPlugin):
                return None
            return PluginError(
                PluginErrorCode.AlreadyExists,
                f"plugin id '{HELPER_PLUGIN_ID}' is taken by {found.value()!r}; a workflow built "
                "from a composition needs it for its helper nodes",
            )
        register = getattr(plugin_manager, "register_plugin", None)
        if register is None:
            return PluginError(
                PluginErrorCode.InvalidArgument,
                f"the plugin manager cannot register the helper plugin '{HELPER_PLUGIN_ID}'",
            )
        registered = register(CompositionStepsPlugin())
        if registered:
            return None
        if registered.error().code is not PluginErrorCode.AlreadyExists:
            error: PluginError = registered.error()
            return error
    return None
