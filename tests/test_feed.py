"""The iCalendar feed: exact output, parsed back by two parsers, and correct changes for subscribers."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
import pytest
import vobject
from hypothesis import given, settings
from hypothesis import strategies as st

from lms_sync.cli import main
from lms_sync.feed import CalendarHeader, build_calendar, freeze, reconcile
from lms_sync.program import Programme, Session, SessionStatus, load_programme
from tests.conftest import REPO, SHIPPED_PROGRAM, example_counts

GOLDEN = REPO / "tests" / "golden" / "sessions.ics"
T0 = datetime(2020, 11, 20, 10, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=3)


def shipped() -> Programme:
    return load_programme(SHIPPED_PROGRAM)[0]


def feed_of(programme: Programme, previous=(), now: datetime = T0, lang: str = "fr"):
    entries, changed = reconcile(programme, list(previous), now)
    return entries, build_calendar(programme, entries, lang=lang)


def events(data: bytes) -> dict[str, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(data)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def with_session(programme: Programme, session_id: str, **changes) -> Programme:
    sessions = tuple(s.model_copy(update=changes) if s.id == session_id else s for s in programme.sessions)
    return programme.model_copy(update={"sessions": sessions})


def test_shipped_feed_matches_the_golden_file() -> None:
    _, data = feed_of(shipped())
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_bytes(data)
    assert data == GOLDEN.read_bytes()


def test_feed_parses_with_icalendar_and_vobject_at_the_right_instants() -> None:
    _, data = feed_of(shipped())
    expected = [(datetime(2020, 12, 9, 8, tzinfo=UTC), datetime(2020, 12, 9, 11, tzinfo=UTC)),
                (datetime(2020, 12, 23, 8, tzinfo=UTC), datetime(2020, 12, 23, 11, tzinfo=UTC)),
                (datetime(2021, 1, 6, 8, tzinfo=UTC), datetime(2021, 1, 6, 11, tzinfo=UTC)),
                (datetime(2021, 1, 20, 8, tzinfo=UTC), datetime(2021, 1, 20, 11, tzinfo=UTC))]
    parsed = icalendar.Calendar.from_ical(data)
    got = [(e.start.astimezone(UTC), e.end.astimezone(UTC)) for e in parsed.walk("VEVENT")]
    assert got == expected

    cal = vobject.readOne(data.decode("utf-8"))  # an independent parser
    got_v = [(v.dtstart.value.astimezone(UTC), v.dtend.value.astimezone(UTC)) for v in cal.vevent_list]
    assert got_v == expected
    assert cal.vevent_list[3].summary.value == "Séance 4 – Éthique, gouvernance et stratégie nationale de l'IA"
    assert [v.uid.value for v in cal.vevent_list] == [
        f"dgidt-ia-2020-seance-{n}@formation.ena.tn" for n in range(1, 5)
    ]


def test_calendar_properties_required_by_clients() -> None:
    _, data = feed_of(shipped())
    lines = data.decode().split("\r\n")
    for line in ("VERSION:2.0", "METHOD:PUBLISH", "REFRESH-INTERVAL;VALUE=DURATION:PT12H",
                 "X-PUBLISHED-TTL:PT12H", "TZID:Africa/Tunis",
                 "DTSTART;TZID=Africa/Tunis:20201209T090000", "STATUS:CONFIRMED", "SEQUENCE:0",
                 "DTSTAMP:20201120T100000Z", "LAST-MODIFIED:20201120T100000Z"):
        assert line in lines
    assert lines[0] == "BEGIN:VCALENDAR" and data.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    assert b"VALARM" not in data


def test_moving_a_session_raises_sequence_and_last_modified() -> None:
    first, _ = feed_of(shipped())
    moved = with_session(shipped(), "seance-2", start=datetime(2020, 12, 24, 9), end=datetime(2020, 12, 24, 12))
    _, data = feed_of(moved, first, now=T1)
    evs = events(data)
    ev = evs["dgidt-ia-2020-seance-2@formation.ena.tn"]
    assert ev["SEQUENCE"] == 1
    assert ev["LAST-MODIFIED"].dt == T1 and ev["DTSTAMP"].dt == T1
    untouched = evs["dgidt-ia-2020-seance-1@formation.ena.tn"]
    assert untouched["SEQUENCE"] == 0 and untouched["LAST-MODIFIED"].dt == T0


def test_renaming_changes_last_modified_but_not_sequence() -> None:
    first, _ = feed_of(shipped())
    _, data = feed_of(with_session(shipped(), "seance-1", title="Séance 1 – Ouverture"), first, now=T1)
    ev = events(data)["dgidt-ia-2020-seance-1@formation.ena.tn"]
    assert (ev["SEQUENCE"], ev["LAST-MODIFIED"].dt, str(ev["SUMMARY"])) == (0, T1, "Séance 1 – Ouverture")


@pytest.mark.parametrize(("lang", "prefix"), [("fr", "ANNULÉ – "), ("en", "CANCELLED – ")])
def test_cancelling_keeps_the_uid_with_status_cancelled(lang: str, prefix: str) -> None:
    first, _ = feed_of(shipped())
    cancelled = with_session(shipped(), "seance-3", status=SessionStatus.CANCELLED)
    _, data = feed_of(cancelled, first, now=T1, lang=lang)
    ev = events(data)["dgidt-ia-2020-seance-3@formation.ena.tn"]
    assert (str(ev["STATUS"]), ev["SEQUENCE"]) == ("CANCELLED", 1)
    assert str(ev["SUMMARY"]) == prefix + "Séance 3 – L'IA au service de l'administration publique"


def test_a_removed_session_stays_as_cancelled() -> None:
    first, _ = feed_of(shipped())
    programme = shipped()
    removed = programme.model_copy(update={"sessions": programme.sessions[:3]})
    entries, data = feed_of(removed, first, now=T1)
    ev = events(data)["dgidt-ia-2020-seance-4@formation.ena.tn"]
    assert (str(ev["STATUS"]), ev["SEQUENCE"]) == ("CANCELLED", 1)
    assert len(entries) == 4
    # and a second publication changes nothing more
    again, data_again = feed_of(removed, entries, now=T1 + timedelta(days=1))
    assert data_again == data


def test_unchanged_programme_gives_identical_bytes_later() -> None:
    first, data = feed_of(shipped())
    _, again = feed_of(shipped(), first, now=T1)
    assert again == data


def test_feed_command_twice_leaves_the_file_untouched(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = workdir / "public" / "sessions.ics"
    assert main(["feed", "--out", str(out)]) == 0
    first = out.read_bytes()
    os.utime(out, (1_000_000, 1_000_000))
    assert main(["feed", "--out", str(out)]) == 0
    assert out.read_bytes() == first and out.stat().st_mtime == 1_000_000
    assert capsys.readouterr().out.splitlines()[-1].endswith("unchanged (4 event(s), 0 changed since last publication)")
    assert [p.name for p in out.parent.iterdir()] == ["sessions.ics"]  # no temp file left


def test_feed_command_records_a_move(workdir: Path) -> None:
    out = workdir / "sessions.ics"
    assert main(["feed", "--out", str(out)]) == 0
    program = workdir / "config" / "program.toml"
    program.write_text(program.read_text(encoding="utf-8").replace("2021-01-06T09:00:00", "2021-01-06T10:00:00"),
                       encoding="utf-8")
    assert main(["feed", "--out", str(out)]) == 0
    ev = events(out.read_bytes())["dgidt-ia-2020-seance-3@formation.ena.tn"]
    assert ev["SEQUENCE"] == 1 and ev.start.astimezone(UTC) == datetime(2021, 1, 6, 9, tzinfo=UTC)


text_strategy = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=300
).filter(lambda s: s.strip())


@settings(deadline=None, **example_counts(max_examples=150))
@given(title=text_strategy, description=st.text(max_size=400))
def test_folding_never_splits_a_character_and_text_round_trips(title: str, description: str) -> None:
    programme = shipped()
    session = Session(id="s", title=title, start=datetime(2021, 3, 1, 9), end=datetime(2021, 3, 1, 10),
                      description=description)
    programme = programme.model_copy(update={"sessions": (session,)})
    _, data = feed_of(programme)
    for line in data.split(b"\r\n"):
        assert len(line) <= 75
        line.decode("utf-8")  # raises if a fold split a multi-byte character
    (event,) = icalendar.Calendar.from_ical(data).walk("VEVENT")
    assert str(event["SUMMARY"]) == session.title


def test_a_new_programme_id_makes_new_events_and_cancels_the_old_ones() -> None:
    first, _ = feed_of(shipped())
    renamed = shipped().model_copy(update={"id": "dgidt-ia-2021"})
    entries, data = feed_of(renamed, first, now=T1)
    evs = events(data)
    assert len(evs) == 8
    assert str(evs["dgidt-ia-2021-seance-1@formation.ena.tn"]["STATUS"]) == "CONFIRMED"
    old = evs["dgidt-ia-2020-seance-1@formation.ena.tn"]
    assert (str(old["STATUS"]), old["SEQUENCE"]) == ("CANCELLED", 1)


def test_an_empty_programme_still_gives_a_valid_calendar() -> None:
    empty = shipped().model_copy(update={"sessions": ()})
    _, data = feed_of(empty)
    cal = vobject.readOne(data.decode())
    assert cal.vtimezone.tzid.value == "Africa/Tunis"
    assert not list(icalendar.Calendar.from_ical(data).walk("VEVENT"))


def test_unwritable_output_is_a_clear_error(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "adir").mkdir()
    assert main(["feed", "--out", "adir"]) == 2
    (workdir / "afile").write_text("x")
    assert main(["feed", "--out", "afile/sessions.ics"]) == 2
    err = capsys.readouterr().err
    assert "error: cannot write adir" in err and "error: cannot write afile/sessions.ics" in err
    assert "Traceback" not in err and "internal error" not in err


def test_every_feed_command_is_recorded_in_runs(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["feed", "--out", "var/a.ics"]) == 0
    assert main(["feed", "--out", "var/a.ics"]) == 0
    assert main(["feed", "--out", "-", "--lang", "en"]) == 0
    capsys.readouterr()
    assert main(["runs", "--json"]) == 0
    import json

    runs = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["status"], r["exit_code"], r["summary"]["file"]) for r in runs] == [
        ("feed", "ok", 0, "stdout"), ("feed", "ok", 0, "unchanged"), ("feed", "ok", 0, "written")]
    assert runs[-1]["summary"]["events"] == 4 and runs[-1]["summary"]["changed"] == 4
    assert main(["runs"]) == 0
    assert "no run recorded yet" not in capsys.readouterr().out


def test_prodid_names_the_feeds_language() -> None:
    fr, en = (build_calendar(shipped(), [], lang=lang).decode() for lang in ("fr", "en"))
    assert "PRODID:-//lms_sync//Programme de formation//FR\r\n" in fr
    assert "PRODID:-//lms_sync//Training programme//EN\r\n" in en


def test_a_rename_after_a_move_keeps_the_sequence_of_the_move() -> None:
    """Only a time or status change raises SEQUENCE: a later rename updates LAST-MODIFIED alone."""
    first, _ = feed_of(shipped())
    moved = with_session(shipped(), "seance-2", start=datetime(2020, 12, 24, 9), end=datetime(2020, 12, 24, 12))
    after_move, _ = feed_of(moved, first, now=T1)
    later = T1 + timedelta(days=1)
    _, data = feed_of(with_session(moved, "seance-2", title="Séance 2 – Les données"), after_move, now=later)
    ev = events(data)["dgidt-ia-2020-seance-2@formation.ena.tn"]
    assert (ev["SEQUENCE"], ev["LAST-MODIFIED"].dt, str(ev["SUMMARY"])) == (1, later, "Séance 2 – Les données")


def test_the_feed_names_its_public_address_as_source_only_when_given() -> None:
    entries, _ = feed_of(shipped())
    served = build_calendar(shipped(), entries, public_url="https://formation.ena.tn/lms-sync/sessions.ics")
    assert "SOURCE;VALUE=URI:https://formation.ena.tn/lms-sync/sessions.ics\r\n" in served.decode()
    assert b"SOURCE" not in build_calendar(shipped(), entries)


def test_the_refresh_interval_is_the_one_asked_for() -> None:
    entries, _ = feed_of(shipped())
    data = build_calendar(shipped(), entries, refresh_interval=timedelta(hours=2)).decode()
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT2H\r\n" in data and "X-PUBLISHED-TTL:PT2H\r\n" in data


def test_a_uid_domain_other_than_the_programmes_host_names_the_events() -> None:
    entries, _ = reconcile(shipped(), [], T0, domain="calendrier.industrie.gov.tn")
    assert [e.uid for e in entries] == [f"dgidt-ia-2020-seance-{n}@calendrier.industrie.gov.tn" for n in range(1, 5)]


@pytest.mark.parametrize(("lang", "footer"), [("fr", "Plateforme : https://formation.ena.tn/"),
                                              ("en", "Platform: https://formation.ena.tn/")])
def test_a_session_without_description_shows_the_platform_alone(lang: str, footer: str) -> None:
    bare = with_session(shipped(), "seance-1", description="  ")
    _, data = feed_of(bare, lang=lang)
    evs = events(data)
    assert str(evs["dgidt-ia-2020-seance-1@formation.ena.tn"]["DESCRIPTION"]) == footer
    described = str(evs["dgidt-ia-2020-seance-2@formation.ena.tn"]["DESCRIPTION"])
    assert described.startswith("Les données au cœur de l'IA") and described.endswith(f"\n\n{footer}")


def test_the_location_falls_back_to_the_programmes_then_to_its_address() -> None:
    own = with_session(shipped(), "seance-1", location="Salle 3, ENA Tunis")
    no_default = with_session(own, "seance-2").model_copy(update={"location": None})
    evs = events(feed_of(no_default)[1])
    assert str(evs["dgidt-ia-2020-seance-1@formation.ena.tn"]["LOCATION"]) == "Salle 3, ENA Tunis"
    assert str(evs["dgidt-ia-2020-seance-2@formation.ena.tn"]["LOCATION"]) == "https://formation.ena.tn/"
    evs = events(feed_of(shipped())[1])
    assert str(evs["dgidt-ia-2020-seance-2@formation.ena.tn"]["LOCATION"]) == "En ligne – plateforme de formation de l'ENA"


def test_the_timezone_covers_exactly_the_years_of_the_sessions() -> None:
    """One VTIMEZONE per zone, from 1 January of the first session's year to the end of the last one's."""
    paris = with_session(shipped(), "seance-4", start=datetime(2022, 6, 1, 9), end=datetime(2022, 6, 1, 12))
    paris = paris.model_copy(update={"timezone": "Europe/Paris"})
    data = feed_of(paris)[1].decode()
    assert data.count("BEGIN:VTIMEZONE") == 1 and "TZID:Europe/Paris\r\n" in data
    assert "This timezone only works from 2020-01-01 to 2023-01-01." in data.replace("\r\n ", "")
    assert "DTSTART:20200101T000000\r\n" in data and "RDATE:20211031T030000,20221030T030000\r\n" in data


def test_change_detection_is_stable_across_versions() -> None:
    """What an entry's hashes are made of is fixed: an upgrade of lms_sync must not mark every event modified."""
    (first, *_), _ = feed_of(shipped())
    assert first.content_hash == "11bf7ab544c1b24c33032f8ae94ff4df80d6fdfaba2351e47fe66b6b7068e218"
    assert first.schedule_hash == "f5e7fb1025150c1a43c4fc49bc37b65ee39c1538d5a96a75d355f8b8e4aef66c"
    assert (first.status, first.programme_id, first.removed) == ("CONFIRMED", "dgidt-ia-2020", False)


