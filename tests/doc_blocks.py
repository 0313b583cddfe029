"""The runnable Python blocks of README.md and docs/*.md, and a runner that runs them all.

A block is runnable unless the line before its fence is ``<!-- fragment -->`` (a piece of a
larger program, which names things it does not define); on a page marked
``<!-- blocks run as one script -->`` the runnable blocks build on each other and run, in
order, as one script. The runner is one interpreter that
imports the heavy modules once (PySide6, qtforge_orch, the CEL parser) and then forks a child
per block, so each block runs as a fresh script would, with its own exit hooks, for a fraction
of an interpreter's start-up. Run as a script it reads blocks as JSON on stdin and prints one
JSON result per block.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRAGMENT = "<!-- fragment -->"
# A page whose examples build on each other: its runnable blocks run in order as one script.
ONE_SCRIPT = "<!-- blocks run as one script -->"
_FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Block:
    """One fenced Python block (or a whole example script): where it is and its code."""

    where: str  # "docs/semantics-v1.md:46"
    code: str
    file: str = ""  # the script's path, for an example


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks(path: Path) -> tuple[list[Block], list[Block]]:
    """(runnable blocks, fragments) of one Markdown file."""
    text = path.read_text(encoding="utf-8")
    runnable: list[Block] = []
    fragments: list[Block] = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        block = Block(f"{path.relative_to(ROOT)}:{line}", match.group(1))
        (fragments if before == FRAGMENT else runnable).append(block)
    if ONE_SCRIPT in text and runnable:
        joined = "\n".join(block.code for block in runnable)
        runnable = [Block(f"{path.relative_to(ROOT)} (its blocks as one script)", joined)]
    return runnable, fragments


def _child(block: dict[str, str], folder: str) -> None:
    """Runs in the forked child and never returns: the block's end (or its exception) ends the
    interpreter as it would end a script, exit hooks and finalisation included."""
    os.chdir(folder)
    out = os.open("out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    err = os.open("err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(out, 1)
    os.dup2(err, 2)
    sys.argv = [block["where"]]
    code = compile(block["code"], block["where"], "exec")
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    if block.get("file"):  # a whole example script
        namespace["__file__"] = block["file"]
        sys.path.insert(0, str(Path(block["file"]).parent))
    exec(code, namespace)
    sys.exit(0)


def _run_one(block: dict[str, str], timeout_s: float) -> dict[str, object]:
    # No try/finally or with-block around the fork: the child unwinds through this frame when
    # it exits, and must not clean up what the parent still reads.
    folder = tempfile.mkdtemp(prefix="doc-block-")
    started = time.monotonic()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        _child(block, folder)
    status = _wait(pid, timeout_s)
    result: dict[str, object] = {
        "where": block["where"],
        "status": status,
        "seconds": round(time.monotonic() - started, 2),
        "stdout": _read(Path(folder, "out")),
        "stderr": _read(Path(folder, "err")),
    }
    shutil.rmtree(folder, ignore_errors=True)
    return result


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _wait(pid: int, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if os.WIFSIGNALED(status):
                return f"signal {os.WTERMSIG(status)}"
            return f"exit {os.WEXITSTATUS(status)}"
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout"
        select.select([], [], [], 0.02)  # polls a child process, no event to wait on


def main() -> None:
    blocks = json.load(sys.stdin)
    timeout_s = float(os.environ.get("BLOCK_TIMEOUT_S", "60"))
    # Imported once, before any thread or QCoreApplication exists: each child gets them for
    # free, and forking a process with no threads yet is safe.
    import PySide6.QtCore
    import PySide6.QtGui
    import PySide6.QtWidgets  # noqa: F401

    import qtforge_orch
    from qtforge_orch import _conditions

    for name in qtforge_orch.__all__:  # the lazily loaded modules (pydantic models...)
        getattr(qtforge_orch, name)
    import qtforge_orch.widgets

    _conditions._get_environment()
    for block in blocks:
        print(json.dumps(_run_one(block, timeout_s)), flush=True)


if __name__ == "__main__":
    main()
