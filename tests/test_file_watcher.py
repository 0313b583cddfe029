"""The built-in ``file_system_monitor`` event source: missing and re-created folders, files that
are still being written, modified files (issue #8, item 8).

Most tests drive ``FileSystemMonitorPlugin.start_events`` directly in the Qt main thread; the
last ones go through an EventDriven ``AdvancedPluginOrchestrator`` execution. Negative checks
("no event for X") use a sentinel file written after X: the watcher reports in a fixed order
within a timer tick, so once the sentinel arrived, an event for X would have arrived too.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QTimer

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    FileSystemMonitorPlugin,
    PluginError,
    PluginErrorCode,
    PluginManager,
    WorkflowExecutionStatus,
)
from qtforge_orch.plugins._settling import SettleTracker

from .v2_helpers import Mode, NodeType, conn, fn, node, register, start, status
from .v2_helpers import workflow as make_workflow

pytestmark = [pytest.mark.slow, pytest.mark.timeout(30)]  # real file-system events

SETTLE_MS = 100  # short, to keep the suite fast; the default (200) is tested separately


class Watch:
    """One running watcher and the events it emitted; stopped at teardown."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.events: list[dict[str, Any]] = []
        self.contents: list[str] = []  # the file's text at the moment it was emitted
        self.stop = FileSystemMonitorPlugin().start_events(config, self._emit)

    def _emit(self, payload: dict[str, Any]) -> None:
        self.events.append(payload)
        try:
            self.contents.append(Path(payload["path"]).read_text())
        except OSError:
            self.contents.append("<unreadable>")

    def names(self) -> list[tuple[str, str]]:
        return [(e["file_name"], e["event"]) for e in self.events]


@pytest.fixture
def watches(qapp: object) -> Iterator[Callable[..., Watch]]:
    started: list[Watch] = []

    def open_watch(folder: Path, **options: Any) -> Watch:
        config = {"watch_path": str(folder), "settle_ms": SETTLE_MS, **options}
        watch = Watch(config)
        started.append(watch)
        return watch

    yield open_watch
    for watch in started:
        watch.stop()


def wait_events(qtbot: Any, watch: Watch, count: int, timeout: int = 5000) -> None:
    qtbot.waitUntil(lambda: len(watch.events) >= count, timeout=timeout)


def start_error(config: dict[str, Any]) -> PluginError:
    with pytest.raises(PluginError) as raised:
        FileSystemMonitorPlugin().start_events(config, lambda _payload: None)
    return raised.value


# --------------------------------------------------------------------------------------------
# a missing folder is an error, or is waited for


def test_missing_folder_is_a_file_system_error(qapp: object, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    error = start_error({"watch_path": str(missing)})
    assert error.code is PluginErrorCode.FileSystemError
    assert str(missing) in error.message
    assert "does not exist" in error.message
    assert "wait_for_path" in error.message  # tells the user how to wait instead


def test_a_file_as_watch_path_is_a_file_system_error(qapp: object, tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("x")
    error = start_error({"watch_path": str(tmp_path / "plain.txt")})
    assert error.code is PluginErrorCode.FileSystemError
    assert "is not a folder" in error.message


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"watch_path": ""},
        {"watch_path": ".", "settle_ms": -1},
        {"watch_path": ".", "file_pattern": ""},
    ],
)
def test_bad_configuration_is_invalid_configuration(qapp: object, config: dict[str, Any]) -> None:
    assert start_error(config).code is PluginErrorCode.InvalidConfiguration


@pytest.mark.parametrize(
    "option", [{"settle_ms": "soon"}, {"settle_ms": True}, {"emit_existing": "maybe"}]
)
def test_bad_option_values_are_rejected(
    qapp: object, tmp_path: Path, option: dict[str, Any]
) -> None:
    error = start_error({"watch_path": str(tmp_path), **option})
    assert error.code is PluginErrorCode.InvalidConfiguration
    assert next(iter(option)) in error.message


