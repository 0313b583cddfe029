"""The signal names of QtForge's ``plugin_orchestrator_v2.hpp``, as aliases of the reference's.

The header calls ``workflow_started`` ``workflow_execution_started`` (and so on); code ported
from C++ connects to those. Each alias is emitted right after the reference's signal, with the
same arguments, in the same (owner) thread.
"""

from __future__ import annotations

from typing import Any

# reference name -> header name
HEADER_ALIASES = {
    "workflow_started": "workflow_execution_started",
    "workflow_completed": "workflow_execution_completed",
    "workflow_failed": "workflow_execution_failed",
    "workflow_cancelled": "workflow_execution_cancelled",
    "node_completed": "node_execution_completed",
}


def add_header_aliases(facade: Any) -> None:
    """Map each aliased event kind to the header's signal too (emitted right after)."""
    for name, alias in HEADER_ALIASES.items():
        facade._signals.add_alias(facade, name, alias)
