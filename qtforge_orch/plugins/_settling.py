"""Files that were seen but not emitted yet, until their size and mtime stop changing.

Pure Python (no Qt) so the rule is easy to test and reason about: the folder watch feeds it
observations and asks it, on each timer tick, which files have been quiet for long enough.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass

Signature = tuple[int, int]
"""(size in bytes, mtime in ns): what has to stay unchanged for a file to count as written."""


def signature(path: str) -> Signature | None:
    """The file's signature, or None when it is gone or is not a regular file."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return (info.st_size, info.st_mtime_ns)


@dataclass
class _Pending:
    event: str
    signature: Signature
    since: float  # monotonic seconds at which the signature was last seen to change


@dataclass(frozen=True)
class Settled:
    name: str
    event: str
    signature: Signature


class SettleTracker:
    """Pending files keyed by name; a file is due once its signature held for ``settle_s``."""

    def __init__(self, settle_s: float) -> None:
        self._settle_s = settle_s
        self._pending: dict[str, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, name: object) -> bool:
        return name in self._pending

    def observe(self, name: str, event: str, sig: Signature, now: float) -> None:
        """Start (or keep) waiting for ``name``. A file first seen as created stays "created"
        even if it is modified again before it settles: the consumer has never seen it."""
        pending = self._pending.get(name)
        if pending is None:
            self._pending[name] = _Pending(event, sig, now)
        elif pending.signature != sig:
            pending.signature = sig
            pending.since = now

    def discard(self, name: str) -> None:
        self._pending.pop(name, None)

    def retain(self, names: set[str]) -> None:
        """Forget pending files that are no longer listed (deleted or renamed away)."""
        for name in [name for name in self._pending if name not in names]:
            del self._pending[name]

    def clear(self) -> None:
        self._pending.clear()

    def due(self, signature_of: Callable[[str], Signature | None], now: float) -> list[Settled]:
        """Re-check every pending file; return (and forget) those that have settled, by name.

        A file that vanished is dropped silently: there is nothing left to report.
        """
        ready: list[Settled] = []
        for name in sorted(self._pending):
            pending = self._pending[name]
            current = signature_of(name)
            if current is None:
                del self._pending[name]
            elif current != pending.signature:
                pending.signature = current
                pending.since = now
            elif now - pending.since >= self._settle_s:
                del self._pending[name]
                ready.append(Settled(name, pending.event, current))
        return ready
