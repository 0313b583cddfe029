"""Per-item calls (Streaming's hot path): one ``try`` per item and no call per item beyond
the plugin's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..dataflow import MAPPED_KEY
from ..plan import ConditionEvaluator, Role, TaskSpec
from .calls import ItemTally, PluginCall, normalise_result


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


def consume_values(
    call: PluginCall, key: str, values: list[Any], tally: ItemTally, task: TaskSpec
) -> None:
    """``map_values`` for a stage nothing reads from (a Sink): outputs are counted, not kept."""
    out_count = 0
    for value in values:
        try:
            out = call({key: value})
        except BaseException as exc:
            tally.item_failed(f"{type(exc).__name__}: {exc}")
            continue
        if type(out) is dict:
            out_count += 1
        elif out is None:
            tally.items_dropped += 1
        else:
            kept: list[Any] = []
            expand_result(task, out, kept, tally)
            out_count += len(kept)
    tally.items_out += out_count


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
