"""Calling one plugin command and turning whatever happens into an ``Outcome``.

This is the only place user plugin code is entered, so it is the only place that catches
``BaseException``: a plugin that raises ``SystemExit`` fails its step, not the process.
"""

from __future__ import annotations

from typing import Any, Protocol

from .._errors import PluginError, PluginErrorCode
from .._expected import Expected
from ..plugins._interface import plugin_accepts_context
from .context import StepContext


class PluginLookup(Protocol):
    def get_plugin(self, plugin_id: str) -> Expected[Any]: ...


class Outcome:
    """The result of one attempt: ``output`` on success, else ``error``."""

    __slots__ = ("error", "output")

    def __init__(self, output: Any = None, error: PluginError | None = None) -> None:
        self.output = output
        self.error = error

    @property
    def ok(self) -> bool:
        return self.error is None


def call_plugin(
    plugins: PluginLookup,
    plugin_id: str,
    command: str,
    params: dict[str, Any],
    context: StepContext,
    *,
    allow_stream: bool = False,
) -> Outcome:
    found = plugins.get_plugin(plugin_id)
    if not found:
        return Outcome(error=found.error())
    plugin = found.value()
    try:
        resolve = getattr(plugin, "resolve_command", None)
        direct = resolve(command, context) if resolve is not None else None
        if direct is not None:
            # A plugin that can hand out its command's callable (FunctionPlugin) skips the
            # per-call name dispatch: the cheapest way in for tiny steps.
            raw = direct(params)
        else:
            commands = plugin.available_commands()
            if command not in commands:
                return Outcome(
                    error=PluginError(
                        PluginErrorCode.CommandNotFound,
                        f"plugin '{plugin_id}' has no command '{command}'; "
                        f"available: {', '.join(map(str, commands)) or 'none'}",
                        plugin_id=plugin_id,
                    )
                )
            if plugin_accepts_context(plugin):
                raw = plugin.execute_command(command, params, context=context)
            else:
                raw = plugin.execute_command(command, params)
    except PluginError as error:
        return Outcome(error=error)
    except BaseException as exc:  # see module docstring
        return Outcome(error=_wrap_exception(plugin_id, command, exc))
    return normalise_result(plugin_id, command, raw, allow_stream=allow_stream)


def normalise_result(
    plugin_id: str, command: str, raw: Any, *, allow_stream: bool = False
) -> Outcome:
    if type(raw) is dict:
        return Outcome(raw)
    if isinstance(raw, Expected):
        if not raw:
            error = raw.error()
            if not error.plugin_id:
                error.plugin_id = plugin_id
            return Outcome(error=error)
        raw = raw.value()
    if isinstance(raw, dict):
        return Outcome(raw)
    if allow_stream and (raw is None or _is_iterator(raw)):
        return Outcome(raw)
    return Outcome(
        error=PluginError(
            PluginErrorCode.InvalidParameters,
            f"plugin '{plugin_id}' command '{command}' returned {type(raw).__name__}; "
            "a command must return a dict (or an Expected holding one)",
            plugin_id=plugin_id,
        )
    )


def _is_iterator(value: Any) -> bool:
    return hasattr(value, "__next__") or (
        hasattr(value, "__iter__") and not isinstance(value, str | bytes | dict | list | tuple)
    )


def _wrap_exception(plugin_id: str, command: str, exc: BaseException) -> PluginError:
    return PluginError(
        PluginErrorCode.ExecutionFailed,
        f"plugin '{plugin_id}' command '{command}' raised {type(exc).__name__}: {exc}",
        details=type(exc).__name__,
        plugin_id=plugin_id,
    )
