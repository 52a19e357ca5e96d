"""Push against the fake Moodle: idempotence, dry run, crash and timeout safety, lost store, drift, guard."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from tests.fakes.moodle import Crash, FakeMoodle, MoodleFault, is_probe
from tests.sync.conftest import REPO

from lms_sync.errors import InvalidToken
from lms_sync.moodle.client import MoodleClient
from lms_sync.program import Participant, Programme, load_roster
from lms_sync.settings import PushSettings
from lms_sync.store import Store
from lms_sync.sync import desired_state, push
from lms_sync.sync.journal import in_doubt, journal, load_state
from lms_sync.sync.render import render_plan


def moved(programme: Programme, session_id: str, days: int) -> Programme:
    """The programme with one session moved by some days."""
    sessions = tuple(
        s.model_copy(update={"start": s.start + timedelta(days=days), "end": s.end + timedelta(days=days)})
        if s.id == session_id else s
        for s in programme.sessions
    )
    return programme.model_copy(update={"sessions": sessions})


def without(programme: Programme, *session_ids: str) -> Programme:
    """The programme without some sessions."""
    return programme.model_copy(update={"sessions": tuple(s for s in programme.sessions if s.id not in session_ids)})


def assert_matches(fake: FakeMoodle, programme: Programme, roster: list[Participant] | None) -> None:
    """Moodle holds exactly one course, one event per session, and the roster as active participants."""
    courses = [c for c in fake.courses.values() if c["idnumber"] == programme.id]
    assert len(courses) == 1
    events = fake.course_events(courses[0]["id"])
    assert sorted(e["timestart"] for e in events) == sorted(
        int(programme.aware(s.start).timestamp()) for s in programme.sessions
    )
    assert len(events) == len(programme.sessions)
    if roster is not None:
        assert fake.active_usernames(courses[0]["id"]) == {p.username for p in roster}
        assert len({u["username"] for u in fake.users.values()}) == len(fake.users)


def run(client: MoodleClient, store: Store, programme: Programme, roster: list[Participant] | None, **kw: object):
    """One push with default settings."""
    return push(client, store, desired_state(programme, roster, PushSettings()), **kw)  # type: ignore[arg-type]


def test_first_push_then_noop(fake, client, store, programme, roster) -> None:
    """The first push creates everything; the next plans nothing and makes three reads, no write."""
    first = run(client, store, programme, roster)
    assert first.exit_code == 0
    assert_matches(fake, programme, roster)
    fake.reset_calls()
    second = run(client, store, programme, roster)
    assert second.actions == []
    assert fake.write_calls == []
    assert len(fake.calls) <= 3
    assert render_plan(second.actions).startswith("No changes.")


def test_times_are_unix_seconds_of_the_local_start(fake, client, store, programme) -> None:
    """09:00 Africa/Tunis on 2020-12-09 is 1607500800 (08:00Z); three hours last 10800 s."""
    run(client, store, programme, None)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    first = fake.course_events(course["id"])[0]
    assert (first["timestart"], first["timeduration"]) == (1607500800, 10800)


def test_dry_run_writes_nothing(fake, client, store, programme, roster) -> None:
    """--dry-run reads, prints the plan, and makes zero write calls and no mapping."""
    outcome = run(client, store, programme, roster, dry_run=True)
    assert fake.write_calls == []
    assert len(outcome.actions) == 12
    assert load_state(store, programme.id).mappings == {}
    text = render_plan(outcome.actions, dry_run=True)
    assert "+ create course dgidt-ia-2020" in text


@pytest.mark.parametrize("wsfunction", ["core_course_create_courses", "core_calendar_create_calendar_events",
                                        "core_user_create_users", "core_course_create_categories"])
def test_timeout_after_create_makes_no_duplicate(fake, client, store, programme, roster, wsfunction) -> None:
    """Moodle created the object but the answer was lost: looked up, adopted, not sent again."""
    fake.inject("timeout_after", wsfunction)
    outcome = run(client, store, programme, roster)
    assert outcome.exit_code == 0
    assert [c.wsfunction for c in fake.write_calls].count(wsfunction) == 1
    assert_matches(fake, programme, roster)
    assert len(fake.categories) == 1
    fake.reset_calls()
    assert run(client, store, programme, roster).actions == []


def test_timeout_before_create_sends_it_once_more(fake, client, store, programme) -> None:
    """The request never arrived: the lookup finds nothing, the create is sent again, once."""
    fake.inject("timeout_before", "core_calendar_create_calendar_events")
    assert run(client, store, programme, None).exit_code == 0
    assert_matches(fake, programme, None)


@pytest.mark.parametrize("call_index", range(8))
def test_crash_between_any_two_calls_converges(fake, client, store, programme, roster, call_index) -> None:
    """Killed after the n-th call was applied: the next push makes exactly one of each object."""
    fake.inject("crash_after", skip=call_index)
    try:
        run(client, store, programme, roster)
    except Crash:
        pass
    fake.faults.clear()
    outcome = run(client, store, programme, roster)
    assert outcome.exit_code == 0
    assert_matches(fake, programme, roster)
    assert len(fake.categories) == 1
    assert in_doubt(store, programme.id) == []
    fake.reset_calls()
    assert run(client, store, programme, roster).actions == []


def test_lost_state_store_adopts(fake, client, store, tmp_path, programme, roster) -> None:
    """A fresh store finds everything by idnumber, username and event marker: adopts, writes nothing."""
    run(client, store, programme, roster)
    fake.reset_calls()
    with Store(tmp_path / "fresh.sqlite3") as fresh:
        outcome = run(client, fresh, programme, roster)
        assert {a.op for a in outcome.actions} == {"adopt"}
        assert fake.write_calls == []
        assert_matches(fake, programme, roster)
        assert run(client, fresh, programme, roster).actions == []


def test_hand_deleted_event_is_restored(fake, client, store, programme) -> None:
    """An event deleted in Moodle comes back, and the plan says why."""
    run(client, store, programme, None)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    victim = fake.course_events(course["id"])[1]
    del fake.events[victim["id"]]
    outcome = run(client, store, programme, None)
    assert [(a.op, a.key, a.reason) for a in outcome.actions] == [
        ("create", "seance-2", "deleted in Moodle; restoring it")
    ]
    assert_matches(fake, programme, None)


def test_hand_edited_event_is_restored(fake, client, store, programme) -> None:
    """An event edited in Moodle (time and marker-less description) is put back; exactly one remains."""
    run(client, store, programme, None)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    victim = fake.course_events(course["id"])[0]
    victim["timestart"] += 3600
    victim["description"] = "<p>changed by hand</p>"
    outcome = run(client, store, programme, None)
    assert [(a.op, a.key) for a in outcome.actions] == [("replace", "seance-1")]
    assert "edited in Moodle" in outcome.actions[0].reason
    assert "timestart" in render_plan(outcome.actions)
    assert_matches(fake, programme, None)
    assert run(client, store, programme, None).actions == []


def test_moving_a_session_replaces_only_its_event(fake, client, store, programme) -> None:
    """One session moved: one event replaced; the other events keep their ids."""
    run(client, store, programme, None)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    before = {e["id"] for e in fake.course_events(course["id"])}
    later = moved(programme, "seance-3", 7)
    fake.reset_calls()
    outcome = run(client, store, later, None)
    assert [(a.op, a.key, a.reason) for a in outcome.actions] == [
        ("replace", "seance-3", "event changed in the programme")
    ]
    assert [c.wsfunction for c in fake.write_calls[-2:]] == [
        "core_calendar_create_calendar_events", "core_calendar_delete_calendar_events"
    ]
    after = {e["id"] for e in fake.course_events(course["id"])}
    assert len(before - after) == 1 and len(after - before) == 1
    assert_matches(fake, later, None)


def test_removed_session_event_is_deleted(fake, client, store, programme) -> None:
    """A session removed from the programme has its event deleted in Moodle."""
    run(client, store, programme, None)
    shorter = without(programme, "seance-4")
    outcome = run(client, store, shorter, None)
    assert ("delete", "seance-4") in [(a.op, a.key) for a in outcome.actions]
    assert_matches(fake, shorter, None)


def test_mass_delete_refused_without_force(fake, client, store, programme) -> None:
    """Deleting every session's event is refused, naming --force-delete; with it, it runs."""
    run(client, store, programme, None)
    renamed = programme.model_copy(
        update={"sessions": tuple(s.model_copy(update={"id": s.id + "-bis"}) for s in programme.sessions)}
    )
    fake.reset_calls()
    refused = run(client, store, renamed, None)
    assert refused.refusal is not None and "every event" in str(refused.refusal)
    assert refused.exit_code == 1
    assert fake.write_calls == []
    forced = run(client, store, renamed, None, force_delete=True)
    assert forced.exit_code == 0
    assert_matches(fake, renamed, None)


