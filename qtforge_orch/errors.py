"""The single error hierarchy: ``PluginError`` carrying a ``PluginErrorCode``.

A step's error keeps what a user needs to find the fault: the exception type and message and
the formatted traceback (``error_from_exception``), also in the plain dict form that status
reports and the journal carry (``error_info``, read back by ``error_from_info``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any


class PluginErrorCode(IntEnum):
    """QtForge's error numbering, plus 317-321 which the orchestration references use."""

    Success = 0
    # Loading (100-107)
    FileNotFound = 100
    InvalidFormat = 101
    LoadFailed = 102
    UnloadFailed = 103
    SymbolNotFound = 104
    AlreadyLoaded = 105
    NotLoaded = 106
    PluginNotFound = 107
    # Initialisation (200-203)
    InitializationFailed = 200
    ConfigurationError = 201
    DependencyMissing = 202
    VersionMismatch = 203
    # Execution (300-321)
    ExecutionFailed = 300
    CommandNotFound = 301
    InvalidParameters = 302
    StateError = 303
    InvalidArgument = 304
    NotFound = 305
    ResourceUnavailable = 306
    AlreadyExists = 307
    NotImplemented = 308
    InvalidState = 309
    InvalidConfiguration = 310
    DuplicatePlugin = 311
    CircularDependency = 312
    OperationCancelled = 313
    NotSupported = 314
    IncompatibleVersion = 315
    SystemError = 316
    DependencyNotSatisfied = 317
    InvalidWorkflowStructure = 318
    NodeNotFound = 319
    InvalidConnection = 320
    ExecutionModeNotSupported = 321
    # Security (400-403)
    SecurityViolation = 400
    PermissionDenied = 401
    SignatureInvalid = 402
    UntrustedSource = 403
    # Resources (500-506)
    OutOfMemory = 500
    ResourceExhausted = 501
    NetworkError = 502
    FileSystemError = 503
    ThreadingError = 504
    TimeoutError = 505
    Timeout = 506
    # Generic
    Unknown = 998
    UnknownError = 999
    OperationNotSupported = 1000


