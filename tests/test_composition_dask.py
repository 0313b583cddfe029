"""A composite plugin on the Dask executor: shipped with cloudpickle to a LocalCluster worker on
127.0.0.1 (started and stopped by this module)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from qtforge_orch import AdvancedPluginOrchestrator, PluginManager, WorkflowExecutionStatus

from .composition_helpers import pipeline_composite
from .executor_fixtures import dask_cluster_fixture  # noqa: F401  (registers the fixture)
from .v2_helpers import Mode, node, run_to_end, workflow

# A Dask cluster: slow (pytest -m "not slow" skips it).
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Port 8787 is already in use")]
distributed = pytest.importorskip("distributed")


@pytest.fixture
def dask_orch(
    qapp: object, dask_cluster: Any, plugins: PluginManager
) -> Iterator[AdvancedPluginOrchestrator]:
    orch = AdvancedPluginOrchestrator(
        plugin_manager=plugins, default_executor="dask", dask_address=dask_cluster.scheduler_address
    )
    yield orch
    assert orch.shutdown(10_000)


def test_a_composite_runs_on_a_dask_worker(
    dask_orch: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    pipeline_composite(plugins)
    wf = workflow(
        "dask_sum",
        Mode.Parallel,
        [
            node(f"n{i}", "evens_sum", configuration={"method": "process", "count": i})
            for i in (4, 6)
        ],
    )
    assert dask_orch.register_workflow(wf)
    _, ctx = run_to_end(dask_orch, "dask_sum", timeout_ms=60_000)
    assert ctx.status is WorkflowExecutionStatus.Completed, ctx.error_messages
    result = ctx.execution_data["result"]
    assert (result["n4"]["total"], result["n6"]["total"]) == (6, 12)
    assert result["n4"]["pid"] != os.getpid()
