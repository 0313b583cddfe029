"""``Expected`` and the ``PluginErrorCode`` numbering (DESIGN section 2)."""

from __future__ import annotations

import pickle

import pytest

from qtforge_orch import Expected, PluginError, PluginErrorCode, expected, make_error, make_success

EXPECTED_NUMBERS = {
    "Success": 0,
    "FileNotFound": 100,
    "InvalidFormat": 101,
    "LoadFailed": 102,
    "UnloadFailed": 103,
    "SymbolNotFound": 104,
    "AlreadyLoaded": 105,
    "NotLoaded": 106,
    "PluginNotFound": 107,
    "InitializationFailed": 200,
    "ConfigurationError": 201,
    "DependencyMissing": 202,
    "VersionMismatch": 203,
    "ExecutionFailed": 300,
    "CommandNotFound": 301,
    "InvalidParameters": 302,
    "StateError": 303,
    "InvalidArgument": 304,
    "NotFound": 305,
    "ResourceUnavailable": 306,
    "AlreadyExists": 307,
    "NotImplemented": 308,
    "InvalidState": 309,
    "InvalidConfiguration": 310,
    "DuplicatePlugin": 311,
    "CircularDependency": 312,
    "OperationCancelled": 313,
    "NotSupported": 314,
    "IncompatibleVersion": 315,
    "SystemError": 316,
    "DependencyNotSatisfied": 317,
    "InvalidWorkflowStructure": 318,
    "NodeNotFound": 319,
    "InvalidConnection": 320,
    "ExecutionModeNotSupported": 321,
    "SecurityViolation": 400,
    "PermissionDenied": 401,
    "SignatureInvalid": 402,
    "UntrustedSource": 403,
    "OutOfMemory": 500,
    "ResourceExhausted": 501,
    "NetworkError": 502,
    "FileSystemError": 503,
    "ThreadingError": 504,
    "TimeoutError": 505,
    "Timeout": 506,
    "Unknown": 998,
    "UnknownError": 999,
    "OperationNotSupported": 1000,
}


def test_error_codes_match_qtforge_numbering() -> None:
    assert {c.name: int(c) for c in PluginErrorCode} == EXPECTED_NUMBERS


def test_success_value() -> None:
    result = make_success(41)
    assert result and result.has_value() and result.value() == 41
    assert result.value_or(0) == 41
    with pytest.raises(ValueError):
        result.error()
    assert make_success().value() is None
    assert expected is Expected


def test_error_value_raises_the_plugin_error() -> None:
    result = make_error(PluginErrorCode.NotFound, "missing", "details", context={"k": 1})
    assert not result and not result.has_value()
    assert result.value_or("fallback") == "fallback"
    error = result.error()
    assert error.code is PluginErrorCode.NotFound
    assert (error.message, error.details, error.context) == ("missing", "details", {"k": 1})
    assert error.timestamp is not None
    with pytest.raises(PluginError) as raised:
        result.value()
    assert raised.value is error
    assert "NotFound" in str(error) and "missing" in str(error)


def test_plugin_error_pickles() -> None:
    error = PluginError(PluginErrorCode.Timeout, "slow", plugin_id="p", context={"a": 1})
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.message, copy.plugin_id, copy.context) == (
        PluginErrorCode.Timeout,
        "slow",
        "p",
        {"a": 1},
    )


def test_expected_requires_exactly_one() -> None:
    with pytest.raises(ValueError):
        Expected()
