"""Several programmes in one store: the next cycle never rewrites the last one in subscribers' calendars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
import pytest

from lms_sync.program import Programme, ProgrammeStatus, load_programme
from lms_sync.publish import publish_feed
from lms_sync.settings import FeedSettings
from lms_sync.store import Store
from tests.conftest import SHIPPED_PROGRAM

BEFORE_FIRST = datetime(2020, 11, 20, 10, 0, tzinfo=UTC)
BETWEEN = datetime(2021, 1, 10, 10, 0, tzinfo=UTC)  # sessions 1-3 of 2020-2021 held, the fourth to come
AFTER = datetime(2021, 6, 1, 10, 0, tzinfo=UTC)


def cycle_2020() -> Programme:
    """The shipped first cycle."""
    return load_programme(SHIPPED_PROGRAM)[0]


def cycle_2021() -> Programme:
    """The next cycle: a copy of the first with a new id and dates a year later, as ENA would make it."""
    first = cycle_2020()
    sessions = tuple(s.model_copy(update={"start": s.start.replace(year=s.start.year + 1),
                                          "end": s.end.replace(year=s.end.year + 1)}) for s in first.sessions)
    course = first.course.model_copy(update={"shortname": "DGIDT-IA-2021"})
    return first.model_copy(update={"id": "dgidt-ia-2021", "title": "Cycle IA 2021-2022", "sessions": sessions,
                                    "course": course})


def events(data: bytes) -> dict[str, icalendar.Event]:
    """VEVENTs by UID."""
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(data).walk("VEVENT")}


def statuses(data: bytes) -> dict[str, str]:
    """STATUS of each event by UID."""
    return {uid: str(e["STATUS"]) for uid, e in events(data).items()}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "state.sqlite3") as s:
        yield s


def test_two_live_programmes_make_eight_confirmed_sessions(store: Store) -> None:
    """The feed of every programme has both cycles; each programme's feed only its own."""
    both = [cycle_2020(), cycle_2021()]
    result = publish_feed(both, store, FeedSettings(), now=BEFORE_FIRST)
    assert result.events == 8 and set(statuses(result.data).values()) == {"CONFIRMED"}
    calendar = icalendar.Calendar.from_ical(result.data)
    assert str(calendar["X-WR-CALNAME"]) == "Séances de formation"
    one = publish_feed(both, store, FeedSettings(), scope="dgidt-ia-2021", now=BEFORE_FIRST)
    assert all(uid.startswith("dgidt-ia-2021-") for uid in events(one.data)) and one.events == 4
    assert str(icalendar.Calendar.from_ical(one.data)["X-WR-CALNAME"]) == "Cycle IA 2021-2022"
    assert one.changed == []  # publishing another view changes nothing


def test_the_next_cycle_replacing_the_file_keeps_the_held_sessions(store: Store) -> None:
    """config/program.toml now holds the next cycle: the sessions held stay confirmed, the one to come is cancelled."""
    publish_feed([cycle_2020()], store, FeedSettings(), now=BEFORE_FIRST)
    before = events(publish_feed([cycle_2020()], store, FeedSettings(), now=BEFORE_FIRST).data)
    result = publish_feed([cycle_2021()], store, FeedSettings(), now=BETWEEN)
    after = events(result.data)
    assert result.events == 8 and result.gone == ("dgidt-ia-2020",)
    old = {uid: e for uid, e in after.items() if uid.startswith("dgidt-ia-2020-")}
    held = [uid for uid in old if "seance-4" not in uid]
    for uid in held:  # byte for byte as subscribers had them: same SEQUENCE, same DTSTAMP
        assert old[uid].to_ical() == before[uid].to_ical()
    fourth = old["dgidt-ia-2020-seance-4@formation.ena.tn"]
    assert str(fourth["STATUS"]) == "CANCELLED" and int(fourth["SEQUENCE"]) == 1
    assert {str(e["STATUS"]) for uid, e in after.items() if uid.startswith("dgidt-ia-2021-")} == {"CONFIRMED"}


def test_an_archived_programme_stays_as_it_was(store: Store) -> None:
    """Archived after its last session: nothing changes for its subscribers, even if its file is edited later."""
    publish_feed([cycle_2020()], store, FeedSettings(), now=BEFORE_FIRST)
    archived = cycle_2020().model_copy(update={"status": ProgrammeStatus.ARCHIVED})
    edited = archived.model_copy(update={"sessions": archived.sessions[:2]})  # a session removed by mistake
    result = publish_feed([edited, cycle_2021()], store, FeedSettings(), now=AFTER)
    old = {uid: s for uid, s in statuses(result.data).items() if uid.startswith("dgidt-ia-2020-")}
    assert list(old.values()) == ["CONFIRMED"] * 4
    assert not [e for e in result.changed if e.programme_id == "dgidt-ia-2020"]


def test_one_programme_feed_is_the_same_whichever_way_it_is_asked(store: Store) -> None:
    """With one programme, the feed of every programme is that programme's own calendar, byte for byte."""
    programme = cycle_2020()
    combined = publish_feed([programme], store, FeedSettings(), now=BEFORE_FIRST)
    own = publish_feed([programme], store, FeedSettings(), scope=programme.id, now=BEFORE_FIRST)
    assert combined.data == own.data
    assert str(icalendar.Calendar.from_ical(combined.data)["X-WR-CALNAME"]) == programme.title


def test_a_removed_programmes_own_feed_is_still_served(store: Store) -> None:
    """Its subscribers get its held sessions and the cancellation of the rest, under its own name."""
    publish_feed([cycle_2020(), cycle_2021()], store, FeedSettings(), now=BEFORE_FIRST)
    own = publish_feed([cycle_2021()], store, FeedSettings(), scope="dgidt-ia-2020", now=BETWEEN)
    assert str(icalendar.Calendar.from_ical(own.data)["X-WR-CALNAME"]) == cycle_2020().title
    assert sorted(statuses(own.data).values()) == ["CANCELLED", "CONFIRMED", "CONFIRMED", "CONFIRMED"]


def test_publishing_unchanged_programmes_writes_nothing(tmp_path: Path) -> None:
    """serve publishes on every rebuild: with nothing changed, another reader of the store sees no write."""


    programme, _ = load_programme(SHIPPED_PROGRAM)
    settings = FeedSettings(uid_domain="formation.ena.tn")
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    with Store(tmp_path / "s.sqlite3") as server, Store(tmp_path / "s.sqlite3") as other:
        publish_feed([programme], server, settings, now=now)
        version = other.db.execute("PRAGMA data_version").fetchone()[0]
        publish_feed([programme], server, settings, now=now + timedelta(hours=1))
        assert other.db.execute("PRAGMA data_version").fetchone()[0] == version
        publish_feed([programme], server, settings, now=now + timedelta(days=2))  # last seen refreshed daily
        assert other.db.execute("PRAGMA data_version").fetchone()[0] != version
