"""The ``qtforge-orch`` command line, each case through a subprocess: ``python -m qtforge_orch``."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import qtforge_orch
from qtforge_orch.orchestration._schemas import SCHEMA_FILES, generated_schema, shipped_schema

# A subprocess per case (Python, rich and often Qt to import): slow as a whole.
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
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


def cli_env(**changes: str | None) -> dict[str, str]:
    """The environment of a CLI subprocess: this checkout first on the path, headless Qt."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "COLUMNS": "200",
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qtforge_orch", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env or cli_env(),
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


# --------------------------------------------------------------------------------------------
# conventions: --version, python -m, repeatable --plugins, Ctrl-C, --json errors, width


def test_version_and_both_module_entry_points() -> None:
    done = cli("--version")
    assert (
        done.returncode == 0 and done.stdout.strip() == f"qtforge-orch {qtforge_orch.__version__}"
    )
    legacy = subprocess.run(
        [sys.executable, "-m", "qtforge_orch.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(),
        check=False,
    )
    assert legacy.stdout == done.stdout


def test_plugins_is_repeatable_and_goes_before_or_after_the_file(tmp_path: Path) -> None:
    both = Path(plugin_file(tmp_path)).read_text()
    (tmp_path / "loading.py").write_text(both.split("validator =")[0])
    (tmp_path / "saving.py").write_text(
        "from qtforge_orch import FunctionPlugin\n" + "validator =" + both.split("validator =")[1]
    )
    done = cli(
        "run", "--plugins", "loading.py", V1, "--plugins", "saving.py", "--json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["status"] == "completed"


BLOCKING_PLUGIN = """
import sys
from qtforge_orch import FunctionPlugin

def wait(params, context):
    sys.stderr.write("started\\n")
    sys.stderr.flush()
    context.wait(60)  # returns as soon as the execution is cancelled
    return {}

blocker = FunctionPlugin("blocker", wait=wait)
"""


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_ctrl_c_cancels_the_run_and_exits_130(tmp_path: Path, as_json: bool) -> None:
    (tmp_path / "blocking.py").write_text(BLOCKING_PLUGIN)
    workflow = {
        "id": "wf",
        "steps": {"s": {"id": "s", "plugin_id": "blocker", "method_name": "wait"}},
    }
    (tmp_path / "wf.json").write_text(json.dumps(workflow))
    command = [sys.executable, "-m", "qtforge_orch", "run", "wf.json", "--plugins", "blocking.py"]
    process = subprocess.Popen(
        command + (["--json"] if as_json else []),
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        assert process.stderr.readline() == "started\n"  # the step is running
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    if as_json:
        summary = json.loads(stdout)
        assert summary["status"] == "cancelled" and summary["steps"] == {"s": "cancelled"}
    else:
        assert "wf: cancelled" in stdout and "interrupted (Ctrl-C)" in stdout


def test_output_into_a_pipe_is_not_wrapped_at_80_columns(tmp_path: Path) -> None:
    long_id = "a_step_with_a_rather_long_name_" * 4
    path = tmp_path / "wf.json"
    path.write_text(json.dumps({"id": "w", "steps": {"a": {"id": "a", "dependencies": [long_id]}}}))
    done = cli("validate", str(path), env=cli_env(COLUMNS=None))
    assert done.returncode == 1
    (line,) = [text for text in done.stdout.splitlines() if "DependencyNotSatisfied" in text]
    assert long_id in line and len(line) > 80  # the whole message on one line


def test_validate_with_plugins_checks_ids_and_commands(tmp_path: Path) -> None:
    plugins = plugin_file(tmp_path)
    good = cli("validate", V1, "--plugins", plugins)
    assert good.returncode == 0 and "valid (v1 workflow and its plugins)" in good.stdout
    document = json.loads(Path(V1).read_text())
    document["steps"]["save"]["plugin_id"] = "no_such_plugin"
    document["steps"]["validate"]["method_name"] = "no_such_command"
    document["rollback_steps"]["load"]["method_name"] = "forget"
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(document))
    done = cli("validate", str(path), "--plugins", plugins, "--json")
    assert done.returncode == 1
    messages = {(e["name"], e["message"]) for e in json.loads(done.stdout)["errors"]}
    assert messages == {
        ("PluginNotFound", "step 'save': no plugin 'no_such_plugin' is registered"),
        (
            "CommandNotFound",
            "step 'validate': plugin 'data_validator' has no command 'no_such_command'; "
            "available: validate",
        ),
        (
            "CommandNotFound",
            "rollback of step 'load': plugin 'data_loader' has no command 'forget'; "
            "available: load_csv, unload",
        ),
    }
    assert cli("validate", str(path)).returncode == 0  # without --plugins: not checked


def test_schema_errors_show_the_relevant_cause(tmp_path: Path) -> None:
    steps = [{"id": "a", "plugin_id": "p", "timeout": "soon"}, {"id": "b", "plugin_id": "p"}]
    path = tmp_path / "wf.json"
    path.write_text(json.dumps({"id": "w", "steps": steps}))
    done = cli("validate", str(path), "--json")
    schema = [e["message"] for e in json.loads(done.stdout)["errors"] if "schema" in e["message"]]
    assert schema == ["schema: $.steps[0].timeout: 'soon' is not of type 'integer'"]


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("not-utf8", "is not UTF-8 text"),
        ("deep-file", "nested more than 200 levels"),
        ("deep-input", "--input file"),
        ("graph-missing-folder", "no folder"),
        ("timeout-nan", "greater than 0, not 'nan'"),
        ("timeout-inf", "greater than 0, not 'inf'"),
        ("timeout-negative", "greater than 0, not '-1'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, case: str, fragment: str) -> None:
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"id": "café"}'.encode("latin-1"))
    nested = tmp_path / "nested.json"
    nested.write_text('{"id": "w", "steps": {"a": {"parameters": {"x": ' + deep(995) + "}}}}")
    deep_input = tmp_path / "input.json"
    deep_input.write_text(deep(995))
    args = {
        "not-utf8": ["validate", str(latin)],
        "deep-file": ["run", str(nested)],
        "deep-input": ["run", V1, "--input", f"@{deep_input}"],
        "graph-missing-folder": ["graph", V1, "-o", str(tmp_path / "missing" / "g.dot")],
        "timeout-nan": ["run", V1, "--timeout", "nan"],
        "timeout-inf": ["run", V1, "--timeout", "inf"],
        "timeout-negative": ["run", V1, "--timeout", "-1"],
    }[case]
    done = cli(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and fragment in line


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["validate", "missing.json"], "FileNotFound"),
        (["run", V1, "--input", "[1]"], "InvalidParameters"),
        (["run", V1, "--timeout", "0"], "InvalidArgument"),
    ],
)
def test_json_errors_are_objects_on_stdout(args: list[str], name: str) -> None:
    done = cli(*args, "--json")
    assert done.returncode == 2
    report = json.loads(done.stdout)
    assert report["status"] == "error" and report["exit_code"] == 2
    assert report["error"]["name"] == name and report["error"]["message"]
    assert len(done.stderr.splitlines()) == 1  # and the usual line for a person


