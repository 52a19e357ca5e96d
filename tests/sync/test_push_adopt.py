"""A first day at ENA: the course, its category and the session events were made by hand before lms_sync.

And a push that stops before its first write when the sync account lacks a capability its plan needs.
"""

from __future__ import annotations

import pytest
from tests.fakes.moodle import Crash, FakeMoodle
from tests.sync.test_push import assert_matches, moved, run

from lms_sync.program import Programme
from lms_sync.sync.render import render_plan


def hand_made(fake: FakeMoodle, programme: Programme, *, events: bool = True) -> int:
    """What a teacher made by hand: a category and a course with the programme's names, no idnumber, events."""
    fake.categories[2] = {"id": 2, "name": programme.course.category_name, "idnumber": "", "description": "",
                          "descriptionformat": 1, "parent": 0}
    fake.courses[2] = {"id": 2, "fullname": "IA (saisi à la main)", "shortname": programme.course.shortname,
                       "categoryid": 2, "idnumber": "", "summary": "<p>à la main</p>", "summaryformat": 1,
                       "format": "topics", "startdate": 1607468400, "enddate": 1611183600, "visible": 1,
                       "enablecompletion": 1}
    if events:
        hand_events(fake, programme, 2)
    return 2


def hand_events(fake: FakeMoodle, programme: Programme, course_id: int) -> None:
    """One course event per session, at its time, as a teacher types them: no marker."""
    for n, session in enumerate(programme.sessions, start=1):
        eid = fake.new_id()
        fake.events[eid] = {"id": eid, "name": f"Séance {n}", "description": "<p>visio</p>", "format": 1,
                            "courseid": course_id, "userid": 2, "eventtype": "course",
                            "timestart": int(programme.aware(session.start).timestamp()),
                            "timeduration": int((session.end - session.start).total_seconds()),
                            "visible": 1, "sequence": 1}


def test_hand_made_course_is_adopted_with_one_event_per_session(fake, client, store, programme, roster) -> None:
    """The plan says what it adopts; after the push: idnumbers set, one marked event per session, nothing new."""
    hand_made(fake, programme)
    hand_events = set(fake.events)
    outcome = run(client, store, programme, roster, dry_run=True)
    text = render_plan(outcome.actions, dry_run=True)
    assert "~ update category dgidt-cat-ia (id 2): made by hand (named 'Intelligence artificielle', no idnumber)" in text
    assert "~ update course dgidt-ia-2020 (id 2): made by hand (shortname 'DGIDT-IA-2020', no idnumber)" in text
    first = min(hand_events)
    assert f"= adopt event seance-1 (id {first}): made by hand at the same time" in text
    assert "+ create event" not in text and "create course" not in text and "create category" not in text

    assert run(client, store, programme, roster).exit_code == 0
    assert fake.courses[2]["idnumber"] == "dgidt-ia-2020" and fake.categories[2]["idnumber"] == "dgidt-cat-ia"
    assert len(fake.courses) == 1 and len(fake.categories) == 1
    assert_matches(fake, programme, roster)
    assert not hand_events & set(fake.events)  # replaced by marked events, not kept beside them
    fake.reset_calls()
    assert run(client, store, programme, roster).actions == []
    assert fake.write_calls == []


def test_events_made_by_hand_beside_lms_syncs_own_are_removed(fake, client, store, programme) -> None:
    """The issue's site: four events by hand and four by an older push. The copies go: one event per session."""
    hand_made(fake, programme, events=False)
    assert run(client, store, programme, None).exit_code == 0
    hand_events(fake, programme, 2)
    outcome = run(client, store, programme, None)
    assert outcome.exit_code == 0, outcome.summary()
    deletes = [a for a in outcome.actions if a.op == "delete"]
    assert len(deletes) == 4 and all(a.reason.startswith("made by hand at the same time") for a in deletes)
    assert {a.reason for a in deletes} == {"made by hand at the same time as the session's own event: a duplicate"}
    assert [a.changes[0][0] for a in deletes] == ["name"] * 4  # the plan shows the name of each event it deletes
    assert_matches(fake, programme, None)


def test_push_killed_between_the_halves_of_an_adopting_replace(fake, client, store, programme) -> None:
    """Killed after the marked events were created, before the hand-made ones were deleted: no refusal next time."""
    hand_made(fake, programme)
    fake.inject("crash_before", "core_calendar_delete_calendar_events")
    with pytest.raises(Crash):
        run(client, store, programme, None)
    assert len(fake.course_events(2)) == 2 * len(programme.sessions)
    outcome = run(client, store, programme, None)
    assert outcome.refusal is None and outcome.exit_code == 0, outcome.summary()
    assert_matches(fake, programme, None)


