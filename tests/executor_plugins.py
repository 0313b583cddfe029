"""Plugins for the executor tests: module-level functions, so they ship to worker processes.

Child processes import this module by name (``tests.executor_plugins``): spawned workers get the
parent's ``sys.path``, which holds the repository root under pytest.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from qtforge_orch import FunctionPlugin, IPlugin, PluginManager


def add_one(params: dict[str, Any]) -> dict[str, Any]:
    """Adds one to ``x`` and says which process did it."""
    return {"x": int(params.get("x", 0)) + 1, "pid": os.getpid()}


def double(params: dict[str, Any]) -> dict[str, Any]:
    return {"value": params["value"] * 2}


def total(params: dict[str, Any]) -> dict[str, Any]:
    return {"sum": sum(params["items"])}


def numbers(params: dict[str, Any]) -> Any:
    return iter([{"value": i} for i in range(int(params.get("count", 5)))])


def echo(params: dict[str, Any]) -> dict[str, Any]:
    """Reports the parameter names it received and its pid."""
    return {"keys": sorted(params), "pid": os.getpid()}


def split_numbers(params: dict[str, Any]) -> dict[str, Any]:
    """A Splitter: its list fans out, one downstream call per item."""
    return {"items": [{"value": i} for i in (1, 2, 3)]}


def ints(params: dict[str, Any]) -> Any:
    """A streaming source: bare values (each is the value of its output port)."""
    return iter(range(int(params.get("count", 5))))


def noop(params: dict[str, Any]) -> dict[str, Any]:
    return {}


def spin(params: dict[str, Any]) -> dict[str, Any]:
    """CPU-bound for ``seconds`` (pure Python: holds the GIL the whole time)."""
    deadline = time.perf_counter() + float(params.get("seconds", 0.25))
    n = 0
    while time.perf_counter() < deadline:
        n += 1
    return {"spins": n}


def spin_count(params: dict[str, Any]) -> dict[str, Any]:
    """CPU-bound for a fixed amount of work (``loops`` iterations), not a fixed time."""
    n = 0
    for i in range(int(params.get("loops", 1_000_000))):
        n += i & 7
    return {"n": n}


def fail(params: dict[str, Any]) -> dict[str, Any]:
    raise ValueError("boom")


def _write_pid(path: str) -> None:
    # Written whole or not at all: a worker killed mid-write must not leave an empty file.
    scratch = Path(f"{path}.{os.getpid()}.tmp")
    scratch.write_text(str(os.getpid()))
    os.replace(scratch, path)


def hang(params: dict[str, Any]) -> dict[str, Any]:
    """Writes its pid to ``pid_file`` and sleeps ``hang_s`` (default: ten minutes), deaf to
    cancellation: only killing its process stops it."""
    _write_pid(params["pid_file"])
    time.sleep(float(params.get("hang_s", 600)))
    return {}


def busy(params: dict[str, Any]) -> dict[str, Any]:
    """Writes its pid to ``pid_file``, then burns a core for ``busy_s`` (default: ten minutes)
    in pure Python, deaf to cancellation."""
    _write_pid(params["pid_file"])
    deadline = time.monotonic() + float(params.get("busy_s", 600))
    n = 0
    while time.monotonic() < deadline:
        n += 1
    return {"n": n}


def hang_once(params: dict[str, Any]) -> dict[str, Any]:
    """The first call hangs like ``hang``; later calls (``pid_file`` exists) succeed."""
    pid_file = Path(params["pid_file"])
    if not pid_file.exists():
        return hang(params)
    return {"recovered": True, "pid": os.getpid()}


def wait_release(params: dict[str, Any]) -> dict[str, Any]:
    """Writes its pid to ``pid_file``, then returns once ``release_file`` exists."""
    _write_pid(params["pid_file"])
    release = Path(params["release_file"])
    while not release.exists():
        time.sleep(0.005)
    return {"pid": os.getpid()}


def record(params: dict[str, Any]) -> dict[str, Any]:
    """Appends its pid to ``record_file`` (one line per call): how often it ran, and where."""
    with open(params["record_file"], "a", encoding="ascii") as out:
        out.write(f"{os.getpid()}\n")
    return {"pid": os.getpid()}


def undo(params: dict[str, Any]) -> dict[str, Any]:
    Path(params["undo_file"]).write_text("undone")
    return {}


def unpicklable_output(params: dict[str, Any]) -> dict[str, Any]:
    return {"lock": threading.Lock()}


class Counter(IPlugin):
    """A class-based plugin: picklable (no locks), rebuilt in the worker from its pickle."""

    def __init__(self, plugin_id: str = "counter", start: int = 100) -> None:
        super().__init__()
        self._id = plugin_id
        self.start = start

    def id(self) -> str:
        return self._id

    def available_commands(self) -> list[str]:
        return ["count"]

    def execute_command(self, command: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"count": self.start + int(params.get("x", 0)), "pid": os.getpid()}


class Locked(Counter):
    """Holds a lock: cannot be pickled, so it cannot ship."""

    def __init__(self, plugin_id: str = "locked") -> None:
        super().__init__(plugin_id)
        self.lock = threading.Lock()


def register_all(plugins: PluginManager) -> PluginManager:
    """Every plugin above, under its function's name (``counter`` and ``locked`` classes)."""
    functions = (add_one, echo, double, total, numbers, ints, noop, spin, spin_count, fail)
    extra = (split_numbers, hang, busy, hang_once, wait_release, record, undo, unpicklable_output)
    for fn in (*functions, *extra):
        plugins.register_plugin(FunctionPlugin.from_callable(fn.__name__, fn))
    plugins.register_plugin(Counter())
    plugins.register_plugin(Locked())
    plugins.register_plugin(FunctionPlugin.from_callable("lambda_plugin", lambda p: {"x": 1}))
    return plugins