def test_an_entry_records_its_new_status_and_programme() -> None:
    first, _ = feed_of(shipped())
    legacy = [replace(e, programme_id="") for e in first]  # published before programmes had ids in the store
    cancelled = with_session(shipped(), "seance-3", status=SessionStatus.CANCELLED)
    entries, changed = reconcile(cancelled, legacy, T1)
    (entry,) = changed
    assert (entry.uid, entry.status, entry.programme_id, entry.sequence) == (
        "dgidt-ia-2020-seance-3@formation.ena.tn", "CANCELLED", "dgidt-ia-2020", 1)


def test_a_session_starting_now_is_held_when_the_programme_is_frozen() -> None:
    """Archived at the very minute a session starts: it took place, and stays confirmed."""
    first, _ = feed_of(shipped())
    third_starts = datetime(2021, 1, 6, 8, tzinfo=UTC)
    entries, changed = freeze(first, third_starts, file_removed=False)
    status = {e.session_id: e.status for e in entries}
    assert status == {"seance-1": "CONFIRMED", "seance-2": "CONFIRMED", "seance-3": "CONFIRMED", "seance-4": "CANCELLED"}
    assert [e.session_id for e in changed] == ["seance-4"] and not changed[0].removed
    _, after_removal = freeze(first, third_starts, file_removed=True)
    assert [(e.session_id, e.removed) for e in after_removal] == [("seance-4", True)]