def test_more_than_max_deletes_refused(fake, client, store, programme, roster) -> None:
    """Suspending more participants than push.max_deletes is refused."""
    many = roster + [
        Participant(username=f"p{i}", email=f"p{i}@example.tn", firstname="P", lastname=str(i)) for i in range(4)
    ]
    run(client, store, programme, many)
    refused = run(client, store, programme, roster)
    assert refused.refusal is not None and "max_deletes" in str(refused.refusal)


def test_removed_participant_is_suspended_and_can_come_back(fake, client, store, programme, roster) -> None:
    """Leaving the roster suspends the enrolment (reversible); coming back re-activates it."""
    run(client, store, programme, roster)
    outcome = run(client, store, programme, roster[:2])
    assert [(a.op, a.key) for a in outcome.actions] == [("suspend", "zdubeuf")]
    assert_matches(fake, programme, roster[:2])
    back = run(client, store, programme, roster)
    assert [(a.op, a.key) for a in back.actions] == [("enrol", "zdubeuf")]
    assert_matches(fake, programme, roster)


def test_passwords_left_to_moodle_and_never_touched(fake, client, store, programme, roster, caplog) -> None:
    """New users get createpassword=1 (no password in our requests or logs); updates never send one."""
    caplog.set_level(logging.DEBUG)
    run(client, store, programme, roster)
    assert {u["password"] for u in fake.users.values() if u["username"] not in ("guest", "wsuser")} == {"generated"}
    changed = [roster[0].model_copy(update={"email": "h.lefevre@industrie.gov.tn"}), *roster[1:]]
    outcome = run(client, store, programme, changed)
    assert [(a.op, a.key, a.changes) for a in outcome.actions] == [
        ("update", "hlefevre", (("email", "helene.lefevre@industrie.gov.tn", "h.lefevre@industrie.gov.tn"),))
    ]
    assert all(u["password_changes"] == 0 for u in fake.users.values())
    assert not any("password" in str(c.params).replace("createpassword", "") for c in fake.calls)
    assert "password" not in caplog.text.replace("createpassword", "")