class PluginError(Exception):
    """An error with a QtForge code; raised by ``Expected.value()`` and held by error results.

    ``exception`` is the exception a plugin raised, when this error wraps one (its traceback
    is kept as text, in ``details`` and ``context["traceback"]``, not as frames: frames would
    keep every local of the failed call alive). It stays in this process: pickling a
    ``PluginError`` drops it.
    """

    code: PluginErrorCode
    message: str
    details: str
    plugin_id: str
    context: dict[str, Any]
    timestamp: datetime
    exception: BaseException | None

    def __init__(
        self,
        code: PluginErrorCode,
        message: str = "",
        details: str = "",
        plugin_id: str = "",
        context: dict[str, Any] | None = None,
        *,
        exception: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.code = PluginErrorCode(code)
        self.message = message
        self.details = details
        self.plugin_id = plugin_id
        self.context = dict(context) if context else {}
        self.timestamp = datetime.now(UTC)
        self.exception = exception

    def __str__(self) -> str:
        text = f"{self.code.name} ({int(self.code)}): {self.message}"
        if self.details:
            text += f" [{self.details}]"
        return text

    def __repr__(self) -> str:
        return f"PluginError({self.code.name}, {self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (PluginError, (self.code, self.message, self.details, self.plugin_id, self.context))


# The ``context`` keys of an error that wraps an exception.
EXCEPTION_TYPE = "exception_type"
EXCEPTION_MESSAGE = "exception_message"
TRACEBACK = "traceback"
_EXCEPTION_KEYS = (EXCEPTION_TYPE, EXCEPTION_MESSAGE, TRACEBACK)


def exception_type_name(kind: type[BaseException]) -> str:
    """``ZeroDivisionError``, ``mypackage.errors.Refused``: as a traceback names the type."""
    module = kind.__module__
    if module in ("builtins", "__main__"):
        return kind.__qualname__
    return f"{module}.{kind.__qualname__}"


def format_traceback(exc: BaseException, skip_frames: int = 0) -> str:
    """``exc``'s traceback as text, chained exceptions included.

    The first ``skip_frames`` frames are left out: the caller's own, where it caught ``exc``.
    """
    import traceback  # only on a failure: it loads linecache and tokenize

    tb = exc.__traceback__
    for _ in range(skip_frames):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def forget_frames(exc: BaseException) -> None:
    """Let go of the frames ``exc`` and the exceptions chained to it hold.

    Frames keep their locals and the caller's whole stack alive; call this once the traceback
    is formatted.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        item = pending.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        item.__traceback__ = None
        pending += (item.__cause__, item.__context__)
        pending += getattr(item, "exceptions", ())  # an ExceptionGroup's members


def error_from_exception(
    exc: BaseException,
    code: PluginErrorCode,
    message: str,
    *,
    plugin_id: str = "",
    skip_frames: int = 0,
) -> PluginError:
    """A ``PluginError`` for an exception a plugin raised.

    ``details`` and ``context["traceback"]`` hold the formatted traceback,
    ``context["exception_type"]`` and ``context["exception_message"]`` the type and message,
    ``exception`` (and ``__cause__``, so raising the error shows it) the exception itself,
    its frames let go.
    """
    text = format_traceback(exc, skip_frames)
    forget_frames(exc)
    error = PluginError(
        code,
        message,
        details=text,
        plugin_id=plugin_id,
        context={
            EXCEPTION_TYPE: exception_type_name(type(exc)),
            EXCEPTION_MESSAGE: str(exc),
            TRACEBACK: text,
        },
        exception=exc,
    )
    error.__cause__ = exc
    return error


def derived_error(error: PluginError, message: str | None = None, **context: Any) -> PluginError:
    """A copy of ``error`` with another message or more ``context``.

    It keeps what makes the error debuggable: its details, traceback, exception and cause.
    """
    copy = PluginError(
        error.code,
        error.message if message is None else message,
        error.details,
        error.plugin_id,
        {**error.context, **context},
        exception=error.exception,
    )
    copy.__cause__ = error.exception
    return copy


def add_traceback(error: PluginError, skip_frames: int = 0) -> PluginError:
    """A ``PluginError`` a plugin raised itself, with where it was raised.

    Its traceback goes in ``context["traceback"]`` (unless it already has one); its frames
    are let go.
    """
    if error.__traceback__ is not None:
        if TRACEBACK not in error.context:
            error.context[TRACEBACK] = format_traceback(error, skip_frames)
        forget_frames(error)
    return error


def error_info(error: PluginError) -> dict[str, Any]:
    """The error as plain data, for status reports and the journal.

    ``code``, ``code_name``, ``message``, and when present ``plugin_id``, ``details`` (unless
    it is the traceback), ``exception_type``, ``exception_message`` and ``traceback``.
    """
    info: dict[str, Any] = {
        "code": int(error.code),
        "code_name": error.code.name,
        "message": error.message,
    }
    if error.plugin_id:
        info["plugin_id"] = error.plugin_id
    context = error.context
    if error.details and error.details != context.get(TRACEBACK):
        info["details"] = error.details
    for key in _EXCEPTION_KEYS:
        if key in context:
            info[key] = str(context[key])
    return info


def error_from_info(info: Mapping[str, Any]) -> PluginError:
    """The ``PluginError`` an ``error_info`` dict describes (read back from the journal).

    The exception object itself is not part of it.
    """
    try:
        code = PluginErrorCode(int(info.get("code", PluginErrorCode.ExecutionFailed)))
    except (TypeError, ValueError):
        code = PluginErrorCode.ExecutionFailed
    context = {key: str(info[key]) for key in _EXCEPTION_KEYS if key in info}
    return PluginError(
        code,
        str(info.get("message", "")),
        str(info.get("details", "") or context.get(TRACEBACK, "")),
        str(info.get("plugin_id", "")),
        context,
    )
