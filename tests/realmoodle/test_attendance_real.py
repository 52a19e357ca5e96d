"""The Attendance activity on the real Moodle 5.1 with mod_attendance: push makes it, a teacher takes, pull reads.

Done as an admin would: ``[attendance] source = "mod_attendance"``, ``create = true`` in the shipped
programme; the teacher's statuses go through the plugin's own code (``moodle_admin.php take``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lms_sync.moodle.client import MoodleClient
from lms_sync.settings import load_settings
from tests.realmoodle.conftest import RealMoodle

ATTENDANCE = '\n[attendance]\nsource = "mod_attendance"\ncreate = true\n'


def sessions(site: RealMoodle) -> list[Any]:
    """The course's Attendance activity sessions, read with the sync account's token."""
    settings = load_settings()
    with MoodleClient(settings.moodle) as client:
        modules = [m for s in client.get_course_contents(site.course_id) for m in s.modules if m.modname == "attendance"]
        assert len(modules) == 1, modules
        return sorted(client.get_attendance_sessions(int(modules[0].instance or 0)), key=lambda s: s.sessdate)


def test_push_makes_the_activity_a_teacher_takes_pull_reads(ena: Path, cli: Any, fresh: RealMoodle) -> None:
    """Four sessions, no extra calendar event, nothing written twice; statuses in one call; a taken session stays."""
    program = ena / "config" / "program.toml"
    program.write_text(program.read_text(encoding="utf-8") + ATTENDANCE, encoding="utf-8")
    code, out, err = cli("--roster", "config/roster.csv", "push")
    assert code == 0, out + err
    assert "+ create attendance dgidt-ia-2020" in out
    made = sessions(fresh)
    assert [(s.sessdate, s.duration) for s in made] == [(1607500800, 10800), (1608710400, 10800),
                                                        (1609920000, 10800), (1611129600, 10800)]
    assert all("#lms-sync:dgidt-ia-2020:seance-" in s.description for s in made)
    code, out, _ = cli("check")
    assert code == 0, out
    before = fresh.snapshot()
    code, out, _ = cli("--roster", "config/roster.csv", "push")
    assert code == 0 and out.startswith("No changes."), out
    assert fresh.snapshot() == before
    assert before["event"] == 4  # the sessions made no calendar event of their own

    students = fresh.info["students"]
    first, second, third = (students[f"agent.{n:04d}"] for n in (1, 2, 3))
    fresh.admin("take", str(made[0].id), str(fresh.info["accounts"]["sync"]), f"{first}=P", f"{second}=L",
                f"{third}=A")
    code, out, err = cli("--roster", "config/roster.csv", "pull")
    assert code == 0, out + err
    code, out, _ = cli("report", "completion", "--format", "json", "--out", "-")
    data = json.loads(out)
    people = {p["user_id"]: p for p in data["participants"]}
    assert people[first]["statuses"]["seance-1"] == "Present" and people[first]["attended"]["seance-1"] is True
    assert people[second]["attended"]["seance-1"] is True and people[third]["attended"]["seance-1"] is False
    assert data["totals"]["attended"]["seance-1"] == 2 and data["totals"]["marked"]["seance-1"] == 3

    # The first session took place: moving it in the programme is refused, and nothing is written.
    text = program.read_text(encoding="utf-8").replace("2020-12-09T09:00:00", "2020-12-10T09:00:00", 1)
    program.write_text(text.replace("2020-12-09T12:00:00", "2020-12-10T12:00:00", 1), encoding="utf-8")
    before = fresh.snapshot()
    code, out, err = cli("--roster", "config/roster.csv", "push")
    assert code == 1 and "attendance already taken" in err and "--force-attendance" in err, out + err
    assert fresh.snapshot() == before
