"""Iterators a plugin returned, and event sources: pulled, started and stopped here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice
from time import perf_counter
from typing import TYPE_CHECKING, Any

from ...errors import PluginError, PluginErrorCode, error_from_exception

if TYPE_CHECKING:
    from ...contract.event_source import EmitEvent, IEventSource, StopEvents


# --- iterators a plugin returned ------------------------------------------------------------
def pull(
    iterator: Iterator[Any],
    want: int,
    produced: list[Any],
    window_s: float,
    stopping: Callable[[], bool],
    check_every: int,
    first_run: int = 1,
) -> tuple[bool | BaseException, int]:
    """Pull up to ``want`` items, cutting the batch after ``window_s``: False once the
    iterator is exhausted, True when it may have more, or what it raised (items pulled before
    stay in ``produced``); and the run the next pull of the same fast source may start with
    (``first_run``)."""
    began = perf_counter()
    deadline = began + window_s
    # Doubling runs of C-speed islice keep a fast source's cost per item low, while the first
    # run of one item lets a slow source's first item go at once. Runs grow past
    # ``check_every`` only while one takes under a sixteenth of the window.
    run = max(1, first_run)
    try:
        while want > 0:
            before = len(produced)
            produced.extend(islice(iterator, min(run, want)))
            pulled = len(produced) - before
            if pulled < min(run, want):
                return False, run
            want -= pulled
            now = perf_counter()
            if stopping() or now >= deadline:
                return True, run
            if run < check_every or now - began < window_s / 16:
                run *= 2
            else:
                run = check_every
            began = now
    except BaseException as exc:
        return exc, 1
    return True, run


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
) -> StopEvents | PluginError:
    """Start an event source: its stop callable, or why it could not start (what it raised
    with its traceback)."""
    try:
        stop = plugin.start_events(configuration, emit)
    except BaseException as exc:
        message = f"could not start: {type(exc).__name__}: {exc}"
        return error_from_exception(exc, PluginErrorCode.ExecutionFailed, message, skip_frames=1)
    if not callable(stop):
        return PluginError(
            PluginErrorCode.ExecutionFailed,
            f"start_events returned {type(stop).__name__}; it must return a callable that "
            "stops the events",
        )
    return stop


def stop_event_source(stop: StopEvents) -> str | None:
    """Stop an event source; what went wrong, if anything."""
    try:
        stop()
    except BaseException as exc:
        return f"stopping it raised {type(exc).__name__}: {exc}"
    return None
