"""The single error hierarchy: ``PluginError`` carrying a ``PluginErrorCode``."""

from __future__ import annotations

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
    """An error with a QtForge code; raised by ``Expected.value()`` and held by error results."""

    code: PluginErrorCode
    message: str
    details: str
    plugin_id: str
    context: dict[str, Any]
    timestamp: datetime

    def __init__(
        self,
        code: PluginErrorCode,
        message: str = "",
        details: str = "",
        plugin_id: str = "",
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = PluginErrorCode(code)
        self.message = message
        self.details = details
        self.plugin_id = plugin_id
        self.context = dict(context) if context else {}
        self.timestamp = datetime.now(UTC)

    def __str__(self) -> str:
        text = f"{self.code.name} ({int(self.code)}): {self.message}"
        if self.details:
            text += f" [{self.details}]"
        return text

    def __repr__(self) -> str:
        return f"PluginError({self.code.name}, {self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (PluginError, (self.code, self.message, self.details, self.plugin_id, self.context))
