"""The pytest plugin of ``qtforge_orch.testing``.

Fixtures, all prefixed ``qtforge_`` so they cannot collide with a project's own (pytest-qt
prefixes its fixtures ``qt`` for the same reason): ``qtforge_plugin_manager``,
``qtforge_orchestrator``, ``qtforge_advanced_orchestrator``, ``qtforge_fake_clock`` and
``qtforge_signal_recorder``.

Registered through the ``pytest11`` entry point, so it is active wherever ``qtforge_orch`` is
installed (disable it with ``-p no:qtforge_orch``). pytest imports this module in every
session, so it imports nothing heavy at module level: Qt and the orchestrators load inside
the fixtures. The orchestrator fixtures need pytest-qt's ``qapp`` fixture (a
``QApplication`` for the session); without pytest-qt they fail with a message saying what to
install. ``qtforge_plugin_manager`` and ``qtforge_fake_clock`` do not need it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .. import AdvancedPluginOrchestrator, PluginManager, PluginOrchestrator
    from .fake_clock import FakeClock
    from .recorder import SignalRecorder

SHUTDOWN_TIMEOUT_MS = 5000
"""How long an orchestrator fixture's teardown gives ``shutdown`` before the test fails."""

FAKE_CLOCK = "qtforge_fake_clock"
ORCHESTRATOR = "qtforge_orchestrator"
ADVANCED_ORCHESTRATOR = "qtforge_advanced_orchestrator"

PYTEST_QT_MISSING = (
    "{fixture} needs pytest-qt (its qapp fixture makes the QApplication): "
    'pip install pytest-qt, or pip install "qtforge_orch[testing]"'
)


@pytest.fixture
def qtforge_plugin_manager() -> PluginManager:
    """A fresh, empty ``PluginManager`` for the test (not the process-wide default)."""
    from .. import PluginManager

    return PluginManager()


@pytest.fixture
def qtforge_fake_clock() -> FakeClock:
    """A ``FakeClock``; the test's orchestrator fixtures use it.

    Retry delays, timeouts and backoff then only elapse when the test calls
    ``advance(...)`` (or ``advance_ms``, ``advance_to_next``, ``advance_to_timer``).
    """
    from .fake_clock import FakeClock

    return FakeClock()


def _clock_of(request: pytest.FixtureRequest) -> FakeClock | None:
    # The fake clock is opt-in per test: requesting ``qtforge_fake_clock`` (directly or
    # through a fixture that depends on it) next to an orchestrator fixture is what switches
    # that orchestrator to it.
    if FAKE_CLOCK in request.fixturenames:
        clock: FakeClock = request.getfixturevalue(FAKE_CLOCK)
        return clock
    return None


def _qapp(request: pytest.FixtureRequest, fixture: str) -> Any:
    """pytest-qt's ``qapp``, or a failure that says what to install."""
    try:
        return request.getfixturevalue("qapp")
    except pytest.FixtureLookupError:
        pass  # failed outside the handler, so the report is the hint alone
    pytest.fail(PYTEST_QT_MISSING.format(fixture=fixture), pytrace=False)


@pytest.fixture
def qtforge_orchestrator(
    qtforge_plugin_manager: PluginManager, request: pytest.FixtureRequest
) -> Iterator[PluginOrchestrator]:
    """A ``PluginOrchestrator`` over ``qtforge_plugin_manager``.

    It uses ``qtforge_fake_clock`` when the test requests it. Teardown asserts that
    ``shutdown(5000)`` cancelled everything and joined its threads. Needs pytest-qt.
    """
    _qapp(request, ORCHESTRATOR)
    from .. import PluginOrchestrator

    orch = PluginOrchestrator(plugin_manager=qtforge_plugin_manager, timers=_clock_of(request))
    yield orch
    assert orch.shutdown(SHUTDOWN_TIMEOUT_MS), "worker threads did not finish"


@pytest.fixture
def qtforge_advanced_orchestrator(
    qtforge_plugin_manager: PluginManager, request: pytest.FixtureRequest
) -> Iterator[AdvancedPluginOrchestrator]:
    """An ``AdvancedPluginOrchestrator`` over ``qtforge_plugin_manager``.

    It uses ``qtforge_fake_clock`` when the test requests it. Teardown asserts
    ``shutdown(5000)``. Needs pytest-qt.
    """
    _qapp(request, ADVANCED_ORCHESTRATOR)
    from .. import AdvancedPluginOrchestrator

    orch = AdvancedPluginOrchestrator(
        plugin_manager=qtforge_plugin_manager, timers=_clock_of(request)
    )
    yield orch
    assert orch.shutdown(SHUTDOWN_TIMEOUT_MS), "worker threads did not finish"


@pytest.fixture
def qtforge_signal_recorder(request: pytest.FixtureRequest) -> Iterator[SignalRecorder]:
    """A ``SignalRecorder`` on the test's orchestrators; disconnected at teardown.

    It records every orchestrator fixture the test uses (directly or through other
    fixtures): ``qtforge_orchestrator``, ``qtforge_advanced_orchestrator``, or both. A test
    that uses neither gets a ``qtforge_orchestrator``.
    """
    from .recorder import SignalRecorder

    names = [n for n in (ORCHESTRATOR, ADVANCED_ORCHESTRATOR) if n in request.fixturenames]
    orchestrators = [request.getfixturevalue(name) for name in names or [ORCHESTRATOR]]
    with SignalRecorder(*orchestrators) as recorder:
        yield recorder
