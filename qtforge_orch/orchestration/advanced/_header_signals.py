"""The signal names of QtForge's ``plugin_orchestrator_v2.hpp``, as aliases of the reference's.

The header calls ``workflow_started`` ``workflow_execution_started`` (and so on); code ported
from C++ connects to those. Each alias is emitted right after the reference's signal, with the
same arguments, in the same (owner) thread.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QMetaMethod

# reference name -> header name
HEADER_ALIASES = {
    "workflow_started": "workflow_execution_started",
    "workflow_completed": "workflow_execution_completed",
    "workflow_failed": "workflow_execution_failed",
    "workflow_cancelled": "workflow_execution_cancelled",
    "node_completed": "node_execution_completed",
}
_REFERENCE_NAME = {alias: name for name, alias in HEADER_ALIASES.items()}


def emit_with_alias(owner: Any, signal: str, args: tuple[Any, ...]) -> None:
    """Emit ``signal`` on ``owner``, then its header alias if it has one."""
    getattr(owner, signal).emit(*args)
    alias = HEADER_ALIASES.get(signal)
    if alias is not None:
        getattr(owner, alias).emit(*args)


def listened_name(signal: QMetaMethod) -> str:
    """The name the engine must see as listened to: the reference's name for an alias (the
    engine only builds events for signals someone listens to)."""
    name = bytes(signal.name().data()).decode()
    return _REFERENCE_NAME.get(name, name)
