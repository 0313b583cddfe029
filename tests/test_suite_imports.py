"""How the test process imports the library: what the suite itself must not get wrong."""

from __future__ import annotations

import sys
from pathlib import Path


def test_library_modules_imported_during_the_tests_are_not_assertion_rewritten() -> None:
    """A lazy import on a worker thread must not go through ``ast.parse`` (see
    ``_leave_the_library_unrewritten`` in conftest.py); the tests' own modules still do."""
    import qtforge_orch._engine as engine

    hooks = [
        finder for finder in sys.meta_path if type(finder).__name__ == "AssertionRewritingHook"
    ]
    assert hooks, "pytest's assertion rewriting is off: nothing to check"
    for hook in hooks:
        assert hook.find_spec("qtforge_orch._engine.stream_scheduler", engine.__path__) is None
        tests = hook.find_spec("tests.test_v2_streaming", [str(Path(__file__).parent)])
        assert tests is not None and tests.loader is hook


def test_the_suite_and_its_subprocesses_may_cache_bytecode() -> None:
    """The subprocesses the tests start read the library's bytecode rather than compiling
    it each time (see tests/conftest.py)."""
    import os

    assert "PYTHONDONTWRITEBYTECODE" not in os.environ
    assert not sys.dont_write_bytecode
