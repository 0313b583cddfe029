"""Shared pieces of the benchmark scenarios: figures, timing, workflows, machine facts."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

# --------------------------------------------------------------------------------------------
# Figures: one row of the table, one entry of the JSON.


@dataclass
class Figure:
    """One measured figure and the target it is checked against.

    ``met`` is None for figures that are reported without a target. ``ratio`` is whatever the
    target compares (described by ``ratio_of``), so the table shows the checked quantity.
    """

    id: str
    label: str
    unit: str
    ours: float | None
    peer: float | None = None
    peer_name: str = ""
    floor: float | None = None
    floor_name: str = ""
    ratio: float | None = None
    ratio_of: str = ""
    target: str = ""
    met: bool | None = None
    method: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Context:
    """What every scenario gets: the run size and the process's one QApplication."""

    quick: bool
    app: Any

    def reps(self, full: int, quick: int) -> int:
        return quick if self.quick else full


# --------------------------------------------------------------------------------------------
# Timing


@dataclass
class Samples:
    seconds: list[float]
    cpu_seconds: list[float] = field(default_factory=list)  # process CPU, all threads

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_seconds) if self.cpu_seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "median_s": self.median,
            "best_s": self.best,
            "samples_s": self.seconds,
            "cpu_median_s": self.cpu_median,
        }


def interleaved(
    candidates: dict[str, Callable[[], object]], repeats: int, *, warmup: int = 1
) -> dict[str, Samples]:
    """Time each candidate ``repeats`` times, round-robin so that machine noise hits all
    of them alike. Each candidate runs ``warmup`` untimed times first. A candidate may return
    False to report a failed run (raises)."""
    for name, function in candidates.items():
        for _ in range(warmup):
            _check(name, function())
    samples: dict[str, Samples] = {name: Samples([]) for name in candidates}
    for _ in range(repeats):
        for name, function in candidates.items():
            gc.collect()
            cpu = time.process_time()
            started = time.perf_counter()
            outcome = function()
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
            _check(name, outcome)
            samples[name].seconds.append(elapsed)
            samples[name].cpu_seconds.append(cpu)
    return samples


def _check(name: str, outcome: object) -> None:
    if outcome is False:
        raise RuntimeError(f"benchmark candidate '{name}' reported a failed run")


def noop(params: Any = None, *_: Any) -> dict[str, Any]:
    """The no-op step every throughput scenario runs (ours, dask and the plain loop)."""
    return {}


def guarded(figure_id: str, title: str, part: Callable[[], list[Figure]]) -> list[Figure]:
    """Run one part of a scenario; a crash becomes a failed figure so the other parts of the
    same scenario still report."""
    import traceback

    try:
        return part()
    except Exception as exc:
        error = "".join(traceback.format_exception(exc))
        print(error, file=sys.stderr)
        return [
            Figure(
                f"{figure_id}.error",
                f"{title}: FAILED TO RUN",
                "",
                None,
                target="runs",
                met=False,
                extra={"error": error},
            )
        ]


# --------------------------------------------------------------------------------------------
# Workflows


def v1_chain(workflow_id: str, steps: int, plugin_id: str = "noop", mode: Any = None) -> Any:
    """A v1 workflow of ``steps`` steps, each depending on the previous one."""
    from qtforge_orch import ExecutionMode, Workflow, WorkflowStep

    workflow = Workflow(workflow_id, workflow_id)
    workflow.set_execution_mode(ExecutionMode.Sequential if mode is None else mode)
    previous = ""
    for index in range(steps):
        step = WorkflowStep(f"s{index}", plugin_id, "execute")
        if previous:
            step.dependencies = [previous]
        workflow.add_step(step)
        previous = step.id
    return workflow


def v1_fan_out(workflow_id: str, steps: int, plugin_id: str = "noop") -> Any:
    """A v1 Parallel workflow of ``steps`` independent steps."""
    from qtforge_orch import ExecutionMode, Workflow, WorkflowStep

    workflow = Workflow(workflow_id, workflow_id)
    workflow.set_execution_mode(ExecutionMode.Parallel)
    for index in range(steps):
        workflow.add_step(WorkflowStep(f"s{index}", plugin_id, "execute"))
    return workflow


def plugins_with(**commands: Callable[..., Any]) -> Any:
    """A private PluginManager with one single-command FunctionPlugin per keyword."""
    from qtforge_orch import FunctionPlugin, PluginManager

    manager = PluginManager()
    for plugin_id, function in commands.items():
        registered = manager.register_plugin(FunctionPlugin.from_callable(plugin_id, function))
        if not registered:
            raise RuntimeError(f"could not register plugin '{plugin_id}': {registered.error()}")
    return manager


def checked(result: Any, what: str) -> Any:
    """The value of an ``Expected``; raises with its error otherwise."""
    if not result:
        raise RuntimeError(f"{what} failed: {result.error()}")
    return result.value()


# --------------------------------------------------------------------------------------------
# Machine


def rss_kib() -> int:
    """Resident set size of this process in KiB (VmRSS from /proc/self/status)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nproc() -> int:
    try:
        out = subprocess.run(["nproc"], capture_output=True, text=True, check=True, timeout=5)
        return int(out.stdout.strip())
    except (OSError, ValueError, subprocess.SubprocessError):
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0


def _version(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    import PySide6
    from PySide6 import QtCore

    return {
        "nproc": nproc(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "pyside6": PySide6.__version__,
        "qt": QtCore.qVersion(),
        "dask": _version("dask"),
        "qasync": _version("qasync"),
        "pydantic": _version("pydantic"),
        "platform": platform.platform(),
        "load_average": load_average(),
        "qtforge_orch_revision": source_revision(),
    }


def source_revision() -> str:
    """The measured tree: git commit, with "+dirty" when the work tree has changes."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
            cwd=root,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "qtforge_orch"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
            cwd=root,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def load_average() -> list[float]:
    """1/5/15-minute load averages: other processes on the machine skew every figure."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return []
