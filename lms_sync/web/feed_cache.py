"""The feed bytes of each scope and language, built once and refreshed only when a programme or the store changed.

A scope is one programme's feed (``/programs/<id>/sessions.ics``) or the feed of every programme
(``/sessions.ics``). At most once per ``recheck_seconds`` (1 s) one request thread stats the
programme files and asks
SQLite for ``PRAGMA data_version`` (which changes only when *another* connection committed, e.g. a
nightly ``lms-sync sync``). When neither changed, nothing else happens; every other request answers
from memory without touching SQLite or the disk. When one changed, the programmes are reloaded and
``publish_feed`` runs again: it writes to the store only when a programme really differs from what
was published (that write is what raises SEQUENCE and moves LAST-MODIFIED), so the server never
writes per request; other threads keep answering with the previous bytes while that rebuild runs. A
programme file that fails to load keeps the last good feeds online and logs a warning.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ..errors import ConfigError
from ..program import Programme
from ..program.catalog import catalog_for, files_stamp
from ..publish import ALL, publish_feed
from ..settings import Settings
from ..store import Store, utcnow
from .headers import CSP_NONE, SECURITY_HEADERS, Headers, http_date

log = logging.getLogger("lms_sync.web")

# Calendar clients poll every few hours; an hour lets a proxy absorb bursts while a moved session
# still reaches everyone well within the feed's REFRESH-INTERVAL (12 h by default).
FEED_MAX_AGE = 3600


@dataclass(frozen=True)
class FeedVariant:
    """The feed in one language, with the headers of its answers built once."""

    data: bytes
    etag: str
    last_modified: datetime | None
    headers: Headers = field(repr=False)

    @classmethod
    def build(cls, data: bytes, last_modified: datetime | None) -> FeedVariant:
        """Wrap feed bytes: strong ETag from their hash, Last-Modified from when these bytes were published."""
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        headers: Headers = [("Content-Type", "text/calendar; charset=utf-8"), ("ETag", etag),
                            ("Cache-Control", f"public, max-age={FEED_MAX_AGE}")]
        if last_modified is not None:
            headers.append(("Last-Modified", http_date(last_modified)))
        headers += SECURITY_HEADERS + [("Content-Security-Policy", CSP_NONE)]
        return cls(data, etag, last_modified, headers)


class FeedCache:
    """The programmes and the built feed bytes, refreshed only when a programme file or the store changed."""

    def __init__(self, settings: Settings, *, recheck_seconds: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] = utcnow) -> None:
        """Open its own store connection; nothing is read until the first request."""
        self._now = now
        self._settings = settings
        self._feed_settings = settings.feed
        # Its own connection: feed rebuilds never wait behind a slow report, and data_version works
        # per connection, so the server's own publish_feed commits do not trigger a needless rebuild.
        self._store = Store(settings.state_path, check_same_thread=False)
        self._recheck = recheck_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._next_check = -math.inf
        self._stamp: object = None
        self._data_version: int | None = None
        self._programmes: tuple[Programme, ...] | None = None
        self._scopes: frozenset[str] = frozenset()
        self._scopes_generation = -1
        # Variants are tagged with the generation they were built for; a change bumps the generation
        # but keeps the old bytes, so while one thread rebuilds (possibly waiting on SQLite's write
        # lock held by a nightly sync) the others keep answering with the previous feed.
        self._generation = 0
        self._variants: dict[tuple[str, str], tuple[int, FeedVariant]] = {}

    def close(self) -> None:
        """Release the store connection."""
        with self._lock:
            self._store.close()

    def programmes(self) -> tuple[Programme, ...] | None:
        """The last programmes that loaded without errors (None if they never did)."""
        if self._clock() >= self._next_check:
            with self._lock:
                self._maybe_refresh()
        return self._programmes

    def knows(self, scope: str) -> bool:
        """Whether ``scope`` names a programme with a feed (in the files, or published before)."""
        self.programmes()
        return scope in self._scopes

    def variant(self, lang: str, scope: str = ALL) -> FeedVariant | None:
        """The feed of ``scope`` in ``lang``; None when no valid programme was ever loaded."""
        key = (scope, lang)
        entry = self._variants.get(key)
        if entry is not None and entry[0] == self._generation and self._clock() < self._next_check:
            return entry[1]
        if not self._lock.acquire(blocking=False):
            if entry is not None:
                return entry[1]  # another thread is re-checking or rebuilding; these bytes were right a moment ago
            self._lock.acquire()
        try:
            self._maybe_refresh()
            entry = self._variants.get(key)
            if (entry is None or entry[0] != self._generation) and self._programmes is not None:
                entry = (self._generation, self._build(self._programmes, lang, scope))
                # Replace, never mutate: lock-free readers always see a complete dict.
                self._variants = {**self._variants, key: entry}
            return entry[1] if entry is not None else None
        finally:
            self._lock.release()

    def _maybe_refresh(self) -> None:
        # Caller holds self._lock.
        if self._clock() < self._next_check:
            return
        stamp = files_stamp(self._settings)
        version = int(self._store.db.execute("PRAGMA data_version").fetchone()[0])
        if self._programmes is None or stamp != self._stamp:
            try:
                catalog, _warnings = catalog_for(self._settings)
            except ConfigError as err:
                if stamp != self._stamp:  # say it once per file change, not once per second
                    log.warning("a programme file cannot be loaded; still serving the last good feeds: %s", err)
                catalog = None
            if catalog is not None:
                self._programmes = tuple(e.programme for e in catalog)
                self._generation += 1
            self._stamp = stamp
        if version != self._data_version:
            self._data_version = version
            self._generation += 1
        if self._generation != self._scopes_generation:
            known = {k.id for k in self._store.known_programmes()}
            self._scopes = frozenset(known | {p.id for p in self._programmes or ()})
            self._scopes_generation = self._generation
        self._next_check = self._clock() + self._recheck

    def _build(self, programmes: tuple[Programme, ...], lang: str, scope: str) -> FeedVariant:
        result = publish_feed(programmes, self._store, self._feed_settings, scope=scope, lang=lang, now=self._now())
        if result.changed:
            log.info("feed: %d entr(ies) changed since the last publication", len(result.changed))
        return FeedVariant.build(result.data, result.last_modified)
