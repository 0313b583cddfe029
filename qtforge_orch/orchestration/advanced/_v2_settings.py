"""The engine's settings in a v2 workflow's ``global_configuration``, and its lookalikes.

A lookalike is a key that looks like a setting without being one (a misspelling, or the name
another tool gives it). It is refused at validation with a did-you-mean: the engine would
otherwise ignore it and run at the default (a Streaming run meant for channels of 8 items
holding 1,024 of them). Every other key belongs to the application. The rule and its reasons
are in docs/semantics-v2.md, "Configuration keys".
"""

from __future__ import annotations

from collections.abc import Iterator
from difflib import get_close_matches
from functools import lru_cache
from typing import Any

from ..._engine import EXECUTOR_KEY
from ...errors import PluginError, PluginErrorCode

__all__ = ["ENGINE_SETTINGS", "lookalike_setting", "lookalike_setting_errors"]

# The settings the engine reads from ``global_configuration``.
ENGINE_SETTINGS = (EXECUTOR_KEY, "max_concurrency", "stream_channel_capacity", "timeout")

# Names other tools give those settings: a key close to one of these is meant for the engine.
# Only compound names: a bare "capacity" or "workers" may well be the application's own.
_OTHER_NAMES = {
    "stream_channel_capacity": (
        "channel_capacity",
        "buffer_size",
        "max_buffer_size",
        "stream_buffer_size",
        "buffer_capacity",
        "channel_size",
        "queue_size",
        "max_queue_size",
        "queue_capacity",
        "stream_capacity",
    ),
    "max_concurrency": (
        "concurrency",
        "max_workers",
        "num_workers",
        "max_threads",
        "num_threads",
        "parallelism",
        "max_parallelism",
        "concurrency_limit",
    ),
    "timeout": ("timeout_ms", "timeout_seconds", "time_limit"),
    EXECUTOR_KEY: ("executor_type", "executor_name"),
}
_MEANING = {name: name for name in ENGINE_SETTINGS} | {
    other: setting for setting, others in _OTHER_NAMES.items() for other in others
}
# difflib's ratio: one letter off a name of 7 or more letters is over it ("timout" 0.92,
# "executer" 0.88); "execution" (0.82 of "executor") and "timer" (0.5 of "timeout") are not.
_CLOSE = 0.85


@lru_cache(maxsize=1024)
def lookalike_setting(key: str) -> str | None:
    """The engine setting ``key`` looks like, or None.

    None for an engine setting itself, and for a key far from every one (the application's).
    Case, ``-`` and spaces are not told apart.
    """
    if key in ENGINE_SETTINGS:
        return None
    plain = "_".join(key.strip().lower().replace("-", " ").split())
    found = get_close_matches(plain, _MEANING, n=1, cutoff=_CLOSE)
    return _MEANING[found[0]] if found else None


def lookalike_setting_errors(config: dict[Any, Any]) -> Iterator[PluginError]:
    """One error per key of ``config`` that looks like an engine setting it is not."""
    for key in config:
        if type(key) is not str or key in ENGINE_SETTINGS:
            continue
        meant = lookalike_setting(key)
        if meant is None:
            continue
        yield PluginError(
            PluginErrorCode.InvalidWorkflowStructure,
            f"global_configuration['{key}'] is not an engine setting; did you mean "
            f"'{meant}'? (the engine reads {', '.join(map(repr, ENGINE_SETTINGS))}; a key this "
            "close to one is refused rather than ignored.) Rename it, or keep application data "
            "under a key of its own, such as 'app'",
            context={"field": f"global_configuration.{key}", "did_you_mean": meant},
        )
