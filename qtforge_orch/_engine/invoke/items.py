"""Per-item calls (Streaming's hot path): one ``try`` per item and no call per item beyond
the plugin's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...contract.plan import ConditionEvaluator, Role, TaskSpec
from ..dataflow import MAPPED_KEY
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
            try:
                forward = out[port]
            except KeyError:  # an output without the port: counted, not forwarded
                tally.items_out += 1
                continue
            except BaseException as exc:  # a key whose ``__eq__`` raises
                tally.item_failed(f"{type(exc).__name__}: {exc}")
                continue
            append(forward)
        elif out is None:
            tally.items_dropped += 1
        else:
            unusual: list[Any] = []
            expand_result(task, out, unusual, tally)
            for item in unusual:
                forward = _port_value(item, port, tally)
                if forward is not _NOT_FORWARDED:
                    append(forward)


def map_values_into(
    call: PluginCall,
    key: str,
    port: str,
    tally: ItemTally,
    task: TaskSpec,
    then: PluginCall,
    then_key: str,
    then_tally: ItemTally,
    then_task: TaskSpec,
    values: list[Any],
) -> int:
    """A fused chain's last two stages in one pass: ``map_values_to_port`` whose every
    forwarded value goes straight into ``consume_values`` of the next stage, with no list in
    between. Counts as the two loops would (this stage's forwarded outputs are left to the
    caller, which gets their number back). Counters move by what did not go the common way,
    so the common way costs no more than the two calls and two type checks."""
    aside = 0  # values of this stage that did not go on the common way
    extra = 0  # values forwarded out of unusual results
    then_aside = 0  # forwarded values whose call did not return a dict
    # Local names: a builtin's global lookup costs more than the check itself. ``type`` runs
    # no user code (``__class__`` may be a property that lies or raises).
    exact = type
    plain = dict
    for value in values:
        try:
            out = call({key: value})
        except BaseException as exc:
            tally.item_failed(f"{type(exc).__name__}: {exc}")
            aside += 1
            continue
        if exact(out) is not plain:
            aside += 1
            extra += _unusual_into(out, port, tally, task, then, then_key, then_tally, then_task)
            continue
        try:
            result = then({then_key: out[port]})
        except BaseException as exc:
            # The port's lookup or the next call failed: reading the port again tells which
            # (a plain dict's lookup fails the same way twice: a missing port, or a key whose
            # ``__eq__`` raises), at no cost on the common way.
            unread = _unread_port(out, port)
            if unread is None:
                then_tally.item_failed(f"{type(exc).__name__}: {exc}")
                then_aside += 1
            else:
                aside += 1
                if unread is _ABSENT:  # an output without the port: counted, not forwarded
                    tally.items_out += 1
                else:
                    tally.item_failed(unread)
            continue
        if exact(result) is not plain:
            then_aside += 1
            consume_result(then_task, result, then_tally)
    forwarded = len(values) - aside
    then_tally.items_out += forwarded - then_aside
    return forwarded + extra


_ABSENT = "absent"  # ``_unread_port``: the output has no such port


def _unread_port(out: dict[Any, Any], port: str) -> str | None:
    """Why ``out[port]`` cannot be read (``_ABSENT``, or the error's message), or None."""
    try:
        out[port]
    except KeyError:
        return _ABSENT
    except BaseException as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


# What ``_port_value`` returns for an output whose port value does not go on.
_NOT_FORWARDED: Any = object()


def _port_value(item: Any, port: str, tally: ItemTally) -> Any:
    """An unusual result's ``port`` value, or ``_NOT_FORWARDED`` once counted: an output without
    the port, or an item error when the result cannot be read (its lookups raise)."""
    try:
        if port in item:
            return item[port]
    except BaseException as exc:
        tally.item_failed(f"{type(exc).__name__}: {exc}")
        return _NOT_FORWARDED
    tally.items_out += 1
    return _NOT_FORWARDED


def _unusual_into(
    out: Any,
    port: str,
    tally: ItemTally,
    task: TaskSpec,
    then: PluginCall,
    then_key: str,
    then_tally: ItemTally,
    then_task: TaskSpec,
) -> int:
    """``map_values_into`` for a result other than a dict: None (a drop), or anything else
    ``expand_result`` takes. Returns how many values went on."""
    if out is None:
        tally.items_dropped += 1
        return 0
    unusual: list[Any] = []
    expand_result(task, out, unusual, tally)
    forwarded = 0
    for item in unusual:
        forward = _port_value(item, port, tally)
        if forward is not _NOT_FORWARDED:
            forwarded += 1
            consume_values(then, then_key, [forward], then_tally, then_task)
    return forwarded


def consume_result(task: TaskSpec, result: Any, tally: ItemTally) -> None:
    """``consume_values`` for one result that is not a dict: a drop, or what
    ``expand_result`` makes of it (counted as outputs)."""
    if result is None:
        tally.items_dropped += 1
        return
    kept: list[Any] = []
    expand_result(task, result, kept, tally)
    tally.items_out += len(kept)


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
    """Expected results, a Splitter's list, or a bad return value. An output that only poses
    as a dict (a subclass, or a ``__class__`` that says so) goes on as a plain copy: the engine
    reads outputs under its lock, where no plugin code may run. Reading it here runs the
    plugin's code: what that raises is an item error."""
    try:
        outcome = normalise_result(task.plugin_id, task.command, out)
        if not outcome.ok:
            assert outcome.error is not None
            tally.item_failed(outcome.error.message)
            return
        output = outcome.output
        if type(output) is not dict:
            output = dict(output)
        if task.role is Role.SPLITTER:
            items = output.get(task.out_port or MAPPED_KEY)
            if isinstance(items, list):
                port = task.out_port
                produced.extend([{port: i} for i in items] if port else items)
                return
    except BaseException as exc:
        tally.item_failed(f"{type(exc).__name__}: {exc}")
        return
    produced.append(output)


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