def test_wait_for_path_watches_a_folder_that_appears_later(
    qtbot: Any, watches: Callable[..., Watch], tmp_path: Path
) -> None:
    folder = tmp_path / "not" / "yet"  # two levels missing: the watch moves down level by level
    watch = watches(folder, wait_for_path=True)
    folder.parent.mkdir()
    folder.mkdir()
    (folder / "first.csv").write_text("a,b\n")
    wait_events(qtbot, watch, 1)
    assert watch.events == [
        {"path": str(folder / "first.csv"), "file_name": "first.csv", "event": "created"}
    ]


def test_wait_for_path_with_makedirs_in_one_go(
    qtbot: Any, watches: Callable[..., Watch], tmp_path: Path
) -> None:
    folder = tmp_path / "x" / "y" / "z"
    watch = watches(folder, wait_for_path=True, file_pattern="*.csv")
    folder.mkdir(parents=True)
    (folder / "data.csv").write_text("1,2\n")  # before the watcher has even seen the folders
    wait_events(qtbot, watch, 1)
    assert watch.names() == [("data.csv", "created")]


# --------------------------------------------------------------------------------------------
# deleted and re-created folders


def test_a_deleted_and_recreated_folder_is_watched_again(
    qtbot: Any, watches: Callable[..., Watch], tmp_path: Path
) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    watch = watches(folder)
    (folder / "one.txt").write_text("1")
    wait_events(qtbot, watch, 1)

    shutil.rmtree(folder)
    folder_watch = watch.stop.__self__  # type: ignore[attr-defined]  # white box: see below
    # Let the watcher see the deletion before re-creating, so this test covers "deleted, then
    # re-created later" (the next test covers a re-creation racing with the notification).
    qtbot.waitUntil(lambda: folder_watch._identity is None, timeout=5000)
    folder.mkdir()
    (folder / "two.txt").write_text("2")
    wait_events(qtbot, watch, 2)
    assert watch.names() == [("one.txt", "created"), ("two.txt", "created")]

    (folder / "three.txt").write_text("3")  # and it keeps watching afterwards
    wait_events(qtbot, watch, 3)
    assert watch.names()[2] == ("three.txt", "created")


def test_a_folder_replaced_at_once_is_watched_again(
    qtbot: Any, watches: Callable[..., Watch], tmp_path: Path
) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "old.txt").write_text("old")
    watch = watches(folder)
    shutil.rmtree(folder)
    folder.mkdir()  # the file system may even reuse the inode number
    (folder / "old.txt").write_text("new")  # same name, new folder: a new file
    wait_events(qtbot, watch, 1)
    assert watch.names() == [("old.txt", "created")]
    assert watch.contents == ["new"]
    (folder / "later.txt").write_text("later")
    wait_events(qtbot, watch, 2)
    assert watch.names()[1] == ("later.txt", "created")


def test_a_folder_renamed_away_and_back(
    qtbot: Any, watches: Callable[..., Watch], tmp_path: Path
) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    watch = watches(folder)
    folder.rename(tmp_path / "elsewhere")
    (tmp_path / "elsewhere" / "moved.txt").write_text("not in the watched path")
    (tmp_path / "elsewhere").rename(folder)
    (folder / "after.txt").write_text("x")
    # moved.txt was created while the folder was elsewhere; once the folder is back at the
    # watched path its files are reported as new, like those of a re-created folder.
    wait_events(qtbot, watch, 2)
    assert sorted(watch.names()) == [("after.txt", "created"), ("moved.txt", "created")]


# --------------------------------------------------------------------------------------------
# settling


