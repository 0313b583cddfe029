"""Run a snippet in a fresh interpreter with a deadline: a deadlock fails the test, never the
suite (the stuck threads of a deadlocked process could never be joined here)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

PRELUDE = """
import os, sys, threading, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
import qtforge_orch as q
from PySide6.QtCore import QCoreApplication, QThreadPool
app = QCoreApplication.instance() or QCoreApplication([])
"""


def run_snippet(
    code: str,
    timeout_s: float = 30.0,
    setup: str = "",
    *,
    quiet: bool = False,
    silent: bool = False,
    env_extra: dict[str, str] | None = None,
) -> tuple[str, float]:
    """Run PRELUDE + ``setup`` + ``code``; returns (stdout, seconds).

    Fails on a non-zero exit or a hang; with ``quiet``, also on any traceback on stderr
    (anything raised anywhere, an exit hook included); with ``silent``, on anything at all on
    stderr (a Qt warning, a log line). ``env_extra`` adds environment variables
    (``QT_FATAL_WARNINGS``)."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "QT_API": "pyside6",
        **(env_extra or {}),
    }
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", PRELUDE + textwrap.dedent(setup) + textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
        )
    except subprocess.TimeoutExpired as expired:
        raise AssertionError(
            f"snippet did not finish within {timeout_s} s (deadlock?)\n"
            f"stdout: {expired.stdout!r}\nstderr: {expired.stderr!r}"
        ) from None
    elapsed = time.monotonic() - started
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    if quiet:
        assert "Traceback" not in done.stderr, done.stderr
    if silent:
        assert done.stderr == "", done.stderr
    return done.stdout, elapsed
