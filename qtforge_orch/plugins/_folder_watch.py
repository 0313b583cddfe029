"""One watched folder: follows it through deletion and re-creation, and emits settled files.

Lives in the thread that created it (the orchestrator's thread) and is driven only by Qt
signals there: ``QFileSystemWatcher`` notifications and one ``QTimer`` that re-checks the files
waiting to settle. Nothing sleeps and nothing polls while no file is pending.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import time

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer

from ..contract.event_source import EmitEvent
from ..errors import PluginError, PluginErrorCode
from ._settling import SettleTracker, Signature, signature
from ._watch_options import WatchOptions

Identity = tuple[int, int]  # (st_dev, st_ino): tells a re-created folder from the old one

CREATED = "created"
MODIFIED = "modified"


def folder_identity(path: str) -> Identity | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        return None
    return (info.st_dev, info.st_ino)


def nearest_existing_ancestor(path: str) -> str:
    """The closest proper ancestor of ``path`` that is a folder ("" for a filesystem root)."""
    current = path
    while True:
        parent = os.path.dirname(current)
        if parent == current:
            return ""
        if os.path.isdir(parent):
            return parent
        current = parent


def _tick_ms(settle_ms: int) -> int:
    # A quarter of the settle time keeps the emission within 25 % of it, without waking the
    # GUI thread more than every 10 ms for very short settle times.
    return max(10, min(250, settle_ms // 4))


class FolderWatch(QObject):
    """Watches ``options.folder`` and its nearest existing ancestor.

    The ancestor is watched all the time (while the folder exists, that is its parent) so that
    the folder's creation, deletion or replacement is noticed on every platform; the folder
    itself is watched while it exists, for the files coming and going inside it.
    """

    def __init__(self, options: WatchOptions, emit: EmitEvent) -> None:
        super().__init__()
        self._options = options
        self._emit = emit
        self._folder = options.folder
        self._watcher = QFileSystemWatcher(self)
        self._timer = QTimer(self)
        self._timer.setInterval(_tick_ms(options.settle_ms))
        self._timer.timeout.connect(self._poll)
        self._pending = SettleTracker(options.settle_ms / 1000)
        # Matching files present and either already emitted or present before the start (and
        # not to be emitted): their last reported signature, to tell a modification.
        self._known: dict[str, Signature] = {}
        self._identity: Identity | None = None
        self._anchor = ""
        self._stopped = False
        self._watcher.directoryChanged.connect(self._on_directory)
        self._watcher.fileChanged.connect(self._on_file)

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Begin watching. Raises ``PluginError(FileSystemError)`` when the folder is missing
        (unless ``wait_for_path``) or cannot be watched."""
        options = self._options
        identity = folder_identity(self._folder)
        if identity is None and not options.wait_for_path:
            what = "is not a folder" if os.path.exists(self._folder) else "does not exist"
            raise PluginError(
                PluginErrorCode.FileSystemError,
                f"file_system_monitor: watch_path '{self._folder}' {what} "
                "(set wait_for_path: true to wait for it to appear)",
            )
        if identity is not None:
            if not self._watcher.addPath(self._folder):
                raise PluginError(
                    PluginErrorCode.FileSystemError,
                    f"file_system_monitor: cannot watch '{self._folder}' (permissions, or the "
                    "system's limit on watched folders)",
                )
            self._identity = identity
            if not options.emit_existing:
                self._adopt_existing()
        self._follow()
        self._scan()

    def stop(self) -> None:
        """Idempotent and never raises: it runs while an execution ends, possibly after Qt has
        already destroyed these objects during application shutdown."""
        if self._stopped:
            return
        self._stopped = True
        self._pending.clear()
        try:
            self._timer.stop()
            self._watcher.blockSignals(True)
            paths = self._watcher.files() + self._watcher.directories()
            if paths:  # removePaths([]) makes Qt print a warning
                self._watcher.removePaths(paths)
            self.deleteLater()
        except RuntimeError:  # "Internal C++ object already deleted": nothing left to stop
            pass

    # --- notifications ----------------------------------------------------------------------
    def _on_directory(self, path: str) -> None:
        if self._stopped:
            return
        replaced = self._follow()
        if replaced or path == self._folder:
            self._scan()

    def _on_file(self, path: str) -> None:
        if self._stopped:
            return
        name = os.path.basename(path)
        if name not in self._known:
            return
        current = signature(path)
        if current is None:
            return  # deleted or renamed away: the folder's own notification handles it
        if path not in self._watcher.files():
            self._watcher.addPath(path)  # replaced by a rename (an atomic save): watch the new
        if current != self._known[name]:
            self._pending.observe(name, MODIFIED, current, time.monotonic())
            self._schedule()

    # --- the folder and its ancestor ------------------------------------------------------
    def _follow(self) -> bool:
        """Bring the watches in line with the file system; True when the watched folder
        appeared, disappeared or was replaced (its files must be listed again)."""
        changed = False
        # Each round either finds the watches right or moves the anchor one level down toward
        # the folder (a `mkdir -p` racing with us): bounded by the depth of the path.
        for _ in range(self._folder.count(os.sep) + 2):
            identity = folder_identity(self._folder)
            listed = self._folder in self._watcher.directories()
            if identity != self._identity or (identity is not None and not listed):
                self._forget_folder(listed)
                if identity is not None and self._watcher.addPath(self._folder):
                    self._identity = identity
                changed = True
            if not self._move_anchor():
                break
        return changed

    def _forget_folder(self, listed: bool) -> None:
        """The old folder is gone: so are its files, and a re-created folder's files are new."""
        if listed:
            self._watcher.removePath(self._folder)
        files = self._watcher.files()
        if files:
            self._watcher.removePaths(files)
        self._known.clear()
        self._pending.clear()
        self._identity = None

    def _move_anchor(self) -> bool:
        anchor = nearest_existing_ancestor(self._folder)
        directories = self._watcher.directories()
        if anchor == self._anchor and (not anchor or anchor in directories):
            return False
        if self._anchor and self._anchor in directories:
            self._watcher.removePath(self._anchor)
        self._anchor = anchor if anchor and self._watcher.addPath(anchor) else ""
        return True

    # --- files ------------------------------------------------------------------------------
    def _matching(self) -> set[str]:
        try:
            names = os.listdir(self._folder)
        except OSError:
            return set()
        return {name for name in names if fnmatch.fnmatch(name, self._options.pattern)}

    def _path(self, name: str) -> str:
        return os.path.join(self._folder, name)

    def _adopt_existing(self) -> None:
        """Files there before the start are not events, but their modifications can be."""
        for name in self._matching():
            current = signature(self._path(name))
            if current is not None:
                self._known[name] = current
        if self._options.emit_modified and self._known:
            self._watcher.addPaths([self._path(name) for name in self._known])

    def _scan(self) -> None:
        if self._identity is None:
            return
        names = self._matching()
        for gone in [name for name in self._known if name not in names]:
            del self._known[gone]
            if self._path(gone) in self._watcher.files():
                self._watcher.removePath(self._path(gone))
        self._pending.retain(names)
        now = time.monotonic()
        for name in names:
            if name in self._pending:
                continue  # the timer re-checks it
            current = signature(self._path(name))
            if current is None:
                continue  # a folder matching the pattern, or already gone
            if name not in self._known:
                self._pending.observe(name, CREATED, current, now)
            elif self._options.emit_modified and current != self._known[name]:
                # Replaced by a rename over it: no file notification came for the new inode.
                self._pending.observe(name, MODIFIED, current, now)
        self._schedule()

    def _schedule(self) -> None:
        if not self._pending:
            return
        if self._options.settle_ms == 0:
            self._poll()
        elif not self._timer.isActive():
            self._timer.start()

    def _poll(self) -> None:
        if self._stopped:
            return
        settled = self._pending.due(lambda name: signature(self._path(name)), time.monotonic())
        for file in settled:
            path = self._path(file.name)
            self._known[file.name] = file.signature
            if self._options.emit_modified:
                # (Re-)arm the file's own watch: after a rename over it, the old watch may
                # still be listed but follow the old, unlinked inode.
                if path in self._watcher.files():
                    self._watcher.removePath(path)
                self._watcher.addPath(path)
                # A write between the check above and the new watch would go unnoticed.
                current = signature(path)
                if current is not None and current != file.signature:
                    self._pending.observe(file.name, MODIFIED, current, time.monotonic())
            self._emit({"path": path, "file_name": file.name, "event": file.event})
            if self._stopped:  # the consumer stopped us from inside emit
                return
        if not self._pending:
            self._timer.stop()