def test_failed_action_does_not_stop_independent_ones(fake, client, store, programme, roster) -> None:
    """A user Moodle refuses fails alone; the course, events and other users go through; exit 1."""
    taken = FakeMoodle.new_id(fake)
    fake.users[taken] = {"id": taken, "username": "someone", "firstname": "S", "lastname": "O",
                         "email": roster[1].email, "idnumber": "", "institution": "", "department": "",
                         "auth": "manual", "password": "sent", "password_changes": 0}
    outcome = run(client, store, programme, roster)
    assert outcome.exit_code == 1
    assert outcome.result is not None
    assert {(a.op, a.key) for a, _ in outcome.result.failed} == {("create", "fmenard")}
    assert {(a.op, a.key) for a, _ in outcome.result.skipped} == {("enrol", "fmenard")}
    assert_matches(fake, programme, [roster[0], roster[2]])
    assert [row.state for row in journal(store) if row.key == "fmenard"].count("failed") >= 1


def test_invalid_token_stops_the_run_with_exit_3(fake, client, store, programme, roster) -> None:
    """A token refused mid-run: the run stops, exit code 3."""
    run(client, store, programme, None)
    fake.token = "rotated"
    with pytest.raises(Exception) as info:
        run(client, store, programme, roster)
    assert getattr(info.value, "exit_code", None) == 3


def test_roster_without_optional_columns_keeps_moodle_values(fake, client, store, programme) -> None:
    """The shipped example roster has no idnumber column: an idnumber set in Moodle is never erased."""
    roster, _ = load_roster(REPO / "config" / "roster.example.csv")
    assert all(p.idnumber == "" for p in roster)
    run(client, store, programme, roster)
    user = fake.user_by_username("hlefevre")
    user["idnumber"] = "DGIDT-0001"  # set in Moodle by its admins (or an HR import)
    fake.reset_calls()
    outcome = run(client, store, programme, roster)
    assert outcome.actions == []
    assert fake.write_calls == []
    assert user["idnumber"] == "DGIDT-0001"


def test_empty_optional_fields_are_neither_sent_nor_compared(fake, client, store, programme, roster) -> None:
    """An empty institution/department/idnumber leaves Moodle's value; a non-empty one is kept in step."""
    with_ids = [p.model_copy(update={"idnumber": f"DGIDT-{i}"}) for i, p in enumerate(roster)]
    run(client, store, programme, with_ids)
    bare = [p.model_copy(update={"institution": "", "department": "", "idnumber": ""}) for p in roster]
    fake.reset_calls()
    assert {a.op for a in run(client, store, programme, bare).actions} <= {"adopt"}  # new hash recorded locally
    assert fake.write_calls == []
    user = fake.user_by_username("fmenard")
    assert (user["idnumber"], user["institution"], user["department"]) == ("DGIDT-1", "STEG", "DSI")
    moved_out = [roster[0], roster[1].model_copy(update={"department": "DRH"}), roster[2]]
    outcome = run(client, store, programme, moved_out)
    writes = [(a.op, a.key, a.changes) for a in outcome.actions if a.writes]
    assert writes == [("update", "fmenard", (("department", "DSI", "DRH"),))]
    assert user["department"] == "DRH" and user["idnumber"] == "DGIDT-1"


def test_failed_user_and_enrolment_logs_carry_no_personal_data(fake, client, store, programme, roster, caplog) -> None:
    """A failing user create and failing enrolments are logged by op, kind, id and error code only."""
    caplog.set_level(logging.DEBUG)
    create_users = fake.handlers["core_user_create_users"]

    def refuse_fmenard(f: FakeMoodle, params: dict) -> object:
        # Moodle's messages can quote the username and email: they must not reach a log.
        if any(u["username"] == "fmenard" for u in params["users"]):
            raise MoodleFault("invalidparameter", f"Email address already exists: {roster[1].email} (fmenard)")
        return create_users(f, params)

    enrol_users = fake.handlers["enrol_manual_enrol_users"]

    def refuse_enrolments(f: FakeMoodle, params: dict) -> object:
        if params["enrolments"][0]["courseid"] == "1":
            return enrol_users(f, params)  # push's capability probe, on the front page
        who = ", ".join(f"{p.username} <{p.email}> {p.firstname} {p.lastname}" for p in roster)
        raise MoodleFault("wsusercannotassign", f"You cannot assign this role to {who}")

    fake.handlers["core_user_create_users"] = refuse_fmenard
    fake.handlers["enrol_manual_enrol_users"] = refuse_enrolments
    outcome = run(client, store, programme, roster)
    assert outcome.exit_code == 1 and outcome.result is not None
    assert {(a.op, a.key) for a, _ in outcome.result.failed} == {
        ("create", "fmenard"), ("enrol", "hlefevre"), ("enrol", "zdubeuf")
    }
    assert "create user failed: InvalidParameter [invalidparameter] in core_user_create_users" in caplog.text
    assert "enrol enrolment (id " in caplog.text and "AccessDenied [wsusercannotassign]" in caplog.text
    for p in roster:
        for value in (p.username, p.email, p.firstname, p.lastname):
            assert value not in caplog.text, value


