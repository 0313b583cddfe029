"""Shared fixtures. Qt runs headless; the Qt binding is pinned to PySide6 before qasync loads.

The fixtures come from the project's own pytest plugin, ``qtforge_orch.testing`` (dogfooding):
``orchestrator``, ``plugin_manager``, ``advanced_orchestrator``, ``fake_clock`` and
``signal_recorder``. ``plugins`` and ``advanced`` are the names this suite grew up with.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import gc
from collections.abc import Iterator

import pytest

from qtforge_orch import AdvancedPluginOrchestrator, PluginManager
from qtforge_orch._engine import transition_checks

# Every task state change of every run in the suite is followed by a check of the run's whole
# state (its counts, ready queue and counters); off outside the tests, where it costs nothing.
transition_checks.check_every_transition()


def pytest_configure(config: pytest.Config) -> None:
    # The plugin comes through the ``pytest11`` entry point of an installed qtforge_orch. A
    # checkout used without reinstalling (an older editable install, PYTHONPATH) lacks the
    # entry point: load it by module then, so the suite does not depend on how it was set up.
    if not config.pluginmanager.has_plugin("qtforge_orch"):
        config.pluginmanager.import_plugin("qtforge_orch.testing.plugin")


@pytest.fixture
def plugins(plugin_manager: PluginManager) -> PluginManager:
    """The test's ``plugin_manager`` (the one ``orchestrator`` and ``advanced`` use)."""
    return plugin_manager


@pytest.fixture
def advanced(advanced_orchestrator: AdvancedPluginOrchestrator) -> AdvancedPluginOrchestrator:
    """The test's ``advanced_orchestrator`` (shut down with ``shutdown(5000)`` asserted)."""
    return advanced_orchestrator


@pytest.fixture(autouse=True)
def collect_garbage_in_the_gui_thread() -> Iterator[None]:
    """After each test, collect the reference cycles it left (widgets, handles, closures over
    orchestrators) here, in the GUI thread. Left to the cyclic collector they would be freed in
    whichever thread allocates next, often a pool worker of a later test, and a QObject
    destroyed outside its thread can crash that test's event loop. What survives is frozen
    (imports, caches), so each collection walks only what the next test makes."""
    yield
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def every_transition_keeps_its_run_consistent() -> Iterator[None]:
    """Fail the test if a run's state was inconsistent after any transition it made."""
    yield
    violations = transition_checks.transition_violations()
    assert not violations, "\n".join(violations[:10])
