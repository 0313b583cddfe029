"""Calling one component the way the engine calls a plugin (docs/plugins.md, the contract).

The composition layer may not import the engine, so the contract is followed here again:
``resolve_command(command, context)`` first, else ``available_commands()`` checked and
``execute_command(command, params[, context=])``; a dict or an ``Expected`` of one is the
output, a ``PluginError`` (raised or returned) keeps its code, any other exception becomes
``ExecutionFailed``. The step's ``StepContext`` is handed on to components that declare one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import PluginError, PluginErrorCode
from ..plugins.interface import plugin_accepts_context
from ..results import Expected


def call_component(
    composite_id: str,
    plugin: Any,
    plugin_id: str,
    command: str,
    params: dict[str, Any],
    context: Any,
) -> dict[str, Any] | PluginError:
    """One component call: its output dict, or the ``PluginError`` it failed with."""
    try:
        resolve = getattr(plugin, "resolve_command", None)
        direct = resolve(command, context) if resolve is not None else None
        if direct is not None:
            raw = direct(params)
        else:
            commands = plugin.available_commands()
            if command not in commands:
                return PluginError(
                    PluginErrorCode.CommandNotFound,
                    f"composite '{composite_id}': component '{plugin_id}' has no command "
                    f"'{command}' (its commands: {', '.join(map(str, commands)) or 'none'})",
                    plugin_id=plugin_id,
                )
            if context is not None and plugin_accepts_context(plugin):
                raw = plugin.execute_command(command, params, context=context)
            else:
                raw = plugin.execute_command(command, params)
    except PluginError as error:
        return error
    except Exception as exc:
        return PluginError(
            PluginErrorCode.ExecutionFailed,
            f"composite '{composite_id}': component '{plugin_id}' command '{command}' raised "
            f"{type(exc).__name__}: {exc}",
            details=type(exc).__name__,
            plugin_id=plugin_id,
        )
    if isinstance(raw, Expected):
        if not raw:
            failure: PluginError = raw.error()
            if not failure.plugin_id:
                failure.plugin_id = plugin_id
            return failure
        raw = raw.value()
    if isinstance(raw, Mapping):
        return dict(raw)
    return PluginError(
        PluginErrorCode.InvalidParameters,
        f"composite '{composite_id}': component '{plugin_id}' command '{command}' returned "
        f"{type(raw).__name__}; a command must return a dict (or an Expected holding one)",
        plugin_id=plugin_id,
    )


def commands_of(plugin: Any) -> list[str]:
    """``available_commands()``, or none when it raises (the component is then never chosen)."""
    try:
        return [str(command) for command in plugin.available_commands()]
    except Exception:
        return []


def cancelled(context: Any) -> bool:
    """Whether the step was cancelled or timed out (``context`` may be None)."""
    if context is None:
        return False
    try:
        return bool(context.is_cancelled())
    except Exception:
        return False


def cancelled_error(composite_id: str, before: str) -> PluginError:
    return PluginError(
        PluginErrorCode.OperationCancelled,
        f"composite '{composite_id}': the step was cancelled or timed out before {before}",
    )
