"""The participants' iCalendar feed (RFC 5545 and RFC 7986), built deterministically.

``reconcile`` decides, from a live programme and what was published of it before, each entry's
SEQUENCE and change time; ``freeze`` does it for a programme that is over (archived, or its file
removed): what was held stays as it was, what had not yet taken place is cancelled.
``build_calendar`` turns entries into bytes. None of them reads the clock or the disk, so unchanged
data always gives byte-identical output, which calendar clients and ETags rely on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress, vDuration, vText

from .i18n import t
from .program import Programme, Session
from .store import FeedEntry

# RFC 5545 3.7.3: the product's name and the language of the text it writes (its last field).
PRODIDS = {"fr": "-//lms_sync//Programme de formation//FR", "en": "-//lms_sync//Training programme//EN"}
PRODID = PRODIDS["fr"]
CONFIRMED, CANCELLED = "CONFIRMED", "CANCELLED"


def uid_for(programme: Programme, session_id: str, domain: str | None = None) -> str:
    """The permanent UID of a session's event: ``<programme>-<session>@<host>``."""
    return f"{programme.id}-{session_id}@{domain or programme.host}"


def session_payload(programme: Programme, session: Session) -> dict[str, Any]:
    """Everything a session's VEVENT shows, as plain data (stored so removed sessions can be rendered)."""
    return {
        "title": session.title,
        "start": session.start.isoformat(),
        "end": session.end.isoformat(),
        "timezone": programme.timezone,
        "status": CANCELLED if session.cancelled else CONFIRMED,
        "description": session.description,
        "location": session.location or programme.location or programme.url,
        "url": programme.url,
        "organizer_name": programme.organizer.name,
        "organizer_email": programme.organizer.email,
    }


def _digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _schedule_hash(payload: dict[str, Any]) -> str:
    # RFC 5546 counts these as the significant changes that need a higher SEQUENCE.
    return _digest({k: payload[k] for k in ("start", "end", "timezone", "status")})


def reconcile(
    programme: Programme, previous: Iterable[FeedEntry], now: datetime, domain: str | None = None
) -> tuple[list[FeedEntry], list[FeedEntry]]:
    """Entries for a live programme given its published ones: ``(all entries, the changed ones)``."""
    # Matched by UID, not session id: a new UID domain makes new events, and the old ones are
    # cancelled, instead of silently moving subscribers' existing events.
    previous = list(previous)
    published = {entry.uid: entry for entry in previous}
    result: list[FeedEntry] = []
    for session in programme.sessions:
        uid = uid_for(programme, session.id, domain)
        payload = session_payload(programme, session)
        result.append(_next_entry(published.pop(uid, None), payload, uid, session.id, now, removed=False,
                                  programme_id=programme.id))
    for old in published.values():
        # A session no longer in the programme stays in the feed, cancelled, so calendars drop it.
        payload = {**old.payload, "status": CANCELLED}
        result.append(_next_entry(old, payload, old.uid, old.session_id, now, removed=True,
                                  programme_id=programme.id))
    return _changes(previous, result)


def freeze(
    previous: Iterable[FeedEntry], now: datetime, *, file_removed: bool
) -> tuple[list[FeedEntry], list[FeedEntry]]:
    """Entries of a programme that is over: ``(all entries, the changed ones)``.

    A session that has taken place (it started before ``now``) is history: it stays exactly as it
    was published, confirmed if it was. One that had not is cancelled, so calendars drop it.
    """
    previous = list(previous)
    result = []
    for old in previous:
        if held(old, now):
            result.append(old)
        else:
            payload = {**old.payload, "status": CANCELLED}
            result.append(_next_entry(old, payload, old.uid, old.session_id, now,
                                      removed=old.removed or file_removed, programme_id=old.programme_id))
    return _changes(previous, result)


def held(entry: FeedEntry, now: datetime) -> bool:
    """Whether the session of a published entry has started (so it took place, or was cancelled, for good)."""
    start = datetime.fromisoformat(entry.payload["start"]).replace(tzinfo=ZoneInfo(entry.payload["timezone"]))
    return start <= now


def _changes(previous: list[FeedEntry], result: list[FeedEntry]) -> tuple[list[FeedEntry], list[FeedEntry]]:
    previous_by_uid = {entry.uid: entry for entry in previous}
    changed = [entry for entry in result if previous_by_uid.get(entry.uid) != entry]
    result.sort(key=lambda e: (e.payload["start"], e.uid))
    return result, changed


def _next_entry(
    old: FeedEntry | None, payload: dict[str, Any], uid: str, session_id: str, now: datetime, *, removed: bool,
    programme_id: str,
) -> FeedEntry:
    content, schedule = _digest(payload), _schedule_hash(payload)
    if old is None:
        # First publication of this session.
        return FeedEntry(uid, session_id, 0, content, schedule, now, payload["status"], removed, payload,
                         programme_id)
    if old.content_hash == content and old.removed == removed:
        # Nothing subscribers would see has changed: keep the entry as published.
        return old
    # A visible change; time or status changes also raise SEQUENCE so clients replace the event.
    sequence = old.sequence + 1 if old.schedule_hash != schedule else old.sequence
    return replace(
        old,
        sequence=sequence,
        content_hash=content,
        schedule_hash=schedule,
        last_modified=now,
        status=payload["status"],
        removed=removed,
        payload=payload,
        programme_id=programme_id,
    )


