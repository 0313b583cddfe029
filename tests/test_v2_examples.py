"""The v2 example scripts run headless, finish by themselves and print what happened."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]  # each example in a subprocess

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str) -> str:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=EXAMPLES.parent,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_reference_python_snippet() -> None:
    out = run_example("reference_python_snippet.py")
    assert "Registered workflows: ['python_pipeline']" in out
    assert re.search(r"Execution started: \S+", out)
    assert "Status: Completed" in out
    assert "Source node: completed, items produced: 5" in out


def test_v2_quickstart() -> None:
    out = run_example("v2_quickstart.py")
    assert "Registered workflow 'advanced_pipeline'" in out
    for node_id in ("input", "process", "output"):
        assert f"node started:   {node_id}" in out
        assert f"{node_id}: items_in=5 items_out=5" in out
    assert "Status: Completed, progress 100%" in out
    assert "Stored: Cairo 31 C = 87.8 F" in out
    assert "Stored 5 rows" in out


def test_v2_streaming_pipeline() -> None:
    out = run_example("v2_streaming_pipeline.py")
    assert re.search(r"Started streaming pipeline: \S+", out)
    for node_id in ("data_source", "filter", "transform", "output"):
        assert re.search(rf"Node completed: {node_id} in execution: \S+", out)
    assert "Status: Completed" in out
    source = re.search(r"data_source\s+in=(\d+)\s+out=(\d+)", out)
    filtered = re.search(r"filter\s+in=(\d+)\s+out=(\d+)\s+dropped=(\d+)", out)
    written = re.search(r"Rows in database: (\d+)", out)
    assert source and filtered and written
    assert source.groups() == ("2000", "2000")
    kept, dropped = int(filtered.group(2)), int(filtered.group(3))
    assert dropped >= 200  # at least the malformed tenth of the messages
    assert kept + dropped == 2000
    assert int(written.group(1)) == kept
    assert re.search(rf"output\s+in={kept}\s+out={kept}\s", out)


def test_v2_event_driven() -> None:
    out = run_example("v2_event_driven.py")
    assert "Wrote orders.csv" in out and "Wrote broken.csv" in out
    assert "Event: new file orders.csv" in out
    assert "Event: new file broken.csv" in out
    assert "readme.txt" not in out.split("Wrote readme.txt", 1)[1]  # no event for it
    assert "Node completed: process_valid_file {'file_name': 'orders.csv', 'rows': 3" in out
    assert (
        "Node completed: handle_invalid_file {'file_name': 'broken.csv', 'quarantined': True}"
        in out
    )
    assert "Status while running: Running; events received 2, completed 2, failed 0" in out
    assert "process_valid_file: ran 1 time(s)" in out
    assert "handle_invalid_file: ran 1 time(s)" in out
    assert "Execution cancelled:" in out
    assert "Final status: Cancelled" in out
