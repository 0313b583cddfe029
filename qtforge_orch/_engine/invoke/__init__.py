"""The one boundary between the engine and user code: every plugin call of every mode.

Whatever user code does (returns, raises a ``PluginError``, raises anything else, even
``SystemExit``) comes back from here as a value: an ``Outcome``, a ``PluginError``, or a count
in an ``ItemTally``. So this package is the only engine code that catches ``BaseException``
around plugin code, and the schedulers never need to: a plugin that raises ``SystemExit``
fails its step, not the process. Its modules: ``calls`` (one call), ``items`` (per-item
loops), ``sources`` (iterators and event sources).

The plugin contract it implements (documented in docs/plugins.md): a plugin may offer
``resolve_command(command, context) -> callable | None``; the callable it returns is called
with the parameters alone, which is the cheapest way in for tiny steps and per-item streaming.
Otherwise ``available_commands()`` and ``execute_command(command, params[, context=])``.
"""

from __future__ import annotations

from .calls import (
    ItemTally,
    PluginCall,
    PluginFinder,
    PluginLookup,
    call_found,
    call_plugin,
    call_value,
    evaluate,
    guarded_call,
    normalise_result,
    plugin_finder,
    resolve_call,
)
from .items import (
    consume_values,
    expand_result,
    filter_items,
    map_items,
    map_values,
    map_values_into,
    map_values_to_port,
)
from .sources import next_item, pull, start_event_source, stop_event_source

__all__ = [
    "ItemTally",
    "PluginCall",
    "PluginFinder",
    "PluginLookup",
    "call_found",
    "call_plugin",
    "call_value",
    "consume_values",
    "evaluate",
    "expand_result",
    "filter_items",
    "guarded_call",
    "map_items",
    "map_values",
    "map_values_into",
    "map_values_to_port",
    "next_item",
    "normalise_result",
    "plugin_finder",
    "pull",
    "resolve_call",
    "start_event_source",
    "stop_event_source",
]
