"""The journal's ownership and maintenance calls: claims, interrupted executions, retention.

Each runs on the writer thread, in its transaction, after everything recorded before it.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from . import _claims, _queries
from ._resources import Resources
from .records import ExecutionRecord
from .retention import RetentionPolicy, enforce
from .writer import BatchWriter

CLOSE_TIMEOUT_S = 10.0


class JournalOwnership:
    """Claims, interrupted executions and retention of ``ExecutionJournal``."""

    _path: Path
    _writer: BatchWriter
    _resources: Resources
    _retention: RetentionPolicy

    def claim_for_resume(
        self,
        execution_id: str,
        resumed_as: str,
        *,
        definition_json: str | None = None,
        force: bool = False,
        timeout: float | None = CLOSE_TIMEOUT_S,
    ) -> ExecutionRecord:
        """Claim ``execution_id`` for a resume that will run as ``resumed_as``.

        Atomic across processes: of two claims, one fails. Everything recorded before is
        written first. With ``definition_json`` (the definition the resume will run), a
        definition whose hash differs from the recorded one is refused unless ``force``.

        Returns:
            The claimed execution (its ``resumed_as`` set).

        Raises:
            PluginError: ``NotFound`` (not in the journal), ``InvalidState`` (completed,
                already resumed, or running here or in another live process),
                ``VersionMismatch`` (the definition changed; ``context["changes"]`` and the
                message list what changed), ``Timeout`` (the writer could not write in time).
        """
        path, token = self._path, self._resources.owner.token
        unpickle = self._resources.unpickle

        def claim(connection: sqlite3.Connection) -> ExecutionRecord | None:
            _claims.claim(connection, path, token, execution_id, resumed_as, definition_json, force)
            return _queries.execution(connection, execution_id, unpickle)

        claimed: ExecutionRecord = self._writer.call(claim, timeout)
        return claimed

    def release_claim(
        self, execution_id: str, resumed_as: str, timeout: float | None = CLOSE_TIMEOUT_S
    ) -> bool:
        """Undo ``claim_for_resume`` when the resume could not start; True if it was claimed."""
        released: bool = self._writer.call(
            lambda c: _claims.release(c, execution_id, resumed_as), timeout
        )
        return released

    def detect_interrupted(self, timeout: float | None = CLOSE_TIMEOUT_S) -> list[str]:
        """Mark ``interrupted`` the running executions whose process has ended since opening.

        Returns:
            The ids of the executions marked.
        """
        path, token = self._path, self._resources.owner.token
        marked: list[str] = self._writer.call(
            lambda c: _claims.mark_dead_owners(c, path, token), timeout
        )
        return marked

    def apply_retention(
        self, now: float | None = None, timeout: float | None = CLOSE_TIMEOUT_S
    ) -> int:
        """Enforce the retention policy now, by count and by age.

        Args:
            now: The current time in seconds since the epoch (default: ``time.time()``).
            timeout: How long to wait for the writer.

        Returns:
            How many executions were deleted.
        """
        policy = self._retention
        deleted: int = self._writer.call(
            lambda c: enforce(c, policy, time.time() if now is None else now), timeout
        )
        return deleted
