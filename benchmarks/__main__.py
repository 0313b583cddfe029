"""``python -m benchmarks``: see ``benchmarks.runner``."""

from __future__ import annotations

import os
import sys

# Before anything imports Qt: no display needed, and qasync must pick PySide6.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("QT_API", "pyside6")

from benchmarks.runner import main  # the environment must be set first

if __name__ == "__main__":
    sys.exit(main())