def test_crash_during_replace_keeps_the_new_event(fake, client, store, programme) -> None:
    """Killed after the replacing event was created: the next push keeps it and deletes the old one only."""
    run(client, store, programme, None)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    old = next(e for e in fake.course_events(course["id"]) if "seance-3" in e["description"])
    later = moved(programme, "seance-3", 7)
    fake.inject("crash_after", "core_calendar_create_calendar_events")
    with pytest.raises(Crash):
        run(client, store, later, None)
    new = next(e for e in fake.course_events(course["id"]) if "seance-3" in e["description"] and e["id"] != old["id"])
    fake.reset_calls()
    outcome = run(client, store, later, None)
    assert [(a.op, a.moodle_id) for a in outcome.actions] == [("delete", old["id"]), ("adopt", new["id"])]
    assert [c.wsfunction for c in fake.write_calls] == ["core_calendar_delete_calendar_events"]
    assert new["id"] in fake.events and old["id"] not in fake.events
    assert_matches(fake, later, None)
    assert run(client, store, later, None).actions == []


def test_dry_run_of_a_refused_plan_exits_1(fake, client, store, programme) -> None:
    """--dry-run answers like the real push: a plan that would be refused exits 1, and nothing is written."""
    run(client, store, programme, None)
    renamed = programme.model_copy(
        update={"sessions": tuple(s.model_copy(update={"id": s.id + "-bis"}) for s in programme.sessions)}
    )
    fake.reset_calls()
    outcome = run(client, store, renamed, None, dry_run=True)
    assert outcome.refusal is not None and outcome.exit_code == 1
    assert fake.write_calls == []
    assert run(client, store, renamed, None, dry_run=True, force_delete=True).exit_code == 0


def test_unexpected_error_finishes_the_run_as_failed(fake, client, store, programme, monkeypatch) -> None:
    """A non-Moodle error while reading Moodle ends the run as failed (exit 70) instead of "running"."""
    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("lms_sync.sync.apply.read_remote", broken)
    with pytest.raises(RuntimeError):
        run(client, store, programme, None)
    last = store.runs(kind="push")[0]
    assert (last.status, last.exit_code) == ("failed", 70)


def test_summary_counts_done_failed_and_skipped(fake, client, store, programme, roster) -> None:
    """summary() has int counts (shown by `lms-sync runs`) besides the list of each failed or skipped action."""
    taken = FakeMoodle.new_id(fake)
    fake.users[taken] = {"id": taken, "username": "someone", "firstname": "S", "lastname": "O",
                         "email": roster[1].email, "idnumber": "", "institution": "", "department": "",
                         "auth": "manual", "password": "sent", "password_changes": 0}
    outcome = run(client, store, programme, roster)
    summary = outcome.summary()
    assert (summary["failed"], summary["skipped"]) == (1, 1)
    assert summary["done"] == len(outcome.result.done)
    assert summary["skipped_actions"] == ["enrol enrolment fmenard: skipped: the user account could not be created"]
    assert store.runs(kind="push")[0].summary["skipped"] == 1


def test_client_split_call_records_the_applied_chunks(fake, client, store, programme, monkeypatch) -> None:
    """If a client call is sent in several chunks and a later one fails, the earlier ones are recorded done."""
    run(client, store, programme, None)
    # A client that splits every write in one-item chunks (it counts fields differently from apply).
    monkeypatch.setattr(client, "_chunks", lambda _ws, _key, items, _other=None: [[i] for i in items])
    # The second delete call fails on both attempts (retry_attempts = 2).
    fake.inject("http500", "core_calendar_delete_calendar_events", skip=1)
    fake.inject("http500", "core_calendar_delete_calendar_events")
    outcome = run(client, store, without(programme, "seance-3", "seance-4"), None, force_delete=True)
    assert outcome.result is not None
    assert [(a.op, a.key) for a in outcome.result.done if a.kind == "event"] == [("delete", "seance-3")]
    assert [(a.op, a.key) for a, _ in outcome.result.failed] == [("delete", "seance-4")]
    rows = {row.key: row.state for row in journal(store, outcome.run_id) if row.kind == "event"}
    assert rows == {"seance-3": "done", "seance-4": "failed"}


@pytest.mark.parametrize("wsfunction", ["core_user_update_users", "core_course_update_courses"])
def test_update_warning_fails_the_action(fake, client, store, programme, roster, wsfunction) -> None:
    """A per-item warning in an update's answer fails that action (exit 1); the others go through."""
    run(client, store, programme, roster)
    fake.handlers[wsfunction] = lambda _f, _p: {"warnings": [{"item": "x", "itemid": 1, "warningcode": "nopermission",
                                                               "message": "no"}]}
    changed = moved(programme, "seance-4", 7)  # the course's end date changes too
    edited = [roster[0].model_copy(update={"email": "h.lefevre@industrie.gov.tn"}), *roster[1:]]
    outcome = run(client, store, changed, edited)
    failed = [(a.op, a.kind, why) for a, why in outcome.result.failed]
    kind = "user" if "user" in wsfunction else "course"
    assert failed == [("update", kind, f"{wsfunction}: nopermission: no [nopermission]")]
    assert outcome.exit_code == 1


# ------------------------------------------------------------------ what the plan does with each drift