def test_freezing_keeps_a_session_removed_earlier_as_it_was() -> None:
    """Removed (and cancelled) before the programme was archived: archiving changes nothing about it."""
    first, _ = feed_of(shipped())
    shorter = shipped().model_copy(update={"sessions": shipped().sessions[:3]})
    after_removal, _ = reconcile(shorter, first, T1)
    entries, changed = freeze(after_removal, datetime(2021, 1, 19, tzinfo=UTC), file_removed=False)
    assert changed == []
    fourth = next(e for e in entries if e.session_id == "seance-4")
    assert (fourth.removed, fourth.status, fourth.last_modified, fourth.programme_id) == (
        True, "CANCELLED", T1, "dgidt-ia-2020")


def test_a_calendar_header_survives_the_store() -> None:
    """A removed programme's feed keeps its name, description, timezone and page from what was stored."""
    header = CalendarHeader.of(shipped())
    assert CalendarHeader.from_dict(header.as_dict(), "dgidt-ia-2020") == header
    assert header.as_dict() == {"title": shipped().title, "description": shipped().description,
                                "timezone": "Africa/Tunis", "url": "https://formation.ena.tn/"}
    assert CalendarHeader.from_dict({}, "dgidt-ia-2020") == CalendarHeader("dgidt-ia-2020", "", "UTC", "")


def test_an_empty_programme_carries_a_small_fixed_timezone() -> None:
    """No session: the VTIMEZONE covers the year 2000 alone, the same on every run (byte-identical feeds)."""
    empty = shipped().model_copy(update={"sessions": ()})
    data = feed_of(empty)[1].decode().replace("\r\n ", "")
    assert "DTSTART:20000101T000000\r\n" in data
    assert "This timezone only works from 2000-01-01 to 2001-01-01." in data
