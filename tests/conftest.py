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


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[object]:
    """One Dask LocalCluster on the loopback for the whole run (the executor tests), started
    only when a test asks for it. Two worker processes, so a test can kill one by pid; a lost
    worker fails its task at once (allowed-failures 0), as the executor's own cluster does."""
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    # The Dask executor freezes the heap once it connects (docs/scaling-out.md); in the test
    # process that would keep other tests' cyclic garbage alive.
    os.environ["QTFORGE_ORCH_GC_FREEZE"] = "0"
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            host="127.0.0.1",
            n_workers=2,
            threads_per_worker=2,
            processes=True,
            dashboard_address=None,
        )
    yield cluster
    cluster.close()
