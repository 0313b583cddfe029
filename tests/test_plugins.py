"""The plugin layer: IPlugin defaults, FunctionPlugin, PluginManager, loading and discovery."""

from __future__ import annotations

import inspect
import logging
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from qtforge_orch.contract.context import StepContext
from qtforge_orch.errors import PluginError, PluginErrorCode
from qtforge_orch.plugins import (
    FunctionPlugin,
    IPlugin,
    PluginManager,
    PluginMetadata,
    PluginState,
    default_plugin_manager,
)
from qtforge_orch.plugins.interface import accepts_context, plugin_accepts_context
from qtforge_orch.results import Expected, make_error, make_success

# Every module a test creates starts with this, so the fixture below can forget them.
TEST_MODULE_PREFIX = "qfo_test_"
FILE_MODULE_PREFIX = "_qtforge_orch_plugin_file_"


@pytest.fixture(autouse=True)
def _forget_test_modules() -> Iterator[None]:
    yield
    for name in list(sys.modules):
        if name.startswith((TEST_MODULE_PREFIX, FILE_MODULE_PREFIX)):
            del sys.modules[name]


class Echo(IPlugin):
    version = "2.1.0"
    description = "Echoes its parameters"
    author = "Tests"
    tags = ("util", "debug")

    def __init__(self, plugin_id: str = "echo") -> None:
        self._id = plugin_id
        self.initialized = 0
        self.shut_down = 0

    def id(self) -> str:
        return self._id

    def execute_command(
        self, command: str, params: dict[str, Any]
    ) -> dict[str, Any] | Expected[dict[str, Any]]:
        return dict(params)

    def available_commands(self) -> list[str]:
        return ["echo"]

    def initialize(self) -> Expected[None]:
        self.initialized += 1
        return super().initialize()

    def shutdown(self) -> None:
        self.shut_down += 1
        super().shutdown()


class ContextAware(Echo):
    def execute_command(
        self, command: str, params: dict[str, Any], context: object | None = None
    ) -> dict[str, Any]:
        return {"context": context}


def code_of(result: Expected[Any]) -> PluginErrorCode:
    assert not result, f"expected an error, got {result!r}"
    return result.error().code


# -- PluginState, PluginMetadata, IPlugin defaults ------------------------------------------


def test_plugin_state_has_qtforge_members_in_order() -> None:
    assert [state.name for state in PluginState] == [
        "Unloaded",
        "Loading",
        "Loaded",
        "Initializing",
        "Running",
        "Paused",
        "Stopping",
        "Stopped",
        "Error",
        "Reloading",
    ]
    assert int(PluginState.Running) == 4


def test_plugin_metadata_defaults_and_validation() -> None:
    meta = PluginMetadata(name="x")
    assert (meta.version, meta.description, meta.tags, meta.dependencies) == ("1.0.0", "", [], [])
    with pytest.raises(ValidationError):
        PluginMetadata(name="x", tags="not-a-list")
    with pytest.raises(ValidationError):
        meta.version = 3  # type: ignore[assignment]


def test_iplugin_is_abstract() -> None:
    with pytest.raises(TypeError):
        IPlugin()  # type: ignore[abstract]


def test_metadata_comes_from_class_attributes() -> None:
    meta = Echo().metadata()
    assert meta.name == "echo"  # no ``name`` attribute: the id stands in
    assert meta.version == "2.1.0"
    assert meta.description == "Echoes its parameters"
    assert meta.author == "Tests"
    assert meta.tags == ["util", "debug"]


def test_metadata_ignores_attributes_that_are_not_metadata() -> None:
    class Odd(Echo):
        name = "Odd One"

        def description(self) -> str:  # type: ignore[override]
            return "a method, not metadata"

    meta = Odd().metadata()
    assert meta.name == "Odd One"
    assert meta.description == ""


def test_default_lifecycle_state_tracking() -> None:
    plugin = Echo()
    assert plugin.state() is PluginState.Unloaded
    assert plugin.initialize()
    assert plugin.state() is PluginState.Running
    plugin.shutdown()
    assert plugin.state() is PluginState.Stopped
    plugin._set_state(PluginState.Paused)
    assert plugin.state() is PluginState.Paused
    assert Echo().state() is PluginState.Unloaded  # state is per instance


