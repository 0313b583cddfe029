"""CompositionManager: compositions and their composite plugins by id, with its four signals."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from qtforge_orch import (
    CompositePlugin,
    CompositionManager,
    PluginComposition,
    PluginErrorCode,
    PluginManager,
    PluginState,
)

from .composition_helpers import Component, Journal, register

Code = PluginErrorCode


def code_of(result: Any) -> PluginErrorCode:
    assert not result, f"expected an error, got {result!r}"
    return result.error().code  # type: ignore[no-any-return]


@pytest.fixture
def manager(qapp: object, plugins: PluginManager) -> CompositionManager:
    register(
        plugins, Component("a", run=lambda p: {"a": 1}), Component("b", run=lambda p: {"b": 2})
    )
    return CompositionManager(plugins)


@pytest.fixture
def signals(manager: CompositionManager) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for name in (
        "composition_registered",
        "composition_unregistered",
        "composite_plugin_created",
        "composite_plugin_destroyed",
    ):
        getattr(manager, name).connect(lambda cid, name=name: seen.append((name, cid)))
    return seen


def test_register_get_list_unregister(
    manager: CompositionManager, signals: list[tuple[str, str]]
) -> None:
    composition = PluginComposition("pair").add_plugin("a").add_plugin("b")
    assert manager.register_composition(composition)
    composition.add_plugin("later")  # the manager kept a copy
    stored = manager.get_composition("pair").value()
    assert stored.plugins() == {"a": 1, "b": 1}
    stored.add_plugin("x")  # and hands out copies
    assert "x" not in manager.get_composition("pair").value().plugins()
    assert manager.list_compositions() == ["pair"]
    assert manager.unregister_composition("pair")
    assert manager.list_compositions() == []
    assert signals == [("composition_registered", "pair"), ("composition_unregistered", "pair")]


def test_bad_registrations_change_nothing(
    manager: CompositionManager, signals: list[tuple[str, str]]
) -> None:
    assert manager.register_composition(PluginComposition("pair").add_plugin("a"))
    assert (
        code_of(manager.register_composition(PluginComposition("pair").add_plugin("b")))
        is Code.AlreadyExists
    )
    assert manager.get_composition("pair").value().plugins() == {"a": 1}
    assert (
        code_of(manager.register_composition(PluginComposition("empty")))
        is Code.InvalidConfiguration
    )
    assert code_of(manager.register_composition("pair")) is Code.InvalidArgument  # type: ignore[arg-type]
    assert code_of(manager.get_composition("nope")) is Code.NotFound
    assert code_of(manager.unregister_composition("nope")) is Code.NotFound
    assert code_of(manager.get_composition(3)) is Code.NotFound  # type: ignore[arg-type]
    assert manager.list_compositions() == ["pair"]
    assert signals == [("composition_registered", "pair")]


def test_create_destroy_composite_plugins(
    manager: CompositionManager, signals: list[tuple[str, str]]
) -> None:
    assert manager.register_composition(PluginComposition("pair").add_plugin("a").add_plugin("b"))
    created = manager.create_composite_plugin("pair")
    composite = created.value()
    assert isinstance(composite, CompositePlugin) and composite.state() is PluginState.Running
    assert composite.execute_command("run", {}).value() == {"a": {"a": 1}, "b": {"b": 2}}
    assert manager.create_composite_plugin("pair").value() is composite  # one per composition
    assert manager.list_composite_plugins() == ["pair"]
    assert manager.get_composite_plugin("pair") is composite
    assert manager.destroy_composite_plugin("pair")
    assert composite.state() is PluginState.Unloaded
    assert manager.get_composite_plugin("pair") is None and manager.list_composite_plugins() == []
    assert code_of(manager.destroy_composite_plugin("pair")) is Code.NotFound
    assert manager.list_compositions() == ["pair"]  # the composition stays
    assert signals == [
        ("composition_registered", "pair"),
        ("composite_plugin_created", "pair"),
        ("composite_plugin_destroyed", "pair"),
    ]


def test_unregistering_a_composition_destroys_its_composite(
    manager: CompositionManager, signals: list[tuple[str, str]]
) -> None:
    assert manager.register_composition(PluginComposition("pair").add_plugin("a"))
    composite = manager.create_composite_plugin("pair").value()
    assert manager.unregister_composition("pair")
    assert composite.state() is PluginState.Unloaded
    assert signals[-2:] == [
        ("composite_plugin_destroyed", "pair"),
        ("composition_unregistered", "pair"),
    ]


def test_a_composite_that_cannot_start_is_not_kept(
    manager: CompositionManager, signals: list[tuple[str, str]]
) -> None:
    assert manager.register_composition(
        PluginComposition("gap").add_plugin("a").add_plugin("missing")
    )
    assert code_of(manager.create_composite_plugin("gap")) is Code.PluginNotFound
    assert code_of(manager.create_composite_plugin("nope")) is Code.NotFound
    assert manager.list_composite_plugins() == [] and manager.get_composite_plugin("gap") is None
    assert ("composite_plugin_created", "gap") not in signals


def test_concurrent_creation_builds_one_composite(plugins: PluginManager, qapp: object) -> None:
    journal = Journal()
    register(plugins, Component("a", journal, run=lambda p: {}))
    manager = CompositionManager(plugins)
    assert manager.register_composition(PluginComposition("one").add_plugin("a"))
    made: list[Any] = []
    start = threading.Barrier(6)

    def create() -> None:
        start.wait()
        made.append(manager.create_composite_plugin("one").value())

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(made) == 6 and all(composite is made[0] for composite in made)


def test_instance_is_one_process_wide_manager(qapp: object) -> None:
    assert CompositionManager.instance() is CompositionManager.instance()
    assert isinstance(CompositionManager.instance(), CompositionManager)
