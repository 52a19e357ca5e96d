"""Pull reads the Attendance activity in one call, and reads participants' completion again only when it can have changed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from tests.completion.conftest import PROGRAMME_ID, make_programme, make_settings
from tests.fakes.moodle import FakeMoodle
from tests.fakes.moodle_attendance import add_attendance_support, add_instance, take
from tests.fakes.moodle_completion import CompletionState, add_course, add_module, add_participant

from lms_sync.program import AttendanceSource, AttendanceSpec, Programme
from lms_sync.pull import pull_completion
from lms_sync.reports import build_report
from lms_sync.reports.common import row_text
from lms_sync.reports.views import participants_view
from lms_sync.snapshots import Attendance, load_rows, load_snapshot
from lms_sync.store import Store

T0 = datetime(2021, 1, 21, 9, 30, tzinfo=timezone.utc)


def programme_with_attendance(attended: tuple[str, ...] = ("P", "L")) -> Programme:
    """The two-session programme, attendance taken in the Attendance activity."""
    spec = AttendanceSpec(source=AttendanceSource.MOD_ATTENDANCE, create=True, attended=attended)
    return make_programme().model_copy(update={"attendance": spec})


def site_with_sessions(fake: FakeMoodle, programme: Programme) -> tuple[int, dict[str, int], dict[str, int]]:
    """A course, four participants, the Attendance activity with the programme's two sessions (marked)."""
    add_attendance_support(fake)
    cid = add_course(fake, PROGRAMME_ID)
    people = {name: add_participant(fake, cid, name, name.title(), "Agent", institution="STEG")
              for name in ("ali", "bea", "chloe", "dina")}
    instance = add_instance(fake, cid, programme.attendance_name)
    sessions = {}
    for s in programme.sessions:
        sid = fake.new_id()
        start = int(programme.aware(s.start).timestamp())
        instance.sessions[sid] = {"id": sid, "sessdate": start, "duration": 10800,
                                  "description": f"{s.title} #lms-sync:{programme.id}:{s.id}", "lasttaken": None,
                                  "lasttakenby": 0, "log": {}, "calendarevent": False}
        sessions[s.id] = sid
    return cid, people, sessions


def pull(fake: FakeMoodle, client_for: Any, store: Store, programme: Programme, *, now: datetime = T0,
         **pull_settings: Any) -> Any:
    """One pull at ``now``."""
    settings = make_settings()
    if pull_settings:
        settings = settings.model_copy(update={"pull": settings.pull.model_copy(update=pull_settings)})
    return pull_completion(client_for(settings), store, programme, settings, now=lambda: now)


def test_statuses_come_back_in_one_call_and_count_as_the_programme_says(
    fake: FakeMoodle, client_for: Any, store: Store
) -> None:
    """P and L count as attended, E and A do not; labels, taker and time are kept; reports show them."""
    programme = programme_with_attendance()
    _, people, sessions = site_with_sessions(fake, programme)
    take(fake, sessions["seance-1"], {people["ali"]: "P", people["bea"]: "L", people["chloe"]: "E",
                                      people["dina"]: "A"}, teacher=42)
    result = pull(fake, client_for, store, programme)
    assert result.complete and [c.wsfunction for c in fake.calls].count("mod_attendance_get_sessions") == 1
    rows = {r.username: r for r in load_rows(store, result.run_id)}
    assert rows["ali"].attendance["seance-1"] == Attendance(True, None, "P", "Present", 42, rows["ali"].attendance[
        "seance-1"].taken_at)
    assert [rows[n].attendance["seance-1"].attended for n in ("ali", "bea", "chloe", "dina")] == [
        True, True, False, False]
    assert rows["ali"].attendance["seance-2"] == Attendance(None)  # not taken yet
    snapshot = load_snapshot(store)
    assert snapshot is not None and snapshot.attendance_source == "mod_attendance"
    assert [s.tracked for s in snapshot.sessions] == [True, True]

    report = build_report(store)
    ali = next(p for p in report.participants if p.fullname.startswith("Ali"))
    assert row_text(participants_view(report, "fr"), ali, "fr")[4:7] == ["Present", "", "100,0"]  # the status; seance-2 unknown; rate
    assert report.totals.attended[0] == 2 and report.totals.session_rate(0) == 0.5
    assert report.totals.session_rate(1) is None  # nobody marked yet


def test_what_counts_as_attended_is_the_programmes_choice(fake: FakeMoodle, client_for: Any, store: Store) -> None:
    """``attended = ["P"]``: Late is not attendance."""
    programme = programme_with_attendance(("P",))
    _, people, sessions = site_with_sessions(fake, programme)
    take(fake, sessions["seance-1"], {people["ali"]: "P", people["bea"]: "L"})
    rows = {r.username: r for r in load_rows(store, pull(fake, client_for, store, programme).run_id)}
    assert (rows["ali"].attendance["seance-1"].attended, rows["bea"].attendance["seance-1"].attended) == (True, False)


def test_a_status_of_another_set_is_reported_not_counted(fake: FakeMoodle, client_for: Any, store: Store) -> None:
    """The plugin stores any status id; one that is not the activity's own is noted and left out."""
    programme = programme_with_attendance()
    _, people, sessions = site_with_sessions(fake, programme)
    instance = next(iter(fake.attendance.instances.values()))  # type: ignore[attr-defined]
    instance.sessions[sessions["seance-1"]]["log"] = {people["ali"]: 99999}
    result = pull(fake, client_for, store, programme)
    assert any("1 attendance status(es) with an id that is not one of the activity's own" in n for n in result.notes)
    rows = {r.username: r for r in load_rows(store, result.run_id)}
    assert rows["ali"].attendance["seance-1"] == Attendance(None)


