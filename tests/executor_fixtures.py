"""The Dask cluster the executor tests share: a module-scoped LocalCluster on the loopback,
imported by each executor test module (started only when a test asks for it)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module", name="dask_cluster")
def dask_cluster_fixture() -> Iterator[object]:
    """Two worker processes (a test can kill one by pid); a lost worker fails its task at once
    (allowed-failures 0), as the executor's own local cluster does. Closed at teardown."""
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
