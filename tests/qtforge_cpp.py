"""QtForge's C++ JSON readers, ported line by line, to check what QtForge would read.

Sources: ``src/orchestration/plugin_orchestrator.cpp`` (``Workflow::from_json``) and
``src/orchestration/advanced/plugin_orchestrator_v2.cpp`` (``WorkflowNode``,
``WorkflowConnection`` and ``PluginWorkflow::from_json``; removed from QtForge's tree in
September 2025, commit 44864af, read from its history). ``QJsonValue`` conversions are modelled
as Qt defines them: ``toInt(d)`` gives ``d`` unless the value is an integral number,
``toString(d)``/``toBool(d)``/``toObject()``/``toArray()`` give the default (or an empty
container) for a value of another type. The result is a plain dict of the C++ struct's fields.
"""

from __future__ import annotations

from typing import Any


def to_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value) if float(value).is_integer() else default


def to_string(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def to_bool(value: Any, default: bool = False) -> bool:
    return value if isinstance(value, bool) else default


def to_object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def to_array(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def v1_workflow_from_json(json: dict[str, Any]) -> dict[str, Any]:
    """``Workflow::from_json`` minus its final validate() (which the tests check separately)."""
    if not isinstance(json.get("id"), str):
        raise ValueError("Missing workflow ID")
    workflow_id = json["id"]
    steps: dict[str, dict[str, Any]] = {}
    if isinstance(json.get("steps"), dict):
        for step_id, raw in json["steps"].items():
            step_json = to_object(raw)
            step = {
                "id": to_string(step_json.get("id"), step_id),
                "name": to_string(step_json.get("name")),
                "description": to_string(step_json.get("description")),
                "plugin_id": to_string(step_json.get("plugin_id")),
                "service_name": to_string(step_json.get("service_name")),
                "method_name": to_string(step_json.get("method_name")),
                "parameters": to_object(step_json.get("parameters")),
                "timeout": to_int(step_json.get("timeout"), 60000),
                "max_retries": to_int(step_json.get("max_retries"), 0),
                "retry_delay": to_int(step_json.get("retry_delay"), 1000),
                "critical": to_bool(step_json.get("critical"), True),
                "metadata": to_object(step_json.get("metadata")),
                "dependencies": [to_string(dep) for dep in to_array(step_json.get("dependencies"))],
            }
            steps[step["id"]] = step  # add_step: m_steps[step.id] = step
    rollbacks: dict[str, dict[str, Any]] = {}
    if isinstance(json.get("rollback_steps"), dict):
        for step_id, raw in json["rollback_steps"].items():
            rollback_json = to_object(raw)
            rollbacks[step_id] = {
                "plugin_id": to_string(rollback_json.get("plugin_id")),
                "method_name": to_string(rollback_json.get("method_name")),
                "parameters": to_object(rollback_json.get("parameters")),
            }
    return {
        "id": workflow_id,
        "name": to_string(json.get("name"), workflow_id),
        "description": to_string(json.get("description")),
        "execution_mode": to_int(json.get("execution_mode")),
        "timeout": to_int(json.get("timeout"), 300000),
        "steps": steps,
        "rollback_steps": rollbacks,
    }


def v2_node_from_json(json: dict[str, Any]) -> dict[str, Any]:
    if "node_id" not in json or "plugin_id" not in json:
        raise ValueError("Missing required fields in WorkflowNode JSON")
    return {
        "node_id": to_string(json["node_id"]),
        "plugin_id": to_string(json["plugin_id"]),
        "display_name": to_string(json.get("display_name")),
        "configuration": to_object(json.get("configuration")),
        "position": to_object(json.get("position")),
        "enabled": to_bool(json.get("enabled"), True),
        "input_ports": [to_string(p) for p in to_array(json.get("input_ports"))],
        "output_ports": [to_string(p) for p in to_array(json.get("output_ports"))],
    }


def v2_connection_from_json(json: dict[str, Any]) -> dict[str, Any]:
    if not {"connection_id", "source_node_id", "target_node_id"} <= set(json):
        raise ValueError("Missing required fields in WorkflowConnection JSON")
    return {
        "connection_id": to_string(json["connection_id"]),
        "source_node_id": to_string(json["source_node_id"]),
        "source_port": to_string(json.get("source_port")),
        "target_node_id": to_string(json["target_node_id"]),
        "target_port": to_string(json.get("target_port")),
        "data_transformation": to_object(json.get("data_transformation")),
        "enabled": to_bool(json.get("enabled"), True),
    }


def v2_workflow_from_json(json: dict[str, Any]) -> dict[str, Any]:
    if "workflow_id" not in json or "name" not in json:
        raise ValueError("Missing required fields in PluginWorkflow JSON")
    return {
        "workflow_id": to_string(json["workflow_id"]),
        "name": to_string(json["name"]),
        "description": to_string(json.get("description")),
        "execution_mode": to_int(json.get("execution_mode")),
        "global_configuration": to_object(json.get("global_configuration")),
        "metadata": to_object(json.get("metadata")),
        "nodes": [v2_node_from_json(to_object(n)) for n in to_array(json.get("nodes"))],
        "connections": [
            v2_connection_from_json(to_object(c)) for c in to_array(json.get("connections"))
        ],
    }
