"""Push keeps the programme's sessions in the Attendance activity (``[attendance] source = "mod_attendance"``).

One attendance session per session that takes place, recognisable by its marker if the store is
lost, no calendar event of its own; a session whose statuses were taken is never moved, cancelled
or removed without ``--force-attendance``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses
from tests.fakes.moodle import FakeMoodle
from tests.fakes.moodle_attendance import AttendanceState, add_attendance_support, add_instance, take
from tests.sync.test_push import moved, run

from lms_sync.errors import AccessDenied
from lms_sync.program import AttendanceSource, AttendanceSpec, Programme, SessionStatus
from lms_sync.store import Store
from lms_sync.sync.plan import RefusalKind


@pytest.fixture
def fake() -> Iterator[FakeMoodle]:
    """The fake Moodle with the Attendance plugin."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        moodle = FakeMoodle()
        add_attendance_support(moodle)
        yield moodle.install(rsps)


def with_attendance(programme: Programme, **spec: object) -> Programme:
    """The programme taking attendance in an Attendance activity (created by push unless ``activity`` given)."""
    values: dict[str, object] = {"source": AttendanceSource.MOD_ATTENDANCE, "create": "activity" not in spec}
    values.update(spec)
    return programme.model_copy(update={"attendance": AttendanceSpec(**values)})  # type: ignore[arg-type]


def sessions_of(fake: FakeMoodle) -> list[dict[str, object]]:
    """Every attendance session of the only Attendance activity, by time."""
    state: AttendanceState = fake.attendance  # type: ignore[attr-defined]
    (instance,) = state.instances.values()
    return sorted(instance.sessions.values(), key=lambda s: (s["sessdate"], s["id"]))  # type: ignore[arg-type, return-value]


def assert_one_per_session(fake: FakeMoodle, programme: Programme) -> None:
    """One attendance session per session that takes place, at its time, marked, without a calendar event."""
    want = sorted((int(programme.aware(s.start).timestamp()), int((s.end - s.start).total_seconds()))
                  for s in programme.sessions if not s.cancelled)
    have = sessions_of(fake)
    assert [(s["sessdate"], s["duration"]) for s in have] == want
    assert all(f"#lms-sync:{programme.id}:" in str(s["description"]) and not s["calendarevent"] for s in have)


def test_push_creates_the_activity_and_its_sessions_then_does_nothing(fake, client, store, programme) -> None:
    """First push: the activity and four sessions; no extra calendar event; the second push writes nothing."""
    prog = with_attendance(programme)
    outcome = run(client, store, prog, None)
    assert outcome.exit_code == 0, outcome.summary()
    (instance,) = fake.attendance.instances.values()
    assert instance.name == "Présence aux séances"
    assert_one_per_session(fake, prog)
    course = fake.course_by_idnumber(prog.id)
    assert len(fake.course_events(course["id"])) == len(prog.sessions)  # the course's events only
    fake.reset_calls()
    assert run(client, store, prog, None).actions == []
    assert fake.write_calls == []
    assert len(fake.calls) == 3  # the course, its events, the activity's sessions (one call)


def test_named_activity_is_used_and_a_lost_store_finds_everything(fake, client, store, programme, tmp_path) -> None:
    """An activity named by course-module id; with a new store the sessions are found by their marker."""
    run(client, store, programme, None)
    course = fake.course_by_idnumber(programme.id)
    instance = add_instance(fake, course["id"], "Présence (faite à la main)")
    prog = with_attendance(programme, activity=instance.cmid)
    assert run(client, store, prog, None).exit_code == 0
    assert_one_per_session(fake, prog)
    with Store(tmp_path / "lost.sqlite3") as fresh:
        outcome = run(client, fresh, prog, None)
    assert outcome.exit_code == 0
    assert {a.op for a in outcome.actions if a.kind.startswith("attendance")} == {"adopt"}
    assert_one_per_session(fake, prog)