def test_a_file_written_in_chunks_is_emitted_once_with_its_whole_content(
    qtbot: Any, watches: Callable[..., Watch], tmp_path: Path
) -> None:
    watch = watches(tmp_path, settle_ms=300)
    target = tmp_path / "big.csv"
    chunks = [f"row {index}\n" for index in range(8)]
    written: list[str] = []

    def write_next() -> None:  # 8 writes 20 ms apart: gaps much shorter than settle_ms
        with target.open("a") as handle:
            handle.write(chunks[len(written)])
        written.append(chunks[len(written)])
        if len(written) == len(chunks):
            writer.stop()

    writer = QTimer()
    writer.setInterval(20)
    writer.timeout.connect(write_next)
    writer.start()
    (tmp_path / "sentinel.txt").write_text("")  # an empty file settles at once
    wait_events(qtbot, watch, 2)
    assert len(written) == len(chunks)
    assert watch.names() == [("sentinel.txt", "created"), ("big.csv", "created")]
    assert watch.contents[1] == "".join(chunks)


def test_default_settle_time_is_200_ms(qtbot: Any, qapp: object, tmp_path: Path) -> None:
    import time

    events: list[float] = []
    stop = FileSystemMonitorPlugin().start_events(
        {"watch_path": str(tmp_path)}, lambda _p: events.append(time.monotonic())
    )
    try:
        written = time.monotonic()
        (tmp_path / "f.txt").write_text("x")
        qtbot.waitUntil(lambda: bool(events), timeout=5000)
        assert events[0] - written >= 0.2
    finally:
        stop()


def test_settle_ms_zero_emits_at_first_sight(
    qtbot: Any, watches: Callable[..., Watch], tmp_path: Path
) -> None:
    watch = watches(tmp_path, settle_ms=0)
    (tmp_path / "now.txt").write_text("x")
    wait_events(qtbot, watch, 1)
    assert watch.names() == [("now.txt", "created")]


def test_a_file_deleted_before_it_settled_is_not_emitted(
    qtbot: Any, watches: Callable[..., Watch], tmp_path: Path
) -> None:
    watch = watches(tmp_path, settle_ms=300)
    (tmp_path / "a_gone.txt").write_text("short-lived")
    QTimer.singleShot(50, lambda: (tmp_path / "a_gone.txt").unlink())
    QTimer.singleShot(60, lambda: (tmp_path / "b_sentinel.txt").write_text(""))
    wait_events(qtbot, watch, 1)
    assert watch.names() == [("b_sentinel.txt", "created")]


def test_only_matching_regular_files_are_emitted(
    qtbot: Any, watches: Callable[..., Watch], tmp_path: Path
) -> None:
    watch = watches(tmp_path, file_pattern="*.csv")
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "z.csv").write_text("a,b\n")
    wait_events(qtbot, watch, 1)
    assert watch.names() == [("z.csv", "created")]


# --------------------------------------------------------------------------------------------
# existing and modified files


def test_existing_files_are_emitted_only_with_emit_existing(
    qtbot: Any, watches: Callable[..., Watch], tmp_path: Path
) -> None:
    (tmp_path / "old.csv").write_text("a,b\n")
    quiet = watches(tmp_path)
    loud = watches(tmp_path, emit_existing=True)
    wait_events(qtbot, loud, 1)
    assert loud.names() == [("old.csv", "created")]
    (tmp_path / "new.csv").write_text("c,d\n")
    wait_events(qtbot, quiet, 1)
    wait_events(qtbot, loud, 2)
    assert quiet.names() == [("new.csv", "created")]


def test_modified_files_are_not_emitted_by_default(
    qtbot: Any, watches: Callable[..., Watch], tmp_path: Path
) -> None:
    watch = watches(tmp_path)
    (tmp_path / "a.txt").write_text("1")
    wait_events(qtbot, watch, 1)
    with (tmp_path / "a.txt").open("a") as handle:
        handle.write("more")
    (tmp_path / "b.txt").write_text("sentinel")
    wait_events(qtbot, watch, 2)
    assert watch.names() == [("a.txt", "created"), ("b.txt", "created")]