# --------------------------------------------------------------------------------------------
# the README's command line example and the files it names in examples/


def readme_block(marker: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\n```bash\n(.*?)```", readme, re.DOTALL)
    assert found, f"README.md has no ```bash block after <!-- {marker} -->"
    return found.group(1)


def test_log_level_prints_the_librarys_records_on_stderr_only(tmp_path: Path) -> None:
    plugins = plugin_file(tmp_path, fail=True)
    args = ["run", V1, "--plugins", plugins, "--json"]
    quiet = cli(*args)
    assert quiet.returncode == 1 and quiet.stderr == ""  # nothing configured: nothing printed
    done = cli("--log-level", "info", *args)
    assert done.returncode == 1
    assert json.loads(done.stdout)["status"] == "failed"  # stdout stays one JSON document
    lines = done.stderr.splitlines()
    assert lines[0] == f"INFO qtforge_orch.cli: loaded plugins from {plugins}: " + (
        "data_loader, data_validator, data_saver"
    )
    assert re.fullmatch(
        r"INFO qtforge_orch\.execution: execution \S+ of workflow \S+ started", lines[1]
    )
    assert any(
        line.startswith("ERROR qtforge_orch.execution: step ") and "disk full" in line
        for line in lines
    )
    assert not [line for line in lines if line.startswith("DEBUG")]
    refused = cli("--log-level", "loud", "validate", V1)
    assert refused.returncode == 2 and "invalid choice: 'loud'" in refused.stderr


def test_the_readme_cli_example_runs_verbatim(tmp_path: Path) -> None:
    block = readme_block("cli-example")
    assert "cd examples" in block and "--plugins my_plugins.py" in block
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    # `qtforge-orch` is this checkout's command (an installed one may be another version).
    script = f'qtforge-orch() {{ "{sys.executable}" -m qtforge_orch "$@"; }}\nset -e\n{block}'
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "squares: completed" in done.stdout
    assert "valid (v1 workflow and its plugins)" in done.stdout
    assert (tmp_path / "examples" / "pipeline.png").read_bytes()[:4] == b"\x89PNG"


# --------------------------------------------------------------------------------------------
# shell completion


def completion_script(shell: str, tmp_path: Path) -> Path:
    done = cli("completion", shell)
    assert done.returncode == 0, done.stderr
    path = tmp_path / f"qtforge-orch.{shell}"
    path.write_text(done.stdout)
    return path


def test_bash_completion(tmp_path: Path) -> None:
    script = completion_script("bash", tmp_path)
    (tmp_path / "pipeline.json").write_text("{}")

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        probe = (
            f"source {script}\n"
            f"COMP_WORDS=({' '.join(repr(w) for w in words)})\n"
            f"COMP_CWORD={len(words) - 1}\n"
            "_qtforge_orch\n"
            'printf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        done = subprocess.run(
            ["bash", "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        return sorted(filter(None, done.stdout.splitlines()))

    assert complete("qtforge-orch ") == sorted(
        [
            "run",
            "validate",
            "graph",
            "schema",
            "plugins",
            "edit",
            "completion",
            "-h",
            "--help",
            "--log-level",
            "--version",
        ]
    )
    assert complete("qtforge-orch va") == ["validate"]
    assert complete("qtforge-orch run --t") == ["--timeout"]
    assert complete("qtforge-orch run --plugins x.py pipe") == ["pipeline.json"]
    assert complete("qtforge-orch graph pipeline.json --format ") == ["dot", "mermaid", "png"]
    assert complete("qtforge-orch completion ") == ["bash", "fish", "zsh"]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completion(tmp_path: Path) -> None:
    script = completion_script("fish", tmp_path)

    def complete(line: str) -> list[str]:
        done = subprocess.run(
            ["fish", "--no-config", "-c", f"source {script}; complete -C '{line}'"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return sorted(line.split("\t")[0] for line in done.stdout.splitlines())

    assert "validate" in complete("qtforge-orch ")
    assert complete("qtforge-orch run --ti") == ["--timeout"]
    assert complete("qtforge-orch graph x.json --format ") == ["dot", "mermaid", "png"]
    assert complete("qtforge-orch schema ") == ["v1", "v2"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completion_loads_and_registers(tmp_path: Path) -> None:
    script = completion_script("zsh", tmp_path)
    assert subprocess.run(["zsh", "-n", str(script)], timeout=30).returncode == 0
    probe = (
        "autoload -Uz compinit && compinit -u -D\n"
        f"source {script}\n"
        'print -r -- "$_comps[qtforge-orch]"\n'
    )
    done = subprocess.run(
        ["zsh", "-f", "-c", probe], capture_output=True, text=True, timeout=30, cwd=tmp_path
    )
    assert done.stdout.strip() == "_qtforge_orch", done.stderr
    text = script.read_text()
    for expected in ("'*--plugins[", "(mermaid dot png)", "'run:execute a workflow file'"):
        assert expected in text
