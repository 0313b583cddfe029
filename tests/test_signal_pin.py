"""PySide6 6.12.0 drops a reference on every emit() under Python 3.11 and aborts after a few
hundred emits: thousands of emits here make a bad pin fail loudly."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(str, object)


@pytest.mark.timeout(60)
def test_thousands_of_emits_with_python_payloads(qapp: Any) -> None:
    emitter = _Emitter()
    received: list[int] = []
    emitter.fired.connect(lambda name, payload: received.append(payload["n"]))
    for n in range(5000):
        emitter.fired.emit("step", {"n": n})
    assert received == list(range(5000))


# --------------------------------------------------------------------------------------------
# The pin policy (docs/decisions.md, "PySide6 releases"): no upper bound; a release known to
# break is excluded only where it breaks, each with its regression test.

KNOWN_BAD = {
    # version: the environments where it breaks, as the requirement's marker says
    "6.12.0": 'python_version < "3.12"',  # test_thousands_of_emits_with_python_payloads aborts
}


def _pyside_requirements() -> list[Any]:
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    found = [Requirement(text) for text in dependencies]
    return [r for r in found if r.name == "PySide6-Essentials"]


def test_the_pin_has_no_ceiling_and_excludes_known_bad_releases_only_where_they_break() -> None:
    requirements = _pyside_requirements()
    for requirement in requirements:
        assert not [s for s in requirement.specifier if s.operator in ("<", "<=", "==", "~=")], (
            f"an upper bound keeps apps on newer PySide6 out: {requirement}"
        )
    for version, marker in KNOWN_BAD.items():
        excluding = [r for r in requirements if not r.specifier.contains(version)]
        allowing = [r for r in requirements if r.specifier.contains(version)]
        assert [str(r.marker) for r in excluding] == [marker], excluding
        assert allowing, f"{version} is excluded everywhere, not only where it breaks"
        assert all(r.marker is not None for r in requirements)  # together they cover every Python


def test_the_installed_pyside6_is_not_a_known_bad_release_here() -> None:
    from importlib.metadata import version

    installed = version("PySide6-Essentials")
    applicable = [r for r in _pyside_requirements() if r.marker is None or r.marker.evaluate()]
    assert len(applicable) == 1
    assert applicable[0].specifier.contains(installed), (
        f"PySide6-Essentials {installed} is excluded on this Python ({sys.version.split()[0]}): "
        "reinstall with the project's pin (pip install -e .)"
    )