def test_the_category_is_made_at_the_top_and_the_course_summary_is_html(fake, client, store, programme) -> None:
    """A first push makes a top-level category (parent 0), and the course in it with an HTML summary."""
    run(client, store, programme, None)
    (category,) = fake.categories.values()
    assert (category["name"], category["idnumber"], category["parent"]) == (
        "Intelligence artificielle", "dgidt-cat-ia", 0)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    assert course["categoryid"] == category["id"] and course["summaryformat"] == 1
    assert course["summary"].startswith("<p>Cycle de formation en intelligence artificielle")


def with_course(programme: Programme, **changes: object) -> Programme:
    """The programme with some [course] fields changed."""
    return programme.model_copy(update={"course": programme.course.model_copy(update=changes)})


def test_a_summary_change_alone_is_pushed(fake, client, store, programme) -> None:
    run(client, store, programme, None)
    new = with_course(programme, summary="Nouveau résumé & programme")
    outcome = run(client, store, new, None)
    assert [(a.op, a.kind, a.reason) for a in outcome.actions] == [("update", "course", "course changed in the programme")]
    assert [name for name, _, _ in outcome.actions[0].changes] == ["summary"]
    assert fake.course_by_idnumber("dgidt-ia-2020")["summary"] == "<p>Nouveau résumé &amp; programme</p>"
    assert run(client, store, new, None).actions == []


def test_a_summary_moodle_re_serialised_is_not_a_change(fake, client, store, programme) -> None:
    """Entities and whitespace Moodle rewrites are not differences; a changed word is."""
    new = with_course(programme, summary="Résumé & suite")
    run(client, store, new, None)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    course["summary"] = "<p>R&eacute;sum&eacute;  &amp;\n suite</p>"
    assert run(client, store, new, None).actions == []
    course["summary"] = "<p>Résumé &amp; fin</p>"
    outcome = run(client, store, new, None)
    assert [(a.op, a.kind, a.reason) for a in outcome.actions] == [
        ("update", "course", "course was edited in Moodle; restoring the programme's values")]


def with_session_text(programme: Programme, session_id: str, **changes: object) -> Programme:
    sessions = tuple(s.model_copy(update=changes) if s.id == session_id else s for s in programme.sessions)
    return programme.model_copy(update={"sessions": sessions})


def test_a_description_change_alone_replaces_the_event(fake, client, store, programme) -> None:
    run(client, store, programme, None)
    new = with_session_text(programme, "seance-2", description="Programme revu : données ouvertes")
    outcome = run(client, store, new, None)
    assert [(a.op, a.key, a.reason) for a in outcome.actions] == [("replace", "seance-2", "event changed in the programme")]
    assert [name for name, _, _ in outcome.actions[0].changes] == ["description"]
    course = fake.course_by_idnumber("dgidt-ia-2020")
    assert any("Programme revu : données ouvertes" in e["description"] for e in fake.course_events(course["id"]))
    assert run(client, store, new, None).actions == []


def test_a_title_change_alone_replaces_the_event(fake, client, store, programme) -> None:
    run(client, store, programme, None)
    new = with_session_text(programme, "seance-1", title="Séance 1 – Ouverture")
    outcome = run(client, store, new, None)
    assert [(a.op, a.key, a.changes[0][0]) for a in outcome.actions] == [("replace", "seance-1", "name")]
    course = fake.course_by_idnumber("dgidt-ia-2020")
    assert "Séance 1 – Ouverture" in {e["name"] for e in fake.course_events(course["id"])}


def test_a_course_moved_to_another_category_by_hand_is_moved_back(fake, client, store, programme) -> None:
    run(client, store, programme, None)
    (category,) = fake.categories.values()
    fake.categories[999] = {**category, "id": 999, "name": "Archives", "idnumber": ""}
    course = fake.course_by_idnumber("dgidt-ia-2020")
    course["categoryid"] = 999
    outcome = run(client, store, programme, None)
    assert [(a.op, a.kind, a.changes) for a in outcome.actions] == [
        ("update", "course", (("categoryid", 999, "$category"),))]
    assert course["categoryid"] == category["id"]
    assert run(client, store, programme, None).actions == []


def test_a_removed_session_whose_event_lost_its_marker_is_deleted(fake, client, store, programme) -> None:
    """Ours by its id: a hand edit that dropped the marker does not keep a removed session's event alive."""
    run(client, store, programme, None)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    third = sorted(fake.course_events(course["id"]), key=lambda e: e["timestart"])[2]
    third["description"] = "<p>Edité à la main</p>"
    shorter = without(programme, "seance-3")  # a middle one: the course keeps its dates
    outcome = run(client, store, shorter, None)
    assert [(a.op, a.key, a.reason, a.moodle_id) for a in outcome.actions] == [
        ("delete", "seance-3", "session removed from the programme", third["id"])]
    assert third["id"] not in fake.events
    assert_matches(fake, shorter, None)


def test_a_removed_session_whose_event_is_gone_is_forgotten(fake, client, store, programme) -> None:
    run(client, store, programme, None)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    third = sorted(fake.course_events(course["id"]), key=lambda e: e["timestart"])[2]
    del fake.events[third["id"]]
    shorter = without(programme, "seance-3")
    fake.reset_calls()
    outcome = run(client, store, shorter, None)
    assert [(a.op, a.key, a.reason) for a in outcome.actions] == [
        ("forget", "seance-3", "no longer in the programme nor in Moodle")]
    assert fake.write_calls == []
    assert run(client, store, shorter, None).actions == []


