"""Which process owns a running execution, and whether that process is still alive.

Each open journal draws a random token and holds an exclusive OS lock on a file next to the
database, ``<database>.owner-<token>``, for as long as it is open. Executions it starts carry
the token. The kernel releases the lock when the process ends, however it ends (SIGKILL, a
crash, a power-off of the process tree), so another process can tell a live owner (the lock is
held) from a dead one (the lock can be taken, or the file is gone) without trusting pids, which
the system reuses.

The lock file is created under a temporary name, locked, then renamed into place, so nobody can
see an owner file that is not locked yet. A forked child closes its copy of the descriptor at
once (``os.register_at_fork``): a ``flock`` is shared by every descriptor of the open file, so
a child process that outlives its parent (a process-pool worker) would otherwise keep the
parent's executions looking alive. Locks are ``flock`` locks on POSIX (per open file, so
two journals in one process on one database are told apart too) and ``msvcrt.locking`` on
Windows. Network filesystems may not honour either; keep journals on a local disk.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import time
import weakref
from pathlib import Path

_PREFIX = ".owner-"
_PENDING = ".owning-"
_PENDING_STALE_S = 60.0  # a pending file this old belongs to a process that died creating it

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)


def owner_file(database: Path, token: str) -> Path:
    """The lock file of owner ``token`` of ``database``."""
    return database.with_name(database.name + _PREFIX + token)


class OwnerLock:
    """This process's claim on its executions: an exclusively locked file, held until release."""

    def __init__(self, database: Path) -> None:
        self.token = secrets.token_hex(8)
        self.pid = os.getpid()
        self.path = owner_file(database, self.token)
        pending = database.with_name(database.name + _PENDING + self.token)
        fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, f"{self.pid}\n".encode())
            if not _try_lock(fd):  # nobody else knows the name yet
                raise OSError(f"could not lock {pending}")
            os.replace(pending, self.path)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(pending)
            raise
        self._fd: int | None = fd
        _HELD.add(self)

    def _forget(self) -> None:
        """In a forked child: drop the inherited descriptor, leave the parent's lock alone."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def release(self) -> None:
        """Remove the file and drop the lock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        _unlock(fd)
        os.close(fd)


_HELD: weakref.WeakSet[OwnerLock] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for lock in list(_HELD):
        lock._forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def owner_alive(database: Path, token: str) -> bool:
    """Whether the journal that drew ``token`` still holds its lock (in any process).

    A dead owner's file is removed on the way.
    """
    path = owner_file(database, token)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell: assume alive rather than steal a running execution
    try:
        if not _try_lock(fd):
            return True
        with contextlib.suppress(OSError):
            os.unlink(path)
        _unlock(fd)
        return False
    finally:
        os.close(fd)


def remove_stale_owner_files(database: Path) -> None:
    """Delete the owner files of journals that are gone (crashed before recording anything)."""
    prefix = database.name + _PREFIX
    try:
        names = [entry.name for entry in os.scandir(database.parent)]
    except OSError:
        return
    for name in names:
        if name.startswith(prefix):
            owner_alive(database, name[len(prefix) :])
        elif name.startswith(database.name + _PENDING):
            _remove_stale_pending(database.with_name(name))


def _remove_stale_pending(path: Path) -> None:
    """A pending file left by a process that died between creating and renaming it."""
    try:
        if time.time() - path.stat().st_mtime < _PENDING_STALE_S:
            return  # maybe being created right now
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return
    try:
        if _try_lock(fd):
            with contextlib.suppress(OSError):
                os.unlink(path)
            _unlock(fd)
    finally:
        os.close(fd)
