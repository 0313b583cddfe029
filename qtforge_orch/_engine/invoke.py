"""The one boundary between the engine and user code: every plugin call of every mode.

Whatever user code does (returns, raises a ``PluginError``, raises anything else, even
``SystemExit``) comes back from here as a value: an ``Outcome``, a ``PluginError``, or a count
in an ``ItemTally``. So this is the only engine module that catches ``BaseException`` around
plugin code, and the schedulers never need to: a plugin that raises ``SystemExit`` fails its
step, not the process.

The plugin contract it implements (documented in docs/plugins.md): a plugin may offer
``resolve_command(command, context) -> callable | None``; the callable it returns is called
with the parameters alone, which is the cheapest way in for tiny steps and per-item streaming.
Otherwise ``available_commands()`` and ``execute_command(command, params[, context=])``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol

from .._errors import PluginError, PluginErrorCode
from .._expected import Expected
from ..plugins._interface import plugin_accepts_context
from .context import StepContext
from .dataflow import MAPPED_KEY
from .plan import ConditionEvaluator, Role, TaskSpec

if TYPE_CHECKING:
    from ..plugins._event_source import EmitEvent, IEventSource, StopEvents

PluginCall = Callable[[dict[str, Any]], Any]


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
    plugin = found.value()
    try:
        resolve = getattr(plugin, "resolve_command", None)
        direct = resolve(command, context) if resolve is not None else None
        if direct is not None:
            raw = direct(params)
        else:
            commands = plugin.available_commands()
            if command not in commands:
                return Outcome(error=_no_command(plugin_id, command, commands))
            if plugin_accepts_context(plugin):
                raw = plugin.execute_command(command, params, context=context)
            else:
                raw = plugin.execute_command(command, params)
    except PluginError as error:
        return Outcome(error=error)
    except BaseException as exc:  # see module docstring
        return Outcome(error=_wrap_exception(plugin_id, command, exc))
    return normalise_result(plugin_id, command, raw, allow_stream=allow_stream)


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
        return error
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


# --- per item (streaming's hot path: one try per item, no call per item beyond the plugin's)
def map_values(
    call: PluginCall,
    key: str,
    values: list[Any],
    produced: list[Any],
    tally: ItemTally,
    task: TaskSpec,
) -> None:
    """Each value as ``{key: value}``; dict results are produced, None is a drop."""
    append = produced.append
    for value in values:
        try:
            out = call({key: value})
        except BaseException as exc:
            tally.item_failed(f"{type(exc).__name__}: {exc}")
            continue
        if type(out) is dict:
            append(out)
        elif out is None:
            tally.items_dropped += 1
        else:
            expand_result(task, out, produced, tally)


def map_values_to_port(
    call: PluginCall,
    key: str,
    port: str,
    values: list[Any],
    produced: list[Any],
    tally: ItemTally,
    task: TaskSpec,
) -> None:
    """``map_values`` that keeps only each result's ``port`` value, in the same pass."""
    append = produced.append
    for value in values:
        try:
            out = call({key: value})
        except BaseException as exc:
            tally.item_failed(f"{type(exc).__name__}: {exc}")
            continue
        if type(out) is dict:
            if port in out:
                append(out[port])
            else:
                tally.items_out += 1  # an output without the port: counted, not forwarded
        elif out is None:
            tally.items_dropped += 1
        else:
            unusual: list[Any] = []
            expand_result(task, out, unusual, tally)
            for item in unusual:
                if port in item:
                    append(item[port])
                else:
                    tally.items_out += 1