def test_configure_stores_a_copy() -> None:
    plugin = Echo()
    assert plugin.get_configuration() == {}
    config = {"rate": 3}
    assert plugin.configure(config)
    config["rate"] = 99
    assert plugin.get_configuration() == {"rate": 3}
    plugin.get_configuration()["rate"] = 7
    assert plugin.get_configuration() == {"rate": 3}
    assert Echo().get_configuration() == {}


def test_configure_rejects_non_dict() -> None:
    result = Echo().configure(["not", "a", "dict"])  # type: ignore[arg-type]
    assert code_of(result) is PluginErrorCode.InvalidConfiguration


def test_repr_names_id_and_state() -> None:
    assert repr(Echo("abc")) == "<Echo id='abc' state=Unloaded>"


def test_accepts_context_detection() -> None:
    def plain(params: dict[str, Any]) -> dict[str, Any]:
        return params

    def aware(params: dict[str, Any], context: object = None) -> dict[str, Any]:
        return params

    def kw_only(params: dict[str, Any], *, context: object = None) -> dict[str, Any]:
        return params

    def var_kw(params: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return params

    assert not accepts_context(plain)
    assert accepts_context(aware)
    assert accepts_context(kw_only)
    assert not accepts_context(var_kw)  # only a declared ``context`` opts in
    assert not accepts_context(print)  # no signature: treated as not opting in
    assert not plugin_accepts_context(Echo())
    assert plugin_accepts_context(ContextAware())
    assert plugin_accepts_context(FunctionPlugin("f", run=plain))


# -- FunctionPlugin ---------------------------------------------------------------------------


def test_function_plugin_keyword_commands() -> None:
    plugin = FunctionPlugin(
        "loader", load=lambda p: {"rows": p["n"]}, parse=lambda p: {"parsed": True}
    )
    assert plugin.id() == "loader"
    assert plugin.available_commands() == ["load", "parse"]
    assert plugin.execute_command("load", {"n": 3}) == {"rows": 3}
    assert plugin.execute_command("parse", {}) == {"parsed": True}
    assert plugin.metadata().name == "loader"
    assert plugin.initialize()
    assert plugin.state() is PluginState.Running
    assert repr(plugin) == "FunctionPlugin('loader', commands=['load', 'parse'])"


def test_function_plugin_from_callable_and_mapping() -> None:
    single = FunctionPlugin.from_callable("one", lambda p: {"ok": 1})
    assert single.available_commands() == ["execute"]
    assert single.execute_command("execute", {}) == {"ok": 1}
    named = FunctionPlugin.from_callable("two", lambda p: {}, command="go")
    assert named.available_commands() == ["go"]
    # A command that shares a name with a constructor keyword goes in the mapping.
    reserved = FunctionPlugin("three", {"metadata": lambda p: {"m": 1}})
    assert reserved.execute_command("metadata", {}) == {"m": 1}


def test_function_plugin_decorator() -> None:
    plugin = FunctionPlugin("deco")

    @plugin.command()
    def load(params: dict[str, Any]) -> dict[str, Any]:
        return {"loaded": True}

    @plugin.command("save_as")
    def save(params: dict[str, Any]) -> dict[str, Any]:
        return {"saved": True}

    assert load({}) == {"loaded": True}  # the decorator returns the function unchanged
    assert plugin.available_commands() == ["load", "save_as"]
    assert plugin.execute_command("save_as", {}) == {"saved": True}


def test_function_plugin_custom_metadata() -> None:
    meta = PluginMetadata(name="Loader", version="3.0.0")
    plugin = FunctionPlugin.from_callable("m", lambda p: {}, metadata=meta)
    assert plugin.metadata() is meta


def test_function_plugin_unknown_command() -> None:
    plugin = FunctionPlugin("loader", load=lambda p: {}, parse=lambda p: {})
    result = plugin.execute_command("nope", {})
    assert isinstance(result, Expected)
    assert code_of(result) is PluginErrorCode.CommandNotFound
    message = result.error().message
    assert "loader" in message
    assert "nope" in message
    assert "load, parse" in message
    assert result.error().plugin_id == "loader"


def test_function_plugin_passes_results_and_exceptions_through() -> None:
    def fails(params: dict[str, Any]) -> Expected[dict[str, Any]]:
        return make_error(PluginErrorCode.NetworkError, "offline")

    def raises(params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    def succeeds(params: dict[str, Any]) -> Expected[dict[str, Any]]:
        return make_success({"ok": True})

    plugin = FunctionPlugin("p", fails=fails, raises=raises, succeeds=succeeds)
    failed = plugin.execute_command("fails", {})
    assert isinstance(failed, Expected)
    assert code_of(failed) is PluginErrorCode.NetworkError
    succeeded = plugin.execute_command("succeeds", {})
    assert isinstance(succeeded, Expected)
    assert succeeded.value() == {"ok": True}
    # Raising is the engine's to report (as ExecutionFailed), with the original traceback.
    with pytest.raises(RuntimeError, match="boom"):
        plugin.execute_command("raises", {})


def test_function_plugin_forwards_context_only_to_callables_that_declare_it() -> None:
    seen: dict[str, Any] = {}

    def aware(params: dict[str, Any], context: object = None) -> dict[str, Any]:
        seen["aware"] = context
        return {}

    def kw_only(params: dict[str, Any], *, context: object) -> dict[str, Any]:
        seen["kw_only"] = context
        return {}

    def plain(params: dict[str, Any]) -> dict[str, Any]:
        seen["plain"] = params
        return {}

    plugin = FunctionPlugin("ctx", aware=aware, kw_only=kw_only, plain=plain)
    token = StepContext("exec", "step", 1, threading.Event())
    plugin.execute_command("aware", {}, context=token)
    plugin.execute_command("kw_only", {}, context=token)
    plugin.execute_command("plain", {"x": 1}, context=token)
    assert seen == {"aware": token, "kw_only": token, "plain": {"x": 1}}
    plugin.execute_command("aware", {})
    assert seen["aware"] is None


def test_function_plugin_inspects_signatures_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real_signature = inspect.signature

    def counting_signature(fn: Any) -> Any:
        nonlocal calls
        calls += 1
        return real_signature(fn)

    plugin = FunctionPlugin("hot", run=lambda p, context=None: p)
    monkeypatch.setattr(inspect, "signature", counting_signature)
    for _ in range(50):
        plugin.execute_command("run", {}, context=None)
    assert calls == 0


def test_function_plugin_rejects_bad_construction() -> None:
    with pytest.raises(ValueError):
        FunctionPlugin("", run=lambda p: {})
    with pytest.raises(TypeError, match="not callable"):
        FunctionPlugin("x", run=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="one positional argument"):
        FunctionPlugin("x", run=lambda: {})
    with pytest.raises(TypeError, match="one positional argument"):
        FunctionPlugin("x", run=lambda a, b: {})
    with pytest.raises(ValueError):
        FunctionPlugin("x", {"": lambda p: {}})


# -- PluginManager: registry ------------------------------------------------------------------


def test_register_get_has_list_unregister() -> None:
    manager = PluginManager()
    first, second = Echo("b"), Echo("a")
    assert manager.register_plugin(first)
    assert manager.register_plugin(second)
    assert manager.list_plugins() == ["b", "a"]  # registration order, not sorted
    assert manager.has_plugin("a")
    assert not manager.has_plugin("zzz")
    assert manager.get_plugin("b").value() is first
    assert first.initialized == 1
    assert first.state() is PluginState.Running

    assert manager.unregister_plugin("b")
    assert first.shut_down == 1
    assert first.state() is PluginState.Stopped
    assert manager.list_plugins() == ["a"]
    assert not manager.has_plugin("b")


def test_register_duplicate_id_is_already_exists() -> None:
    manager = PluginManager()
    assert manager.register_plugin(Echo("dup"))
    again = Echo("dup")
    result = manager.register_plugin(again)
    assert code_of(result) is PluginErrorCode.AlreadyExists
    assert "dup" in result.error().message
    assert again.initialized == 0


def test_register_rejects_what_is_not_a_plugin() -> None:
    manager = PluginManager()
    assert code_of(manager.register_plugin("echo")) is PluginErrorCode.InvalidArgument  # type: ignore[arg-type]

    class BadId(Echo):
        def id(self) -> str:
            raise RuntimeError("no id")

    class EmptyId(Echo):
        def id(self) -> str:
            return ""

    assert code_of(manager.register_plugin(BadId())) is PluginErrorCode.InvalidArgument
    assert code_of(manager.register_plugin(EmptyId())) is PluginErrorCode.InvalidArgument
    assert manager.list_plugins() == []


@pytest.mark.parametrize(
    ("state", "initializes"),
    [
        (PluginState.Unloaded, True),
        (PluginState.Loaded, True),
        (PluginState.Stopped, True),
        (PluginState.Running, False),
        (PluginState.Paused, False),
    ],
)
def test_register_initializes_only_plugins_not_started(
    state: PluginState, initializes: bool
) -> None:
    plugin = Echo()
    plugin._set_state(state)
    assert PluginManager().register_plugin(plugin)
    assert plugin.initialized == int(initializes)


def test_register_propagates_initialize_error_without_registering() -> None:
    class Refuses(Echo):
        def initialize(self) -> Expected[None]:
            return make_error(PluginErrorCode.DependencyMissing, "needs libfoo")

    manager = PluginManager()
    result = manager.register_plugin(Refuses("r"))
    assert code_of(result) is PluginErrorCode.DependencyMissing
    assert result.error().message == "needs libfoo"
    assert not manager.has_plugin("r")
    assert manager.register_plugin(Echo("r"))  # the id was not left reserved


def test_register_reports_initialize_exception_as_initialization_failed() -> None:
    class Explodes(Echo):
        def initialize(self) -> Expected[None]:
            raise OSError("disk gone")

    manager = PluginManager()
    result = manager.register_plugin(Explodes("x"))
    assert code_of(result) is PluginErrorCode.InitializationFailed
    assert "disk gone" in result.error().message
    assert "OSError" in result.error().details
    assert manager.list_plugins() == []


def test_unregister_unknown_is_plugin_not_found() -> None:
    result = PluginManager().unregister_plugin("ghost")
    assert code_of(result) is PluginErrorCode.PluginNotFound


def test_unregister_contains_shutdown_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    class BadShutdown(Echo):
        def shutdown(self) -> None:
            raise RuntimeError("shutdown broke")

    manager = PluginManager()
    assert manager.register_plugin(BadShutdown("bad"))
    with caplog.at_level(logging.ERROR, logger="qtforge_orch.plugins"):
        assert manager.unregister_plugin("bad")
    assert not manager.has_plugin("bad")
    assert "shutdown broke" in caplog.text


def test_get_plugin_unknown_lists_registered_truncated() -> None:
    manager = PluginManager()
    for index in range(13):
        assert manager.register_plugin(Echo(f"plugin_{index:02d}"))
    result = manager.get_plugin("plugin_99")
    assert code_of(result) is PluginErrorCode.PluginNotFound
    message = result.error().message
    assert "plugin_99" in message
    assert "plugin_00" in message
    assert "plugin_09" in message
    assert "plugin_12" not in message
    assert "3 more" in message
    assert result.error().plugin_id == "plugin_99"


def test_get_plugin_unknown_suggests_close_match() -> None:
    manager = PluginManager()
    assert manager.register_plugin(Echo("data_loader"))
    result = manager.get_plugin("data_loder")
    assert "did you mean 'data_loader'" in result.error().message
    empty = PluginManager().get_plugin("x")
    assert "registered: none" in empty.error().message


def test_non_string_ids_are_invalid_arguments() -> None:
    manager = PluginManager()
    assert code_of(manager.get_plugin(["x"])) is PluginErrorCode.InvalidArgument  # type: ignore[arg-type]
    assert code_of(manager.unregister_plugin(None)) is PluginErrorCode.InvalidArgument  # type: ignore[arg-type]
    assert not manager.has_plugin({})  # type: ignore[arg-type]


def test_a_stopped_plugin_can_be_registered_again() -> None:
    manager = PluginManager()
    plugin = Echo("again")
    assert manager.register_plugin(plugin)
    assert manager.unregister_plugin("again")
    assert manager.register_plugin(plugin)
    assert plugin.initialized == 2
    assert plugin.state() is PluginState.Running


# -- PluginManager: load_plugin ---------------------------------------------------------------


PLUGIN_CLASS_SOURCE = """
from qtforge_orch.plugins import IPlugin

class {name}(IPlugin):
    def __init__(self, plugin_id="{plugin_id}"):
        self._id = plugin_id

    def id(self):
        return self._id

    def execute_command(self, command, params):
        return {{"from": self._id}}

    def available_commands(self):
        return ["run"]
"""


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def test_load_file_with_plugins_list(tmp_path: Path) -> None:
    path = write(
        tmp_path / "my_plugins.py",
        """
        from qtforge_orch.plugins import FunctionPlugin
        PLUGINS = [
            FunctionPlugin.from_callable("alpha", lambda p: {"a": 1}),
            FunctionPlugin.from_callable("beta", lambda p: {"b": 2}),
        ]
        """,
    )
    manager = PluginManager()
    result = manager.load_plugin(str(path))
    assert result.value() == ["alpha", "beta"]
    assert manager.get_plugin("beta").value().execute_command("execute", {}) == {"b": 2}
    assert manager.get_plugin("alpha").value().state() is PluginState.Running


def test_load_file_does_not_claim_a_common_module_name(tmp_path: Path) -> None:
    first = write(
        tmp_path / "one" / "plugin.py", PLUGIN_CLASS_SOURCE.format(name="P", plugin_id="p1")
    )
    second = write(
        tmp_path / "two" / "plugin.py", PLUGIN_CLASS_SOURCE.format(name="P", plugin_id="p2")
    )
    manager = PluginManager()
    assert manager.load_plugin(first).value() == ["p1"]  # a Path works as well as a str
    assert manager.load_plugin(second).value() == ["p2"]
    assert "plugin" not in sys.modules
    module_names = {type(manager.get_plugin(pid).value()).__module__ for pid in ("p1", "p2")}
    assert len(module_names) == 2
    assert all(name.startswith(FILE_MODULE_PREFIX) for name in module_names)
    assert all(name in sys.modules for name in module_names)


def test_load_file_with_factories(tmp_path: Path) -> None:
    many = write(
        tmp_path / "many.py",
        """
        from qtforge_orch.plugins import FunctionPlugin
        def create_plugins():
            return [FunctionPlugin.from_callable(f"f{i}", lambda p: {}) for i in range(3)]
        """,
    )
    one = write(
        tmp_path / "one.py",
        """
        from qtforge_orch.plugins import FunctionPlugin
        def create_plugin():
            return FunctionPlugin.from_callable("single", lambda p: {})
        """,
    )
    manager = PluginManager()
    assert manager.load_plugin(many).value() == ["f0", "f1", "f2"]
    assert manager.load_plugin(one).value() == ["single"]


def test_load_file_finds_defined_classes_and_instances(tmp_path: Path) -> None:
    path = write(
        tmp_path / "defined.py",
        PLUGIN_CLASS_SOURCE.format(name="First", plugin_id="first")
        + PLUGIN_CLASS_SOURCE.format(name="Second", plugin_id="second").split("\n", 2)[2]
        + """
from qtforge_orch.plugins import FunctionPlugin

class _Private(First):
    pass

class NeedsArgs(First):
    def __init__(self, plugin_id):
        super().__init__(plugin_id)

class WithInstance(First):
    pass

instance = WithInstance("from_instance")
imported_elsewhere = FunctionPlugin  # classes defined in other modules are not collected
""",
    )
    manager = PluginManager()
    assert manager.load_plugin(path).value() == ["from_instance", "first", "second"]


def test_load_file_that_raises_on_import(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.py", "raise RuntimeError('cannot start here')\n")
    manager = PluginManager()
    result = manager.load_plugin(path)
    assert code_of(result) is PluginErrorCode.LoadFailed
    assert "cannot start here" in result.error().message
    assert "Traceback" in result.error().details
    assert not [name for name in sys.modules if name.startswith(FILE_MODULE_PREFIX)]


def test_load_file_with_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path / "syntax.py", "def broken(:\n")
    result = PluginManager().load_plugin(path)
    assert code_of(result) is PluginErrorCode.LoadFailed
    assert "SyntaxError" in result.error().message


def test_load_file_without_plugins(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.py", "VALUE = 1\n")
    result = PluginManager().load_plugin(path)
    assert code_of(result) is PluginErrorCode.LoadFailed
    assert "defines no plugin" in result.error().message
    assert not [name for name in sys.modules if name.startswith(FILE_MODULE_PREFIX)]


def test_load_file_that_is_not_python(tmp_path: Path) -> None:
    text = write(tmp_path / "notes.txt", "hello\n")
    assert code_of(PluginManager().load_plugin(text)) is PluginErrorCode.InvalidFormat
    assert code_of(PluginManager().load_plugin(str(tmp_path))) is PluginErrorCode.InvalidFormat


def test_load_missing_path(tmp_path: Path) -> None:
    result = PluginManager().load_plugin(str(tmp_path / "missing.py"))
    assert code_of(result) is PluginErrorCode.FileNotFound
    assert "missing.py" in result.error().message


def test_load_invalid_argument() -> None:
    assert code_of(PluginManager().load_plugin(None)) is PluginErrorCode.InvalidArgument  # type: ignore[arg-type]
    assert code_of(PluginManager().load_plugin("")) is PluginErrorCode.InvalidArgument


def test_load_is_all_or_nothing(tmp_path: Path) -> None:
    path = write(
        tmp_path / "half.py",
        """
        from qtforge_orch.errors import PluginErrorCode
        from qtforge_orch.results import make_error
        from qtforge_orch.plugins import FunctionPlugin

        class Refuses(FunctionPlugin):
            def initialize(self):
                return make_error(PluginErrorCode.ConfigurationError, "bad config")

        good = FunctionPlugin.from_callable("good", lambda p: {})
        PLUGINS = [good, Refuses("refuses", run=lambda p: {})]
        """,
    )
    manager = PluginManager()
    result = manager.load_plugin(path)
    assert code_of(result) is PluginErrorCode.ConfigurationError
    assert "bad config" in result.error().message
    assert str(path) in result.error().message
    assert manager.list_plugins() == []


def test_load_with_an_id_already_registered_keeps_nothing(tmp_path: Path) -> None:
    path = write(
        tmp_path / "clash.py",
        """
        from qtforge_orch.plugins import FunctionPlugin
        PLUGINS = [FunctionPlugin.from_callable("new", lambda p: {}),
                   FunctionPlugin.from_callable("taken", lambda p: {})]
        """,
    )
    manager = PluginManager()
    taken = Echo("taken")
    assert manager.register_plugin(taken)
    result = manager.load_plugin(path)
    assert code_of(result) is PluginErrorCode.AlreadyExists
    assert manager.list_plugins() == ["taken"]
    assert manager.get_plugin("taken").value() is taken


def test_load_rejects_non_plugins_and_failing_factories(tmp_path: Path) -> None:
    junk = write(tmp_path / "junk.py", "PLUGINS = [1, 2]\n")
    assert code_of(PluginManager().load_plugin(junk)) is PluginErrorCode.InvalidArgument
    failing = write(tmp_path / "failing.py", "def create_plugins():\n    raise KeyError('k')\n")
    result = PluginManager().load_plugin(failing)
    assert code_of(result) is PluginErrorCode.LoadFailed
    assert "KeyError" in result.error().message


def test_load_by_module_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        tmp_path / "qfo_test_pkg" / "__init__.py",
        "",
    )
    write(
        tmp_path / "qfo_test_pkg" / "plugins.py",
        PLUGIN_CLASS_SOURCE.format(name="ByName", plugin_id="by_name"),
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    manager = PluginManager()
    assert manager.load_plugin("qfo_test_pkg.plugins").value() == ["by_name"]
    plugin = manager.get_plugin("by_name").value()
    assert type(plugin).__module__ == "qfo_test_pkg.plugins"  # a real import, real name


def test_load_unknown_module_name_is_file_not_found() -> None:
    result = PluginManager().load_plugin("qfo_test_no_such_module")
    assert code_of(result) is PluginErrorCode.FileNotFound


def test_load_module_whose_dependency_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "qfo_test_needs_dep.py", "import qfo_test_absent_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = PluginManager().load_plugin("qfo_test_needs_dep")
    assert code_of(result) is PluginErrorCode.LoadFailed
    assert "qfo_test_absent_dependency" in result.error().message


def test_load_module_that_raises_on_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "qfo_test_raises.py", "1 / 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = PluginManager().load_plugin("qfo_test_raises")
    assert code_of(result) is PluginErrorCode.LoadFailed
    assert "ZeroDivisionError" in result.error().message


# -- PluginManager: entry points --------------------------------------------------------------


def install_fake_distribution(
    root: Path, monkeypatch: pytest.MonkeyPatch, entry_points: str, group: str
) -> None:
    """A dist-info directory on sys.path: what ``pip install`` of a plugin package leaves."""
    dist_info = root / "qfo_fake_plugins-1.0.dist-info"
    write(dist_info / "METADATA", "Metadata-Version: 2.1\nName: qfo-fake-plugins\nVersion: 1.0\n")
    write(dist_info / "entry_points.txt", f"[{group}]\n{textwrap.dedent(entry_points)}")
    write(
        root / "qfo_test_ep.py",
        PLUGIN_CLASS_SOURCE.format(name="ClassPlugin", plugin_id="ep_class")
        + """
from qtforge_orch.plugins import FunctionPlugin

INSTANCE = FunctionPlugin.from_callable("ep_instance", lambda p: {})

def factory():
    return [FunctionPlugin.from_callable("ep_factory", lambda p: {})]
""",
    )
    write(
        root / "qfo_test_ep_module.py",
        "from qtforge_orch.plugins import FunctionPlugin\n"
        "PLUGINS = [FunctionPlugin.from_callable('ep_module', lambda p: {})]\n",
    )
    monkeypatch.syspath_prepend(str(root))


def test_discover_plugins_from_installed_entry_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_distribution(
        tmp_path,
        monkeypatch,
        """
        a_class = qfo_test_ep:ClassPlugin
        b_instance = qfo_test_ep:INSTANCE
        c_factory = qfo_test_ep:factory
        d_module = qfo_test_ep_module
        """,
        group="qtforge_orch.plugins",
    )
    manager = PluginManager()
    result = manager.discover_plugins()
    assert result.value() == ["ep_class", "ep_instance", "ep_factory", "ep_module"]
    assert manager.get_plugin("ep_class").value().execute_command("run", {}) == {"from": "ep_class"}
    # Discovering again registers nothing new and reports no duplicates.
    assert manager.discover_plugins().value() == []


def test_discover_plugins_keeps_going_past_a_broken_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = "qfo_test.group"
    install_fake_distribution(
        tmp_path,
        monkeypatch,
        """
        broken = qfo_test_missing_module:Thing
        good = qfo_test_ep:ClassPlugin
        """,
        group=group,
    )
    manager = PluginManager()
    result = manager.discover_plugins(group)
    assert code_of(result) is PluginErrorCode.LoadFailed
    assert result.error().context["loaded"] == ["ep_class"]
    assert list(result.error().context["failed"]) == ["broken"]
    assert manager.list_plugins() == ["ep_class"]


def test_discover_plugins_with_no_entry_points() -> None:
    assert PluginManager().discover_plugins("qfo_test.nothing_installed").value() == []


# -- threads and the default manager ----------------------------------------------------------


def test_registry_is_thread_safe() -> None:
    manager = PluginManager()
    barrier = threading.Barrier(8)
    failures: list[str] = []

    def worker(index: int) -> None:
        barrier.wait()
        for round_ in range(200):
            plugin_id = f"t{index}_{round_}"
            if not manager.register_plugin(Echo(plugin_id)):
                failures.append(f"register {plugin_id}")
            if not manager.get_plugin(plugin_id):
                failures.append(f"get {plugin_id}")
            manager.list_plugins()
            if round_ % 2 and not manager.unregister_plugin(plugin_id):
                failures.append(f"unregister {plugin_id}")

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(manager.list_plugins()) == sorted(
        f"t{index}_{round_}" for index in range(8) for round_ in range(0, 200, 2)
    )


def test_concurrent_registration_of_one_id_has_one_winner() -> None:
    manager = PluginManager()
    barrier = threading.Barrier(8)
    results: list[Expected[None]] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        result = manager.register_plugin(Echo("contested"))
        with lock:
            results.append(result)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(bool(result) for result in results) == 1
    assert {result.error().code for result in results if not result} == {
        PluginErrorCode.AlreadyExists
    }


def test_default_plugin_manager_is_one_per_process() -> None:
    seen: list[PluginManager] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        seen.append(default_plugin_manager())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(manager is default_plugin_manager() for manager in seen)
    assert isinstance(default_plugin_manager(), PluginManager)


def test_errors_are_plugin_errors() -> None:
    result = PluginManager().get_plugin("x")
    with pytest.raises(PluginError) as raised:
        result.value()
    assert raised.value.code is PluginErrorCode.PluginNotFound
