"""Whether a workflow's steps or nodes can be called: their plugins and commands exist.

Not part of registration (plugins may be registered after a workflow), but what running it
would fail with: ``qtforge-orch validate --plugins`` and the workflow editor report it.
"""

from __future__ import annotations

from typing import Any

from ..errors import PluginError, PluginErrorCode


def plugin_errors(model: Any, manager: Any) -> list[PluginError]:
    """Steps or nodes whose plugin is not registered or lacks the command they call.

    The command is a v1 step's ``method_name`` (rollback steps included) or a v2 node's
    ``configuration["method"]``, ``execute`` when empty, as the engine calls them. Built-in
    plugins (``file_system_monitor``) count as registered.
    """
    from ..plugins._builtins import WithBuiltins
    from .workflow import Workflow

    lookup = WithBuiltins(manager)
    # (what, plugin id, command, where: the error's context naming the step or node)
    calls: list[tuple[str, str, str, dict[str, Any]]] = []
    if isinstance(model, Workflow):
        for step in model.steps():
            calls.append(
                (
                    f"step '{step.id}'",
                    step.plugin_id,
                    step.method_name or "execute",
                    {"step_id": step.id},
                )
            )
        for step_id, rollback in model.rollback_steps().items():
            calls.append(
                (
                    f"rollback of step '{step_id}'",
                    rollback.plugin_id,
                    rollback.method_name or "execute",
                    {"step_id": step_id, "rollback": True},
                )
            )
    else:
        for node in model.nodes:
            method = (node.configuration or {}).get("method") or "execute"
            calls.append(
                (f"node '{node.node_id}'", node.plugin_id, str(method), {"node_id": node.node_id})
            )
    errors: list[PluginError] = []
    for what, plugin_id, command, where in calls:
        if not plugin_id:
            continue  # the structure rules already report an empty plugin id
        found = lookup.get_plugin(plugin_id)
        if not found:
            errors.append(
                PluginError(
                    PluginErrorCode.PluginNotFound,
                    f"{what}: no plugin '{plugin_id}' is registered",
                    plugin_id=plugin_id,
                    context=dict(where),
                )
            )
            continue
        try:
            commands = list(found.value().available_commands())
        except Exception:  # a plugin's bug: the call itself will report it
            continue
        if command not in commands:
            errors.append(
                PluginError(
                    PluginErrorCode.CommandNotFound,
                    f"{what}: plugin '{plugin_id}' has no command '{command}'; "
                    f"available: {', '.join(map(str, commands)) or 'none'}",
                    plugin_id=plugin_id,
                    context=dict(where),
                )
            )
    return errors
