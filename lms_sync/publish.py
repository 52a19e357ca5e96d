"""Bring every programme's published feed entries up to date, and serialise a feed: one programme's, or all.

The store remembers every programme it has seen. A live programme is reconciled with its file; an
archived one, or one whose file is gone, is frozen: its held sessions stay as they were, the ones
still to come are cancelled. So the next cycle never rewrites the last one, and a subscriber of
the feed of every programme keeps the history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .feed import CalendarHeader, build_calendar, freeze, reconcile
from .files import write_atomic
from .i18n import t
from .program import Programme
from .settings import FeedSettings
from .store import FeedEntry, KnownProgramme, Store, utcnow

ALL = "*"  # the scope of the feed of every programme


@dataclass(frozen=True)
class FeedResult:
    """The serialised feed and what changed in this publication."""

    data: bytes
    events: int
    changed: list[FeedEntry]
    last_modified: datetime  # when these exact bytes were first published (HTTP Last-Modified)
    gone: tuple[str, ...] = ()  # programmes whose file is gone and whose sessions to come were just cancelled


def register(store: Store, programmes: Sequence[Programme], now: datetime) -> None:
    """Record that these programme files were read (their status and what their calendar says)."""
    store.register_programmes(
        [(p.id, p.status.value, CalendarHeader.of(p).as_dict()) for p in programmes], now)


def publish_feed(
    programmes: Sequence[Programme] | Programme,
    store: Store,
    settings: FeedSettings,
    *,
    scope: str = ALL,
    lang: str = "fr",
    now: datetime | None = None,
) -> FeedResult:
    """Reconcile every programme's entries in the store, then build the feed of ``scope`` (a programme id, or all).

    ``programmes`` must be every programme there is (not a selection): one the store knows but that
    is not among them is taken as removed.
    """
    if isinstance(programmes, Programme):
        programmes = [programmes]
    now = now or utcnow()
    with store.transaction():  # read and write as one, so concurrent publishers cannot both bump SEQUENCE
        register(store, programmes, now)
        known = {k.id: k for k in store.known_programmes()}
        by_programme: dict[str, list[FeedEntry]] = {}
        for entry in store.feed_entries():
            by_programme.setdefault(entry.programme_id, []).append(entry)
        current = {p.id: p for p in programmes}
        entries: dict[str, list[FeedEntry]] = {}
        changed: list[FeedEntry] = []
        for pid in sorted(set(known) | set(by_programme) | set(current)):
            programme = current.get(pid)
            previous = by_programme.get(pid, [])
            if programme is not None and not programme.archived:
                entries[pid], moved = reconcile(programme, previous, now, settings.uid_domain)
            else:
                entries[pid], moved = freeze(previous, now, file_removed=programme is None)
            changed += moved
        if changed:
            store.save_feed_entries(changed)
        shown = [e for pid, es in entries.items() if scope in (ALL, pid) for e in es]
        shown.sort(key=lambda e: (e.payload["start"], e.uid))
        header = _header(scope, current, known, entries, settings, lang)
        data = build_calendar(header, shown, refresh_interval=settings.refresh_interval,
                              public_url=_public_url(settings.public_url, scope), lang=lang)
        # Calendar-level changes (title, settings) alter the bytes without touching any entry.
        last_modified = store.feed_version(scope, lang, hashlib.sha256(data).hexdigest(), now)
    gone = tuple(sorted({e.programme_id for e in changed if e.programme_id not in current}))
    return FeedResult(data=data, events=len(shown), changed=changed, last_modified=last_modified, gone=gone)


def feed_path(scope: str) -> str:
    """Where a feed is served and written, relative to the combined feed's folder."""
    return "sessions.ics" if scope == ALL else f"programs/{scope}/sessions.ics"


def feed_url_for(combined: str, scope: str) -> str:
    """The address of a feed, from the combined feed's: a programme's lives beside it (``programs/<id>/sessions.ics``)."""
    if scope == ALL:
        return combined
    return combined.rsplit("/", 1)[0] + "/" + feed_path(scope)


def _public_url(combined: str | None, scope: str) -> str | None:
    return None if combined is None else feed_url_for(combined, scope)


def _header(scope: str, current: dict[str, Programme], known: dict[str, KnownProgramme],
            entries: dict[str, list[FeedEntry]],
            settings: FeedSettings, lang: str) -> CalendarHeader:
    """One programme's calendar says what it is; the calendar of several says what they share."""
    with_sessions = [pid for pid, es in entries.items() if es] or list(current)
    if scope == ALL and len(with_sessions) == 1:
        scope = with_sessions[0]  # one programme: its feed of all is its own (the same bytes as before 0007)
    if scope != ALL:
        if scope in current:
            return CalendarHeader.of(current[scope])
        stored = known[scope].header if scope in known else {}
        return CalendarHeader.from_dict(stored, fallback=scope)
    live = [p for p in current.values() if not p.archived] or list(current.values())
    first = live[0] if live else None
    return CalendarHeader(
        name=settings.name or t("feed_all_name", lang),
        description="\n".join(p.title for p in live),
        timezone=first.timezone if first else "UTC",
        url=first.url if first else "",
    )


@dataclass(frozen=True)
class WrittenFeed:
    """One feed file written by ``write_feed_files``."""

    path: Path
    written: bool  # False: the file already held these bytes
    result: FeedResult


def write_feed_files(
    programmes: Sequence[Programme], store: Store, settings: FeedSettings, *, lang: str = "fr",
    now: datetime | None = None,
) -> list[WrittenFeed]:
    """Write the feed of every programme to ``feed.out_path`` and, when there are several, each one's beside it.

    A programme's own feed goes to ``programs/<id>/sessions.ics`` under the same folder: the layout
    ``lms-sync serve`` answers, so a static web server can serve the folder as it is.
    """
    now = now or utcnow()
    out = Path(settings.out_path)
    combined = publish_feed(programmes, store, settings, lang=lang, now=now)
    written = [WrittenFeed(out, write_atomic(out, combined.data), combined)]
    scopes = sorted({e.programme_id for e in store.feed_entries()} | {p.id for p in programmes})
    if len(scopes) > 1:
        for scope in scopes:
            result = publish_feed(programmes, store, settings, scope=scope, lang=lang, now=now)
            path = out.parent / feed_path(scope)
            written.append(WrittenFeed(path, write_atomic(path, result.data), result))
    return written