def test_a_session_made_by_hand_is_read_by_its_time(fake: FakeMoodle, client_for: Any, store: Store) -> None:
    """A session a teacher made without marker, at the session's very time, is that session's."""
    programme = programme_with_attendance()
    _, people, sessions = site_with_sessions(fake, programme)
    instance = next(iter(fake.attendance.instances.values()))  # type: ignore[attr-defined]
    instance.sessions[sessions["seance-2"]]["description"] = "Séance du 23 décembre"
    take(fake, sessions["seance-2"], {people["dina"]: "P"})
    rows = {r.username: r for r in load_rows(store, pull(fake, client_for, store, programme).run_id)}
    assert rows["dina"].attendance["seance-2"].status == "P"


def test_nothing_changed_costs_only_the_lists(fake: FakeMoodle, completion: CompletionState, client_for: Any,
                                             store: Store) -> None:
    """Second pull, nobody opened the course: course, participants, sessions; no per-participant call."""
    programme = programme_with_attendance()
    cid, people, _ = site_with_sessions(fake, programme)
    completion.course_done[(cid, people["ali"])] = 1607600000
    first = pull(fake, client_for, store, programme)
    assert first.full and first.read == 4
    fake.reset_calls()
    second = pull(fake, client_for, store, programme, now=T0 + timedelta(days=1))
    assert not second.full and second.read == 0
    # Pages of 2 (make_settings) for 4 participants: 3 calls; then the activity's sessions, once.
    assert [c.wsfunction for c in fake.calls] == ["core_course_get_courses_by_field",
                                                  *["core_enrol_get_enrolled_users"] * 3, "mod_attendance_get_sessions"]
    assert load_rows(store, second.run_id) == load_rows(store, first.run_id)  # carried over, not lost

    # Bea opens the course and completes it: she alone is read again.
    fake.users[people["bea"]]["lastcourseaccess"] = 1611300000
    completion.course_done[(cid, people["bea"])] = 1611300100
    fake.reset_calls()
    third = pull(fake, client_for, store, programme, now=T0 + timedelta(days=2))
    asked = [c.params["userid"] for c in fake.calls if c.wsfunction == "core_completion_get_course_completion_status"]
    assert asked == [str(people["bea"])] and third.completed == 2

    # A teacher's change without the participant opening the course: caught by the full re-read.
    completion.course_done[(cid, people["chloe"])] = 1611400000
    assert pull(fake, client_for, store, programme, now=T0 + timedelta(days=3)).completed == 2
    full = pull(fake, client_for, store, programme, now=T0 + timedelta(days=10))
    assert full.full and full.completed == 3


def test_activity_completion_is_read_again_only_for_who_opened_the_course(
    fake: FakeMoodle, completion: CompletionState, client_for: Any, store: Store
) -> None:
    """The activity-completion source: after the first pull, a session's activity is read only when it can have changed."""
    cid = add_course(fake, PROGRAMME_ID)
    cm1 = add_module(fake, cid, "Séance 1", idnumber="seance-1")
    ali = add_participant(fake, cid, "ali", "Ali", "Agent")
    bea = add_participant(fake, cid, "bea", "Bea", "Agent")
    programme = make_programme({"seance-1": cm1})
    pull(fake, client_for, store, programme)
    completion.activity[(cid, bea)] = {cm1: (1, 1607500000)}
    fake.users[bea]["lastcourseaccess"] = 1607500000
    fake.reset_calls()
    result = pull(fake, client_for, store, programme, now=T0 + timedelta(days=1))
    asked = [c.params["userid"] for c in fake.calls if c.wsfunction == "core_completion_get_activities_completion_status"]
    assert asked == [str(bea)]
    rows = {r.user_id: r for r in load_rows(store, result.run_id)}
    assert rows[bea].attendance["seance-1"].attended is True and rows[ali].attendance["seance-1"].attended is False


def test_who_opened_the_course_just_before_a_pull_is_read_once_more(
    fake: FakeMoodle, completion: CompletionState, client_for: Any, store: Store
) -> None:
    """Moodle records one access a minute: completing an activity right after the pull leaves no newer access."""
    cid = add_course(fake, PROGRAMME_ID)
    cm1 = add_module(fake, cid, "Séance 1", idnumber="seance-1")
    bea = add_participant(fake, cid, "bea", "Bea", "Agent")
    programme = make_programme({"seance-1": cm1})
    fake.users[bea]["lastcourseaccess"] = int((T0 - timedelta(seconds=30)).timestamp())
    pull(fake, client_for, store, programme)
    completion.activity[(cid, bea)] = {cm1: (1, int(T0.timestamp()) + 20)}  # same minute: no new access recorded
    second = pull(fake, client_for, store, programme, now=T0 + timedelta(days=1))
    assert second.read == 1
    rows = {r.user_id: r for r in load_rows(store, second.run_id)}
    assert rows[bea].attendance["seance-1"].attended is True
    # Read a day after that access, nothing can hide behind it any more.
    assert pull(fake, client_for, store, programme, now=T0 + timedelta(days=2)).read == 0
