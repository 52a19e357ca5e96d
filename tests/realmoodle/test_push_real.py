"""``lms-sync push`` on the real Moodle 5.1, an ENA first day: the course and its four events were made by hand.

The sync account holds exactly the role imported from the shipped preset. Push adopts the course,
its category and the four events, brings them in step with the programme, creates and enrols the
roster's newcomers; a second push writes nothing. A push killed right after Moodle applied a write
is finished by the next one without a duplicate.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lms_sync.moodle.client import MoodleClient
from lms_sync.program import load_programme
from lms_sync.settings import load_settings
from tests.conftest import SHIPPED_PROGRAM
from tests.realmoodle.conftest import ROSTER_KNOWN, ROSTER_NEW, RealMoodle
from tests.realmoodle.killing_proxy import KillingProxy

PROGRAMME = load_programme(SHIPPED_PROGRAM)[0]
HAND_ENROLLED = 300  # students the teacher enrolled by hand (spec.STUDENTS)


def course_state(site: RealMoodle) -> dict[str, Any]:
    """What the course holds, read with the sync account's own token: events, participants, idnumbers."""
    settings = load_settings()
    with MoodleClient(settings.moodle) as client:
        course = client.get_courses_by_field("id", site.course_id).courses[0]
        events = [e for e in client.get_calendar_events(course_ids=[site.course_id]).events if e.eventtype == "course"]
        users = client.get_enrolled_users(site.course_id, userfields=("id", "username"), only_active=True)
        category = next(c for c in client.get_categories() if c.id == course.categoryid)
    return {"course": course, "events": events, "usernames": [u.username for u in users], "category": category}


def assert_one_event_per_session(state: dict[str, Any]) -> None:
    """Exactly the programme's sessions, each once, at its time, with its title."""
    have = sorted((e.timestart, e.timeduration, e.name) for e in state["events"])
    want = sorted((int(PROGRAMME.aware(s.start).timestamp()), int((s.end - s.start).total_seconds()), s.title)
                  for s in PROGRAMME.sessions)
    assert have == want


def test_first_day_push_adopts_the_hand_made_course(cli: Any, fresh: RealMoodle) -> None:
    """Dry run shows the adoption; push exits 0; one event per session; the second push writes nothing."""
    code, out, err = cli("--roster", "config/roster.csv", "push", "--dry-run")
    assert code == 0, out + err
    assert "made by hand (shortname 'DGIDT-IA-2020', no idnumber): adopting it" in out
    for n, event_id in enumerate(fresh.info["hand_made"]["event_ids"], start=1):
        assert f"= adopt event seance-{n} (id {event_id}): made by hand at the same time" in out
    assert "+ create course" not in out and "+ create event" not in out
    assert f"Plan: {2 * ROSTER_NEW} to add" in out  # the newcomers: an account and an enrolment each

    code, out, err = cli("--roster", "config/roster.csv", "push")
    assert code == 0, out + err
    state = course_state(fresh)
    assert state["course"].idnumber == PROGRAMME.id and state["category"].idnumber == PROGRAMME.course.category_idnumber
    assert_one_event_per_session(state)
    usernames = state["usernames"]
    assert len(usernames) == len(set(usernames)) == HAND_ENROLLED + ROSTER_NEW
    assert {f"nouveau.{n:02d}" for n in range(1, ROSTER_NEW + 1)} <= set(usernames)

    before = fresh.snapshot()
    code, out, _ = cli("--roster", "config/roster.csv", "push")
    assert code == 0 and out.startswith("No changes."), out
    assert fresh.snapshot() == before  # nothing written, not even a timestamp


@pytest.mark.parametrize("wsfunction", ["core_user_create_users", "core_calendar_create_calendar_events",
                                        "core_course_update_courses"])
def test_push_killed_after_a_write_is_finished_by_the_next(ena: Path, fresh: RealMoodle, cli: Any,
                                                           wsfunction: str) -> None:
    """kill -9 right after Moodle applied a write: the next push resolves it, with no duplicate."""
    with KillingProxy(fresh.url, wsfunction) as proxy:
        env = {**os.environ, "LMS_SYNC_MOODLE__URL": proxy.url}
        process = subprocess.Popen([sys.executable, "-m", "lms_sync", "--roster", "config/roster.csv", "push"],
                                   cwd=ena, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proxy.victim = process.pid
        process.communicate(timeout=300)
    assert proxy.killed, proxy.calls
    assert process.returncode == -9

    code, out, err = cli("--roster", "config/roster.csv", "push")
    assert code == 0, out + err
    assert "interrupted in an earlier run were checked in Moodle and resolved" in err
    state = course_state(fresh)
    assert_one_event_per_session(state)
    assert len(state["usernames"]) == len(set(state["usernames"])) == HAND_ENROLLED + ROSTER_NEW
    assert state["course"].idnumber == PROGRAMME.id
    code, out, _ = cli("--roster", "config/roster.csv", "push")
    assert code == 0 and out.startswith("No changes."), out


def test_push_stops_before_writing_without_changesummary(cli: Any, fresh: RealMoodle) -> None:
    """The issue's first failure: the role without changesummary. Push now stops before its first write."""
    fresh.admin("capability", "lms_sync", "moodle/course:changesummary", "inherit")
    try:
        before = fresh.snapshot()
        code, out, err = cli("push")
        assert code == 1, out + err
        assert "stopped before writing anything" in err and "moodle/course:changesummary" in err
        assert fresh.snapshot() == before
    finally:
        fresh.admin("capability", "lms_sync", "moodle/course:changesummary", "allow")


def test_roster_participants_known_to_moodle_are_not_duplicated(cli: Any, fresh: RealMoodle) -> None:
    """The 250 agents already in the course are found by username: no account is created for them."""
    code, out, _ = cli("--roster", "config/roster.csv", "push", "--dry-run")
    assert code == 0
    creates = [line for line in out.splitlines() if line.strip().startswith("+ create user")]
    assert len(creates) == ROSTER_NEW
    assert ROSTER_KNOWN == 250
