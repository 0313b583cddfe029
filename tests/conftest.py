"""Shared fixtures. Qt runs headless; the Qt binding is pinned to PySide6 before qasync loads.

The fixtures come from the project's own pytest plugin, ``qtforge_orch.testing`` (dogfooding),
under this suite's short names, aliased here as docs/testing.md shows users:
``orchestrator``, ``plugin_manager`` (also ``plugins``), ``advanced_orchestrator`` (also
``advanced``), ``fake_clock`` and ``signal_recorder`` are ``qtforge_orchestrator``,
``qtforge_plugin_manager``, ``qtforge_advanced_orchestrator``, ``qtforge_fake_clock`` and
``qtforge_signal_recorder``.

Property-based (hypothesis) tests are marked ``slow`` here, so ``pytest -m "not slow"`` is
the quick run; modules that are slow as a whole say so themselves with ``pytestmark``.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
# The suite starts many Python subprocesses (the CLI, examples, docs, process and Dask
# workers): one that compiles the library from source spends 0.4 s of CPU more than one that
# reads its bytecode, and collecting compiles every test module (12 s of CPU). Where the
# environment says not to write bytecode (PYTHONDONTWRITEBYTECODE), the suite still does, for
# itself and its children: into __pycache__ folders, which git and the sdist leave out.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

import gc
from collections.abc import Iterator

import pytest

from qtforge_orch import AdvancedPluginOrchestrator, PluginManager, PluginOrchestrator
from qtforge_orch._engine import transition_checks
from qtforge_orch.testing import FakeClock, SignalRecorder

sys.dont_write_bytecode = False  # see PYTHONDONTWRITEBYTECODE above

# Every task state change of every run in the suite is followed by a check of the run's whole
# state (its counts, ready queue and counters); off outside the tests, where it costs nothing.
transition_checks.check_every_transition()


def pytest_configure(config: pytest.Config) -> None:
    # The plugin comes through the ``pytest11`` entry point of an installed qtforge_orch. A
    # checkout used without reinstalling (an older editable install, PYTHONPATH) lacks the
    # entry point: load it by module then, so the suite does not depend on how it was set up.
    if not config.pluginmanager.has_plugin("qtforge_orch"):
        config.pluginmanager.import_plugin("qtforge_orch.testing.plugin")
    _leave_the_library_unrewritten(config)


def _leave_the_library_unrewritten(config: pytest.Config) -> None:
    """pytest rewrites the asserts of every module of a distribution that ships a pytest
    plugin, so each library module imported lazily during a test went through ``ast.parse``,
    on whichever thread imported it. CPython 3.11's AST constructor keeps its recursion counter
    in state shared by all threads: two threads parsing at once (one of them switched out by a
    finalizer inside the parse) fail with "SystemError: AST constructor recursion depth
    mismatch" (python/cpython#106905), a flaky failure of whichever test imported. The
    library's asserts need no rewriting; the tests' own are still rewritten."""
    hook = getattr(config.pluginmanager, "rewrite_hook", None)
    marked = getattr(hook, "_must_rewrite", None)
    if not isinstance(marked, set):
        return  # assertion rewriting is off (--assert=plain), or pytest changed: nothing to undo
    marked.difference_update(
        {name for name in marked if name == "qtforge_orch" or name.startswith("qtforge_orch.")}
    )
    cache = getattr(hook, "_marked_for_rewrite_cache", None)
    if isinstance(cache, dict):
        cache.clear()


def pytest_collection_finish(session: pytest.Session) -> None:
    # Long subprocesses a selected test will need start now, beside the tests before it.
    if session.config.option.collectonly:
        return
    for item in session.items:
        start = getattr(getattr(item, "module", None), "start_site_build", None)
        if start is not None and "site" in getattr(item, "fixturenames", ()):
            start(session.config)
            return


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        function = getattr(item, "function", None)
        if getattr(function, "is_hypothesis_test", False):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def plugin_manager(qtforge_plugin_manager: PluginManager) -> PluginManager:
    """The test's ``PluginManager`` (the one the orchestrator fixtures use)."""
    return qtforge_plugin_manager


@pytest.fixture
def plugins(qtforge_plugin_manager: PluginManager) -> PluginManager:
    """The same as ``plugin_manager``."""
    return qtforge_plugin_manager


@pytest.fixture
def orchestrator(qtforge_orchestrator: PluginOrchestrator) -> PluginOrchestrator:
    """The test's ``PluginOrchestrator`` (shut down with ``shutdown(5000)`` asserted)."""
    return qtforge_orchestrator


@pytest.fixture
def advanced_orchestrator(
    qtforge_advanced_orchestrator: AdvancedPluginOrchestrator,
) -> AdvancedPluginOrchestrator:
    """The test's ``AdvancedPluginOrchestrator`` (shut down with ``shutdown(5000)`` asserted)."""
    return qtforge_advanced_orchestrator


@pytest.fixture
def advanced(
    qtforge_advanced_orchestrator: AdvancedPluginOrchestrator,
) -> AdvancedPluginOrchestrator:
    """The same as ``advanced_orchestrator``."""
    return qtforge_advanced_orchestrator


@pytest.fixture
def fake_clock(qtforge_fake_clock: FakeClock) -> FakeClock:
    """The test's ``FakeClock``; requesting it puts the orchestrator fixtures on it."""
    return qtforge_fake_clock


@pytest.fixture
def signal_recorder(qtforge_signal_recorder: SignalRecorder) -> SignalRecorder:
    """A ``SignalRecorder`` on every orchestrator fixture the test uses."""
    return qtforge_signal_recorder


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