def test_emit_modified_reports_in_place_writes_and_atomic_replacements(
    qtbot: Any, watches: Callable[..., Watch], tmp_path: Path
) -> None:
    watch = watches(tmp_path, emit_modified=True, file_pattern="*.json")
    target = tmp_path / "doc.json"
    target.write_text("{}")
    wait_events(qtbot, watch, 1)

    with target.open("a") as handle:  # in place
        handle.write(" ")
    wait_events(qtbot, watch, 2)
    assert watch.events[1] == {"path": str(target), "file_name": "doc.json", "event": "modified"}
    assert watch.contents[1] == "{} "

    staging = tmp_path / "doc.json.tmp"  # not matching the pattern
    staging.write_text('{"saved": true}')
    os.replace(staging, target)  # how editors save: a rename over the old file
    wait_events(qtbot, watch, 3)
    assert watch.names()[2] == ("doc.json", "modified")
    assert watch.contents[2] == '{"saved": true}'

    with target.open("a") as handle:  # the replaced file is watched too
        handle.write("\n")
    wait_events(qtbot, watch, 4)
    assert watch.names() == [("doc.json", "created")] + [("doc.json", "modified")] * 3


def test_emit_modified_covers_files_present_before_the_start(
    qtbot: Any, watches: Callable[..., Watch], tmp_path: Path
) -> None:
    (tmp_path / "config.ini").write_text("a=1\n")
    watch = watches(tmp_path, emit_modified=True)
    (tmp_path / "config.ini").write_text("a=2\n")
    wait_events(qtbot, watch, 1)
    assert watch.names() == [("config.ini", "modified")]
    assert watch.contents == ["a=2\n"]


def test_a_file_modified_before_it_settled_is_emitted_once_as_created(
    qtbot: Any, watches: Callable[..., Watch], tmp_path: Path
) -> None:
    watch = watches(tmp_path, emit_modified=True, settle_ms=200)
    (tmp_path / "a.txt").write_text("1")
    QTimer.singleShot(50, lambda: (tmp_path / "a.txt").write_text("12"))
    QTimer.singleShot(60, lambda: (tmp_path / "b.txt").write_text(""))
    wait_events(qtbot, watch, 2)
    assert sorted(watch.names()) == [("a.txt", "created"), ("b.txt", "created")]
    assert dict(zip(watch.names(), watch.contents, strict=True))[("a.txt", "created")] == "12"


# --------------------------------------------------------------------------------------------
# stop


def test_stop_is_idempotent_and_nothing_is_emitted_after_it(
    qtbot: Any, watches: Callable[..., Watch], tmp_path: Path
) -> None:
    stopped = watches(tmp_path)
    (tmp_path / "pending.txt").write_text("x")  # pending when the stop comes
    stopped.stop()
    stopped.stop()
    sentinel = watches(tmp_path)  # a second watcher, started after: proves time has passed
    (tmp_path / "late.txt").write_text("y")
    wait_events(qtbot, sentinel, 1)
    assert sentinel.names() == [("late.txt", "created")]
    assert stopped.events == []


def test_stop_never_raises_after_qt_deleted_the_watch(qapp: object, tmp_path: Path) -> None:
    stop = FileSystemMonitorPlugin().start_events({"watch_path": str(tmp_path)}, print)
    shiboken6.delete(stop.__self__)  # type: ignore[attr-defined]  # e.g. application teardown
    stop()
    stop()


def test_settle_tracker_rule() -> None:
    signatures: dict[str, tuple[int, int] | None] = {"a": (1, 10), "b": (0, 5)}
    tracker = SettleTracker(0.2)
    tracker.observe("a", "created", (1, 10), now=0.0)
    tracker.observe("b", "modified", (0, 5), now=0.0)
    assert tracker.due(signatures.get, now=0.1) == []
    signatures["a"] = (2, 11)  # still growing
    assert [s.name for s in tracker.due(signatures.get, now=0.2)] == ["b"]
    assert [s.name for s in tracker.due(signatures.get, now=0.35)] == []
    settled = tracker.due(signatures.get, now=0.4)
    assert [(s.name, s.event, s.signature) for s in settled] == [("a", "created", (2, 11))]
    tracker.observe("c", "created", (1, 1), now=1.0)
    tracker.observe("c", "modified", (1, 1), now=1.1)  # stays "created", clock not reset
    signatures["c"] = (1, 1)
    assert [(s.name, s.event) for s in tracker.due(signatures.get, now=1.25)] == [("c", "created")]
    tracker.observe("d", "created", (1, 1), now=2.0)
    signatures["d"] = None  # deleted while pending
    assert tracker.due(signatures.get, now=3.0) == []
    assert len(tracker) == 0


