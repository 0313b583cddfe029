"""Every example in examples/ and every runnable Python block of README.md and docs/*.md runs
as written, under ``QT_FATAL_WARNINGS=1`` (a Qt warning aborts), exits 0 and prints nothing on
stderr: the library prints nothing, and no documented use makes Qt warn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from .doc_blocks import Block, documents, python_blocks

# Each example runs in its own interpreter (Qt and all): slow (pytest -m "not slow" skips it).
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# Examples run by a test of their own below (they take arguments or need checks of their own);
# every other example runs with the doc blocks.
# workflow_designer.py opens a window until it is closed: tests/test_editor_cli.py runs its
# --screenshot mode.
RUN_ON_THEIR_OWN = {"quickstart.py", "monitor_app.py", "durable_resume.py", "workflow_designer.py"}
# The offscreen platform plugin warns when a real window is shown (Qt's, not the library's):
# the one example that shows a window is run without QT_FATAL_WARNINGS and may print only this.
OFFSCREEN_WINDOW_WARNING = "This plugin does not support propagateSizeHints()"


def _env(fatal: bool = True) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "QT_QPA_PLATFORM": "offscreen",
        "QT_API": "pyside6",
    }
    env.pop("QT_FATAL_WARNINGS", None)
    if fatal:
        env["QT_FATAL_WARNINGS"] = "1"
    return env


@pytest.mark.timeout(60)
def test_quickstart_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout
    for step in ("load", "validate", "convert", "report"):
        assert f"started   {step}" in out
    assert "(4/4 steps" in out
    assert "Status: completed (4/4 steps)" in out
    assert "Result: 4 cities, hottest Cairo at 87.8 F" in out


@pytest.mark.timeout(90)
def test_monitor_app_screenshot(tmp_path: Path) -> None:
    from PySide6.QtGui import QColor, QImage

    target = tmp_path / "monitor.png"
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "monitor_app.py"), "--screenshot", str(target)],
        capture_output=True,
        text=True,
        timeout=90,
        env=_env(fatal=False),
    )
    assert done.returncode == 0, done.stderr
    assert set(done.stderr.splitlines()) <= {OFFSCREEN_WINDOW_WARNING}, done.stderr
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
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "durable_resume.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=90,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout
    assert "first process ended by signal 9 (SIGKILL)" in out
    assert " interrupted\n" in out
    assert ": completed, result {'rows': [10, 20, 30], 'loaded': 3}" in out
    # download and clean completed before the crash: they did not run again
    assert "steps run, in order: download clean transform transform load" in out


def _scripts_and_blocks() -> tuple[list[Block], list[Block]]:
    runnable: list[Block] = []
    fragments: list[Block] = []
    for example in sorted(EXAMPLES.glob("*.py")):
        if example.name not in RUN_ON_THEIR_OWN:
            text = example.read_text(encoding="utf-8")
            runnable.append(Block(f"examples/{example.name}", text, str(example)))
    for document in documents():
        found, pieces = python_blocks(document)
        runnable += found
        fragments += pieces
    return runnable, fragments


def _run_blocks(blocks: list[Block]) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "doc_blocks.py")],
        input=json.dumps([asdict(block) for block in blocks]),
        capture_output=True,
        text=True,
        timeout=240,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.timeout(300)
def test_every_example_and_runnable_doc_block_runs_silently_under_fatal_warnings() -> None:
    runnable, fragments = _scripts_and_blocks()
    assert len(runnable) >= 36 and len(fragments) <= 20, (len(runnable), len(fragments))
    # Two runners, one per core; each forks a child per block.
    halves = [runnable[0::2], runnable[1::2]]
    with ThreadPoolExecutor(2) as pool:
        results = [r for half in pool.map(_run_blocks, halves) for r in half]
    assert len(results) == len(runnable)
    problems = [
        f"{r['where']}: {r['status']} after {r['seconds']} s\n{r['stderr']}"
        for r in results
        if r["status"] != "exit 0" or r["stderr"]
    ]
    assert not problems, "\n".join(problems)


def test_every_example_is_run_by_a_test() -> None:
    runnable, _ = _scripts_and_blocks()
    covered = {Path(b.file).name for b in runnable if b.file} | RUN_ON_THEIR_OWN
    assert covered == {path.name for path in EXAMPLES.glob("*.py")}
