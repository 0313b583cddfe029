"""The README's quick-start example runs and prints each step and the result."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.timeout(60)
def test_quickstart_runs() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for step in ("load", "validate", "convert", "report"):
        assert f"started   {step}" in out
    assert "(4/4 steps" in out
    assert "Status: completed (4/4 steps)" in out
    assert "Result: 4 cities, hottest Cairo at 87.8 F" in out
