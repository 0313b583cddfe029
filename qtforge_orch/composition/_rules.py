"""The decisions of the Facade, Proxy and Adapter strategies.

``CompositePlugin`` and the helper steps of a workflow built from a composition share them, so
both decide alike.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._conditions import compile_condition
from ..errors import PluginError, PluginErrorCode
from ._settings import RateLimit, Route

Clock = Callable[[], float]
"""Seconds from a monotonic clock (``time.monotonic`` unless a test injects one)."""


def facade_route(
    composite_id: str,
    command: str,
    params: Mapping[str, Any],
    offering: Sequence[str],
    primary: str,
    routes: Sequence[Route],
) -> str | PluginError:
    """The component a Facade hands ``command`` to.

    Routing rules first: the rules whose component offers the command, whose ``command`` (if
    set) is the command and whose ``when`` (if set) holds for the parameters (plus
    ``command``) name the candidates; one candidate is the answer, several are an ambiguity.
    No rule matching: the components that offer the command are the candidates; the primary
    wins among them, else there must be exactly one.
    """
    matched: list[str] = []
    variables = {**params, "command": command}
    for route in routes:
        if route.plugin not in offering or route.command not in (None, command):
            continue
        if route.when is not None:
            try:
                holds = compile_condition(route.when).evaluate(variables)
            except Exception as exc:
                return PluginError(
                    PluginErrorCode.InvalidParameters,
                    f"composite '{composite_id}': the routing rule for '{route.plugin}' could "
                    f"not be evaluated for command '{command}': {exc}",
                    context={"plugin": route.plugin, "when": route.when},
                )
            if not holds:
                continue
        if route.plugin not in matched:
            matched.append(route.plugin)
    if len(matched) == 1:
        return matched[0]
    if matched:
        return _ambiguous(composite_id, command, matched, "routing rules match")
    if primary in offering:
        return primary
    if len(offering) == 1:
        return offering[0]
    if not offering:
        return PluginError(
            PluginErrorCode.CommandNotFound,
            f"composite '{composite_id}': no component offers command '{command}'",
        )
    return _ambiguous(composite_id, command, list(offering), "components offer it")


def _ambiguous(composite_id: str, command: str, candidates: list[str], why: str) -> PluginError:
    return PluginError(
        PluginErrorCode.InvalidConfiguration,
        f"composite '{composite_id}': command '{command}' is ambiguous: several {why} "
        f"({', '.join(candidates)}); add a routing rule or set a primary plugin",
        context={"candidates": candidates},
    )


def proxy_refusal(
    composite_id: str, command: str, allowed: Sequence[str] | None
) -> PluginError | None:
    """``PermissionDenied`` when a Proxy's ``allowed_commands`` leave ``command`` out."""
    if allowed is None or command in allowed:
        return None
    return PluginError(
        PluginErrorCode.PermissionDenied,
        f"composite '{composite_id}' (Proxy) does not allow command '{command}' "
        f"(allowed: {', '.join(allowed) or 'none'})",
        context={"allowed_commands": list(allowed)},
    )


class RateGate:
    """A sliding-window rate limit: at most ``max_calls`` admitted calls per ``per_ms``.

    A call over the limit is refused at once (``ResourceExhausted`` with ``retry_after_ms``):
    a proxy never makes a caller wait, so it cannot hang a step.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._admitted: deque[float] = deque()

    def admit(self, composite_id: str, limit: RateLimit | None) -> PluginError | None:
        """Record one call, or the error refusing it."""
        if limit is None:
            return None
        window = limit.per_ms / 1000.0
        with self._lock:
            now = self._clock()
            admitted = self._admitted
            while admitted and now - admitted[0] >= window:
                admitted.popleft()
            if len(admitted) >= limit.max_calls:
                retry_ms = max(1, int((admitted[0] + window - now) * 1000 + 0.999))
                return PluginError(
                    PluginErrorCode.ResourceExhausted,
                    f"composite '{composite_id}' (Proxy): rate limit of {limit.max_calls} "
                    f"call(s) per {limit.per_ms} ms reached; retry in {retry_ms} ms",
                    context={"retry_after_ms": retry_ms},
                )
            admitted.append(now)
        return None

    def __getstate__(self) -> dict[str, Any]:
        # A shipped copy starts its own window (rate limits are per process).
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]


def rename_keys(mapping: Mapping[str, str], data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with each key ``k`` of ``mapping`` renamed to ``mapping[k]``; the rest kept."""
    if not mapping:
        return dict(data)
    return {mapping.get(key, key): value for key, value in data.items()}


def adapter_command(
    composite_id: str, command: str, command_map: Mapping[str, str]
) -> str | PluginError:
    """The adapted component's command for an exposed ``command``.

    A renamed-away name is ``CommandNotFound``: it is only reachable under its new name.
    """
    inner = command_map.get(command)
    if inner is not None:
        return inner
    renamed = [exposed for exposed, target in command_map.items() if target == command]
    if renamed:
        return PluginError(
            PluginErrorCode.CommandNotFound,
            f"composite '{composite_id}' (Adapter) has no command '{command}': it is "
            f"exposed as '{renamed[0]}'",
        )
    return command
