"""CompositePlugin: lifecycle, metadata, configuration, runtime changes with their signals,
context handling, bad input and concurrent use. The strategies are in
test_composition_strategies.py."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from qtforge_orch import (
    CompositePlugin,
    CompositionBinding,
    FunctionPlugin,
    IPlugin,
    PluginComposition,
    PluginErrorCode,
    PluginManager,
    PluginRole,
    PluginState,
)

from .composition_helpers import Component, FakeContext, Journal, Lookup, not_running, register

Code = PluginErrorCode


def code_of(result: Any) -> PluginErrorCode:
    assert not result, f"expected an error, got {result!r}"
    return result.error().code  # type: ignore[no-any-return]


def echo(name: str) -> Any:
    return lambda params: {**params, name: True}


def aggregation(*plugin_ids: str, composition_id: str = "agg") -> PluginComposition:
    composition = PluginComposition(composition_id)
    for plugin_id in plugin_ids:
        composition.add_plugin(plugin_id)
    return composition


# --- lifecycle -------------------------------------------------------------------------------
def test_registering_initializes_it_and_resolves_the_components(plugins: PluginManager) -> None:
    register(plugins, Component("a", run=echo("a")), Component("b", run=echo("b")))
    composite = CompositePlugin(aggregation("a", "b"), plugins)
    assert composite.state() is PluginState.Unloaded
    assert composite.get_component_plugins() == []
    assert plugins.register_plugin(composite)
    assert composite.state() is PluginState.Running
    assert composite.id() == "agg"
    assert composite.get_component_plugins() == ["a", "b"]
    assert composite.get_component_plugin("a") is plugins.get_plugin("a").value()
    assert composite.get_component_plugin("zz") is None
    assert composite.execute_command("run", {"x": 1}).value() == {
        "a": {"x": 1, "a": True},
        "b": {"x": 1, "b": True},
    }


def test_a_missing_component_is_plugin_not_found_and_a_retry_works(plugins: PluginManager) -> None:
    register(plugins, Component("a", run=echo("a")))
    composite = CompositePlugin(aggregation("a", "late"), plugins)
    result = plugins.register_plugin(composite)
    assert code_of(result) is Code.PluginNotFound
    assert "component 'late' not found" in result.error().message
    assert composite.state() is PluginState.Unloaded and not plugins.has_plugin("agg")
    register(plugins, Component("late", run=echo("late")))
    assert plugins.register_plugin(composite)
    assert composite.execute_command("run", {}).value() == {
        "a": {"a": True},
        "late": {"late": True},
    }


def test_components_start_in_binding_order_and_stop_in_reverse() -> None:
    journal = Journal()
    running = Component("running", journal, run=echo("r"))
    running.initialize()  # already started by someone else: left alone
    parts = [not_running(Component(pid, journal, run=echo(pid))) for pid in ("a", "b", "c")]
    composition = aggregation("a", "b", "c", "running")
    composition.add_binding(CompositionBinding("a", "", "b", ""))
    composition.add_binding(CompositionBinding("c", "", "a", "", priority=3))
    composite = CompositePlugin(composition, Lookup(*parts, running))
    journal.events.clear()
    assert composite.initialize()
    assert journal.of("initialize") == ["c", "a", "b"]
    assert code_of(composite.initialize()) is Code.InvalidState
    composite.shutdown()
    assert journal.of("shutdown") == ["b", "a", "c"]
    assert composite.state() is PluginState.Unloaded and running.state() is PluginState.Running
    assert code_of(composite.execute_command("run", {})) is Code.InvalidState
    composite.shutdown()  # twice is harmless
    assert journal.of("shutdown") == ["b", "a", "c"]
    assert composite.initialize()  # and it can start again


def test_a_component_that_fails_to_start_undoes_the_others() -> None:
    journal = Journal()
    first = not_running(Component("first", journal, run=echo("1")))
    broken = not_running(Component("broken", journal, fail_initialize=True, run=echo("2")))
    composite = CompositePlugin(aggregation("first", "broken"), Lookup(first, broken))
    result = composite.initialize()
    assert code_of(result) is Code.InitializationFailed
    assert "component 'broken' failed to initialize: broken cannot start" in result.error().message
    assert journal.of("shutdown") == ["first"]
    assert composite.state() is PluginState.Unloaded
    assert composite.get_component_plugins() == []


def test_a_component_whose_initialize_raises(plugins: PluginManager) -> None:
    class Raises(Component):
        def initialize(self) -> Any:
            raise RuntimeError("disk on fire")

    composite = CompositePlugin(aggregation("r"), Lookup(not_running(Raises("r", run=echo("r")))))
    result = composite.initialize()
    assert code_of(result) is Code.InitializationFailed and "disk on fire" in result.error().message


def test_a_composite_that_contains_itself_is_a_circular_dependency(plugins: PluginManager) -> None:
    register(plugins, Component("a", run=echo("a")))
    inner = CompositePlugin(aggregation("a", "outer", composition_id="inner"), plugins)
    outer = CompositePlugin(aggregation("a", composition_id="outer"), plugins)
    assert plugins.register_plugin(outer)
    result = plugins.register_plugin(inner)
    assert result  # outer does not contain inner yet
    cyclic = outer.add_plugin("inner")
    assert code_of(cyclic) is Code.CircularDependency
    assert "outer -> inner -> outer" in cyclic.error().message
    selfish = CompositePlugin(aggregation("a", "selfish", composition_id="selfish"), plugins)
    assert code_of(plugins.register_plugin(selfish)) is Code.CircularDependency


def test_composites_nest(plugins: PluginManager) -> None:
    register(plugins, Component("a", run=echo("a")), Component("b", run=echo("b")))
    inner = CompositePlugin(aggregation("a", composition_id="inner"), plugins)
    outer = CompositePlugin(aggregation("inner", "b", composition_id="outer"), plugins)
    register(plugins, inner, outer)
    assert outer.execute_command("run", {}).value() == {
        "inner": {"a": {"a": True}},
        "b": {"b": True},
    }


def test_metadata_lists_the_components(plugins: PluginManager) -> None:
    register(plugins, Component("a", run=echo("a")), Component("b", run=echo("b")))
    composition = aggregation("a", "b").set_description("two of them")
    composite = CompositePlugin(
        PluginComposition("m", "Monitors").add_plugin("a").add_plugin("b").set_description("two"),
        plugins,
    )
    meta = composite.metadata()
    assert (meta.name, meta.description, meta.category) == ("Monitors", "two", "composition")
    assert meta.dependencies == ["a", "b"] and meta.tags == ["composite", "Aggregation"]
    assert meta.author == "QtPlugin Composition System"
    assert CompositePlugin(composition, plugins).metadata().name == "agg"
    assert "strategy=Aggregation" in repr(composite)


def test_available_commands_is_the_sorted_union(plugins: PluginManager) -> None:
    register(
        plugins,
        Component("a", zeta=echo("a"), run=echo("a")),
        Component("b", alpha=echo("b"), run=echo("b")),
    )
    composite = CompositePlugin(aggregation("a", "b"), plugins)
    assert composite.available_commands() == []
    register(plugins, composite)
    assert composite.available_commands() == ["alpha", "run", "zeta"]


def test_the_constructor_refuses_a_non_composition() -> None:
    with pytest.raises(TypeError, match="needs a PluginComposition"):
        CompositePlugin({"id": "x"})  # type: ignore[arg-type]


def test_without_a_plugin_manager_it_uses_the_default_one() -> None:
    from qtforge_orch import default_plugin_manager

    plugin = Component("composition_default_manager_component", run=echo("d"))
    register(default_plugin_manager(), plugin)
    try:
        composite = CompositePlugin(aggregation(plugin.id()))
        assert composite.initialize()
        assert composite.execute_command("run", {}).value() == {plugin.id(): {"d": True}}
    finally:
        default_plugin_manager().unregister_plugin(plugin.id())


# --- configure -------------------------------------------------------------------------------
def test_configure_hands_each_component_its_section(plugins: PluginManager) -> None:
    a, b = Component("a", run=echo("a")), Component("b", run=echo("b"))
    composite = CompositePlugin(aggregation("a", "b"), register(plugins, a, b))
    register(plugins, composite)
    assert composite.configure({"a": {"depth": 2}, "note": "composite-level"})
    assert a.get_configuration() == {"depth": 2} and b.get_configuration() == {}
    assert composite.get_configuration() == {"a": {"depth": 2}, "note": "composite-level"}
    assert code_of(composite.configure(["a"])) is Code.InvalidConfiguration  # type: ignore[arg-type]
    assert code_of(composite.configure({"a": 3})) is Code.InvalidConfiguration
    assert composite.get_configuration()["a"] == {"depth": 2}


def test_a_refused_section_restores_the_components_already_configured(
    plugins: PluginManager,
) -> None:
    class Picky(Component):
        def configure(self, config: dict[str, Any]) -> Any:
            if config.get("level", 0) > 5:
                from qtforge_orch import make_error

                return make_error(Code.ConfigurationError, "level too high")
            return super().configure(config)

    a, picky = Component("a", run=echo("a")), Picky("picky", run=echo("p"))
    composite = CompositePlugin(aggregation("a", "picky"), register(plugins, a, picky))
    register(plugins, composite)
    assert composite.configure({"a": {"v": 1}, "picky": {"level": 1}})
    result = composite.configure({"a": {"v": 2}, "picky": {"level": 9}})
    assert code_of(result) is Code.ConfigurationError
    assert "component 'picky' refused its configuration: level too high" in result.error().message
    assert a.get_configuration() == {"v": 1} and picky.get_configuration() == {"level": 1}
    assert composite.get_configuration() == {"a": {"v": 1}, "picky": {"level": 1}}


def test_bad_strategy_settings_in_configure_change_nothing(plugins: PluginManager) -> None:
    register(plugins, Component("x", run=echo("x")), Component("y", run=echo("y")))
    composition = (
        PluginComposition("br")
        .set_strategy("Bridge")
        .add_plugin("x", "Bridge")
        .add_plugin("y", "Bridge")
    )
    composite = CompositePlugin(composition.set_configuration({"implementation": "x"}), plugins)
    register(plugins, composite)
    assert code_of(composite.configure({"implementation": "nope"})) is Code.InvalidConfiguration
    assert composite.execute_command("run", {}).value() == {"x": True}
    assert composite.configure({"implementation": "y"})
    assert composite.execute_command("run", {}).value() == {"y": True}


# --- runtime changes and signals -------------------------------------------------------------
class Signals:
    def __init__(self, composite: CompositePlugin) -> None:
        self.seen: list[tuple[str, ...]] = []
        composite.component_plugin_added.connect(lambda pid: self.seen.append(("added", pid)))
        composite.component_plugin_removed.connect(lambda pid: self.seen.append(("removed", pid)))
        composite.binding_created.connect(lambda s, t: self.seen.append(("bound", s, t)))
        composite.binding_removed.connect(lambda s, t: self.seen.append(("unbound", s, t)))


def test_runtime_add_remove_bind_unbind_emit_their_signals(
    qapp: object, plugins: PluginManager
) -> None:
    journal = Journal()
    register(plugins, Component("a", run=lambda p: {"v": p.get("v", 0) + 1}))
    late = not_running(Component("late", journal, run=lambda p: {"v": p["v"] * 10}))
    plugins._plugins["late"] = late  # registered, but not started (as after a manual shutdown)
    composition = PluginComposition("rt").set_strategy("Pipeline").add_plugin("a")
    composite = CompositePlugin(composition, plugins)
    register(plugins, composite)
    signals = Signals(composite)
    assert composite.execute_command("run", {"v": 1}).value() == {"v": 2}
    assert composite.add_plugin("late")
    assert journal.of("initialize") == ["late"]  # started because it was not running
    assert composite.bind_plugins(CompositionBinding("a", "v", "late", "v"))
    assert composite.execute_command("run", {"v": 1}).value() == {"v": 20}
    assert [b.label() for b in composite.composition().bindings()] == ["a.v -> late.v"]
    assert composite.unbind_plugins("a", "v")
    assert composite.remove_plugin("late")
    assert journal.of("shutdown") == ["late"]  # it started it, so it stops it
    assert signals.seen == [
        ("added", "late"),
        ("bound", "a", "late"),
        ("unbound", "a", "late"),
        ("removed", "late"),
    ]
    assert composite.execute_command("run", {"v": 1}).value() == {"v": 2}


def test_refused_runtime_changes_change_nothing_and_emit_nothing(
    qapp: object, plugins: PluginManager
) -> None:
    register(plugins, Component("a", run=echo("a")), Component("b", run=echo("b")))
    composite = CompositePlugin(
        aggregation("a", "b").add_binding(CompositionBinding("a", "x", "b", "y")), plugins
    )
    register(plugins, composite)
    signals = Signals(composite)
    before = composite.composition()
    assert code_of(composite.add_plugin("a")) is Code.AlreadyExists
    assert code_of(composite.add_plugin("ghost")) is Code.PluginNotFound
    assert code_of(composite.add_plugin("b2", "Boss")) is Code.InvalidArgument
    assert code_of(composite.add_plugin("", PluginRole.Secondary)) is Code.InvalidArgument
    assert code_of(composite.add_plugin("agg")) is Code.CircularDependency
    assert code_of(composite.remove_plugin("ghost")) is Code.PluginNotFound
    assert code_of(composite.remove_plugin("b")) is Code.DependencyMissing  # still bound
    assert (
        code_of(composite.bind_plugins(CompositionBinding("b", "y", "a", "x")))
        is Code.CircularDependency
    )
    assert (
        code_of(composite.bind_plugins(CompositionBinding("a", "x", "ghost", "y")))
        is Code.DependencyMissing
    )
    assert (
        code_of(composite.bind_plugins(CompositionBinding("a", "x", "b", "y", transformer="x =")))
        is Code.InvalidConfiguration
    )
    assert code_of(composite.bind_plugins("a->b")) is Code.InvalidArgument  # type: ignore[arg-type]
    assert code_of(composite.unbind_plugins("a", "nope")) is Code.NotFound
    assert signals.seen == []
    assert composite.composition() == before
    assert composite.get_component_plugins() == ["a", "b"]


def test_changes_before_initialize_are_kept_for_it(plugins: PluginManager) -> None:
    register(plugins, Component("a", run=echo("a")), Component("b", run=echo("b")))
    composite = CompositePlugin(aggregation("a"), plugins)
    assert composite.add_plugin("b")  # not resolved until initialize
    assert composite.get_component_plugins() == []
    register(plugins, composite)
    assert composite.get_component_plugins() == ["a", "b"]


def test_removing_the_primary_of_a_strategy_that_needs_it_is_refused(
    plugins: PluginManager,
) -> None:
    register(
        plugins,
        Component("p", run=echo("p")),
        Component("d", before=echo("d")),
        Component("d2", after=echo("d2")),
    )
    composition = (
        PluginComposition("deco")
        .set_strategy("Decorator")
        .set_primary_plugin("p")
        .add_plugin("d", "Decorator")
        .add_plugin("d2", "Decorator")
    )
    composite = CompositePlugin(composition, plugins)
    register(plugins, composite)
    assert code_of(composite.remove_plugin("p")) is Code.InvalidConfiguration
    assert composite.remove_plugin("d")
    assert composite.execute_command("run", {}).value() == {"p": True, "d2": True}


# --- calls: context and bad input ------------------------------------------------------------
def test_the_context_is_handed_on_and_checked_between_components(plugins: PluginManager) -> None:
    context = FakeContext()

    def first(params: dict[str, Any]) -> dict[str, Any]:
        context.cancelled = True  # the step is cancelled while this component runs
        return {"n": 1}

    a, b = Component("a", run=first), Component("b", run=echo("b"))
    composition = PluginComposition("p").set_strategy("Pipeline").add_plugin("a").add_plugin("b")
    composite = CompositePlugin(composition, register(plugins, a, b))
    register(plugins, composite)
    result = composite.execute_command("run", {}, context=context)
    assert code_of(result) is Code.OperationCancelled
    assert "before component 'b'" in result.error().message
    assert a.contexts == [context] and b.contexts == []


def test_function_plugin_components_get_the_context_when_they_declare_it(
    plugins: PluginManager,
) -> None:
    seen: list[Any] = []

    def wants(params: dict[str, Any], context: Any = None) -> dict[str, Any]:
        seen.append(context)
        return {}

    register(plugins, FunctionPlugin("f", run=wants), FunctionPlugin("g", run=lambda p: {"g": 1}))
    composite = CompositePlugin(aggregation("f", "g"), plugins)
    register(plugins, composite)
    context = FakeContext()
    assert composite.execute_command("run", {}, context=context).value() == {"f": {}, "g": {"g": 1}}
    assert seen == [context]


@pytest.mark.parametrize(
    ("behaviour", "code", "text"),
    [
        (lambda p: 42, Code.InvalidParameters, "returned int"),
        (
            lambda p: 1 / 0,
            Code.ExecutionFailed,
            "component 'bad' command 'run' raised ZeroDivisionError",
        ),
        (
            lambda p: __import__("qtforge_orch").make_error(Code.ResourceUnavailable, "busy"),
            Code.ResourceUnavailable,
            "busy",
        ),
    ],
)
def test_component_failures_keep_their_code_and_name_the_component(
    plugins: PluginManager, behaviour: Any, code: PluginErrorCode, text: str
) -> None:
    register(plugins, Component("bad", run=behaviour))
    composite = CompositePlugin(
        PluginComposition("one").set_strategy("Bridge").add_plugin("bad"), plugins
    )
    register(plugins, composite)
    result = composite.execute_command("run", {})
    assert code_of(result) is code and text in result.error().message
    assert result.error().plugin_id == "bad"


def test_bad_arguments_are_clear_errors(plugins: PluginManager) -> None:
    register(plugins, Component("a", run=echo("a")))
    composite = CompositePlugin(aggregation("a"), plugins)
    register(plugins, composite)
    assert code_of(composite.execute_command("run", [1])) is Code.InvalidParameters  # type: ignore[arg-type]
    assert code_of(composite.execute_command(5, {})) is Code.InvalidParameters  # type: ignore[arg-type]
    assert code_of(composite.execute_command("nope", {})) is Code.CommandNotFound


def test_components_get_their_own_copy_of_the_parameters(plugins: PluginManager) -> None:
    def mutate(params: dict[str, Any]) -> dict[str, Any]:
        params["touched"] = True
        return {}

    register(plugins, Component("m", run=mutate), Component("r", run=lambda p: {"saw": sorted(p)}))
    composite = CompositePlugin(aggregation("m", "r"), plugins)
    register(plugins, composite)
    params = {"x": 1}
    assert composite.execute_command("run", params).value()["r"] == {"saw": ["x"]}
    assert params == {"x": 1}


# --- concurrency -----------------------------------------------------------------------------
def test_concurrent_calls_and_changes_lose_nothing(plugins: PluginManager) -> None:
    register(plugins, Component("src", run=lambda p: {"n": p["n"]}))
    for index in range(40):
        # Without bindings the pipeline chains the components: "seen" passes down the chain.
        register(plugins, Component(f"t{index}", run=lambda p: {"seen": p.get("n", p.get("seen"))}))
    composite = CompositePlugin(
        PluginComposition("busy").set_strategy("Pipeline").add_plugin("src"), plugins
    )
    register(plugins, composite)
    errors: list[str] = []
    start = threading.Barrier(12)

    def caller(offset: int) -> None:
        start.wait()
        for n in range(50):
            value = offset * 1000 + n
            result = composite.execute_command("run", {"n": value})
            # Whichever bindings exist when a call starts, it sees all of them or none, and
            # only its own data.
            if not result or result.value() not in ({"n": value}, {"seen": value}):
                errors.append(f"call {value}: {result}")

    def changer(group: int) -> None:
        start.wait()
        for index in range(group * 10, group * 10 + 10):
            assert composite.add_plugin(f"t{index}")
            assert composite.bind_plugins(CompositionBinding("src", "n", f"t{index}", "n"))

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(8)]
    threads += [threading.Thread(target=changer, args=(g,)) for g in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors[:3]
    assert len(composite.composition().bindings()) == 40  # no binding lost
    assert len(composite.get_component_plugins()) == 41
    final = composite.execute_command("run", {"n": 7}).value()
    assert final == {"seen": 7}


# --- the plugin contract's fast way in, and pickling --------------------------------------------
def test_resolve_command_is_execute_command_with_the_context_bound(plugins: PluginManager) -> None:
    seen: list[Any] = []
    register(
        plugins, FunctionPlugin("f", run=lambda p, context=None: seen.append(context) or dict(p))
    )
    composite = CompositePlugin(aggregation("f"), plugins)
    register(plugins, composite)
    context = FakeContext()
    call = composite.resolve_command("run", context)
    assert call({"x": 1}).value() == {"f": {"x": 1}} and seen == [context]
    assert code_of(composite.resolve_command("fly")({})) is Code.CommandNotFound


def test_a_pickled_composite_is_rebuilt_as_a_plain_plugin(plugins: PluginManager) -> None:
    import pickle

    from .composition_helpers import pipeline_composite

    composite = pipeline_composite(plugins)
    copy = pickle.loads(pickle.dumps(composite))
    assert not isinstance(copy, CompositePlugin) and isinstance(copy, IPlugin)
    assert copy.id() == "evens_sum" and copy.state() is PluginState.Running
    assert copy.execute_command("process", {"count": 6}).value()["total"] == 12
    assert copy.resolve_command("process")({"count": 4}).value()["total"] == 6
    assert composite._shipping_refusal("process") is None
    idle = CompositePlugin(PluginComposition("idle").add_plugin("reader"), plugins)
    shipped = pickle.loads(pickle.dumps(idle))
    refused = shipped.resolve_command("process")({})
    assert code_of(refused) is Code.InvalidState
    assert "was not initialized when it was sent to the worker" in refused.error().message
