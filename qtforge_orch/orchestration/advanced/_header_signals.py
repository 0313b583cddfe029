"""The signal names of QtForge's ``plugin_orchestrator_v2.hpp``, as aliases of the reference's.

The header calls ``workflow_started`` ``workflow_execution_started`` (and so on); code ported
from C++ connects to those. Each alias is emitted right after the reference's signal, with the
same arguments, in the same (owner) thread.
"""

from __future__ import annotations

from typing import Any

from .._signals import SignalRelay

# reference name -> header name
HEADER_ALIASES = {
    "workflow_started": "workflow_execution_started",
    "workflow_completed": "workflow_execution_completed",
    "workflow_failed": "workflow_execution_failed",
    "workflow_cancelled": "workflow_execution_cancelled",
    "node_completed": "node_execution_completed",
}


def add_header_aliases(orchestrator: Any, signals: SignalRelay) -> None:
    """Emit each aliased event on the header's signal too, right after the reference's."""
    for name, alias in HEADER_ALIASES.items():
        signals.add_alias(orchestrator, name, alias)