def test_missing_activity_is_refused_with_what_to_do(fake, client, store, programme) -> None:
    """The programme names an activity the course lacks: refused before any write, naming the id."""
    run(client, store, programme, None)
    fake.reset_calls()
    outcome = run(client, store, with_attendance(programme, activity=99999), None)
    assert outcome.refusal is not None and outcome.refusal.kind is RefusalKind.ATTENDANCE
    assert "course-module id 99999" in str(outcome.refusal) and "create = true" in str(outcome.refusal)
    assert outcome.exit_code == 1 and fake.write_calls == []


def test_moving_a_session_not_yet_taken_replaces_it(fake, client, store, programme) -> None:
    """No status taken: the moved session's attendance session is replaced (no update call exists)."""
    prog = with_attendance(programme)
    run(client, store, prog, None)
    later = moved(prog, prog.sessions[2].id, 7)
    assert run(client, store, later, None).exit_code == 0
    assert_one_per_session(fake, later)


def test_a_session_taken_cannot_be_moved_or_cancelled_without_force(fake, client, store, programme) -> None:
    """Statuses are people's records: moving or cancelling their session is refused; --force-attendance allows it."""
    prog = with_attendance(programme)
    run(client, store, prog, None)
    first = sessions_of(fake)[0]
    take(fake, int(first["id"]), {3: "P", 1: "A"})  # type: ignore[arg-type]
    for changed in (moved(prog, prog.sessions[0].id, 1),
                    prog.model_copy(update={"sessions": (prog.sessions[0].model_copy(update={"status": SessionStatus.CANCELLED}),
                                                         *prog.sessions[1:])})):
        fake.reset_calls()
        outcome = run(client, store, changed, None)
        assert outcome.refusal is not None and outcome.refusal.kind is RefusalKind.HELD_RECORDS
        assert "seance-1 (2 statuses)" in str(outcome.refusal) and "--force-attendance" in outcome.refusal.hint
        assert outcome.exit_code == 1 and fake.write_calls == []
    outcome = run(client, store, moved(prog, prog.sessions[0].id, 1), None, force_attendance=True)
    assert outcome.exit_code == 0
    assert_one_per_session(fake, moved(prog, prog.sessions[0].id, 1))


def test_renaming_a_session_taken_leaves_it_as_taken(fake, client, store, programme) -> None:
    """Only the title changed: the taken session is kept with its statuses; the plan settles at once."""
    prog = with_attendance(programme)
    run(client, store, prog, None)
    first = sessions_of(fake)[0]
    take(fake, int(first["id"]), {3: "L"})  # type: ignore[arg-type]
    renamed = prog.model_copy(update={"sessions": (prog.sessions[0].model_copy(update={"title": "Séance 1 (bis)"}),
                                                   *prog.sessions[1:])})
    assert run(client, store, renamed, None).exit_code == 0
    assert sessions_of(fake)[0]["id"] == first["id"] and sessions_of(fake)[0]["log"]
    assert [a for a in run(client, store, renamed, None).actions if a.kind.startswith("attendance")] == []


def test_sessions_made_by_hand_at_the_same_time_are_adopted(fake, client, store, programme) -> None:
    """A teacher made the four sessions by hand and took the first: adopted, not duplicated, statuses kept."""
    run(client, store, programme, None)
    course = fake.course_by_idnumber(programme.id)
    instance = add_instance(fake, course["id"], "Présence")
    for s in programme.sessions:
        sid = fake.new_id()
        instance.sessions[sid] = {"id": sid, "sessdate": int(programme.aware(s.start).timestamp()),
                                  "duration": int((s.end - s.start).total_seconds()), "description": "",
                                  "lasttaken": None, "lasttakenby": 0, "log": {}, "calendarevent": False}
    taken = min(instance.sessions)
    take(fake, taken, {3: "P"})
    prog = with_attendance(programme, activity=instance.cmid)
    outcome = run(client, store, prog, None)
    assert outcome.exit_code == 0, outcome.summary()
    assert len(instance.sessions) == len(programme.sessions)
    assert instance.sessions[taken]["log"] == {3: instance.statuses[0]["id"]}
    assert run(client, store, prog, None).actions == []


def test_timeout_after_adding_a_session_makes_no_duplicate(fake, client, store, programme) -> None:
    """The session was added but the answer lost: looked up by its marker, not sent again."""
    fake.inject("timeout_after", "mod_attendance_add_session", skip=1)
    prog = with_attendance(programme)
    assert run(client, store, prog, None).exit_code == 0
    assert_one_per_session(fake, prog)


