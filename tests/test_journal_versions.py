"""Workflow versions: the definition hash and the description of what changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qtforge_orch.journal import definition_hash, describe_changes

GOLDEN = Path(__file__).resolve().parent / "golden"


def test_definition_hash_ignores_key_order_and_whitespace() -> None:
    a = '{"id": "wf", "steps": [{"id": "a", "x": 1}]}'
    b = '{\n  "steps": [ {"x": 1, "id": "a"} ],\n  "id": "wf"\n}'
    assert definition_hash(a) == definition_hash(b)
    assert len(definition_hash(a)) == 64
    assert definition_hash(a) != definition_hash(a.replace("1", "2"))
    with pytest.raises(ValueError):
        definition_hash("{")


def test_describe_changes_of_a_v1_workflow() -> None:
    old = json.loads((GOLDEN / "v1_written_here.json").read_text())
    new = json.loads(json.dumps(old))
    new["execution_mode"] = 0
    new["steps"]["save"]["timeout"] = 99
    new["steps"]["validate"]["condition"] = "row_count > 1"
    del new["steps"]["load"]["metadata"]
    new["steps"]["extra"] = {"id": "extra", "plugin_id": "p"}
    del new["rollback_steps"]["load"]
    assert describe_changes(json.dumps(old), json.dumps(old)) == []
    assert describe_changes(json.dumps(old), json.dumps(new)) == [
        "execution_mode changed from 1 to 0",
        "step 'extra' added",
        "step 'load': metadata removed (was {})",
        'step \'validate\': condition changed from "row_count > 0" to "row_count > 1"',
        "step 'save': timeout changed from 1234 to 99",
        "rollback step 'load' removed",
    ]


def test_describe_changes_of_a_v2_workflow() -> None:
    old = json.loads((GOLDEN / "v2_written_here.json").read_text())
    new = json.loads(json.dumps(old))
    new["nodes"] = [n for n in new["nodes"] if n["node_id"] != "audit"]
    new["nodes"][1]["configuration"] = {"threshold": 2}
    new["nodes"][0], new["nodes"][1] = new["nodes"][1], new["nodes"][0]
    new["connections"][1]["target_node_id"] = "filter"
    new["connections"].append({"connection_id": "c9", "source_node_id": "a"})
    changes = describe_changes(json.dumps(old), json.dumps(new))
    assert changes == [
        "node 'audit' removed",
        "node 'filter': configuration changed from {} to {\"threshold\":2}",
        "order of nodes changed",
        "connection 'c9' added",
        'connection \'c2\': target_node_id changed from "sink" to "filter"',
    ]


def test_describe_changes_of_other_documents() -> None:
    assert describe_changes('{"a": 1}', '{"b": 1}') == ["a removed (was 1)", "b added (1)"]
    assert describe_changes('{"steps": []}', '{"steps": [{"id": "x"}]}') == ["step 'x' added"]
    assert describe_changes("[1]", "[2]") == ["definition changed from [1] to [2]"]
    long = describe_changes('{"a": "x"}', json.dumps({"a": "y" * 500}))[0]
    assert len(long) < 120 and long.endswith("...")
