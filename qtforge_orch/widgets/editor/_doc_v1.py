"""The document of a v1 step ``Workflow``: steps are nodes, dependencies are connections.

A v1 connection ``dep->step`` is the entry ``dep`` in ``step.dependencies``; steps have no
ports and no node types. The steps are edited in place; a ``Workflow`` is built from them
(through its public API) for validation and for ``get_workflow``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from ..._jsoncopy import json_copy
from ...errors import PluginError, PluginErrorCode
from ...orchestration._v1_validation import iter_workflow_errors
from ...orchestration.execution_mode import parse_mode
from ...orchestration.workflow import Workflow
from ...orchestration.workflow_step import WorkflowStep
from ...results import Expected, make_error, make_success
from ._document import (
    EdgeInfo,
    GraphDocument,
    NodeInfo,
    Removed,
    canonical,
    ends_of,
    missing_end,
    position_from,
    write_position,
)

STEP_FIELDS = (
    "name",
    "description",
    "plugin_id",
    "command",
    "configuration",
    "condition",
    "critical",
    "timeout",
    "max_retries",
    "retry_delay",
)
WORKFLOW_FIELDS = ("workflow_id", "name", "description", "execution_mode", "timeout")
_STEP_ATTRIBUTES = {"command": "method_name", "configuration": "parameters"}
_BAD = PluginErrorCode.InvalidArgument


def edge_id(dependency: str, step_id: str) -> str:
    """The id of the connection a dependency is drawn as (v2's generated form)."""
    return f"{dependency}->{step_id}"


class V1Document(GraphDocument):
    """A ``Workflow`` being edited (its own copies of the steps, changed in place)."""

    kind = "v1"

    def __init__(self, workflow: Workflow) -> None:
        self._steps: list[WorkflowStep] = [step._snapshot() for step in workflow.steps()]
        self._by_id: dict[str, WorkflowStep] = {}
        for step in self._steps:
            self._by_id.setdefault(step.id, step)
        self._settings: dict[str, Any] = {
            "workflow_id": workflow.id(),
            "name": workflow.name(),
            "description": workflow.description(),
            "execution_mode": workflow.execution_mode(),
            "timeout": workflow.timeout(),
        }
        self._rollbacks = workflow.rollback_steps()
        self._global_condition = workflow.global_condition()
        self._edge_cache: dict[str, tuple[str, str]] | None = None
        self._built: Workflow | None = None

    def _changed(self) -> None:
        self._edge_cache = None
        self._built = None

    def _edges(self) -> dict[str, tuple[str, str]]:
        if self._edge_cache is None:
            cache: dict[str, tuple[str, str]] = {}
            for step in self._steps:
                for dep in dict.fromkeys(step.dependencies):
                    if isinstance(dep, str) and dep in self._by_id:
                        cache[edge_id(dep, step.id)] = (dep, step.id)
            self._edge_cache = cache
        return self._edge_cache

    # --- reading ------------------------------------------------------------------------
    def node_ids(self) -> list[str]:
        return list(self._by_id)

    def has_node(self, node_id: str) -> bool:
        return node_id in self._by_id

    def node_info(self, node_id: str) -> NodeInfo:
        step = self._by_id[node_id]
        return NodeInfo(
            node_id, step.name or node_id, "Step", step.plugin_id, step.method_name, True, (), ()
        )

    def node_model(self, node_id: str) -> WorkflowStep:
        return self._by_id[node_id]

    def position(self, node_id: str) -> tuple[float, float] | None:
        return self.model_position(self._by_id[node_id])

    def model_position(self, model: Any) -> tuple[float, float] | None:
        metadata = model.metadata
        return position_from(metadata.get("ui_properties")) or position_from(metadata)

    def edge_ids(self) -> list[str]:
        return list(self._edges())

    def has_edge(self, edge_id: str) -> bool:
        return edge_id in self._edges()

    def edge_info(self, edge_id: str) -> EdgeInfo:
        dep, step = self._edges()[edge_id]
        return EdgeInfo(edge_id, dep, "", step, "", "DataFlow", True, "")

    def edges_of(self, node_ids: Iterable[str]) -> list[str]:
        wanted = set(node_ids)
        return [e for e, (dep, step) in self._edges().items() if dep in wanted or step in wanted]

    def workflow(self) -> Workflow:
        return self._build().copy()

    def _build(self) -> Workflow:
        if self._built is None:
            settings = self._settings
            built = Workflow(settings["workflow_id"], settings["name"])
            built.set_description(settings["description"])
            built.set_execution_mode(settings["execution_mode"])
            built.set_timeout(settings["timeout"])
            built.set_global_condition(self._global_condition)
            for target, rollback in self._rollbacks.items():
                built.add_rollback_step(target, rollback)
            for step in self._steps:
                built.add_step(step)
            self._built = built
        return self._built

    def edge_ends(self) -> list[tuple[str, str]]:
        return list(self._edges().values())

    def errors(self) -> list[PluginError]:
        return list(iter_workflow_errors(self._build()))

    def calls_model(self, node_ids: set[str] | None = None) -> Workflow:
        return self._build()  # v1 edits are always validated whole

    def target_of(self, error: PluginError) -> str:
        context = error.context
        cycle = context.get("cycle")
        if isinstance(cycle, list) and cycle:
            closing = edge_id(cycle[-1], cycle[0])
            if closing in self._edges():
                return closing
        step_id = context.get("step_id")
        if isinstance(step_id, str) and step_id in self._by_id:
            return step_id
        return ""

    # --- changing -----------------------------------------------------------------------
    def new_node(self, node_id: str, plugin_id: str, command: str) -> WorkflowStep:
        return WorkflowStep(node_id, plugin_id, command)

    def node_from_json(self, json: object) -> Expected[WorkflowStep]:
        return WorkflowStep.from_json(json)

    def node_id_of(self, model: Any) -> str:
        return str(model.id)

    def node_json(self, node_id: str) -> dict[str, Any]:
        return self._by_id[node_id].to_json()

    def renamed(self, model: Any, node_id: str) -> WorkflowStep:
        step: WorkflowStep = model._snapshot()
        step.id = node_id
        step.dependencies = []  # connections are added separately
        return step

    def add_nodes(self, models: list[Any]) -> list[str]:
        for step in models:
            self._steps.append(step)
            self._by_id[step.id] = step
        self._changed()
        return [step.id for step in models]

    def new_edge(
        self,
        source: str,
        source_port: str,
        target: str,
        target_port: str,
        kind: str,
        batch: Any = None,
    ) -> Expected[tuple[str, str]]:
        if source_port or target_port:
            return make_error(
                PluginErrorCode.InvalidConnection,
                "steps of a v1 workflow have no ports; connect the steps themselves",
            )
        if kind not in ("DataFlow", "Dependency"):
            return make_error(
                PluginErrorCode.NotSupported,
                f"a v1 workflow only has dependencies, not {kind} connections",
            )
        step = self._by_id.get(target)
        if step is not None and source in step.dependencies:
            return make_error(
                PluginErrorCode.AlreadyExists,
                f"step '{target}' already depends on '{source}'",
                context={"connection_id": edge_id(source, target)},
            )
        return make_success((source, target))

    def edge_json(self, edge_id: str) -> dict[str, Any]:
        dep, step = self._edges()[edge_id]
        return {"source_node_id": dep, "target_node_id": step}

    def edge_from_json(
        self, json: object, rename: Mapping[str, str], batch: Any
    ) -> Expected[tuple[str, str]]:
        bad = missing_end(json, rename)
        if bad is not None:
            return bad
        source, target = ends_of(json) or ("", "")
        return make_success((rename[source], rename[target]))

    def edge_id_of(self, edge: Any) -> str:
        return edge_id(edge[0], edge[1])

    def add_edges(self, edges: list[Any]) -> list[str]:
        for dep, step_id in edges:
            step = self._by_id[step_id]
            if dep not in step.dependencies:  # a redo re-adds steps that still list it
                step.dependencies = [*step.dependencies, dep]
        self._changed()
        return [edge_id(dep, step_id) for dep, step_id in edges]

    def remove(self, node_ids: Iterable[str], edge_ids: Iterable[str]) -> Removed:
        nodes = {n for n in node_ids if n in self._by_id}
        edges = self._edges()
        cut = {edges[e] for e in edge_ids if e in edges}
        removed = Removed(node_ids=[n for n in self._by_id if n in nodes])
        removed.edge_ids = [
            e
            for e, (dep, step) in edges.items()
            if (dep, step) in cut or dep in nodes or step in nodes
        ]
        for step in self._steps:
            kept = [
                dep for dep in step.dependencies if dep not in nodes and (dep, step.id) not in cut
            ]
            if len(kept) != len(step.dependencies) and step.id not in nodes:
                removed.parts.append(("deps", step.id, step.dependencies))
                step.dependencies = kept
        kept_steps = []
        for index, step in enumerate(self._steps):
            if step.id in nodes:
                removed.parts.append(("step", index, step))
                del self._by_id[step.id]
            else:
                kept_steps.append(step)
        self._steps[:] = kept_steps
        self._changed()
        return removed

    def restore(self, removed: Removed) -> None:
        for what, where, item in removed.parts:
            if what == "step":
                self._steps.insert(where, item)
        for what, where, item in removed.parts:
            if what == "deps":
                self._by_id[where].dependencies = item
        self._by_id = {}
        for step in self._steps:
            self._by_id.setdefault(step.id, step)
        self._changed()

    def set_position(self, node_id: str, x: float, y: float) -> Any:
        step = self._by_id[node_id]
        previous = step.metadata
        metadata = dict(previous)
        inner = metadata.get("ui_properties")
        if isinstance(inner, dict) or position_from(metadata) is None:
            metadata["ui_properties"] = write_position(
                inner if isinstance(inner, dict) else {}, x, y
            )
        else:
            metadata = write_position(metadata, x, y)
        step.metadata = metadata
        self._built = None
        return previous

    def restore_position(self, node_id: str, previous: Any) -> None:
        self._by_id[node_id].metadata = previous
        self._built = None

    # --- fields -------------------------------------------------------------------------
    def fields(self, target_id: str) -> tuple[str, ...]:
        if not target_id:
            return WORKFLOW_FIELDS
        return STEP_FIELDS if target_id in self._by_id else ()

    def get_field(self, target_id: str, name: str) -> Any:
        name = canonical(name)
        if not target_id:
            value = self._settings[name]
            return value.name if name == "execution_mode" else value
        value = getattr(self._by_id[target_id], _STEP_ATTRIBUTES.get(name, name))
        if name == "condition" and value is None:
            return ""
        return json_copy(value) if isinstance(value, dict | list) else value

    def set_field(self, target_id: str, name: str, value: Any) -> Expected[tuple[str, Any]]:
        name = canonical(name)
        if target_id and target_id not in self._by_id:
            return self.unknown_target(target_id)
        allowed = self.fields(target_id)
        if name not in allowed:
            what = "the workflow" if not target_id else f"step '{target_id}'"
            return make_error(
                PluginErrorCode.NotSupported
                if name in ("node_type", "enabled", "input_ports", "output_ports")
                else _BAD,
                f"{what} has no editable field {name!r} in a v1 workflow; fields: "
                f"{', '.join(allowed)}",
                context={"target_id": target_id},
            )
        if not target_id:
            return self._set_setting(name, value)
        step = self._by_id[target_id]
        attribute = _STEP_ATTRIBUTES.get(name, name)
        if name == "condition" and value == "":
            value = None
        if name == "configuration":
            if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                return make_error(_BAD, "configuration must be a JSON object")
            value = json_copy(value)
        previous = getattr(step, attribute)
        try:
            setattr(step, attribute, value)
        except ValidationError as exc:
            return make_error(
                _BAD, f"{name}: {exc.errors()[0]['msg']}", context={"target_id": target_id}
            )
        self._changed()
        return make_success((attribute, previous))

    def _set_setting(self, name: str, value: Any) -> Expected[tuple[str, Any]]:
        if name == "execution_mode":
            try:
                value = parse_mode(value)
            except (TypeError, ValueError) as exc:
                return make_error(_BAD, f"execution_mode: {exc}")
        elif name == "timeout":
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value <= 0
            ):
                return make_error(_BAD, "timeout must be a positive number of ms, or None")
        elif not isinstance(value, str):
            return make_error(_BAD, f"{name} must be text, got {type(value).__name__}")
        previous = self._settings[name]
        self._settings[name] = value
        self._changed()
        return make_success((name, previous))

    def restore_field(self, target_id: str, attribute: str, previous: Any) -> None:
        if not target_id:
            self._settings[attribute] = previous
        else:
            setattr(self._by_id[target_id], attribute, previous)
        self._changed()