def test_push_without_manageattendances_stops_at_the_read(fake, client, store, programme) -> None:
    """The activity's sessions cannot even be read: push stops before any write, naming the capability."""
    prog = with_attendance(programme)
    run(client, store, prog, None)
    fake.capabilities -= {"mod/attendance:manageattendances"}
    fake.reset_calls()
    with pytest.raises(AccessDenied) as refused:
        run(client, store, moved(prog, prog.sessions[1].id, 1), None)
    assert refused.value.capability == "mod/attendance:manageattendances"
    assert fake.write_calls == []


def test_push_stops_before_writing_without_addinstance(fake, client, store, programme) -> None:
    """Creating the activity needs mod/attendance:addinstance: probed first, nothing written."""
    run(client, store, programme, None)
    fake.capabilities -= {"mod/attendance:addinstance"}
    fake.reset_calls()
    outcome = run(client, store, with_attendance(programme), None)
    assert [f.capability for f in outcome.missing] == ["mod/attendance:addinstance"]
    assert fake.write_calls == []


# ------------------------------------------------------------------- the attendance part of the plan


def attendance_plan(outcome) -> list[tuple[str, str, str, str]]:  # noqa: ANN001
    """The attendance actions of a push as the plan prints them: op, kind, key, reason."""
    return [(a.op, a.kind, a.key, a.reason) for a in outcome.actions if a.kind.startswith("attendance")]


def copy_of(fake: FakeMoodle, session: dict[str, object], **changes: object) -> int:
    """A second attendance session like ``session`` (a create whose answer was lost, a teacher's copy)."""
    (instance,) = fake.attendance.instances.values()
    sid = fake.new_id()
    instance.sessions[sid] = {**session, "id": sid, "log": {}, **changes}
    return sid


def test_the_first_push_plans_the_activity_then_each_session(fake, client, store, programme) -> None:
    outcome = run(client, store, with_attendance(programme), None)
    assert attendance_plan(outcome) == [
        ("create", "attendance", "dgidt-ia-2020", "no Attendance activity of the programme in the course"),
        *[("create", "attendance_session", f"seance-{n}", "new Attendance activity") for n in range(1, 5)]]
    assert outcome.actions[-5].fields() == {"name": "Présence aux séances"}


def test_a_lost_store_adopts_the_activity_and_its_sessions_by_their_markers(fake, client, store, programme,
                                                                            tmp_path) -> None:
    prog = with_attendance(programme)
    run(client, store, prog, None)
    (instance,) = fake.attendance.instances.values()
    with Store(tmp_path / "lost.sqlite3") as fresh:
        outcome = run(client, fresh, prog, None)
    assert attendance_plan(outcome) == [
        ("adopt", "attendance", "dgidt-ia-2020", "found in the course"),
        *[("adopt", "attendance_session", f"seance-{n}", "found by its marker") for n in range(1, 5)]]
    assert [a.moodle_id for a in outcome.actions if a.kind == "attendance_session"] == [s["id"] for s in sessions_of(fake)]
    assert outcome.actions[-5].moodle_id == instance.id
    with Store(tmp_path / "lost.sqlite3") as fresh:
        assert run(client, fresh, prog, None).actions == []  # what was adopted is recorded in step


def test_a_session_deleted_by_hand_is_restored_and_a_new_one_added(fake, client, store, programme) -> None:
    prog = with_attendance(programme)
    run(client, store, prog, None)
    (instance,) = fake.attendance.instances.values()
    del instance.sessions[sessions_of(fake)[1]["id"]]
    extra = prog.sessions[3].model_copy(update={"id": "seance-5", "start": prog.sessions[3].start.replace(day=27),
                                                "end": prog.sessions[3].end.replace(day=27)})
    longer = prog.model_copy(update={"sessions": (*prog.sessions, extra)})
    outcome = run(client, store, longer, None)
    assert attendance_plan(outcome) == [
        ("create", "attendance_session", "seance-2", "deleted in Moodle; restoring it"),
        ("create", "attendance_session", "seance-5", "new session")]
    assert outcome.exit_code == 0
    assert_one_per_session(fake, longer)
    assert attendance_plan(run(client, store, longer, None)) == []


