"""The pytest plugin of ``qtforge_orch.testing``.

Fixtures: ``plugin_manager``, ``orchestrator``, ``advanced_orchestrator``, ``fake_clock`` and
``signal_recorder``.

Registered through the ``pytest11`` entry point, so it is active wherever ``qtforge_orch`` is
installed (disable it with ``-p no:qtforge_orch``). pytest imports this module in every
session, so it imports nothing heavy at module level: Qt and the orchestrators load inside
the fixtures. The orchestrator fixtures request pytest-qt's ``qapp`` fixture (a
``QApplication`` for the session), so they need ``pytest-qt`` installed; ``plugin_manager``
and ``fake_clock`` do not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .. import AdvancedPluginOrchestrator, PluginManager, PluginOrchestrator
    from ._clock import FakeClock
    from ._recorder import SignalRecorder

SHUTDOWN_TIMEOUT_MS = 5000
"""How long an orchestrator fixture's teardown gives ``shutdown`` before the test fails."""


@pytest.fixture
def plugin_manager() -> PluginManager:
    """A fresh, empty ``PluginManager`` for the test (not the process-wide default)."""
    from .. import PluginManager

    return PluginManager()


@pytest.fixture
def fake_clock() -> FakeClock:
    """A ``FakeClock``; the test's ``orchestrator`` and ``advanced_orchestrator`` use it.

    Retry delays, timeouts and backoff then only elapse when the test calls
    ``fake_clock.advance(...)`` (or ``advance_ms``, ``advance_to_next``).
    """
    from ._clock import FakeClock

    return FakeClock()


def _clock_of(request: pytest.FixtureRequest) -> FakeClock | None:
    # The fake clock is opt-in per test: requesting ``fake_clock`` next to an orchestrator
    # fixture is what switches that orchestrator to it.
    if "fake_clock" in request.fixturenames:
        clock: FakeClock = request.getfixturevalue("fake_clock")
        return clock
    return None


@pytest.fixture
def orchestrator(
    qapp: object, plugin_manager: PluginManager, request: pytest.FixtureRequest
) -> Iterator[PluginOrchestrator]:
    """A ``PluginOrchestrator`` over ``plugin_manager`` (and ``fake_clock`` when requested).

    Teardown asserts that ``shutdown(5000)`` cancelled everything and joined its threads.
    Needs pytest-qt (``qapp``).
    """
    from .. import PluginOrchestrator

    orch = PluginOrchestrator(plugin_manager=plugin_manager, timers=_clock_of(request))
    yield orch
    assert orch.shutdown(SHUTDOWN_TIMEOUT_MS), "worker threads did not finish"


@pytest.fixture
def advanced_orchestrator(
    qapp: object, plugin_manager: PluginManager, request: pytest.FixtureRequest
) -> Iterator[AdvancedPluginOrchestrator]:
    """An ``AdvancedPluginOrchestrator`` over ``plugin_manager``.

    Uses ``fake_clock`` when the test requests it. Teardown asserts ``shutdown(5000)``. Needs
    pytest-qt (``qapp``).
    """
    from .. import AdvancedPluginOrchestrator

    orch = AdvancedPluginOrchestrator(plugin_manager=plugin_manager, timers=_clock_of(request))
    yield orch
    assert orch.shutdown(SHUTDOWN_TIMEOUT_MS), "worker threads did not finish"


@pytest.fixture
def signal_recorder(request: pytest.FixtureRequest) -> Iterator[SignalRecorder]:
    """A ``SignalRecorder`` on the test's orchestrator.

    Records ``advanced_orchestrator`` if the test requests it, else ``orchestrator``;
    disconnected at teardown.
    """
    from ._recorder import SignalRecorder

    name = (
        "advanced_orchestrator"
        if "advanced_orchestrator" in request.fixturenames
        else "orchestrator"
    )
    with SignalRecorder(request.getfixturevalue(name)) as recorder:
        yield recorder
