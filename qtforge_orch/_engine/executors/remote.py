"""The worker side of the process and Dask executors: rebuild a plugin, call one command.

This module runs inside worker processes (a spawned ``ProcessPoolExecutor`` worker or a Dask
worker), so it imports nothing from Qt and only what ``invoke`` needs. What crosses back is a
plain tuple, never a ``PluginError`` object: exceptions with extra attributes do not always
survive pickling, and a tuple of builtins always does.
"""

from __future__ import annotations

import hashlib
import importlib.util
import multiprocessing
import os
import pickle
import signal
import sys
import threading
from typing import Any

from ...contract.context import StepContext
from ..invoke import call_found

# (status, payload...): ("ok", output) or ("error", code, message, details, context, exc):
# context holds the error's plain-text fields (the worker's traceback among them), exc the
# exception pickled (None when it does not pickle).
Reply = tuple[Any, ...]

# digest of the shipped bytes -> the plugin rebuilt from them: a worker unpickles each plugin
# once, however many steps it runs.
_plugins: dict[bytes, Any] = {}
_lock = threading.Lock()
_never_paused = threading.Event()
_never_paused.set()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def end_with_parent(parent_pid: int) -> None:
    """Worker initializer: this process ends when the one that started it ends, in any way.

    The application may be killed (SIGKILL, SIGTERM) with no chance to stop its workers, and a
    worker busy in a plugin would run on for ever. Two guards: on Linux the kernel sends the
    worker SIGKILL when its parent dies (``PR_SET_PDEATHSIG``: it acts even while the worker
    runs C code holding the GIL); everywhere, a watchdog thread waits on the parent's sentinel
    (the pipe multiprocessing keeps open to each child: it reads end-of-file once the parent is
    gone) and kills this process.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # no prctl: the watchdog below still holds
    if os.getppid() != parent_pid:  # the parent died before the guard was in place
        _die()
    parent = multiprocessing.parent_process()
    sentinel = getattr(parent, "sentinel", None)
    watch = _wait_for_sentinel if sentinel is not None else _poll_parent_pid
    threading.Thread(
        target=watch,
        args=(sentinel if sentinel is not None else parent_pid,),
        name="qtforge-parent-watch",
        daemon=True,
    ).start()


def _wait_for_sentinel(sentinel: int) -> None:
    from multiprocessing.connection import wait

    wait([sentinel])  # returns when the parent has exited (or closed its end)
    _die()


def _poll_parent_pid(parent_pid: int) -> None:
    import time

    while os.getppid() == parent_pid:
        time.sleep(0.5)  # no sentinel to wait on: poll the parent's pid
    _die()


def _die() -> None:
    if hasattr(signal, "SIGKILL"):
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(1)


def _preload(modules: tuple[tuple[str, str], ...]) -> None:
    """Plugins loaded from a file live in a generated module name; import the same file
    under the same name here so that unpickling finds their classes and functions."""
    for name, path in modules:
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load plugin file '{path}' in the worker")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


def _rebuild(blob: bytes, modules: tuple[tuple[str, str], ...]) -> Any:
    digest = hashlib.blake2b(blob, digest_size=16).digest()
    plugin = _plugins.get(digest)
    if plugin is None:
        with _lock:
            plugin = _plugins.get(digest)
            if plugin is None:
                _preload(modules)
                plugin = _plugins[digest] = pickle.loads(blob)
    return plugin


def run_remote(
    blob: bytes,
    modules: tuple[tuple[str, str], ...],
    plugin_id: str,
    command: str,
    params: dict[str, Any],
    step_id: str,
    allow_stream: bool = False,
) -> Reply:
    """Call ``command`` on the plugin shipped as ``blob``; never raises for plugin faults."""
    try:
        plugin = _rebuild(blob, modules)
    except BaseException as exc:  # a worker that cannot rebuild the plugin fails the step
        return (
            "error",
            102,
            f"plugin '{plugin_id}' could not be rebuilt in the worker: {type(exc).__name__}: {exc}",
            type(exc).__name__,
            {},
            None,
        )
    # Cancellation reaches a worker by killing it (process) or cancelling its future (Dask),
    # so this context is never cancelled; it is there for plugins that declare one.
    context = StepContext("", step_id, 1, _never_paused)
    outcome = call_found(plugin, plugin_id, command, params, context, allow_stream=allow_stream)
    if outcome.error is not None:
        error = outcome.error
        fields = {k: v for k, v in error.context.items() if isinstance(v, str)}
        return ("error", int(error.code), error.message, error.details, fields, _pickled(error))
    return ("ok", outcome.output)


def _pickled(error: Any) -> bytes | None:
    """The exception a plugin raised, pickled if it can be (and unpickled here, so the parent
    can too); its frames are already gone (``error_from_exception``)."""
    exc = error.exception
    if exc is None:
        return None
    try:
        data = pickle.dumps(exc)
        pickle.loads(data)
    except Exception:
        return None
    return data
