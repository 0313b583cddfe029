"""What differs between the two orchestrators, as their shared core needs to know it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .._engine import PluginLookup, SignalNames
from ..contract.plan import Plan
from ..errors import PluginError

if TYPE_CHECKING:
    from ..qt._status import ExecutionState


class WorkflowKind(Protocol):
    """What the core needs to know about one orchestrator's kind of workflow."""

    #: The journal's name for it ("v1", "v2").
    journal_kind: str
    #: Its signal name for each event kind.
    names: SignalNames
    #: Whether completed steps may leave compensations (rollback steps) behind.
    compensates: bool

    def plan_of_definition(
        self, definition: Any, default_executor: str, plugins: PluginLookup
    ) -> Plan | PluginError:
        """Validate and compile a decoded workflow definition (a journal's record of one)."""

    def final_state(self, run: Any) -> ExecutionState:
        """A finished run's state as a handle reports it (its status, normalised)."""
