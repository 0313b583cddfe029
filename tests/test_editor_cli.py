"""``qtforge-orch edit`` and ``examples/workflow_designer.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QImage

from qtforge_orch.cli import main

from .editor_helpers import pipeline

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(60)


def test_edit_opens_a_file_and_draws_it(qapp: Any, tmp_path: Path) -> None:
    source = tmp_path / "pipe.json"
    source.write_text(json.dumps(pipeline().to_json()))
    shot = tmp_path / "edit.png"
    assert main(["edit", str(source), "--screenshot", str(shot)]) == 0
    image = QImage(str(shot))
    assert not image.isNull() and image.width() > 800


def test_edit_of_a_new_file_and_of_a_broken_one(qapp: Any, tmp_path: Path, capsys: Any) -> None:
    assert main(["edit", str(tmp_path / "new.json"), "--screenshot", str(tmp_path / "n.png")]) == 0
    broken = tmp_path / "broken.json"
    broken.write_text("{oops")
    assert main(["edit", str(broken), "--screenshot", str(tmp_path / "b.png")]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["edit", "--plugins", str(tmp_path / "nope.py")]) == 2


@pytest.mark.slow
def test_the_example_designer_screenshot(tmp_path: Path) -> None:
    shot = tmp_path / "designer.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "workflow_designer.py"), "--screenshot",
         str(shot)],
        env=env, capture_output=True, text=True, timeout=50, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "propagateSizeHints" not in done.stderr
    image = QImage(str(shot))
    assert image.width() >= 1000 and image.height() >= 600
