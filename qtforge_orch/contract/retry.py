"""Retry policies: how often, how long to wait, and for which errors a step is tried again.

A step's ``max_retries``/``retry_delay`` (a node's ``configuration``) give the number and the
base delay; an optional ``retry_policy`` mapping adds exponential backoff, a ceiling, jitter
and which errors are worth retrying: error codes, exception classes (the exception the plugin
raised) and a predicate over the ``PluginError``. Errors that another attempt cannot fix (a
plugin or command that does not exist, bad parameters, a refused permission, a cancel) are not
retried unless the policy names them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import PluginError, PluginErrorCode, exception_type_name

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

RetryPredicate = Callable[[PluginError], bool]

POLICY_KEY = "retry_policy"
# What ``to_json`` wrote for the entries of ``retry_on`` that have no JSON form (exception
# classes, a predicate): descriptions for the reader, ignored when the policy is read back.
PYTHON_ONLY_KEY = "retry_on_python"
_POLICY_FIELDS = frozenset(
    {"max_retries", "retry_delay", "backoff", "max_delay", "jitter", "retry_on", PYTHON_ONLY_KEY}
)


@dataclass(slots=True, frozen=True)
class RetryPolicy:
    """How often a failed step is tried again, after how long, and for which errors.

    ``max_retries`` further attempts after the first; the n-th retry waits
    ``retry_delay * backoff**(n-1)`` ms, capped at ``max_delay``, spread by +-``jitter``
    (a fraction). Which errors: ``retry_on`` (codes), ``retry_on_exceptions`` (the exception
    a plugin raised is an instance of one of them) and ``retry_if`` (a predicate over the
    ``PluginError``); an error is retried when it matches any of those given. With none given,
    every code but the non-transient ones is retried.
    """

    max_retries: int = 0
    retry_delay: int = 0
    backoff: float = 1.0
    max_delay: int | None = None
    jitter: float = 0.0
    retry_on: frozenset[int] | None = None
    retry_on_exceptions: tuple[type[BaseException], ...] = ()
    retry_if: RetryPredicate | None = None

    @property
    def names_errors(self) -> bool:
        """Whether the policy says which errors to retry (else: all but the non-transient)."""
        return (
            self.retry_on is not None
            or bool(self.retry_on_exceptions)
            or (self.retry_if is not None)
        )

    def retryable(self, code: int) -> bool:
        """Whether an attempt that failed with ``code`` may be retried, by its code alone."""
        if not self.names_errors:
            return code not in NON_TRANSIENT_CODES
        return self.retry_on is not None and code in self.retry_on

    def retries(self, error: PluginError, *, ask: bool = True) -> bool:
        """Whether an attempt that failed with ``error`` may be retried.

        Asked in turn: its code, the class of the exception it wraps (or of the error itself),
        and with ``ask`` the predicate.

        The predicate is user code: the engine asks it with no lock held, on the attempt's
        thread. If it raises, the answer is no, and ``error.context["retry_predicate_error"]``
        says why.
        """
        if not self.names_errors:
            return error.code not in NON_TRANSIENT_CODES
        if self.retry_on is not None and error.code in self.retry_on:
            return True
        if self.retry_on_exceptions:
            raised = error.exception if error.exception is not None else error
            if isinstance(raised, self.retry_on_exceptions):
                return True
        if ask and self.retry_if is not None:
            try:
                return bool(self.retry_if(error))
            except Exception as exc:  # a broken predicate must not break the run
                error.context["retry_predicate_error"] = f"{type(exc).__name__}: {exc}"
        return False

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
        notes = config.get(PYTHON_ONLY_KEY, [])
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise ValueError(f"{POLICY_KEY}.{PYTHON_ONLY_KEY} must be a list of strings")
        codes, classes, predicate = _retry_on(config.get("retry_on"))
        return RetryPolicy(
            int(retries), int(delay), backoff, max_delay, jitter, codes, classes, predicate
        )


def _number(config: Mapping[str, Any], key: str, default: Any, least: float, kind: type) -> Any:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{POLICY_KEY}.{key} must be a number, got {value!r}")
    if value < least:
        raise ValueError(f"{POLICY_KEY}.{key} must be >= {least}, got {value}")
    return kind(value)


def _is_exception_class(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseException)


def _is_predicate(value: Any) -> bool:
    return callable(value) and not isinstance(value, type)


def _retry_on(
    value: Any,
) -> tuple[frozenset[int] | None, tuple[type[BaseException], ...], RetryPredicate | None]:
    """``retry_on`` as (codes, exception classes, predicate).

    It is a list of codes (names or numbers) and exception classes, or one class, or one
    predicate.
    """
    if value is None:
        return None, (), None
    if _is_exception_class(value):
        return None, (value,), None
    if _is_predicate(value):
        return None, (), value
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValueError(
            f"{POLICY_KEY}.retry_on must be a list of error codes (names or numbers) and "
            "exception classes, one exception class, or a predicate (PluginError) -> bool"
        )
    codes: set[int] = set()
    classes: list[type[BaseException]] = []
    predicate: RetryPredicate | None = None
    any_code = False
    for entry in value:
        if _is_exception_class(entry):
            classes.append(entry)
        elif _is_predicate(entry):
            if predicate is not None:
                raise ValueError(f"{POLICY_KEY}.retry_on holds more than one predicate")
            predicate = entry
        else:
            codes.add(_code(entry))
            any_code = True
    # Only classes or a predicate: no codes are named (an empty list names none, on purpose).
    named = frozenset(codes) if any_code or not (classes or predicate) else None
    return named, tuple(classes), predicate


def _code(value: Any) -> int:
    if isinstance(value, str) and value in PluginErrorCode.__members__:
        return int(PluginErrorCode[value])
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value in set(map(int, PluginErrorCode))
    ):
        return int(value)
    raise ValueError(
        f"{POLICY_KEY}.retry_on: {value!r} is not a PluginErrorCode, an exception class or a "
        "predicate"
    )


def _python_only(value: Any) -> bool:
    return _is_exception_class(value) or _is_predicate(value)


def _describe(value: Any) -> str:
    if _is_exception_class(value):
        return f"{exception_type_name(value)} (exception class)"
    module = getattr(value, "__module__", None) or "?"
    name = getattr(value, "__qualname__", None) or type(value).__qualname__
    return f"{module}.{name} (predicate)"


def json_parameters(parameters: Mapping[str, Any]) -> Mapping[str, Any]:
    """``parameters`` (a step's, a node's configuration) in the form ``to_json`` writes.

    A ``retry_policy`` whose ``retry_on`` holds exception classes or a predicate (Python
    objects, no JSON form) keeps only its codes there, and names what was left out under
    ``retry_on_python``: read back, the policy retries only the codes listed (with none,
    nothing). Anything else is returned as it is.
    """
    policy = parameters.get(POLICY_KEY)
    if not isinstance(policy, Mapping) or "retry_on" not in policy:
        return parameters
    retry_on = policy["retry_on"]
    if _python_only(retry_on):
        entries: list[Any] = [retry_on]
    elif isinstance(retry_on, Iterable) and not isinstance(retry_on, str | bytes | Mapping):
        entries = list(retry_on)
    else:
        return parameters
    dropped = [_describe(entry) for entry in entries if _python_only(entry)]
    if not dropped:
        return parameters
    notes = policy.get(PYTHON_ONLY_KEY)
    kept_notes = list(notes) if isinstance(notes, list) else []
    written = {
        **policy,
        "retry_on": [entry for entry in entries if not _python_only(entry)],
        PYTHON_ONLY_KEY: kept_notes + dropped,
    }
    return {**parameters, POLICY_KEY: written}