def test_two_sessions_at_the_same_time_adopt_one_event_each(fake, client, store, programme) -> None:
    """Parallel sessions (same start and length): each adopts its own hand-made event, none is deleted."""
    first = programme.sessions[0]
    twin = first.model_copy(update={"id": "seance-1-bis", "title": "Séance 1 bis"})
    parallel = programme.model_copy(update={"sessions": (*programme.sessions, twin)})
    hand_made(fake, programme)
    extra = fake.new_id()
    fake.events[extra] = {**fake.events[min(fake.events)], "id": extra, "name": "Séance 1 bis"}
    outcome = run(client, store, parallel, None)
    assert outcome.exit_code == 0
    assert [a for a in outcome.actions if a.op == "delete" and a.reason.startswith("made by hand")] == []
    assert_matches(fake, parallel, None)


def test_first_push_with_a_hand_made_copy_is_not_refused(fake, client, store, programme) -> None:
    """A session typed twice by hand: one adopted, the copy deleted; nothing of lms_sync's exists yet."""
    hand_made(fake, programme)
    copy = fake.new_id()
    fake.events[copy] = {**fake.events[min(fake.events)], "id": copy}
    outcome = run(client, store, programme, None)
    assert outcome.refusal is None and outcome.exit_code == 0
    assert copy not in fake.events
    assert_matches(fake, programme, None)


def test_an_event_at_another_time_is_left_alone(fake, client, store, programme) -> None:
    """Only an event at the session's exact start and duration is the session's: others are not lms_sync's."""
    hand_made(fake, programme)
    other = min(fake.events)
    fake.events[other]["timeduration"] = 7200  # 09:00-11:00: not the session as planned
    assert run(client, store, programme, None).exit_code == 0
    assert other in fake.events and fake.events[other]["name"] == "Séance 1"
    assert len(fake.course_events(2)) == len(programme.sessions) + 1


def test_shortname_taken_by_another_course_says_so(fake, client, store, programme) -> None:
    """A course with the programme's shortname but another idnumber is not taken over; the plan says why."""
    hand_made(fake, programme, events=False)
    fake.courses[2]["idnumber"] = "autre-formation"
    outcome = run(client, store, programme, None, dry_run=True)
    create = next(a for a in outcome.actions if (a.op, a.kind) == ("create", "course"))
    assert "belongs to course 2 (idnumber 'autre-formation')" in create.reason
    assert "[course].shortname" in create.reason


def test_end_date_alone_is_sent_with_the_start_date(fake, client, store, programme) -> None:
    """Moving the last session changes only the course's end: Moodle refuses an end date sent alone."""
    assert run(client, store, programme, None).exit_code == 0
    last = programme.sessions[-1].id
    outcome = run(client, store, moved(programme, last, 7), None)
    assert outcome.exit_code == 0, outcome.summary()
    update = next(a for a in outcome.actions if (a.op, a.kind) == ("update", "course"))
    assert [name for name, _, _ in update.changes] == ["enddate"]
    assert {"startdate", "enddate"} <= set(update.fields())


@pytest.mark.parametrize(("capability", "edit"), [
    ("moodle/course:changesummary", "summary"),
    ("moodle/course:changefullname", "fullname"),
    ("moodle/calendar:manageentries", "session"),
])
def test_push_stops_before_writing_without_a_capability_its_plan_needs(
    fake, client, store, programme, capability: str, edit: str
) -> None:
    """The first write would fail half-way: nothing is written, exit 1, the capability is named."""
    assert run(client, store, programme, None).exit_code == 0
    fake.capabilities -= {capability}
    if edit == "session":
        changed = moved(programme, programme.sessions[1].id, 1)
    else:
        course = programme.course.model_copy(update={edit: "Un autre texte"})
        changed = programme.model_copy(update={"course": course})
    fake.reset_calls()
    for dry_run in (True, False):
        outcome = run(client, store, changed, None, dry_run=dry_run)
        assert outcome.exit_code == 1 and outcome.result is None
        assert [f.capability for f in outcome.missing] == [capability]
    assert fake.write_calls == []
    fake.capabilities.add(capability)
    assert run(client, store, changed, None).exit_code == 0
