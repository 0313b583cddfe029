"""The API reference lists every exported name with its docstring, and the docs site keeps to
its conventions (a sitemap, no fonts or scripts from other hosts, internal pages out of the
navigation, no Qt internals on the pages).

The first tests read the mkdocs sources and run everywhere. The last one needs the built site:
it builds it when mkdocs is installed (``pip install -e ".[docs]"``), or reads the site CI
built when ``QTFORGE_DOCS_SITE`` names its folder.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference"
MKDOCS = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")

# The namespaces whose ``__all__`` is public API: each name in them needs a ``:::`` entry on
# a page of docs/reference/ (where is up to the page: ``::: qtforge_orch.Name`` is enough).
NAMESPACES = (
    "qtforge_orch",
    "qtforge_orch.orchestration",
    "qtforge_orch.plugins",
    "qtforge_orch.qt",
    "qtforge_orch.widgets",
    "qtforge_orch.journal",
    "qtforge_orch.composition",
    "qtforge_orch.testing",
    "qtforge_orch.cli",
    "qtforge_orch.tracing",
)

DIRECTIVE = re.compile(r"^::: ([\w.]+)[ \t]*\n((?:[ \t]+\S.*\n)*)", re.MULTILINE)


def _resolve(path: str) -> Any:
    try:
        return importlib.import_module(path)
    except ImportError:
        module, _, name = path.rpartition(".")
        return getattr(_resolve(module), name)


def _members(options: str) -> list[str] | None:
    """The ``members:`` option of a directive, inline (``[a, b]``) or as a YAML list."""
    inline = re.search(r"members:\s*\[(.*?)\]", options)
    if inline:
        return [m.strip() for m in inline.group(1).split(",") if m.strip()]
    block = re.search(r"members:\s*\n((?:\s+- .*\n?)+)", options)
    if block:
        return re.findall(r"- (\S+)", block.group(1))
    return None


def documented() -> dict[tuple[str, int], str]:
    """(name, id(object)) -> page, for everything the reference pages document."""
    found: dict[tuple[str, int], str] = {}
    for page in sorted(REFERENCE.glob("*.md")):
        for match in DIRECTIVE.finditer(page.read_text(encoding="utf-8")):
            target = _resolve(match.group(1))
            where = f"docs/reference/{page.name}"
            if isinstance(target, ModuleType):
                names = _members(match.group(2)) or list(getattr(target, "__all__", []))
                for name in names:
                    found[(name, id(getattr(target, name)))] = where
            else:
                found[(match.group(1).rpartition(".")[2], id(target))] = where
    return found


def exported() -> list[tuple[str, str, Any]]:
    """(namespace, name, object) for every name a public namespace exports."""
    names = []
    for namespace in NAMESPACES:
        module = importlib.import_module(namespace)
        names += [(namespace, name, getattr(module, name)) for name in module.__all__]
    return names


def test_every_exported_name_is_in_the_reference() -> None:
    pages = documented()
    missing = [
        f"{namespace}.{name}"
        for namespace, name, value in exported()
        if (name, id(value)) not in pages
    ]
    assert not missing, (
        "exported but not in the API reference; add `::: <namespace>.<Name>` to the right "
        f"page of docs/reference/ (docs/reference/index.md lists them): {missing}"
    )


def test_every_documented_class_and_function_has_a_docstring() -> None:
    undocumented = []
    for namespace, name, value in exported():
        if inspect.isclass(value):
            text = value.__dict__.get("__doc__")
        elif inspect.isfunction(value):
            text = value.__doc__
        else:
            continue  # constants: mkdocstrings shows their value and source comment
        if not (text and text.strip()):
            undocumented.append(f"{namespace}.{name}")
    assert not undocumented, f"no docstring: {undocumented}"


def test_the_fixtures_on_the_testing_page_are_the_plugins_fixtures() -> None:
    import qtforge_orch.testing.plugin as plugin

    page = (REFERENCE / "testing.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"- (qtforge_\w+)", page))
    fixtures = {name for name in vars(plugin) if name.startswith("qtforge_")}
    assert listed == fixtures


def test_site_settings() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    site_url = re.search(r"^site_url: (\S+)$", MKDOCS, re.MULTILINE)
    assert site_url, "mkdocs.yml sets no site_url: the sitemap would list no URL"
    assert site_url.group(1) == pyproject["project"]["urls"]["Documentation"]
    assert re.search(r"^  font: false$", MKDOCS, re.MULTILINE), "fonts from a CDN"
    nav = re.search(r"^nav:\n((?:[ \t].*\n)*)", MKDOCS, re.MULTILINE)
    assert nav and "changelog.md" in nav.group(1)
    assert "performance-proposals.md" not in nav.group(1)  # maintainers' notes
    not_in_nav = re.search(r"^not_in_nav: \|\n((?:[ \t].*\n)*)", MKDOCS, re.MULTILINE)
    assert not_in_nav and "performance-proposals.md" in not_in_nav.group(1)
    assert "show_bases: false" in MKDOCS


# --------------------------------------------------------------------------------------------
# the built site


def _inventory(site: Path) -> set[str]:
    """The object names in the site's ``objects.inv`` (Sphinx inventory, version 2)."""
    raw = (site / "objects.inv").read_bytes()
    body = raw.split(b"\n", 4)[4]
    lines = zlib.decompress(body).decode("utf-8").splitlines()
    return {line.split(" ", 1)[0] for line in lines}


