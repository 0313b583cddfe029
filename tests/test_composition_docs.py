"""docs/composition.md's examples run as written and print what the page says they print.

The page's ``python`` blocks run in order as one script; every ``print(...)  # text`` line must
print ``text``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "composition.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
PRINTED = re.compile(r"^\s*print\(.*\)  # (.*)$")


@pytest.mark.slow  # the page's examples in a subprocess
@pytest.mark.timeout(60)
def test_the_guides_examples_print_what_it_says() -> None:
    script = "\n".join(BLOCK.findall(PAGE.read_text(encoding="utf-8")))
    expected = [m.group(1) for line in script.splitlines() if (m := PRINTED.match(line))]
    assert len(expected) >= 15  # the page's examples were found
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == expected
