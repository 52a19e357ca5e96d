"""Bring the published feed entries up to date with the programme and serialise the feed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from .feed import build_calendar, reconcile
from .program import Programme
from .settings import FeedSettings
from .store import FeedEntry, Store, utcnow


@dataclass(frozen=True)
class FeedResult:
    """The serialised feed and what changed in this publication."""

    data: bytes
    events: int
    changed: list[FeedEntry]
    last_modified: datetime  # when these exact bytes were first published (HTTP Last-Modified)


def publish_feed(
    programme: Programme, store: Store, settings: FeedSettings, *, lang: str = "fr", now: datetime | None = None
) -> FeedResult:
    """Record the changes since the last publication in the store, then build the feed bytes."""
    now = now or utcnow()
    with store.transaction():  # read and write as one, so concurrent publishers cannot both bump SEQUENCE
        entries, changed = reconcile(programme, store.feed_entries(), now, settings.uid_domain)
        if changed:
            store.save_feed_entries(changed)
        data = build_calendar(
            programme, entries, refresh_interval=settings.refresh_interval, public_url=settings.public_url, lang=lang
        )
        # Calendar-level changes (title, settings) alter the bytes without touching any entry.
        last_modified = store.feed_version(lang, hashlib.sha256(data).hexdigest(), now)
    return FeedResult(data=data, events=len(entries), changed=changed, last_modified=last_modified)
