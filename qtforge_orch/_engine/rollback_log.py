"""The log record of a rollback step that ran (logger ``qtforge_orch.execution``).

The execution log writes them at the end of the execution that ran them, in the order they ran
and before the execution's own last record; a transaction's rollback, which runs after its
executions ended, writes them when it has run.
"""

from __future__ import annotations

from .._log import logger
from .compensation import Compensation

# logging.INFO and logging.ERROR (``logging`` loads on first use, see ``_log``).
_INFO = 20
_ERROR = 40


def log_rollback(item: Compensation, workflow_id: str) -> None:
    """INFO for a rollback step that completed, ERROR for one that failed; nothing for one
    that has not run (still ``pending``)."""
    if item.status not in ("completed", "failed"):
        return
    failed = item.status == "failed"
    log = logger("execution")
    level = _ERROR if failed else _INFO
    if not log.isEnabledFor(level):
        return
    log.log(
        level,
        "rollback of step %s of execution %s %s",
        item.key,
        item.execution_id,
        f"failed: {item.error}" if failed else "completed",
        extra={
            "execution_id": item.execution_id,
            "workflow_id": workflow_id,
            "step_id": item.key,
            "event_kind": "rollback_failed" if failed else "rollback_completed",
            # A nested workflow's step is undone by its child execution's own rollbacks.
            "rollback_step": item.rollback.key if item.rollback is not None else "",
        },
    )