class SiteBuild:
    """``mkdocs build --strict`` into a temporary folder, in a subprocess. It takes 15-25 s of
    one core, so conftest.py starts it as soon as the collected tests include one that reads
    the site: it runs beside the tests before that one."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="qtforge-site-"))
        self._log = (self.folder.parent / f"{self.folder.name}.log").open("w+", encoding="utf-8")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(self.folder)],
            cwd=ROOT,
            stdout=self._log,  # a file, not a pipe: nobody reads it until the build ends
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        )

    def wait(self, timeout: float) -> tuple[int, str]:
        """The build's exit status and output."""
        status = self._process.wait(timeout)
        self._log.seek(0)
        return status, self._log.read()

    def discard(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)
        shutil.rmtree(self.folder, ignore_errors=True)


_started: list[SiteBuild] = []


def start_site_build(config: pytest.Config) -> None:
    """Start the build now (once), unless the site is given or mkdocs is not installed."""
    if _started or os.environ.get("QTFORGE_DOCS_SITE") or not importlib.util.find_spec("mkdocs"):
        return
    build = SiteBuild()
    _started.append(build)
    config.add_cleanup(build.discard)


@pytest.fixture(scope="module")
def site(pytestconfig: pytest.Config) -> Path:
    given = os.environ.get("QTFORGE_DOCS_SITE")
    if given:
        return Path(given)
    pytest.importorskip("mkdocs", reason='the docs tools: pip install -e ".[docs]"')
    start_site_build(pytestconfig)  # already started, unless this module runs on its own
    status, output = _started[0].wait(timeout=300)
    assert status == 0, output
    return _started[0].folder


@pytest.mark.slow
def test_the_built_site(site: Path) -> None:
    inventory = _inventory(site)
    missing = [
        f"{namespace}.{name}"
        for namespace, name, value in exported()
        if f"{namespace}.{name}" not in inventory
        and not any(entry.endswith(f".{name}") for entry in inventory)
    ]
    assert not missing, f"not in the built reference (objects.inv): {missing}"

    pages = sorted(site.rglob("*.html"))
    for page in pages:
        text = page.read_text(encoding="utf-8")
        fetched = re.findall(r'<(?:link|script)\b[^>]*\b(?:href|src)="(https?://[^"]+)"', text)
        own = [url for url in fetched if not url.startswith("https://qtforge-orch.example/")]
        assert not own, f"{page.relative_to(site)} loads from another host: {own}"
    for page in (site / "reference").rglob("index.html"):
        text = page.read_text(encoding="utf-8")
        assert "connectNotify" not in text, page
        assert "Bases:" not in text, page

    sitemap = (site / "sitemap.xml").read_text(encoding="utf-8")
    urls = re.findall(r"<loc>(.*?)</loc>", sitemap)
    assert "https://qtforge-orch.example/reference/testing/" in urls
    assert len(urls) == len([p for p in pages if p.name == "index.html"])
