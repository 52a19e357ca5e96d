"""One run at a time per state store: an exclusive, non-blocking lock file beside it."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import LockHeld
from .store import state_error


@contextmanager
def run_lock(state_path: Path) -> Iterator[None]:
    """Hold ``<state>.lock`` for the block, or raise LockHeld at once if another run has it."""
    path = state_path.with_name(state_path.name + ".lock")
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
            raise LockHeld(
                f"another lms-sync run (pid {holder}) is using {state_path}",
                hint="wait for it to finish; a scheduled run can simply be skipped this time",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
