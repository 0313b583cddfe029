"""Retry policies: how often, how long to wait, and for which errors a step is tried again.

A step's ``max_retries``/``retry_delay`` (a node's ``configuration``) give the number and the
base delay; an optional ``retry_policy`` mapping adds exponential backoff, a ceiling, jitter
and the error codes worth retrying. Errors that another attempt cannot fix (a plugin or
command that does not exist, bad parameters, a refused permission, a cancel) are not retried
unless the policy names them.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import PluginErrorCode

# Another attempt gives the same answer for these: retrying only delays the failure.
NON_TRANSIENT_CODES = frozenset(
    {
        PluginErrorCode.PluginNotFound,
        PluginErrorCode.CommandNotFound,
        PluginErrorCode.InvalidParameters,
        PluginErrorCode.InvalidArgument,
        PluginErrorCode.InvalidConfiguration,
        PluginErrorCode.NotImplemented,
        PluginErrorCode.NotSupported,
        PluginErrorCode.OperationCancelled,
        PluginErrorCode.SecurityViolation,
        PluginErrorCode.PermissionDenied,
        PluginErrorCode.SignatureInvalid,
        PluginErrorCode.UntrustedSource,
    }
)

POLICY_KEY = "retry_policy"
_POLICY_FIELDS = frozenset(
    {"max_retries", "retry_delay", "backoff", "max_delay", "jitter", "retry_on"}
)


@dataclass(slots=True, frozen=True)
class RetryPolicy:
    """How often a failed step is tried again, after how long, and for which errors.

    ``max_retries`` further attempts after the first; the n-th retry waits
    ``retry_delay * backoff**(n-1)`` ms, capped at ``max_delay``, spread by +-``jitter``
    (a fraction). ``retry_on``: the codes to retry (None: every code but the non-transient
    ones).
    """

    max_retries: int = 0
    retry_delay: int = 0
    backoff: float = 1.0
    max_delay: int | None = None
    jitter: float = 0.0
    retry_on: frozenset[int] | None = None

    def retryable(self, code: int) -> bool:
        """Whether an attempt that failed with ``code`` may be retried."""
        if self.retry_on is not None:
            return code in self.retry_on
        return code not in NON_TRANSIENT_CODES

    def delay_s(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        delay = self.retry_delay * self.backoff ** max(0, retry - 1)
        if self.max_delay is not None:
            delay = min(delay, self.max_delay)
        if self.jitter:
            delay *= 1.0 + random.uniform(-self.jitter, self.jitter)
        return max(0.0, delay) / 1000.0

    @staticmethod
    def build(max_retries: int, retry_delay: int, config: Any = None) -> RetryPolicy:
        """A policy from a step's own fields and its optional ``retry_policy`` mapping.

        Raises:
            ValueError: With a message naming the bad field.
        """
        if config is None:
            return RetryPolicy(max(0, int(max_retries)), max(0, int(retry_delay)))
        if not isinstance(config, Mapping):
            raise ValueError(f"{POLICY_KEY} must be a mapping, got {type(config).__name__}")
        unknown = sorted(set(map(str, config)) - _POLICY_FIELDS)
        if unknown:
            raise ValueError(
                f"{POLICY_KEY} has unknown keys {unknown}; known: {sorted(_POLICY_FIELDS)}"
            )
        retries = _number(config, "max_retries", max_retries, 0, int)
        delay = _number(config, "retry_delay", retry_delay, 0, int)
        backoff = _number(config, "backoff", 1.0, 1.0, float)
        jitter = _number(config, "jitter", 0.0, 0.0, float)
        if jitter > 1.0:
            raise ValueError(f"{POLICY_KEY}.jitter must be a fraction in [0, 1], got {jitter}")
        ceiling = config.get("max_delay")
        max_delay = None if ceiling is None else _number(config, "max_delay", 0, 0, int)
        retry_on = config.get("retry_on")
        codes = None if retry_on is None else _codes(retry_on)
        return RetryPolicy(int(retries), int(delay), backoff, max_delay, jitter, codes)


def _number(config: Mapping[str, Any], key: str, default: Any, least: float, kind: type) -> Any:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{POLICY_KEY}.{key} must be a number, got {value!r}")
    if value < least:
        raise ValueError(f"{POLICY_KEY}.{key} must be >= {least}, got {value}")
    return kind(value)


def _codes(values: Any) -> frozenset[int]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValueError(f"{POLICY_KEY}.retry_on must be a list of error codes or names")
    codes: set[int] = set()
    for value in values:
        if isinstance(value, str) and value in PluginErrorCode.__members__:
            codes.add(int(PluginErrorCode[value]))
        elif (
            isinstance(value, int)
            and not isinstance(value, bool)
            and value in set(map(int, PluginErrorCode))
        ):
            codes.add(int(value))
        else:
            raise ValueError(f"{POLICY_KEY}.retry_on: {value!r} is not a PluginErrorCode")
    return frozenset(codes)
