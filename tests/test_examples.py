"""The README's quick-start example runs and prints each step and the result."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Each example runs in its own interpreter (Qt and all): slow (pytest -m "not slow" skips it).
pytestmark = pytest.mark.slow
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


@pytest.mark.timeout(90)
def test_monitor_app_screenshot(tmp_path: Path) -> None:
    from PySide6.QtGui import QColor, QImage

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    target = tmp_path / "monitor.png"
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "monitor_app.py"), "--screenshot", str(target)],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "finished: completed, completed" in done.stdout
    image = QImage(str(target))
    assert image.width() >= 1000 and image.height() >= 500
    colours = {
        image.pixelColor(x, y).name()
        for x in range(0, image.width(), 4)
        for y in range(0, image.height(), 4)
    }
    assert QColor("#43a047").name() in colours  # completed nodes are painted
    assert QColor("#e53935").name() in colours  # the failing optional step


@pytest.mark.timeout(90)
def test_durable_resume_walkthrough_runs_as_written(tmp_path: Path) -> None:
    """docs/durable-executions.md's walk-through: a process killed mid-workflow, resumed."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "durable_resume.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "first process ended by signal 9 (SIGKILL)" in out
    assert " interrupted\n" in out
    assert ": completed, result {'rows': [10, 20, 30], 'loaded': 3}" in out
    # download and clean completed before the crash: they did not run again
    assert "steps run, in order: download clean transform transform load" in out
