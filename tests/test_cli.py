"""The ``qtforge-orch`` command line, each command through a subprocess (issue 13)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch.orchestration._schemas import SCHEMA_FILES, generated_schema, shipped_schema

GOLDEN = Path(__file__).parent / "golden"
V1 = str(GOLDEN / "v1_written_by_qtforge.json")
V2 = str(GOLDEN / "v2_written_by_qtforge.json")

PLUGINS = """
from qtforge_orch import FunctionPlugin

def _fail(params):
    raise RuntimeError("disk full")

loader = FunctionPlugin("data_loader", load_csv=lambda p: {"rows": p.get("rows", 3)},
                        unload=lambda p: {})
validator = FunctionPlugin("data_validator", validate=lambda p: {"ok": p["rows"] > 0})
saver = FunctionPlugin("data_saver", save_csv=_fail if {fail} else lambda p: {"saved": True})
"""


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "qtforge_orch.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
        check=False,
    )


def plugin_file(tmp_path: Path, fail: bool = False) -> str:
    path = tmp_path / "my_plugins.py"
    path.write_text(PLUGINS.replace("{fail}", str(fail)))
    return str(path)


def test_run_completes_with_a_summary_table(tmp_path: Path) -> None:
    done = cli("run", V1, "--plugins", plugin_file(tmp_path))
    assert done.returncode == 0, done.stderr
    for text in ("load", "validate", "save", "completed", "data_processing: completed"):
        assert text in done.stdout


def test_run_json_output_and_input(tmp_path: Path) -> None:
    done = cli(
        "run",
        V1,
        "--plugins",
        plugin_file(tmp_path),
        "--input",
        '{"rows": 7}',
        "--json",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "completed"
    assert summary["steps"] == {"load": "completed", "save": "completed", "validate": "completed"}
    assert summary["result"]["rows"] == 7 and summary["result"]["saved"] is True


def test_run_failure_exits_1(tmp_path: Path) -> None:
    done = cli(
        "run",
        V1,
        "--plugins",
        plugin_file(tmp_path, fail=True),
        "--json",
    )
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "failed" and "disk full" in summary["error"]
    assert summary["steps"]["save"] == "failed"


def test_run_v2_file(tmp_path: Path) -> None:
    plugins = tmp_path / "graph_plugins.py"
    plugins.write_text(
        "from qtforge_orch import FunctionPlugin\n"
        "source = FunctionPlugin('data_source', read=lambda p: {'raw_data': [1, 2, 3]})\n"
        "filt = FunctionPlugin.from_callable('data_filter', lambda p: {'filtered': p['input']})\n"
        "sink = FunctionPlugin.from_callable('database_writer', lambda p: {'stored': p['kept']})\n"
        "audit = FunctionPlugin.from_callable('audit_writer', lambda p: {})\n"
    )
    done = cli("run", V2, "--plugins", str(plugins), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["nodes"] == {
        "source": "completed",
        "filter": "completed",
        "sink": "completed",
        "audit": "skipped",
    }
    assert summary["result"]["sink"] == {"stored": [2, 3]}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "missing.json"], "FileNotFound"),
        (["run", V1, "--input", "{"], "InvalidFormat"),
        (["run", V1, "--plugins", "no_such_mod"], ""),
        (["frobnicate"], "invalid choice"),
        (["graph", V1, "--format", "png"], "needs -o"),
    ],
)
def test_usage_errors_exit_2(args: list[str], fragment: str) -> None:
    done = cli(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert fragment in done.stderr


def test_run_of_an_invalid_workflow_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "cycle.json"
    steps = {"a": {"plugin_id": "p", "dependencies": ["b"]}, "b": {"plugin_id": "p"}}
    steps["b"]["dependencies"] = ["a"]  # type: ignore[index]
    path.write_text(json.dumps({"id": "w", "steps": steps}))
    done = cli("run", str(path))
    assert done.returncode == 2 and "CircularDependency" in done.stderr


def test_validate_valid_files() -> None:
    for name in ("v1_written_by_qtforge.json", "v2_written_by_qtforge.json"):
        done = cli("validate", str(GOLDEN / name))
        assert done.returncode == 0, done.stdout
        assert "valid" in done.stdout


def test_validate_lists_every_error_with_its_code(tmp_path: Path) -> None:
    document: dict[str, Any] = {
        "workflow_id": "w",
        "nodes": [{"node_id": "a", "plugin_id": "p", "colour": 1}, {"node_id": "b"}],
        "connections": [{"source_node": "a", "target_node": "ghost"}],
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    done = cli("validate", str(path), "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["format"] == "v2" and not report["valid"]
    codes = [error["name"] for error in report["errors"]]
    assert codes.count("InvalidWorkflowStructure") >= 2  # the schema (colour), empty plugin_id
    assert "NodeNotFound" in codes
    assert any("colour" in error["message"] for error in report["errors"])
    table = cli("validate", str(path))
    assert table.returncode == 1 and "NodeNotFound (319)" in table.stdout


def test_graph_mermaid_and_dot(tmp_path: Path) -> None:
    mermaid = cli("graph", V2, "--format", "mermaid")
    assert mermaid.returncode == 0 and mermaid.stdout.startswith("flowchart TD")
    out = tmp_path / "g.dot"
    dot = cli("graph", V1, "--format", "dot", "-o", str(out))
    assert dot.returncode == 0 and out.read_text().startswith('digraph "data_processing"')


def test_graph_png(tmp_path: Path) -> None:
    out = tmp_path / "g.png"
    done = cli("graph", V2, "--format", "png", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kind", ["v1", "v2"])
def test_schema_command_prints_the_shipped_schema(kind: str) -> None:
    done = cli("schema", kind)
    assert done.returncode == 0
    assert json.loads(done.stdout) == shipped_schema(kind)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", list(SCHEMA_FILES))
def test_shipped_schema_is_the_generated_one(kind: str) -> None:
    """Regenerate with ``python -m qtforge_orch.cli schema`` after a model change (docs)."""
    assert shipped_schema(kind) == generated_schema(kind)  # type: ignore[arg-type]


def test_golden_files_meet_the_schemas() -> None:
    from jsonschema import Draft202012Validator

    for kind, names in (
        ("v1", ["v1_written_by_qtforge.json", "v1_written_here.json"]),
        ("v2", ["v2_written_by_qtforge.json", "v2_written_here.json"]),
    ):
        validator = Draft202012Validator(shipped_schema(kind))  # type: ignore[arg-type]
        for name in names:
            document = json.loads((GOLDEN / name).read_text())
            assert not list(validator.iter_errors(document)), name


def test_plugins_lists_entry_points() -> None:
    done = cli("plugins", "--json")
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    assert isinstance(report["plugins"], list) and isinstance(report["failed"], dict)


def test_installed_console_script(tmp_path: Path) -> None:
    script = shutil.which("qtforge-orch", path=str(Path(sys.executable).parent))
    assert script is not None, "pip install -e . installs the qtforge-orch console script"
    done = subprocess.run(
        [script, "validate", V1],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
