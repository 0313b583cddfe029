"""The registered workflows of one orchestrator: thread-safe, with the error codes DESIGN 2 sets."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ..contract.plan import Plan
from ..errors import PluginError, PluginErrorCode
from ..results import Expected, from_error, make_error, make_success

E = TypeVar("E")


class Registered:
    """A registered workflow: its frozen form (``get_workflow`` thaws a copy) and its plan."""

    __slots__ = ("plan", "workflow")

    def __init__(self, workflow: Any, plan: Plan) -> None:
        self.workflow = workflow
        self.plan = plan


def id_type_error(value: object, what: str) -> PluginError:
    """Ids are strings: anything else (a list, None, a number) is refused, never hashed."""
    return PluginError(
        PluginErrorCode.InvalidArgument,
        f"a {what} id must be a string, got {type(value).__name__}",
    )


class WorkflowRegistry(Generic[E]):
    """Registered workflows by id, thread-safe; errors as DESIGN section 2 sets them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, E] = {}

    def add(self, workflow_id: str, entry: E) -> Expected[None]:
        with self._lock:
            if workflow_id in self._entries:
                return make_error(
                    PluginErrorCode.AlreadyExists,
                    f"workflow '{workflow_id}' is already registered; unregister it first "
                    "or use another id",
                )
            self._entries[workflow_id] = entry
        return make_success()

    def remove(self, workflow_id: str) -> Expected[None]:
        if not isinstance(workflow_id, str):
            return from_error(id_type_error(workflow_id, "workflow"))
        with self._lock:
            if self._entries.pop(workflow_id, None) is not None:
                return make_success()
            return self._unknown(workflow_id)

    def get(self, workflow_id: str) -> Expected[E]:
        if not isinstance(workflow_id, str):
            return from_error(id_type_error(workflow_id, "workflow"))
        with self._lock:
            entry = self._entries.get(workflow_id)
            return make_success(entry) if entry is not None else self._unknown(workflow_id)

    def replace(self, workflow_id: str, change: Callable[[E], E | PluginError]) -> Expected[None]:
        """Swap an entry for ``change(entry)`` under the lock, so concurrent changes of one
        workflow serialise; a PluginError from ``change`` leaves the entry as it was."""
        if not isinstance(workflow_id, str):
            return from_error(id_type_error(workflow_id, "workflow"))
        with self._lock:
            entry = self._entries.get(workflow_id)
            if entry is None:
                return self._unknown(workflow_id)
            changed = change(entry)
            if isinstance(changed, PluginError):
                return from_error(changed)
            self._entries[workflow_id] = changed
        return make_success()

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def _unknown(self, workflow_id: str) -> Expected[Any]:  # lock held
        registered = list(self._entries)[:10]
        return make_error(
            PluginErrorCode.NotFound,
            f"no workflow '{workflow_id}' is registered; registered: "
            f"{', '.join(registered) or 'none'}",
        )