def map_items(
    call: PluginCall,
    values: list[Any],
    port: str,
    default_port: str,
    base: dict[str, Any],
    produced: list[Any],
    tally: ItemTally,
    task: TaskSpec,
    *,
    mixed: bool,
) -> None:
    """The general per-item loop: each value on its port (``(port, value)`` pairs when
    ``mixed``) over the node's configuration ``base``; a Splitter's lists are expanded into
    items. Parameters are built and the plugin called in one pass, item by item."""
    splitter = task.role is Role.SPLITTER
    for value in values:
        if mixed:
            item_port, value = value
            key = item_port or default_port
        else:
            key = port
        if key:
            params = {**base, key: value} if base else {key: value}
        elif type(value) is dict:
            params = {**base, **value} if base else dict(value)
        else:
            params = {**base, "value": value} if base else {"value": value}
        try:
            out = call(params)
        except BaseException as exc:
            tally.item_failed(f"{type(exc).__name__}: {exc}")
            continue
        if type(out) is dict and not splitter:
            produced.append(out)
        elif out is None:
            tally.items_dropped += 1
        else:
            expand_result(task, out, produced, tally)


def expand_result(task: TaskSpec, out: Any, produced: list[Any], tally: ItemTally) -> None:
    """Expected results, a Splitter's list, or a bad return value."""
    outcome = normalise_result(task.plugin_id, task.command, out)
    if not outcome.ok:
        assert outcome.error is not None
        tally.item_failed(outcome.error.message)
        return
    if task.role is Role.SPLITTER:
        items = outcome.output.get(task.out_port or MAPPED_KEY)
        if isinstance(items, list):
            produced.extend({task.out_port: i} if task.out_port else i for i in items)
            return
    produced.append(outcome.output)


def filter_items(
    condition: ConditionEvaluator,
    items: list[Any],
    views: Callable[[Any], dict[str, Any]],
    tally: ItemTally,
    text: str,
) -> list[Any]:
    """The items whose view a Control connection's condition lets through."""
    passing: list[Any] = []
    for item in items:
        try:
            if condition(views(item)):
                passing.append(item)
        except BaseException as exc:
            tally.item_failed(f"condition '{text}': {exc}")
    return passing


# --- iterators a plugin returned ------------------------------------------------------------
def pull(
    iterator: Iterator[Any],
    want: int,
    produced: list[Any],
    window_s: float,
    stopping: Callable[[], bool],
    check_every: int,
) -> bool | BaseException:
    """Pull up to ``want`` items, cutting the batch after ``window_s``. False once the
    iterator is exhausted, True when it may have more, or what it raised (items pulled before
    stay in ``produced``)."""
    deadline = perf_counter() + window_s
    # Doubling runs of C-speed islice keep a fast source's cost per item low, while the first
    # run of one item lets a slow source's first item go at once.
    run = 1
    try:
        while want > 0:
            before = len(produced)
            produced.extend(islice(iterator, min(run, want)))
            pulled = len(produced) - before
            if pulled < min(run, want):
                return False
            want -= pulled
            if stopping() or perf_counter() >= deadline:
                return True
            run = min(run * 2, check_every)
    except BaseException as exc:
        return exc
    return True


def next_item(iterator: Iterator[Any]) -> tuple[Any, BaseException | None, bool]:
    """``(item, None, False)``, ``(None, None, True)`` once exhausted, or ``(None, error,
    True)`` for what the iterator raised."""
    try:
        return next(iterator), None, False
    except StopIteration:
        return None, None, True
    except BaseException as exc:
        return None, exc, True


# --- event sources ---------------------------------------------------------------------------
def start_event_source(
    plugin: IEventSource, configuration: dict[str, Any], emit: EmitEvent
) -> StopEvents | str:
    """Start an event source: its stop callable, or why it could not start."""
    try:
        stop = plugin.start_events(configuration, emit)
    except BaseException as exc:
        return f"could not start: {type(exc).__name__}: {exc}"
    if not callable(stop):
        return (
            f"start_events returned {type(stop).__name__}; it must return a callable that "
            "stops the events"
        )
    return stop


def stop_event_source(stop: StopEvents) -> str | None:
    """Stop an event source; what went wrong, if anything."""
    try:
        stop()
    except BaseException as exc:
        return f"stopping it raised {type(exc).__name__}: {exc}"
    return None


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
    return PluginError(
        PluginErrorCode.ExecutionFailed,
        f"plugin '{plugin_id}' command '{command}' raised {type(exc).__name__}: {exc}",
        details=type(exc).__name__,
        plugin_id=plugin_id,
    )
