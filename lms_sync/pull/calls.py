"""Counting the Moodle calls one pull makes (the pool's threads included), for its summary line."""

from __future__ import annotations

import threading


class Calls:
    """A thread-safe call counter."""

    def __init__(self) -> None:
        self.n = 0
        self._lock = threading.Lock()

    def add(self, k: int = 1) -> None:
        """Count ``k`` more calls."""
        with self._lock:
            self.n += k
