"""Benchmarks of qtforge_orch (issue #4): ``python -m benchmarks [--quick] [--only B1,B4]``.

Every scenario runs in one process next to its comparison (dask's threaded scheduler, a plain
Python loop or generator chain, a bare asyncio round trip...) so machine noise hits both alike.
Figures print as a table and are written as JSON (``benchmarks/results/latest.json`` by
default). Method and latest figures: ``docs/performance.md``.

Nothing here imports Qt at import time: the entry point sets ``QT_QPA_PLATFORM=offscreen``
first and creates the process's one QApplication.
"""