@dataclass(frozen=True)
class CalendarHeader:
    """What a calendar says about itself: its name, description, timezone and web page."""

    name: str
    description: str
    timezone: str
    url: str

    @classmethod
    def of(cls, programme: Programme) -> CalendarHeader:
        """A programme's own calendar."""
        return cls(programme.title, programme.description, programme.timezone, programme.url)

    def as_dict(self) -> dict[str, str]:
        """As stored, so a programme whose file is gone can still be published."""
        return {"title": self.name, "description": self.description, "timezone": self.timezone, "url": self.url}

    @classmethod
    def from_dict(cls, data: dict[str, Any], fallback: str) -> CalendarHeader:
        """Inverse of ``as_dict`` (``fallback`` names it when nothing was stored)."""
        return cls(str(data.get("title") or fallback), str(data.get("description") or ""),
                   str(data.get("timezone") or "UTC"), str(data.get("url") or ""))


def build_calendar(
    header: CalendarHeader | Programme,
    entries: Iterable[FeedEntry],
    *,
    refresh_interval: timedelta = timedelta(hours=12),
    public_url: str | None = None,
    lang: str = "fr",
) -> bytes:
    """Serialise the feed: VCALENDAR with a VTIMEZONE per TZID used and one VEVENT per entry."""
    if isinstance(header, Programme):
        header = CalendarHeader.of(header)
    entries = list(entries)
    cal = Calendar()
    cal.add("PRODID", PRODIDS[lang])
    cal.add("VERSION", "2.0")
    cal.add("CALSCALE", "GREGORIAN")
    cal.add("METHOD", "PUBLISH")
    cal.add("NAME", header.name)
    cal.add("X-WR-CALNAME", vText(header.name))
    if header.description:
        cal.add("DESCRIPTION", header.description)
        cal.add("X-WR-CALDESC", vText(header.description))
    cal.add("X-WR-TIMEZONE", header.timezone)
    if header.url:
        cal.add("URL", header.url, parameters={"VALUE": "URI"})
    if public_url:
        cal.add("SOURCE", public_url, parameters={"VALUE": "URI"})
    # icalendar writes REFRESH-INTERVAL without VALUE=DURATION, which RFC 7986 requires.
    cal.add("REFRESH-INTERVAL", refresh_interval, parameters={"VALUE": "DURATION"})
    cal.add("X-PUBLISHED-TTL", vDuration(refresh_interval))

    ranges = _zone_ranges(entries)
    if not ranges:
        # RFC 5545 wants at least one component: an empty programme still carries its timezone.
        year = date(2000, 1, 1)
        ranges = {header.timezone: (year, year.replace(year=2001))}
    for tzid, (first, last) in sorted(ranges.items()):
        cal.add_component(Timezone.from_tzid(tzid, first_date=first, last_date=last))
    for entry in entries:
        cal.add_component(_event(entry, lang))
    return cal.to_ical()


def _zone_ranges(entries: list[FeedEntry]) -> dict[str, tuple[date, date]]:
    # The VTIMEZONE covers the years the sessions span, so it stays small and stable.
    ranges: dict[str, tuple[date, date]] = {}
    for entry in entries:
        tzid = entry.payload["timezone"]
        start = datetime.fromisoformat(entry.payload["start"]).date()
        end = datetime.fromisoformat(entry.payload["end"]).date()
        first, last = ranges.get(tzid, (start, end))
        ranges[tzid] = (min(first, start), max(last, end))
    return {tzid: (date(first.year, 1, 1), date(last.year + 1, 1, 1)) for tzid, (first, last) in ranges.items()}


def _event(entry: FeedEntry, lang: str) -> Event:
    payload = entry.payload
    cancelled = payload["status"] == CANCELLED
    event = Event()
    # UID and DTSTAMP are always set here: icalendar would otherwise invent a random UID and "now".
    event.add("UID", entry.uid)
    event.add("DTSTAMP", entry.last_modified)
    event.add("LAST-MODIFIED", entry.last_modified)
    event.add("SEQUENCE", entry.sequence)
    event.add("STATUS", payload["status"])
    summary = payload["title"]
    event.add("SUMMARY", t("cancelled_prefix", lang) + summary if cancelled else summary)
    tzid = payload["timezone"]
    zone = ZoneInfo(tzid)
    event.add("DTSTART", datetime.fromisoformat(payload["start"]).replace(tzinfo=zone))
    event.add("DTEND", datetime.fromisoformat(payload["end"]).replace(tzinfo=zone))
    event.add("LOCATION", payload["location"])
    event.add("URL", payload["url"], parameters={"VALUE": "URI"})
    organizer = vCalAddress(f"mailto:{payload['organizer_email']}")
    organizer.params["CN"] = payload["organizer_name"]
    event.add("ORGANIZER", organizer)
    description = payload["description"].strip()
    footer = f"{t('platform', lang)} : {payload['url']}" if lang == "fr" else f"{t('platform', lang)}: {payload['url']}"
    event.add("DESCRIPTION", f"{description}\n\n{footer}" if description else footer)
    event.add("TRANSP", "OPAQUE")
    return event
