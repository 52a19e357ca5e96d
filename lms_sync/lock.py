"""One run at a time per programme (and per feed): exclusive, non-blocking lock files beside the state store.

Two programmes share a store but not a lock, so their nightly runs can go side by side; SQLite's
own locking keeps their writes apart.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import LockHeld
from .store import state_error


def lock_path(state_path: Path, scope: str | None = None) -> Path:
    """The lock file of a scope: ``<state>.lock``, ``<state>.programme-<id>.lock``, ``<state>.feed.lock``..."""
    return state_path.with_name(state_path.name + (f".{scope}" if scope else "") + ".lock")


def programme_scope(programme_id: str) -> str:
    """The lock scope of one programme's push and pull."""
    return f"programme-{programme_id}"


@contextmanager
def run_lock(state_path: Path, scope: str | None = None) -> Iterator[None]:
    """Hold the lock of ``scope`` for the block, or raise LockHeld at once if another run has it."""
    path = lock_path(state_path, scope)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The kernel drops a flock when its holder dies, so a killed run never leaves a stale lock.
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise state_error(state_path, exc) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            what = f" for {scope.replace('-', ' ', 1)}" if scope else ""
            raise LockHeld(
                f"another lms-sync run (pid {holder}) is using {state_path}{what}",
                hint="wait for it to finish; a scheduled run can simply be skipped this time",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