def test_removed_sessions_are_deleted_after_a_lost_store(fake, client, store, tmp_path, programme) -> None:
    """Found by their markers alone: every removed session's event goes, whatever its place."""
    run(client, store, programme, None)
    shorter = without(programme, "seance-2", "seance-4")
    with Store(tmp_path / "new.sqlite3") as fresh:
        outcome = run(client, fresh, shorter, None)
    assert sorted((a.op, a.key) for a in outcome.actions if a.op == "delete") == [
        ("delete", "seance-2"), ("delete", "seance-4")]
    assert_matches(fake, shorter, None)


def test_removing_every_session_is_refused_even_beside_hand_made_events(fake, client, store, programme) -> None:
    """Events made by hand at other times are not the programme's: deleting all of its own is still refused."""
    run(client, store, programme, None)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    fake.events[500] = {**fake.course_events(course["id"])[0], "id": 500, "name": "Réunion", "description": "",
                        "timestart": 1609459200}
    empty = programme.model_copy(update={"sessions": ()})
    refused = run(client, store, empty, None)
    assert str(refused.refusal) == "the plan deletes every event of the programme in Moodle (4)"
    assert refused.refusal.count == 4


def test_suspending_every_participant_is_refused(fake, client, store, programme, roster) -> None:
    run(client, store, programme, roster[:2])
    fake.reset_calls()
    refused = run(client, store, programme, [])
    assert str(refused.refusal) == "the plan suspends every participant of the course (2)"
    assert refused.exit_code == 1 and fake.write_calls == []
    forced = run(client, store, programme, [], force_delete=True)
    assert forced.exit_code == 0 and fake.active_usernames(fake.course_by_idnumber("dgidt-ia-2020")["id"]) == set()


def people(count: int) -> list[Participant]:
    return [Participant(username=f"p{i}", email=f"p{i}@example.tn", firstname="P", lastname=str(i)) for i in range(count)]


@pytest.mark.parametrize(("removed", "refused"), [(3, False), (4, True)])
def test_max_deletes_is_the_most_a_push_may_suspend(fake, client, store, programme, removed, refused) -> None:
    """push.max_deletes = 3 (the default): three suspensions run, four are refused."""
    run(client, store, programme, people(6))
    outcome = run(client, store, programme, people(6 - removed))
    if refused:
        assert str(outcome.refusal) == ("the plan deletes or suspends 4 objects, more than push.max_deletes = 3")
    else:
        assert outcome.refusal is None and [a.op for a in outcome.actions] == ["suspend"] * 3


# ------------------------------------------------------------------------------ what applying does


def test_events_are_visible_course_events_in_html(fake, client, store, programme) -> None:
    """Every participant sees the sessions in the course calendar (course events, HTML descriptions)."""
    run(client, store, programme, None)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    events = fake.course_events(course["id"])
    assert [(e["eventtype"], e["format"], e["visible"], e["courseid"]) for e in events] == [
        ("course", 1, 1, course["id"])] * 4


def test_enrolments_give_the_configured_role_and_suspending_keeps_it(fake, client, store, programme, roster) -> None:
    push(client, store, desired_state(programme, roster, PushSettings(role_id=9)))
    course = fake.course_by_idnumber("dgidt-ia-2020")
    user = fake.user_by_username("zdubeuf")
    assert fake.enrolments[(course["id"], user["id"])] == {"roleids": {9}, "status": 0}
    push(client, store, desired_state(programme, roster[:2], PushSettings(role_id=9)))
    assert fake.enrolments[(course["id"], user["id"])] == {"roleids": {9}, "status": 1}


def test_the_runs_table_says_what_each_push_did(fake, client, store, programme, roster) -> None:
    """Status, exit code and counts of each push, as `lms-sync runs` shows them."""
    first = run(client, store, programme, roster)
    row = store.runs(kind="push")[0]
    assert (row.status, row.exit_code) == ("ok", 0)
    assert row.summary["planned"] == {"create": 9, "enrol": 3}
    assert (row.summary["done"], row.summary["failed"], row.summary["skipped"]) == (12, 0, 0)
    assert row.summary["in_doubt_resolved"] == 0 and row.summary["failed_actions"] == []
    assert first.run_id == row.id
    refused = run(client, store, programme, [])
    row = store.runs(kind="push")[0]
    assert (row.status, row.exit_code, row.summary["refused"]) == (
        "refused", 1, "the plan suspends every participant of the course (3)")
    assert refused.result is None and "done" not in row.summary


def test_a_partial_push_is_recorded_as_partial_with_what_failed(fake, client, store, programme) -> None:
    run(client, store, programme, None)
    for _ in range(6):  # every attempt, the lookup's resend included
        fake.inject("http500", "core_calendar_create_calendar_events")
    outcome = run(client, store, moved(programme, "seance-2", 1), None)
    row = store.runs(kind="push")[0]
    assert (row.status, row.exit_code, outcome.exit_code) == ("partial", 1, 1)
    (failed,) = row.summary["failed_actions"]
    assert failed.startswith("replace event seance-2: core_calendar_create_calendar_events: HTTP 500 from Moodle")
    course = fake.course_by_idnumber("dgidt-ia-2020")
    assert len(fake.course_events(course["id"])) == 4  # a failed replace keeps its old event


