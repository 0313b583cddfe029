"""Smoke test of an installed qtforge_orch (the built wheel in a fresh virtual environment).

Run by .ci/run from a temporary folder with the venv's python, so ``import qtforge_orch`` can
only find the installed package, never the checkout: ``python smoke_installed.py CHECKOUT``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from importlib import metadata, resources
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(checkout: Path) -> None:
    """Check the installed package; ``checkout`` is the source tree it must not come from."""
    import qtforge_orch

    location = Path(qtforge_orch.__file__).resolve()
    assert checkout not in location.parents, f"imported from the checkout: {location}"
    assert "site-packages" in location.parts, location
    assert qtforge_orch.__version__ == metadata.version("qtforge_orch")

    # Package data the wheel must carry.
    package = resources.files("qtforge_orch")
    assert package.joinpath("py.typed").is_file()
    assert package.joinpath("schemas").is_dir()

    # The pytest plugin is declared for every pytest session.
    (entry,) = [e for e in metadata.entry_points(group="pytest11") if e.name == "qtforge_orch"]
    assert entry.value == "qtforge_orch.testing.plugin"

    # A v1 and a v2 workflow, end to end.
    from qtforge_orch import (
        AdvancedPluginOrchestrator,
        FunctionPlugin,
        PluginManager,
        PluginOrchestrator,
        PluginWorkflow,
        Workflow,
        WorkflowExecutionMode,
        WorkflowNode,
        WorkflowStep,
    )

    plugins = PluginManager()
    plugins.register_plugin(FunctionPlugin("p", execute=lambda params: {"n": 1}))
    steps = PluginOrchestrator(plugin_manager=plugins)
    assert steps.register_workflow(Workflow("w").add_step(WorkflowStep("s", "p", "execute")))
    done = steps.execute_workflow("w")
    assert done and steps.get_execution_status(done.value()).value()["status"] == "completed"
    assert steps.shutdown(5000)
    graph = AdvancedPluginOrchestrator(plugin_manager=plugins)
    assert graph.register_workflow(
        PluginWorkflow(
            workflow_id="g",
            execution_mode=WorkflowExecutionMode.Sequential,
            nodes=[WorkflowNode(node_id="n", plugin_id="p")],
        )
    )
    started = graph.execute_workflow("g")
    assert started and graph.wait_for_execution(started.value(), 10_000)
    assert graph.shutdown(5000)

    # The console script and python -m.
    bin_dir = Path(sys.executable).parent
    version = subprocess.run(
        [str(bin_dir / "qtforge-orch"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"qtforge-orch {qtforge_orch.__version__}"
    with tempfile.TemporaryDirectory() as folder:
        schema = subprocess.run(
            [sys.executable, "-m", "qtforge_orch", "schema", "v2"],
            capture_output=True,
            text=True,
            check=True,
            cwd=folder,
        )
        assert '"workflow_id"' in schema.stdout
    print(f"smoke test passed: qtforge_orch {qtforge_orch.__version__} from {location.parent}")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
