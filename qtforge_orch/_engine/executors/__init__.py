"""Pluggable executors: where a step's plugin call runs (``thread``, ``process``, ``dask``).

See ``protocol.Executor`` for the seam and docs/scaling-out.md for choosing one.
"""

from .protocol import Executor
from .registry import (
    DASK,
    EXECUTOR_KEY,
    EXECUTOR_NAMES,
    PROCESS,
    THREAD,
    ExecutorOptions,
    ExecutorSet,
    UnknownExecutor,
    check_executor,
)

__all__ = [
    "DASK",
    "EXECUTOR_KEY",
    "EXECUTOR_NAMES",
    "PROCESS",
    "THREAD",
    "Executor",
    "ExecutorOptions",
    "ExecutorSet",
    "UnknownExecutor",
    "check_executor",
]