def test_a_longer_session_replaces_its_attendance_session(fake, client, store, programme) -> None:
    """Only the end moved: the duration differs, and a session not taken is replaced."""
    prog = with_attendance(programme)
    run(client, store, prog, None)
    old = sessions_of(fake)[2]
    longer = prog.model_copy(update={"sessions": tuple(
        s.model_copy(update={"end": s.end.replace(hour=13)}) if s.id == "seance-3" else s for s in prog.sessions)})
    outcome = run(client, store, longer, None)
    (replace,) = [a for a in outcome.actions if a.kind == "attendance_session"]
    assert (replace.op, replace.key, replace.reason, replace.moodle_id) == (
        "replace", "seance-3", "session changed in the programme", old["id"])
    assert replace.changes == (("duration", 10800, 14400),)
    assert_one_per_session(fake, longer)


def test_a_session_edited_by_hand_is_restored(fake, client, store, programme) -> None:
    prog = with_attendance(programme)
    run(client, store, prog, None)
    sessions_of(fake)[0]["duration"] = 3600
    outcome = run(client, store, prog, None)
    assert attendance_plan(outcome) == [
        ("replace", "attendance_session", "seance-1", "session was edited in Moodle; restoring the programme's values")]
    assert_one_per_session(fake, prog)


def test_a_cancelled_session_loses_its_attendance_session(fake, client, store, programme) -> None:
    prog = with_attendance(programme)
    run(client, store, prog, None)
    gone = sessions_of(fake)[2]
    cancelled = prog.model_copy(update={"sessions": tuple(
        s.model_copy(update={"status": SessionStatus.CANCELLED}) if s.id == "seance-3" else s for s in prog.sessions)})
    outcome = run(client, store, cancelled, None)
    (delete,) = [a for a in outcome.actions if a.kind == "attendance_session"]
    assert (delete.op, delete.key, delete.reason, delete.moodle_id, delete.destructive, delete.statuses) == (
        "delete", "seance-3", "session cancelled or removed from the programme", gone["id"], True, 0)
    assert_one_per_session(fake, cancelled)


def test_a_duplicate_is_deleted_and_the_mapped_session_kept(fake, client, store, programme) -> None:
    prog = with_attendance(programme)
    run(client, store, prog, None)
    original = sessions_of(fake)[1]
    copy = copy_of(fake, original)
    outcome = run(client, store, prog, None)
    assert [(a.op, a.key, a.reason, a.moodle_id) for a in outcome.actions] == [
        ("delete", "seance-2", f"duplicate of session {original['id']}", copy)]
    assert outcome.exit_code == 0
    assert sessions_of(fake)[1]["id"] == original["id"] and len(sessions_of(fake)) == 4


def test_the_copy_holding_statuses_is_the_one_kept(fake, client, store, programme) -> None:
    """A teacher took attendance in the copy: the copy stays (with its statuses), the empty original goes."""
    prog = with_attendance(programme)
    run(client, store, prog, None)
    original = sessions_of(fake)[1]
    copy = copy_of(fake, original)
    take(fake, copy, {3: "P"})
    outcome = run(client, store, prog, None)
    assert [(a.op, a.key, a.reason, a.moodle_id, a.statuses) for a in outcome.actions] == [
        ("delete", "seance-2", f"duplicate of session {copy}", original["id"], 0),
        ("adopt", "seance-2", "found by its marker", copy, 0)]
    assert outcome.exit_code == 0
    assert [s["id"] for s in sessions_of(fake)][1] == copy
    assert attendance_plan(run(client, store, prog, None)) == []


def test_a_copy_in_step_is_kept_rather_than_the_edited_mapped_one(fake, client, store, programme) -> None:
    prog = with_attendance(programme)
    run(client, store, prog, None)
    original = sessions_of(fake)[1]
    copy = copy_of(fake, original)
    original["duration"] = 60
    outcome = run(client, store, prog, None)
    assert [(a.op, a.key, a.moodle_id) for a in outcome.actions] == [("delete", "seance-2", original["id"]),
                                                                      ("adopt", "seance-2", copy)]
    assert_one_per_session(fake, prog)


