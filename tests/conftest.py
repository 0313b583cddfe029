"""Shared fixtures. Qt runs headless; the Qt binding is pinned to PySide6 before qasync loads."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

from collections.abc import Iterator

import pytest

from qtforge_orch import PluginManager, PluginOrchestrator


@pytest.fixture
def plugins() -> PluginManager:
    return PluginManager()


@pytest.fixture
def orchestrator(qapp: object, plugins: PluginManager) -> Iterator[PluginOrchestrator]:
    orch = PluginOrchestrator(plugin_manager=plugins)
    yield orch
    assert orch.shutdown(5000), "worker threads did not finish"
