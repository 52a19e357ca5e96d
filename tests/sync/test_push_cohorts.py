"""Cohorts on the fake Moodle: a course group per cohort, kept in step, idempotent, crash-safe, guarded."""

from __future__ import annotations

import pytest
from tests.fakes.moodle import Crash, FakeMoodle, invalid_parameter
from tests.sync.test_push import run

from lms_sync.moodle.client import MoodleClient
from lms_sync.program import Participant, Programme
from lms_sync.store import Store
from lms_sync.sync import desired_state
from lms_sync.sync.journal import in_doubt, journal
from lms_sync.sync.render import render_plan
from lms_sync.settings import PushSettings

ADMIN, IT = "Administrations et entreprises publiques", "Responsables informatiques"


def with_cohorts(roster: list[Participant], *cohorts: str | None) -> list[Participant]:
    return [p.model_copy(update={"cohort": c}) for p, c in zip(roster, cohorts, strict=True)]


def course_id(fake: FakeMoodle, programme: Programme) -> int:
    return next(c["id"] for c in fake.courses.values() if c["idnumber"] == programme.id)


def test_cohorts_become_groups_then_nothing_to_do(fake, client, store, programme, roster) -> None:
    """One group per cohort, with its members, marked by idnumber; a second push writes nothing."""
    people = with_cohorts(roster, ADMIN, IT, "")
    assert run(client, store, programme, people).exit_code == 0
    cid = course_id(fake, programme)
    assert fake.course_groups(cid) == {ADMIN: {"hlefevre"}, IT: {"fmenard"}}
    assert {g["idnumber"] for g in fake.groups.values()} == {
        "lms-sync-cohort:administrations-et-entreprises-publiques", "lms-sync-cohort:responsables-informatiques"}
    fake.reset_calls()
    again = run(client, store, programme, people)
    assert again.actions == [] and fake.write_calls == []
    assert [c.wsfunction for c in fake.calls].count("core_group_get_course_groups") == 1


def test_dry_run_plans_groups_and_members_and_writes_nothing(fake, client, store, programme, roster) -> None:
    outcome = run(client, store, programme, with_cohorts(roster, ADMIN, IT, IT), dry_run=True)
    text = render_plan(outcome.actions, dry_run=True)
    assert "+ create group responsables-informatiques: new cohort 'Responsables informatiques'" in text
    assert "+ add group_member fmenard: cohort 'Responsables informatiques'" in text
    assert fake.write_calls == [] and fake.groups == {}


def test_moving_a_participant_moves_them_and_is_not_a_deletion(fake, client, store, programme, roster) -> None:
    assert run(client, store, programme, with_cohorts(roster, ADMIN, IT, IT)).exit_code == 0
    moved = run(client, store, programme, with_cohorts(roster, IT, IT, ADMIN), max_deletes=0)
    assert moved.refusal is None and moved.exit_code == 0
    assert fake.course_groups(course_id(fake, programme)) == {ADMIN: {"zdubeuf"}, IT: {"hlefevre", "fmenard"}}


def test_leaving_every_cohort_is_guarded(fake, client, store, programme, roster) -> None:
    """Emptying the cohort column is refused like a mass delete; --force-delete empties the groups."""
    assert run(client, store, programme, with_cohorts(roster, ADMIN, IT, IT)).exit_code == 0
    refused = run(client, store, programme, with_cohorts(roster, "", "", ""))
    assert refused.exit_code == 1 and "removes every participant from their cohort (3)" in str(refused.refusal)
    assert fake.course_groups(course_id(fake, programme)) == {ADMIN: {"hlefevre"}, IT: {"fmenard", "zdubeuf"}}
    forced = run(client, store, programme, with_cohorts(roster, "", "", ""), force_delete=True)
    assert forced.exit_code == 0
    # The groups stay (they may hold posts made in them), emptied of the roster's people.
    assert fake.course_groups(course_id(fake, programme)) == {ADMIN: set(), IT: set()}


def test_hand_made_groups_and_outsiders_are_never_touched(fake, client, store, programme, roster) -> None:
    assert run(client, store, programme, with_cohorts(roster, ADMIN, IT, IT)).exit_code == 0
    cid = course_id(fake, programme)
    users = {u["username"]: u["id"] for u in fake.users.values()}
    fake.groups[500] = {"id": 500, "courseid": cid, "name": "Atelier du jeudi", "idnumber": "", "description": "",
                        "members": {users["hlefevre"], users["fmenard"]}}
    # A teacher (not in the roster) put into an lms_sync group by hand stays there.
    ours = next(g for g in fake.groups.values() if g["name"] == IT)
    fake.enrolments[(cid, users["wsuser"])] = {"roleids": {3}, "status": 0}
    ours["members"].add(users["wsuser"])
    fake.reset_calls()
    assert run(client, store, programme, with_cohorts(roster, ADMIN, IT, IT)).actions == []
    assert fake.course_groups(cid)["Atelier du jeudi"] == {"hlefevre", "fmenard"}
    assert "wsuser" in fake.course_groups(cid)[IT]