# --------------------------------------------------------------------------------------------
# end to end: an EventDriven execution


def _register_watch(
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    configuration: dict[str, Any],
    seen: list[dict[str, Any]],
) -> None:
    def read(params: dict[str, Any]) -> dict[str, Any]:
        seen.append({**params, "text": Path(params["path"]).read_text()})
        return {"read": params["file_name"]}

    fn(plugins, "reader", read)
    register(
        advanced,
        make_workflow(
            "watch",
            Mode.EventDriven,
            [
                node("files", "file_system_monitor", NodeType.Source, configuration=configuration),
                node("reader", node_type=NodeType.Sink),
            ],
            [conn("files", "reader")],
        ),
    )


def test_execution_reports_a_missing_folder_in_error_messages(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager, tmp_path: Path
) -> None:
    missing = tmp_path / "missing"
    _register_watch(advanced, plugins, {"watch_path": str(missing)}, [])
    execution_id = start(advanced, "watch")
    qtbot.waitUntil(lambda: bool(status(advanced, execution_id).error_messages), timeout=5000)
    messages = status(advanced, execution_id).error_messages
    assert any("FileSystemError" in m and str(missing) in m for m in messages), messages
    # Its only source could not start, so the execution ends instead of running forever.
    qtbot.waitUntil(
        lambda: status(advanced, execution_id).status is not WorkflowExecutionStatus.Running,
        timeout=5000,
    )


def test_execution_waits_for_the_folder_and_receives_whole_files(
    qtbot: Any, advanced: AdvancedPluginOrchestrator, plugins: PluginManager, tmp_path: Path
) -> None:
    folder = tmp_path / "incoming"
    seen: list[dict[str, Any]] = []
    _register_watch(
        advanced,
        plugins,
        {"watch_path": str(folder), "wait_for_path": True, "settle_ms": SETTLE_MS},
        seen,
    )
    execution_id = start(advanced, "watch")
    folder.mkdir()
    lines = [f"{index},{index * index}\n" for index in range(5)]
    target = folder / "data.csv"

    def append() -> None:
        with target.open("a") as handle:
            handle.write(lines[len(appended)])
        appended.append(1)
        if len(appended) == len(lines):
            writer.stop()

    appended: list[int] = []
    writer = QTimer()
    writer.setInterval(30)
    writer.timeout.connect(append)
    with qtbot.waitSignal(
        advanced.node_completed,
        timeout=5000,
        check_params_cb=lambda e, n, r: n == "reader" and r == {"read": "data.csv"},
    ):
        writer.start()
    assert len(seen) == 1
    assert seen[0]["text"] == "".join(lines)
    assert seen[0]["event"] == "created"
    assert seen[0]["path"] == str(target)
    ctx = status(advanced, execution_id)
    assert ctx.status is WorkflowExecutionStatus.Running
    assert ctx.error_messages == []
    with qtbot.waitSignal(advanced.workflow_cancelled, timeout=5000):
        assert advanced.cancel_execution(execution_id)


def test_the_built_in_plugin_id_is_the_watchers_own() -> None:
    # plugins._builtins names the built-in by id so the watcher module loads on first use.
    from qtforge_orch.plugins._builtins import _FACTORIES
    from qtforge_orch.plugins.file_system_monitor import PLUGIN_ID

    assert set(_FACTORIES) == {PLUGIN_ID}
    plugin = _FACTORIES[PLUGIN_ID]()
    assert isinstance(plugin, FileSystemMonitorPlugin)
    assert plugin.id() == PLUGIN_ID
