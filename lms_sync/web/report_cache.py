"""Completion reports for ``serve``, rendered off the request path and kept per snapshot and language.

Rendering an XLSX of a big snapshot takes a while; fifty clients asking for it used to keep every
worker thread busy, and the public feed waited behind them. Here one background thread renders,
each distinct request once per state of the snapshots (a new pull, or a pull finishing, makes new
reports; other writes, the feed's for one, do not), and keeps the bytes in a bounded cache. A request thread answers a cached report at once;
for one not rendered yet it waits for the render thread, but only if one of a few *seats* is free
(half the worker threads): the others answer ``503`` with ``Retry-After`` at once, so the threads the
feed needs are never all waiting on reports.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import date
from typing import Protocol

from ..program import AttestationRule
from ..reports import CONTENT_TYPES, render_report
from ..settings import Settings
from ..snapshots import snapshots_signature
from ..store import Store

log = logging.getLogger("lms_sync.web")

# How long a request waits for its report to be rendered before answering "try again".
RENDER_WAIT_SECONDS = 30.0
RETRY_AFTER_SECONDS = 5
CACHE_BYTES = 64 * 1024 * 1024

# generation, fmt, run, since, lang, delimiter, programme, report, view, attestation rule
Key = tuple[int, str, "str | int", "date | None", str, str, "str | None", str, str, "AttestationRule | None"]


class ReportRenderer(Protocol):
    """Renders a report (``completion`` or ``attestation``): ``(body, content type)``."""

    def __call__(self, store: Store, fmt: str, *, run: str | int, since: date | None, lang: str,
                 delimiter: str, programme_id: str | None = None, report: str = "completion",
                 view: str = "participants", rule: AttestationRule | None = None) -> tuple[bytes, str]: ...


def render_report_with_type(store: Store, fmt: str, *, run: str | int, since: date | None, lang: str,
                            delimiter: str, programme_id: str | None = None, report: str = "completion",
                            view: str = "participants", rule: AttestationRule | None = None) -> tuple[bytes, str]:
    """The default renderer: ``lms_sync.reports`` and its content type."""
    body = render_report(store, fmt, run=run, since=since, lang=lang, delimiter=delimiter, programme_id=programme_id,
                         view=view, report=report, rule=rule)
    return body, CONTENT_TYPES[fmt]


class ReportsBusy(Exception):
    """No seat free, or the render takes longer than a request may wait: the client should retry."""


class ReportCache:
    """Rendered reports by (store state, format, run, since, language, delimiter), made by one render thread."""

    def __init__(self, settings: Settings, renderer: ReportRenderer, *, seats: int, recheck_seconds: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, wait_seconds: float = RENDER_WAIT_SECONDS,
                 max_bytes: int = CACHE_BYTES) -> None:
        """Open the render thread's connection and a small one to notice new data."""
        self._renderer = renderer
        self._render_store = Store(settings.state_path, check_same_thread=False)  # used by the render thread only
        self._probe = Store(settings.state_path, check_same_thread=False)
        self._probe_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lms-sync-reports")
        self._seats = threading.BoundedSemaphore(max(1, seats))
        self._lock = threading.Lock()
        self._cache: OrderedDict[Key, tuple[bytes, str]] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes
        self._pending: dict[Key, Future[tuple[bytes, str]]] = {}
        self._wait = wait_seconds
        self._recheck = recheck_seconds
        self._clock = clock
        self._next_check = -math.inf
        self._data_version: int | None = None
        self._signature: tuple[object, ...] | None = None
        self._generation = 0

    def close(self) -> None:
        """Stop the render thread and close the connections."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._render_store.close()
        with self._probe_lock:
            self._probe.close()

    def get(self, fmt: str, *, run: str | int, since: date | None, lang: str, delimiter: str,
            programme_id: str | None = None, report: str = "completion",
            view: str = "participants", rule: AttestationRule | None = None) -> tuple[bytes, str]:
        """The report's bytes and content type; raises ReportsBusy, or what the renderer raised (LookupError...).

        The attestation's ``rule`` is part of the key: an edited programme file gives a new list at once."""
        key: Key = (self._current_generation(), fmt, run, since, lang, delimiter, programme_id, report, view, rule)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        if not self._seats.acquire(blocking=False):
            raise ReportsBusy("every seat for report rendering is taken")
        try:
            with self._lock:
                future = self._pending.get(key)
                if future is None:
                    future = self._executor.submit(self._render, key)
                    self._pending[key] = future
            try:
                return future.result(timeout=self._wait)
            except FutureTimeout:
                raise ReportsBusy("the report is still being rendered") from None
        finally:
            self._seats.release()

    def _render(self, key: Key) -> tuple[bytes, str]:
        _, fmt, run, since, lang, delimiter, programme_id, report, view, rule = key
        started = time.monotonic()
        try:
            extra = {"rule": rule} if rule is not None else {}
            answer = self._renderer(self._render_store, fmt, run=run, since=since, lang=lang, delimiter=delimiter,
                                    programme_id=programme_id, report=report, view=view, **extra)
        finally:
            with self._lock:
                self._pending.pop(key, None)
        log.info("report %s %s (%s) rendered in %.2f s, %d bytes", report, fmt, lang, time.monotonic() - started,
                 len(answer[0]))
        with self._lock:
            if key[0] == self._generation and len(answer[0]) <= self._max_bytes:
                self._cache[key] = answer
                self._bytes += len(answer[0])
                while self._bytes > self._max_bytes:
                    _, (body, _type) = self._cache.popitem(last=False)
                    self._bytes -= len(body)
        return answer

    def _current_generation(self) -> int:
        if self._clock() < self._next_check:
            return self._generation
        with self._probe_lock:
            # data_version is a cheap "did anyone commit?"; only then is the snapshots' signature read.
            version = int(self._probe.db.execute("PRAGMA data_version").fetchone()[0])
            signature = self._signature
            if version != self._data_version:
                self._data_version = version
                signature = snapshots_signature(self._probe)
            self._next_check = self._clock() + self._recheck
        with self._lock:
            if signature != self._signature:
                self._signature = signature
                self._generation += 1
                # Reports of the old state can never be asked for again.
                self._cache.clear()
                self._bytes = 0
            return self._generation

