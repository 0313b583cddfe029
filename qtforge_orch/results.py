"""``Expected[T]``: the Python form of ``qtplugin::expected<T, PluginError>``."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, overload

from .errors import PluginError, PluginErrorCode

T = TypeVar("T")
D = TypeVar("D")

_NO_VALUE: Any = object()


class Expected(Generic[T]):
    """Either a value or a ``PluginError``; truthy iff it holds a value."""

    __slots__ = ("_error", "_value")

    def __init__(self, value: T = _NO_VALUE, error: PluginError | None = None) -> None:
        if (value is _NO_VALUE) == (error is None):
            raise ValueError("Expected holds exactly one of a value or an error")
        self._value = value
        self._error = error

    def has_value(self) -> bool:
        """True when this holds a value, False when it holds an error (same as ``bool()``)."""
        return self._error is None

    def __bool__(self) -> bool:
        return self._error is None

    def value(self) -> T:
        """The held value; raises the held ``PluginError`` when this is an error."""
        if self._error is not None:
            raise self._error
        return self._value

    def error(self) -> PluginError:
        """The held error; raises ``ValueError`` when this holds a value."""
        if self._error is None:
            raise ValueError("Expected holds a value, not an error")
        return self._error

    @overload
    def value_or(self, default: T) -> T: ...
    @overload
    def value_or(self, default: D) -> T | D: ...
    def value_or(self, default: Any) -> Any:
        """The held value, or ``default`` when this holds an error."""
        return default if self._error is not None else self._value

    def __repr__(self) -> str:
        if self._error is not None:
            return f"Expected(error={self._error!r})"
        return f"Expected({self._value!r})"


expected = Expected


def make_success(value: T = None) -> Expected[T]:  # type: ignore[assignment]
    """An ``Expected`` holding ``value`` (None for an ``Expected[None]`` success)."""
    return Expected(value)


def make_error(
    code: PluginErrorCode,
    message: str = "",
    details: str = "",
    *,
    plugin_id: str = "",
    context: dict[str, Any] | None = None,
) -> Expected[Any]:
    """An ``Expected`` holding a ``PluginError`` built from these arguments.

    Args:
        code: The ``PluginErrorCode``.
        message: What went wrong, for people.
        details: Longer detail, such as a traceback.
        plugin_id: The plugin the error concerns, if any.
        context: Machine-readable facts (``execution_id``, ``step_id``...).
    """
    return Expected(error=PluginError(code, message, details, plugin_id, context))


def from_error(error: PluginError) -> Expected[Any]:
    """An error result holding ``error`` as it is."""
    return Expected(error=error)