def test_without_a_cohort_column_groups_are_left_alone(fake, client, store, programme, roster) -> None:
    """No cohort column: no group call at all, and the groups made before stay as they are."""
    assert run(client, store, programme, with_cohorts(roster, ADMIN, IT, IT)).exit_code == 0
    fake.reset_calls()
    assert run(client, store, programme, roster).actions == []
    assert not [c for c in fake.calls if c.wsfunction.startswith("core_group_")]
    assert fake.course_groups(course_id(fake, programme)) == {ADMIN: {"hlefevre"}, IT: {"fmenard", "zdubeuf"}}


def test_a_name_taken_by_a_hand_made_group_is_explained(fake, client, store, programme, roster) -> None:
    assert run(client, store, programme, roster).exit_code == 0
    cid = course_id(fake, programme)
    fake.groups[500] = {"id": 500, "courseid": cid, "name": IT, "idnumber": "", "description": "", "members": set()}
    outcome = run(client, store, programme, with_cohorts(roster, ADMIN, IT, IT))
    create = next(a for a in outcome.actions if a.kind == "group" and a.key == "responsables-informatiques")
    assert "group 500 (made by hand) already has that name: rename it in Moodle, or the cohort" in create.reason
    assert outcome.exit_code == 1
    assert fake.course_groups(cid)[ADMIN] == {"hlefevre"}  # the other cohort went ahead
    assert fake.groups[500]["members"] == set()


@pytest.mark.parametrize("kind", ["crash_after", "timeout_after"])
def test_a_group_created_before_the_answer_was_lost_is_not_made_twice(fake, client, store, programme, roster,
                                                                      kind) -> None:
    assert run(client, store, programme, roster).exit_code == 0
    people = with_cohorts(roster, ADMIN, IT, IT)
    fake.inject(kind, "core_group_create_groups")
    if kind == "crash_after":
        with pytest.raises(Crash):
            run(client, store, programme, people)
        assert [r.kind for r in in_doubt(store, programme.id)] == ["group", "group"]
    else:
        run(client, store, programme, people)
    assert run(client, store, programme, people).exit_code == 0
    assert len(fake.groups) == 2
    assert fake.course_groups(course_id(fake, programme)) == {ADMIN: {"hlefevre"}, IT: {"fmenard", "zdubeuf"}}
    assert run(client, store, programme, people).actions == []


def test_a_lost_store_adopts_the_groups(fake, client, store, programme, roster, tmp_path) -> None:
    people = with_cohorts(roster, ADMIN, IT, IT)
    assert run(client, store, programme, people).exit_code == 0
    fake.reset_calls()
    with Store(tmp_path / "new.sqlite3") as fresh:
        outcome = run(client, fresh, programme, people)
        assert {(a.op, a.kind) for a in outcome.actions if a.kind.startswith("group")} == {("adopt", "group")}
        assert fake.write_calls == []
        assert run(client, fresh, programme, people).actions == []


def test_member_writes_are_journaled_and_failures_logged_without_usernames(fake, client, store, programme, roster,
                                                                           caplog) -> None:
    assert run(client, store, programme, with_cohorts(roster, ADMIN, IT, IT)).exit_code == 0
    rows = [r for r in journal(store) if r.kind in ("group", "group_member")]
    assert {(r.action, r.kind, r.state) for r in rows} == {("create", "group", "done"), ("add", "group_member", "done")}
    assert len(rows) == 5

    def refuse(_fake: FakeMoodle, _params: dict) -> None:
        raise invalid_parameter()

    fake.handlers["core_group_add_group_members"] = refuse
    outcome = run(client, store, programme, with_cohorts(roster, IT, IT, IT))
    assert outcome.exit_code == 1
    assert [(a.op, a.key) for a, _ in outcome.result.failed] == [("add", "hlefevre")]  # type: ignore[union-attr]
    assert "add group_member (id " in caplog.text and "hlefevre" not in caplog.text


@pytest.mark.parametrize("course_first", [False, True])
def test_without_managegroups_push_stops_before_writing(fake, client, store, programme, roster,
                                                        course_first) -> None:
    """Whether the course exists yet or not: nothing written, the capability named."""
    if course_first:
        assert run(client, store, programme, roster).exit_code == 0
    fake.capabilities.discard("moodle/course:managegroups")
    fake.reset_calls()
    outcome = run(client, store, programme, with_cohorts(roster, ADMIN, IT, IT))
    assert [f.capability for f in outcome.missing] == ["moodle/course:managegroups"]
    assert fake.write_calls == [] and outcome.exit_code == 1


def test_a_new_participant_is_enrolled_then_put_in_their_cohort(fake, client, store, programme, roster) -> None:
    """Users made in the same push get their group once enrolled (Moodle takes only enrolled users)."""
    desired = desired_state(programme, with_cohorts(roster, IT, IT, ADMIN), PushSettings())
    assert desired.cohorts is not None and [c.members for c in desired.cohorts] == [("zdubeuf",),
                                                                                    ("fmenard", "hlefevre")]
    assert run(client, store, programme, with_cohorts(roster, IT, IT, ADMIN)).exit_code == 0
    assert fake.course_groups(course_id(fake, programme)) == {IT: {"hlefevre", "fmenard"}, ADMIN: {"zdubeuf"}}


def test_clients_calls(client: MoodleClient) -> None:
    """The client's group calls on an empty list send nothing."""
    assert client.get_group_members([]) == []
