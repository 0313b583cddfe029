"""A ``PluginWorkflow`` document that does what a ``CompositePlugin`` does for one command.

``AdvancedPluginOrchestrator.create_workflow_from_composition`` calls
``build_workflow_document`` and reads the result with ``PluginWorkflow.from_json`` (this package
does not import the orchestrators). Each strategy's graph is in docs/composition.md; the
workflow's ``metadata["composition"]["result_node"]`` names the node whose output is what
``CompositePlugin.execute_command`` returns for the same input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from ..errors import PluginError, PluginErrorCode
from ..results import Expected, from_error, make_success
from ._calls import commands_of
from ._delivery import sort_by_priority, sort_for_delivery
from ._helper_plugin import (
    AGGREGATE,
    GATE,
    HELPER_PLUGIN_ID,
    INPUT_PORT,
    ITEMS_PORT,
    PASSTHROUGH,
    RENAME,
    ROUTE,
    ROUTE_PORT,
    SETTINGS_KEY,
    TAG,
    ensure_helper,
)
from ._rules import adapter_command, proxy_refusal
from ._settings import AFTER, BEFORE, StrategySettings, parse_settings
from ._strategies import pipeline_plan
from .binding import CompositionBinding
from .composition import PluginComposition
from .strategy import CompositionStrategy

Strategy = CompositionStrategy


def build_workflow_document(
    composition: PluginComposition, plugin_manager: Any, command: str | None = None
) -> Expected[dict[str, Any]]:
    """The v2 workflow (as a ``PluginWorkflow.from_json`` document) for ``command``.

    Args:
        composition: A valid composition whose components are registered in
            ``plugin_manager`` (their commands decide the graph).
        plugin_manager: The orchestrator's ``PluginManager``; the helper plugin
            ``qtforge_orch.composition`` is registered there when the graph needs it.
        command: The command the workflow runs (``"execute"`` when None).

    Returns:
        The document, or ``InvalidArgument``, the composition's validation error,
        ``PluginNotFound`` (a component is not registered), ``CommandNotFound`` (no component
        takes the command), ``PermissionDenied`` (a Proxy does not allow it),
        ``NotSupported`` (a binding's transformer is a Python callable, which a workflow file
        cannot hold: write it in CEL) or ``InvalidConfiguration``.
    """
    if not isinstance(composition, PluginComposition):
        return _error(
            PluginErrorCode.InvalidArgument,
            f"create_workflow_from_composition needs a PluginComposition, "
            f"got {type(composition).__name__}",
        )
    checked = composition.validate()
    if not checked:
        return from_error(checked.error())
    command = "execute" if command is None else command
    if not isinstance(command, str) or not command:
        return _error(
            PluginErrorCode.InvalidArgument, f"command must be a non-empty string, got {command!r}"
        )
    commands: dict[str, list[str]] = {}
    for plugin_id in composition.plugins():
        found = plugin_manager.get_plugin(plugin_id)
        if not found:
            return _error(
                PluginErrorCode.PluginNotFound,
                f"composition '{composition.id()}': component '{plugin_id}' is not registered: "
                f"{found.error().message}",
            )
        commands[plugin_id] = commands_of(found.value())
    settings = parse_settings(
        composition.id(),
        composition.strategy(),
        composition.plugins(),
        composition.primary_plugin_id(),
        composition.configuration(),
    )
    if isinstance(settings, PluginError):
        return from_error(settings)
    graph = _Graph(composition, command, commands, settings)
    built = graph.build()
    if built is not None:
        return from_error(built)
    if graph.uses_helper:
        missing = ensure_helper(plugin_manager)
        if missing is not None:
            return from_error(missing)
    return make_success(graph.document())


class _Graph:
    """Nodes and connections of one built workflow, in the order they run."""

    def __init__(
        self,
        composition: PluginComposition,
        command: str,
        commands: Mapping[str, list[str]],
        settings: StrategySettings,
    ) -> None:
        self.composition = composition
        self.cid = composition.id()
        self.command = command
        self.commands = commands
        self.settings = settings
        self.nodes: dict[str, dict[str, Any]] = {}
        self.connections: list[dict[str, Any]] = []
        self.mode = "Sequential"
        self.result_node = ""
        self.uses_helper = False

    # --- strategies ------------------------------------------------------------------------
    def build(self) -> PluginError | None:
        strategy = self.composition.strategy()
        if strategy is Strategy.Pipeline:
            return self._pipeline()
        if strategy is Strategy.Facade:
            return self._facade()
        if strategy is Strategy.Decorator:
            return self._decorator()
        if strategy is Strategy.Proxy:
            return self._proxy()
        if strategy is Strategy.Adapter:
            return self._adapter()
        if strategy is Strategy.Bridge:
            subject = self.settings.subject
            missing = self._offered(subject, self.command)
            return missing or self._done(self._component(subject, self.command))
        return self._aggregation()

    def _aggregation(self) -> PluginError | None:
        offering = self._offering()
        if not offering:
            return self._nobody()
        if INPUT_PORT in offering:
            return _problem(f"a component may not be called '{INPUT_PORT}' (a port of the graph)")
        self.mode = "Conditional"
        source = self._helper("input", PASSTHROUGH, {})
        for plugin_id in offering:
            self._connect(source, self._component(plugin_id, self.command, critical=False))
        collector = self._helper(
            "aggregate",
            AGGREGATE,
            {"composite": self.cid, "command": self.command, "components": offering},
            node_type="Aggregator",
        )
        # An Aggregator receives one list of what its connections deliver, in connection
        # order, from the sources that produced output. The input comes first (so the
        # collector runs, and says so, when every component failed); each component's output
        # then arrives through a helper that tags it with the component's id (a failed
        # component's tag node is skipped), so the collector keys the results as the
        # composite does.
        self._connect(source, collector, target_port=ITEMS_PORT)
        for plugin_id in offering:
            tag = self._helper(f"tag.{plugin_id}", TAG, {"key": plugin_id})
            self._connect(plugin_id, tag)
            self._connect(tag, collector, target_port=ITEMS_PORT)
        return self._done(collector)

    def _pipeline(self) -> PluginError | None:
        bindings = sort_by_priority(self.composition.bindings())
        stages, leaves = pipeline_plan(
            list(self.composition.plugins()),
            self.composition.primary_plugin_id(),
            bindings,
            lambda pid: self.command in self.commands[pid],
        )
        if not stages:
            return self._nobody()
        for stage in stages:
            if bindings:
                missing = self._offered(stage, self.command)
                if missing is not None:
                    return missing
            self._component(stage, self.command)
        if not bindings:
            for before, after in pairwise(stages):
                self._connect(before, after)
        for binding in sort_for_delivery(bindings):
            failed = self._binding(binding)
            if failed is not None:
                return failed
        if len(leaves) == 1:
            return self._done(leaves[0])
        result = self._helper("result", PASSTHROUGH, {})
        for leaf in leaves:
            self._connect(leaf, result)
        return self._done(result)

    def _binding(self, binding: CompositionBinding) -> PluginError | None:
        transformer = binding.transformer
        if callable(transformer):
            return PluginError(
                PluginErrorCode.NotSupported,
                f"composition '{self.cid}': binding {binding.label()} has a Python callable "
                "transformer, which a workflow cannot hold; write it as a CEL expression",
            )
        source, target = binding.source_plugin_id, binding.target_plugin_id
        if binding.source_method or binding.target_method or not binding.parameter_mapping:
            transformation = {"expression": transformer} if isinstance(transformer, str) else {}
            self._connect(
                source, target, binding.source_method, binding.target_method, transformation
            )
        for target_key, source_key in binding.parameter_mapping.items():
            self._connect(source, target, source_key, target_key)
        return None

    def _facade(self) -> PluginError | None:
        offering = self._offering()
        routes = self.settings.routing
        candidates = offering  # rules choose among the components that offer the command
        if not candidates:
            return self._nobody()
        self.mode = "Conditional"
        route = self._helper(
            "route",
            ROUTE,
            {
                "composite": self.cid,
                "command": self.command,
                "offering": offering,
                "primary": self.composition.primary_plugin_id(),
                "routing": [
                    {"plugin": r.plugin, "command": r.command, "when": r.when} for r in routes
                ],
            },
            node_type="Decision",
        )
        for plugin_id in candidates:
            self._component(plugin_id, self.command)
            self._connect(
                route,
                plugin_id,
                source_port=ROUTE_PORT,
                kind="Control",
                condition=f"route == {json.dumps(plugin_id)}",
            )
        if len(candidates) == 1:
            return self._done(candidates[0])
        result = self._helper("result", PASSTHROUGH, {})
        for plugin_id in candidates:
            self._connect(plugin_id, result)
        return self._done(result)

    def _decorator(self) -> PluginError | None:
        subject = self.settings.subject
        missing = self._offered(subject, self.command)
        if missing is not None:
            return missing
        chain: list[str] = []
        for decorator in self.settings.decorators:
            hooks = self.commands[decorator]
            if BEFORE not in hooks and AFTER not in hooks:
                return _problem(
                    f"composite '{self.cid}' (Decorator): decorator '{decorator}' offers neither "
                    f"'{BEFORE}' nor '{AFTER}'"
                )
            if BEFORE in hooks:
                chain.append(self._component(decorator, BEFORE, f"{decorator}.{BEFORE}"))
        chain.append(self._component(subject, self.command))
        for decorator in reversed(self.settings.decorators):
            if AFTER in self.commands[decorator]:
                chain.append(self._component(decorator, AFTER, f"{decorator}.{AFTER}"))
        for before, after in pairwise(chain):
            self._connect(before, after)
        return self._done(chain[-1])

    def _proxy(self) -> PluginError | None:
        settings = self.settings
        refused = proxy_refusal(self.cid, self.command, settings.allowed_commands)
        refused = refused or self._offered(settings.subject, self.command)
        if refused is not None:
            return refused
        limit = settings.rate_limit
        gate = self._helper(
            "gate",
            GATE,
            {
                "composite": self.cid,
                "command": self.command,
                "allowed": None
                if settings.allowed_commands is None
                else list(settings.allowed_commands),
                "rate_limit": None
                if limit is None
                else {"max_calls": limit.max_calls, "per_ms": limit.per_ms},
            },
        )
        self._connect(gate, self._component(settings.subject, self.command))
        return self._done(settings.subject)

    def _adapter(self) -> PluginError | None:
        settings = self.settings
        inner = adapter_command(self.cid, self.command, settings.command_map)
        if isinstance(inner, PluginError):
            return inner
        missing = self._offered(settings.subject, inner)
        if missing is not None:
            return missing
        chain: list[str] = []
        if settings.parameter_map:
            chain.append(
                self._helper("adapt_parameters", RENAME, {"map": dict(settings.parameter_map)})
            )
        chain.append(self._component(settings.subject, inner))
        if settings.result_map:
            chain.append(self._helper("adapt_results", RENAME, {"map": dict(settings.result_map)}))
        for before, after in pairwise(chain):
            self._connect(before, after)
        return self._done(chain[-1])

    # --- graph pieces ----------------------------------------------------------------------
    def _component(
        self, plugin_id: str, method: str, node_id: str | None = None, *, critical: bool = True
    ) -> str:
        node_id = self._unique(node_id or plugin_id)
        configuration: dict[str, Any] = {"method": method}
        if not critical:
            configuration["critical"] = False
        self._node(node_id, plugin_id, configuration, "Processor")
        return node_id

    def _helper(
        self,
        name: str,
        method: str,
        settings: dict[str, Any],
        *,
        node_type: str = "Processor",
    ) -> str:
        self.uses_helper = True
        node_id = self._unique(f"{self.cid}.{name}")
        configuration: dict[str, Any] = {"method": method}
        if settings:
            configuration[SETTINGS_KEY] = settings
        self._node(node_id, HELPER_PLUGIN_ID, configuration, node_type)
        return node_id

    def _node(
        self, node_id: str, plugin_id: str, configuration: dict[str, Any], node_type: str
    ) -> None:
        self.nodes[node_id] = {
            "node_id": node_id,
            "name": node_id,
            "plugin_id": plugin_id,
            "node_type": node_type,
            "configuration": configuration,
            "input_ports": [],
            "output_ports": [],
        }

    def _unique(self, wanted: str) -> str:
        candidate, number = wanted, 1
        while candidate in self.nodes:
            number += 1
            candidate = f"{wanted}#{number}"
        self.nodes.setdefault(candidate, {})  # reserved until _node fills it in
        return candidate

    def _connect(
        self,
        source: str,
        target: str,
        source_port: str = "",
        target_port: str = "",
        transformation: dict[str, Any] | None = None,
        *,
        kind: str = "DataFlow",
        condition: str | None = None,
    ) -> None:
        for node_id, key, port in (
            (source, "output_ports", source_port),
            (target, "input_ports", target_port),
        ):
            ports = self.nodes[node_id][key]
            if port and port not in ports:
                ports.append(port)
        label = f"{source}:{source_port}->{target}:{target_port}"
        taken = {c["connection_id"] for c in self.connections}
        connection_id, number = label, 1
        while connection_id in taken:
            number += 1
            connection_id = f"{label}#{number}"
        self.connections.append(
            {
                "connection_id": connection_id,
                "source_node": source,
                "source_port": source_port,
                "target_node": target,
                "target_port": target_port,
                "connection_type": kind,
                "properties": {} if condition is None else {"condition": condition},
                "data_transformation": transformation or {},
            }
        )

    # --- checks and the document -------------------------------------------------------------
    def _offering(self) -> list[str]:
        return [pid for pid in self.composition.plugins() if self.command in self.commands[pid]]

    def _offered(self, plugin_id: str, command: str) -> PluginError | None:
        if command in self.commands[plugin_id]:
            return None
        return PluginError(
            PluginErrorCode.CommandNotFound,
            f"composition '{self.cid}' ({self.composition.strategy().name}): component "
            f"'{plugin_id}' has no command '{command}' (its commands: "
            f"{', '.join(self.commands[plugin_id]) or 'none'})",
            plugin_id=plugin_id,
        )

    def _nobody(self) -> PluginError:
        return PluginError(
            PluginErrorCode.CommandNotFound,
            f"composition '{self.cid}' ({self.composition.strategy().name}): no component "
            f"offers command '{self.command}'; pass command= one of "
            f"{', '.join(sorted({c for cs in self.commands.values() for c in cs})) or 'none'}",
        )

    def _done(self, node_id: str) -> PluginError | None:
        """Record the node whose output is the composite's result: the build succeeded."""
        self.result_node = node_id
        return None

    def document(self) -> dict[str, Any]:
        composition = self.composition
        return {
            "workflow_id": self.cid,
            "name": composition.name(),
            "description": composition.description()
            or f"{composition.strategy().name} composition '{self.cid}', command '{self.command}'",
            "execution_mode": self.mode,
            "nodes": list(self.nodes.values()),
            "connections": self.connections,
            "global_configuration": {},
            "metadata": {
                "composition": {
                    "id": self.cid,
                    "strategy": composition.strategy().name,
                    "command": self.command,
                    "result_node": self.result_node,
                }
            },
        }


def _problem(message: str) -> PluginError:
    return PluginError(PluginErrorCode.InvalidConfiguration, message)


def _error(code: PluginErrorCode, message: str) -> Expected[Any]:
    return from_error(PluginError(code, message))