def test_the_journal_names_the_moodle_id_of_each_write(fake, client, store, programme) -> None:
    outcome = run(client, store, programme, None)
    rows = journal(store, outcome.run_id)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    assert [(r.action, r.kind, r.state) for r in rows][:2] == [("create", "category", "done"), ("create", "course", "done")]
    assert rows[1].detail == f"moodle id {course['id']}"
    event_ids = sorted(e["id"] for e in fake.course_events(course["id"]))
    assert sorted(int(r.detail.removeprefix("moodle id ")) for r in rows if r.kind == "event") == event_ids


def test_a_course_that_cannot_be_created_skips_what_depends_on_it(fake, client, store, programme, roster) -> None:
    for _ in range(6):  # every attempt, the lookup's resend included
        fake.inject("http500", "core_course_create_courses")
    outcome = run(client, store, programme, roster)
    assert outcome.exit_code == 1
    skipped = {(a.kind, why) for a, why in outcome.result.skipped}
    assert skipped == {("event", "skipped: the course could not be created"),
                       ("enrolment", "skipped: the course could not be created")}
    assert {a.kind for a, _ in outcome.result.failed} == {"course"}
    assert {a.kind for a in outcome.result.done} == {"category", "user"}


def test_a_category_that_cannot_be_created_skips_the_course(fake, client, store, programme) -> None:
    def refuse(_f: FakeMoodle, _params: dict) -> object:
        raise MoodleFault("categorynamerequired", "Category name is required")

    fake.handlers["core_course_create_categories"] = refuse
    outcome = run(client, store, programme, None)
    assert [(a.kind, why) for a, why in outcome.result.skipped] == [
        ("course", "skipped: the course category could not be created")] + [
        ("event", "skipped: the course could not be created")] * 4
    assert fake.courses == {} and outcome.exit_code == 1


def test_a_token_refused_mid_push_stops_it_and_lists_what_was_not_attempted(fake, client, store, programme,
                                                                            roster) -> None:
    create_users = fake.handlers["core_user_create_users"]

    def rotate_token(f: FakeMoodle, params: dict) -> object:
        if not is_probe("core_user_create_users", params):
            f.token = "rotated"  # the token is revoked while push runs
        return create_users(f, params)

    fake.handlers["core_user_create_users"] = rotate_token
    outcome = run(client, store, programme, roster)
    assert outcome.exit_code == 3 and isinstance(outcome.result.fatal, InvalidToken)
    assert [(a.kind, why.endswith("[invalidtoken]")) for a, why in outcome.result.failed] == [("event", True)] * 4
    assert [(a.kind, why) for a, why in outcome.result.skipped] == [
        ("enrolment", "not attempted: Moodle became unavailable")] * 3
    assert store.runs(kind="push")[0].exit_code == 3


def test_a_timed_out_create_is_looked_up_before_sending_again(fake, client, store, programme, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="lms_sync.sync")
    fake.inject("timeout_before", "core_course_create_courses")
    fake.inject("timeout_before", "core_course_create_courses")
    outcome = run(client, store, programme, None)
    assert outcome.exit_code == 0
    assert "TransientError in core_course_create_courses: no answer; looking the 1 course(s) up before sending again" \
        in [r.getMessage() for r in caplog.records]
    assert_matches(fake, programme, None)


def test_a_refused_batch_is_retried_one_by_one_and_only_the_culprit_fails(fake, client, store, programme,
                                                                          roster) -> None:
    taken = FakeMoodle.new_id(fake)
    fake.users[taken] = {"id": taken, "username": "someone", "firstname": "S", "lastname": "O",
                         "email": roster[2].email, "idnumber": "", "institution": "", "department": "",
                         "auth": "manual", "password": "sent", "password_changes": 0}
    outcome = run(client, store, programme, roster)
    rows = [r for r in journal(store, outcome.run_id) if r.kind == "user"]
    assert [(r.key, r.state) for r in rows] == [("hlefevre", "failed"), ("fmenard", "failed"), ("zdubeuf", "failed"),
                                                ("hlefevre", "done"), ("fmenard", "done"), ("zdubeuf", "failed")]
    assert rows[0].detail.startswith("batch failed (core_user_create_users: ") and rows[0].detail.endswith(
        "); retried one by one")
    (failure,) = outcome.result.failed
    assert failure[0].key == "zdubeuf" and failure[1].endswith("[invalidparameter]")


def test_an_account_recreated_by_hand_is_adopted_and_enrolled(fake, client, store, programme, roster) -> None:
    """Deleted and made again in Moodle with the same username: push follows the new account, not the old id."""
    run(client, store, programme, roster)
    old = fake.user_by_username("fmenard")
    del fake.users[old["id"]]
    for key in [k for k in fake.enrolments if k[1] == old["id"]]:
        del fake.enrolments[key]  # Moodle deletes a deleted account's enrolments
    new_id = FakeMoodle.new_id(fake)
    fake.users[new_id] = {**old, "id": new_id}
    outcome = run(client, store, programme, roster)
    assert [(a.op, a.kind, a.key, a.reason, a.moodle_id) for a in outcome.actions] == [
        ("adopt", "user", "fmenard", "found in Moodle by username", new_id),
        ("enrol", "enrolment", "fmenard", "enrolment missing or suspended in Moodle; restoring it", new_id)]
    assert "fmenard" in fake.active_usernames(fake.course_by_idnumber("dgidt-ia-2020")["id"])
    assert run(client, store, programme, roster).actions == []


