"""One plugin call, and turning whatever it does into an ``Outcome`` or a ``PluginError``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ...contract.context import StepContext
from ...contract.outcome import Outcome
from ...contract.plan import ConditionEvaluator, TaskSpec
from ...errors import PluginError, PluginErrorCode, add_traceback, error_from_exception
from ...plugins.interface import plugin_accepts_context
from ...results import Expected

PluginCall = Callable[[dict[str, Any]], Any]


class PluginLookup(Protocol):
    def get_plugin(self, plugin_id: str) -> Expected[Any]: ...


PluginFinder = Callable[[str], Any]


def plugin_finder(plugins: PluginLookup) -> PluginFinder | None:
    """A plain read of the lookup's registered plugins (plugin or None), when it offers one:
    ``get_plugin`` wraps every answer in an ``Expected``, a cost per step worth skipping."""
    finder = getattr(plugins, "_registered_finder", None)
    return finder() if finder is not None else None


class ItemTally(Protocol):
    """Where per-item calls count what did not become an output (a stream stage)."""

    items_dropped: int
    items_out: int

    def item_failed(self, message: str) -> None: ...


# --- one call -------------------------------------------------------------------------------
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
    return call_found(found.value(), plugin_id, command, params, context, allow_stream=allow_stream)


def call_found(
    plugin: Any,
    plugin_id: str,
    command: str,
    params: dict[str, Any],
    context: StepContext,
    *,
    allow_stream: bool = False,
) -> Outcome:
    """``call_plugin`` for a plugin already looked up (the batch hot path reads the registry
    directly instead of building an ``Expected`` per call)."""
    value = call_value(plugin, plugin_id, command, params, context, allow_stream=allow_stream)
    if isinstance(value, PluginError):
        return Outcome(error=value)
    return Outcome(value)


def call_value(
    plugin: Any,
    plugin_id: str,
    command: str,
    params: dict[str, Any],
    context: StepContext,
    *,
    allow_stream: bool = False,
) -> Any:
    """One call of a looked-up plugin: its output (a dict; with ``allow_stream`` also None or
    an iterator), or the ``PluginError`` it failed with. No ``Outcome`` is built: the batch
    scheduler's hot path tells the two apart itself."""
    try:
        resolve = getattr(plugin, "resolve_command", None)
        direct = resolve(command, context) if resolve is not None else None
        if direct is not None:
            raw = direct(params)
        else:
            commands = plugin.available_commands()
            if command not in commands:
                return _no_command(plugin_id, command, commands)
            if plugin_accepts_context(plugin):
                raw = plugin.execute_command(command, params, context=context)
            else:
                raw = plugin.execute_command(command, params)
    except PluginError as error:
        return add_traceback(error, skip_frames=1)
    except BaseException as exc:  # see module docstring
        return _wrap_exception(plugin_id, command, exc)
    if type(raw) is dict:
        return raw
    outcome = normalise_result(plugin_id, command, raw, allow_stream=allow_stream)
    return outcome.output if outcome.error is None else outcome.error


def resolve_call(
    plugins: PluginLookup, task: TaskSpec, context: StepContext
) -> PluginCall | PluginError:
    """A task's command as one callable, resolved once and called many times (per item)."""
    found = plugins.get_plugin(task.plugin_id)
    if not found:
        return found.error()
    plugin = found.value()
    command = task.command
    try:
        commands = plugin.available_commands()
        if command not in commands:
            return _no_command(task.plugin_id, command, commands)
        resolve = getattr(plugin, "resolve_command", None)
        if resolve is not None:
            direct: PluginCall | None = resolve(command, context)
            if direct is not None:
                return direct
        execute = plugin.execute_command
        if plugin_accepts_context(plugin):
            return lambda params: execute(command, params, context=context)
        return lambda params: execute(command, params)
    except BaseException as exc:
        return _wrap_exception(task.plugin_id, command, exc)


def guarded_call(
    task: TaskSpec, call: PluginCall, params: dict[str, Any], *, allow_stream: bool
) -> Any:
    """One call of a resolved command: its dict (or None, or an iterator when
    ``allow_stream``), else the ``PluginError`` it failed with."""
    try:
        raw = call(params)
    except PluginError as error:
        return add_traceback(error, skip_frames=1)
    except BaseException as exc:
        return _wrap_exception(task.plugin_id, task.command, exc)
    if raw is None or type(raw) is dict:
        return raw
    if isinstance(raw, Expected) and raw:
        raw = raw.value()
        if raw is None:
            return raw
    outcome = normalise_result(task.plugin_id, task.command, raw, allow_stream=allow_stream)
    return outcome.output if outcome.ok else outcome.error


def evaluate(condition: ConditionEvaluator, view: dict[str, Any]) -> bool | BaseException:
    """A condition's verdict on ``view``, or what it raised (conditions may be user code)."""
    try:
        return bool(condition(view))
    except BaseException as exc:
        return exc


# --- results ---------------------------------------------------------------------------------
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


def _no_command(plugin_id: str, command: str, commands: Any) -> PluginError:
    return PluginError(
        PluginErrorCode.CommandNotFound,
        f"plugin '{plugin_id}' has no command '{command}'; "
        f"available: {', '.join(map(str, commands)) or 'none'}",
        plugin_id=plugin_id,
    )


def _wrap_exception(plugin_id: str, command: str, exc: BaseException) -> PluginError:
    """The plugin raised ``exc``: ExecutionFailed, keeping its type, message and traceback
    (from the plugin's frame on: the first frame is the one that caught it, here)."""
    return error_from_exception(
        exc,
        PluginErrorCode.ExecutionFailed,
        f"plugin '{plugin_id}' command '{command}' raised {type(exc).__name__}: {exc}",
        plugin_id=plugin_id,
        skip_frames=1,
    )
