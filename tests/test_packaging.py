"""Packaging metadata: one version, the license, the extras, the README's commands.

The built artifacts themselves (sdist and wheel, ``twine check``, the wheel in a fresh virtual
environment, the suite from the unpacked sdist) are checked by ``.ci/run``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import qtforge_orch
from qtforge_orch import _version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def test_the_version_is_written_once() -> None:
    assert "version" not in PROJECT and PROJECT["dynamic"] == ["version"]
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "qtforge_orch._version.__version__"}
    assert qtforge_orch.__version__ is _version.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?(?:\.dev\d+)?", qtforge_orch.__version__)
    installed = metadata.version("qtforge_orch")
    assert installed == qtforge_orch.__version__, (
        f"the installed metadata says {installed}: reinstall (pip install -e .)"
    )


def test_reading_the_version_imports_nothing_heavy() -> None:
    script = (
        "import sys, qtforge_orch\n"
        "print(qtforge_orch.__version__)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'pydantic', 'networkx', 'celpy', 'rich', 'jsonschema')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    version, heavy = done.stdout.splitlines()
    assert version == qtforge_orch.__version__ and heavy == "[]", done.stderr


def test_license_and_metadata() -> None:
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert not any(c.startswith("License ::") for c in PROJECT["classifiers"])  # PEP 639
    assert "Typing :: Typed" in PROJECT["classifiers"]
    assert {"Homepage", "Documentation", "Changelog", "Source"} <= set(PROJECT["urls"])
    assert PROJECT["authors"] and PROJECT["keywords"]
    assert (ROOT / "qtforge_orch" / "py.typed").exists()


def test_the_extras() -> None:
    extras = PROJECT["optional-dependencies"]
    names = {name: {re.split(r"[<>=!~\[; ]", r)[0] for r in reqs} for name, reqs in extras.items()}
    assert names["testing"] == {"pytest", "pytest-qt"}  # what the fixtures need, nothing more
    assert {"mypy", "ruff", "hypothesis", "distributed", "build", "twine", "pre-commit"} <= set(
        names["dev"]
    )
    assert "test" not in extras  # renamed: testing (the plugin) and dev (this project's tools)
    assert names["otel"] == {"opentelemetry-api"}  # the API only: the application picks the SDK
    assert {"opentelemetry-api", "opentelemetry-sdk"} <= names["dev"]  # tests/test_tracing.py


def test_the_readme_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    test_command = re.search(r"<!-- test-command -->\n```bash\n(.*)\n```", readme)
    assert test_command, "README.md has no test command"
    assert 'pip install -e ".[testing,dev]"' in test_command.group(1)
    assert "python -m pytest" in test_command.group(1)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "readme_command test-command" in ci  # CI runs that line verbatim
    quickstart = re.search(r"<!-- quickstart-command -->\n```bash\n(.*)\n```", readme)
    assert quickstart and "examples/quickstart.py" in quickstart.group(1)


def test_the_changelog_has_an_unreleased_section() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert changelog.startswith("# Changelog")
    assert "## [Unreleased]" in changelog
    assert "qtforge_orchestrator" in changelog  # the renamed fixtures are listed
    for change in ("qtforge_orch.execution", "qtforge_orch.executors", '"qtforge_orch[otel]"'):
        assert change in changelog  # the logging names and the tracing extra
    assert "--log-level" in changelog and "trace_executions" in changelog


def test_pre_commit_uses_the_pinned_ruff() -> None:
    config = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    (pinned,) = [r for r in PROJECT["optional-dependencies"]["dev"] if r.startswith("ruff")]
    hooks = re.findall(r'additional_dependencies: \["(ruff==[^"]+)"\]', config)
    assert hooks == [pinned, pinned]  # ruff check and ruff format
    assert "mypy --strict qtforge_orch" in config
