"""The editor's field edits: a node's, a connection's or the workflow's fields.

Each change is checked (a CEL expression, a plugin, a port in use) before it is pushed as
one undoable command.
"""

from __future__ import annotations

from typing import Any

from ...errors import PluginError, PluginErrorCode
from ...results import Expected, make_error, make_success
from ._canvas import field_delta, first_problem
from ._commands import FieldCommand
from ._document import canonical
from ._editor_structure import StructureEditing
from ._issues import expression_problem


class FieldEditing(StructureEditing):
    """Reading and setting the fields of nodes, connections and the workflow."""

    # --- fields ---------------------------------------------------------------------------
    def set_node_property(self, node_id: str, name: str, value: Any) -> Expected[None]:
        """Set a field of a node, or of a connection (pass its id), as one undoable edit.

        Node fields (v2): ``name``, ``description``, ``plugin_id``, ``command`` (the
        ``method`` the node calls), ``node_type``, ``enabled``, ``configuration``,
        ``input_ports``, ``output_ports`` (a list or comma-separated text). Connection
        fields: ``connection_type``, ``condition`` (CEL), ``data_transformation`` (CEL),
        ``enabled``. v1 steps: ``name``, ``description``, ``plugin_id``, ``command``,
        ``configuration`` (the parameters), ``condition``, ``critical``, ``timeout``,
        ``max_retries``, ``retry_delay``.

        Returns:
            Success, or why not: an unknown target or field, a malformed value, or a
            problem the value would add (bad CEL, an unknown plugin, a port in use).
        """
        if not isinstance(node_id, str) or not node_id:
            return self._refuse(
                PluginError(PluginErrorCode.InvalidArgument, "name the node or connection to set")
            )
        return self._set_field(node_id, name, value)

    def set_workflow_property(self, name: str, value: Any) -> Expected[None]:
        """Set a field of the workflow itself, as one undoable edit.

        ``workflow_id``, ``name``, ``description``, ``execution_mode``, and v2's
        ``global_configuration`` and ``metadata`` or v1's ``timeout``.
        """
        return self._set_field("", name, value)

    def _set_field(self, target_id: str, name: str, value: Any) -> Expected[None]:
        blocked = self._blocked()
        if blocked is not None:
            return self._refuse(blocked)
        doc = self._doc()
        if target_id and not doc.has_node(target_id) and not doc.has_edge(target_id):
            return self._refuse(doc.unknown_target(target_id).error())
        if not isinstance(name, str):
            return self._refuse(PluginError(PluginErrorCode.InvalidArgument, "bad field name"))
        if canonical(name) in doc.fields(target_id) and doc.get_field(target_id, name) == value:
            return make_success()
        if canonical(name) in ("condition", "data_transformation") and isinstance(value, str):
            problem = expression_problem(value)
            if problem:
                code = (
                    PluginErrorCode.InvalidConfiguration
                    if doc.kind == "v1"
                    else PluginErrorCode.InvalidWorkflowStructure
                )
                return self._refuse(PluginError(code, f"{name}: {problem}"))
        outcome: list[Any] = []

        def change() -> Any:
            done = doc.set_field(target_id, name, value)
            outcome.append(done)
            return done

        def undo(done: Any) -> None:
            if done:
                doc.restore_field(target_id, *done.value())

        problems = self._canvas.new_problems(change, undo, field_delta(doc, target_id))
        if not outcome[0]:
            return self._refuse(outcome[0].error())
        if canonical(name) == "plugin_id":
            # Another plugin may lack the node's command: allowed (shown as an issue), or a
            # node could never move to a plugin whose commands are named differently.
            problems = [p for p in problems if p.code != PluginErrorCode.CommandNotFound]
        if problems:
            return self._refuse(first_problem(problems))
        self._push(FieldCommand(self._canvas, target_id, name, value))
        self._canvas.adopt_probe()
        return make_success()

    def node_property(self, target_id: str, name: str) -> Expected[Any]:
        """A field's current value (``""`` as target: the workflow)."""
        doc = self._doc()
        if target_id and not doc.has_node(target_id) and not doc.has_edge(target_id):
            return doc.unknown_target(target_id)
        if not isinstance(name, str) or canonical(name) not in doc.fields(target_id):
            return make_error(PluginErrorCode.InvalidArgument, f"no field {name!r}")
        return make_success(doc.get_field(target_id, name))

    def editable_fields(self, target_id: str) -> tuple[str, ...]:
        """The fields ``set_node_property`` accepts for a node, connection or ("") workflow."""
        return self._doc().fields(target_id)

    @staticmethod
    def check_expression(text: str) -> str:
        """Why ``text`` is not a valid CEL expression (the library's check), or ``""``."""
        return expression_problem(text) if isinstance(text, str) else "not text"