def test_a_lost_store_plan_says_where_each_object_was_found(fake, client, store, tmp_path, programme, roster) -> None:
    run(client, store, programme, roster)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    fake.courses[course["id"]]["categoryid"] = course["categoryid"]  # in place: the category is looked up
    with Store(tmp_path / "fresh.sqlite3") as fresh:
        outcome = run(client, fresh, programme, roster)
    reasons = {(a.kind, a.reason) for a in outcome.actions}
    assert reasons == {("category", "found in Moodle by idnumber"), ("course", "found in Moodle by idnumber"),
                       ("user", "found in Moodle by username"), ("event", "found in Moodle by its marker"),
                       ("enrolment", "already enrolled")}
    assert len(outcome.actions) == 1 + 1 + 3 + 4 + 3


def test_an_event_description_moodle_re_serialised_is_not_a_change(fake, client, store, programme) -> None:
    run(client, store, programme, None)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    event = fake.course_events(course["id"])[2]
    event["description"] = event["description"].replace("'", "&#39;").replace(" ", "  \n", 1)
    assert "&#39;" in event["description"]
    assert run(client, store, programme, None).actions == []


def test_a_duplicate_found_after_a_lost_store_keeps_the_oldest(fake, client, store, tmp_path, programme) -> None:
    run(client, store, programme, None)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    original = fake.course_events(course["id"])[1]
    copy = FakeMoodle.new_id(fake)
    fake.events[copy] = {**original, "id": copy}
    with Store(tmp_path / "fresh.sqlite3") as fresh:
        outcome = run(client, fresh, programme, None)
    deletes = [(a.key, a.reason, a.moodle_id) for a in outcome.actions if a.op == "delete"]
    assert deletes == [("seance-2", f"duplicate of event {original['id']}", copy)]
    assert original["id"] in fake.events and copy not in fake.events


def test_a_participant_gone_from_the_roster_and_the_course_is_forgotten(fake, client, store, programme, roster) -> None:
    run(client, store, programme, roster)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    gone = fake.user_by_username("zdubeuf")
    del fake.enrolments[(course["id"], gone["id"])]  # unenrolled by hand
    fake.reset_calls()
    outcome = run(client, store, programme, roster[:2])
    assert [(a.op, a.kind, a.key, a.reason) for a in outcome.actions] == [
        ("forget", "enrolment", "zdubeuf", "no longer in the roster nor enrolled")]
    assert fake.write_calls == [] and run(client, store, programme, roster[:2]).actions == []


def test_a_course_recreated_by_hand_is_adopted(fake, client, store, programme) -> None:
    """Deleted and made again by hand with the programme's idnumber and values: push follows the new course."""
    run(client, store, programme, None)
    old = fake.course_by_idnumber("dgidt-ia-2020")
    del fake.courses[old["id"]]
    for event in fake.course_events(old["id"]):
        del fake.events[event["id"]]
    new_id = FakeMoodle.new_id(fake)
    fake.courses[new_id] = {**old, "id": new_id}
    outcome = run(client, store, programme, None)
    assert ("adopt", "course", "found in Moodle by idnumber", new_id) in [
        (a.op, a.kind, a.reason, a.moodle_id) for a in outcome.actions]
    assert [a.reason for a in outcome.actions if a.kind == "event"] == ["deleted in Moodle; restoring it"] * 4
    assert_matches(fake, programme, None)


def test_removing_every_session_is_refused_even_when_the_markers_were_edited_away(fake, client, store,
                                                                                  programme) -> None:
    """The events are the programme's by their ids in the store: deleting them all is refused like any mass delete."""
    run(client, store, programme, None)
    course = fake.course_by_idnumber("dgidt-ia-2020")
    for event in fake.course_events(course["id"]):
        event["description"] = "<p>Edité à la main</p>"
    refused = run(client, store, programme.model_copy(update={"sessions": ()}), None)
    assert str(refused.refusal) == "the plan deletes every event of the programme in Moodle (4)"
    assert all(a.destructive for a in refused.actions if a.kind == "event")


def test_a_delete_and_an_update_are_sent_again_after_a_server_error(fake, client, store, programme, roster) -> None:
    """Deleting an event and updating a profile set absolute values: a 500 is retried and the push completes."""
    run(client, store, programme, roster)
    fake.inject("http500", "core_calendar_delete_calendar_events")
    fake.inject("http500", "core_user_update_users")
    edited = [roster[0].model_copy(update={"department": "DRH"}), *roster[1:]]
    shorter = without(programme, "seance-3")
    outcome = run(client, store, shorter, edited)
    assert outcome.exit_code == 0, outcome.summary()
    assert fake.user_by_username("hlefevre")["department"] == "DRH"
    assert_matches(fake, shorter, edited)
    assert run(client, store, shorter, edited).actions == []  # the update and the delete are recorded


def test_a_failed_event_write_is_logged_with_moodles_words(fake, client, store, programme, caplog) -> None:
    run(client, store, programme, None)
    for _ in range(6):
        fake.inject("http500", "core_calendar_create_calendar_events")
    caplog.set_level(logging.ERROR, logger="lms_sync.sync")
    run(client, store, moved(programme, "seance-2", 1), None)
    assert "replace event seance-2 failed: core_calendar_create_calendar_events: HTTP 500 from Moodle" in caplog.text