def test_deleting_a_duplicate_holding_statuses_is_refused(fake, client, store, programme) -> None:
    prog = with_attendance(programme)
    run(client, store, prog, None)
    original = sessions_of(fake)[1]
    take(fake, int(original["id"]), {3: "P"})
    copy = copy_of(fake, original)
    take(fake, copy, {3: "A", 4: "P"})
    fake.reset_calls()
    outcome = run(client, store, prog, None)
    assert str(outcome.refusal).startswith("the plan would delete attendance already taken, in session(s) seance-2 "
                                           "(2 statuses)")
    assert outcome.refusal.count == 2 and fake.write_calls == []


def test_a_session_of_another_programme_at_the_same_time_is_not_taken(fake, client, store, programme) -> None:
    run(client, store, programme, None)
    course = fake.course_by_idnumber(programme.id)
    instance = add_instance(fake, course["id"], "Présence")
    first = programme.sessions[0]
    sid = fake.new_id()
    instance.sessions[sid] = {"id": sid, "sessdate": int(programme.aware(first.start).timestamp()),
                              "duration": int((first.end - first.start).total_seconds()),
                              "description": "Autre #lms-sync:autre-programme:seance-1", "lasttaken": None,
                              "lasttakenby": 0, "log": {}, "calendarevent": False}
    outcome = run(client, store, with_attendance(programme, activity=instance.cmid), None)
    assert ("create", "attendance_session", "seance-1", "new session") in attendance_plan(outcome)
    assert sid in instance.sessions and len(instance.sessions) == 5


def test_hand_made_sessions_adopted_by_time_then_removed_or_gone(fake, client, store, programme) -> None:
    """Taken sessions adopted by time keep no marker: removing their session deletes them by id, or forgets them."""
    run(client, store, programme, None)
    course = fake.course_by_idnumber(programme.id)
    instance = add_instance(fake, course["id"], "Présence")
    for s in programme.sessions:
        sid = fake.new_id()
        instance.sessions[sid] = {"id": sid, "sessdate": int(programme.aware(s.start).timestamp()),
                                  "duration": int((s.end - s.start).total_seconds()), "description": "",
                                  "lasttaken": None, "lasttakenby": 0, "log": {}, "calendarevent": False}
        take(fake, sid, {3: "P"})
    prog = with_attendance(programme, activity=instance.cmid)
    outcome = run(client, store, prog, None)
    assert [r for *_, r in attendance_plan(outcome)] == ["found in the course"] + ["made by hand at the same time"] * 4
    ids = sorted(instance.sessions)
    del instance.sessions[ids[1]]
    shorter = prog.model_copy(update={"sessions": (prog.sessions[0], prog.sessions[3])})
    outcome = run(client, store, shorter, None, force_delete=True, force_attendance=True)
    assert sorted(attendance_plan(outcome)) == [
        ("delete", "attendance_session", "seance-3", "session cancelled or removed from the programme"),
        ("forget", "attendance_session", "seance-2", "no longer in the programme nor in Moodle")]
    assert sorted(instance.sessions) == [ids[0], ids[3]]


def test_a_dry_run_refused_for_a_missing_activity_plans_no_attendance(fake, client, store, programme) -> None:
    run(client, store, programme, None)
    outcome = run(client, store, with_attendance(programme, activity=99999), None, dry_run=True)
    assert outcome.refusal is not None and attendance_plan(outcome) == []


def test_sessions_are_skipped_when_the_activity_cannot_be_created(fake, client, store, programme) -> None:
    from tests.fakes.moodle import MoodleFault

    def refuse(_f: FakeMoodle, _params: dict) -> object:
        raise MoodleFault("invalidparameter", "Invalid parameter value detected")

    run(client, store, programme, None)
    fake.handlers["mod_attendance_add_attendance"] = refuse
    outcome = run(client, store, with_attendance(programme), None)
    assert [(a.kind, why) for a, why in outcome.result.skipped] == [
        ("attendance_session", "skipped: the Attendance activity could not be created")] * 4
    assert [a.kind for a, _ in outcome.result.failed] == ["attendance"] and outcome.exit_code == 1
