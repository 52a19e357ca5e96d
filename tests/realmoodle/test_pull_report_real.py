"""Attendance through activity completion on the real Moodle 5.1, by both list sources.

An admin maps sessions 1 and 2 to two activities (labels with manual completion, ID numbers
``seance-1`` and ``seance-2``), a teacher marks who attended through Moodle's completion API, and a
Report builder custom report on "Course participants" lists the course's students with the
columns docs/completion.md names (made with Moodle's PHP API: no web service creates one).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.realmoodle.conftest import RealMoodle
from tests.realmoodle.spec import COMPLETED, STUDENTS

REPORT_COLUMNS = ("user:fullnamewithlink", "user:username", "user:fullname", "user:email", "user:institution",
                  "user:department", "completion:completed", "completion:timecompleted",
                  "completion:progresspercent", "access:timeaccess")
SESSION_1 = range(61, 121)  # agents who attended session 1
SESSION_2 = range(101, 151)  # and session 2


def map_sessions_to_activities(program: Path) -> None:
    """Sessions 1 and 2 name their activity by ID number, as the programme's comments show."""
    text = program.read_text(encoding="utf-8")
    for n in (1, 2):
        text = text.replace(f'id = "seance-{n}"\n', f'id = "seance-{n}"\nactivity = "seance-{n}"\n', 1)
    program.write_text(text, encoding="utf-8")


def calls_made(output: str) -> int:
    """The Moodle calls a pull made, from its summary line."""
    found = re.search(r"(\d+) Moodle call\(s\)", output)
    assert found, output
    return int(found.group(1))


def report_json(cli: Any, state: str) -> dict[str, Any]:
    """The JSON completion report of a state store."""
    code, out, err = cli("--state", state, "report", "completion", "--format", "json", "--out", "-")
    assert code == 0, err
    return dict(json.loads(out))


def test_both_sources_agree_and_the_report_spares_who_did_nothing(
    ena: Path, cli: Any, fresh: RealMoodle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same participants, completion and attendance by either source; the report's progress saves the calls."""
    assert cli("push")[0] == 0  # the hand-made course gets the programme's ID number
    students = fresh.info["students"]
    for n, attended in ((1, SESSION_1), (2, SESSION_2)):
        cmid = fresh.admin("activity", str(fresh.course_id), f"seance-{n}", f"Séance {n} – présence")["cmid"]
        fresh.admin("complete", str(cmid), *(str(students[f"agent.{k:04d}"]) for k in attended))
    map_sessions_to_activities(ena / "config" / "program.toml")

    code, out, err = cli("--state", "calls.sqlite3", "pull")
    assert code == 0, out + err
    by_calls = calls_made(out + err)
    assert by_calls >= 2 * STUDENTS, out + err  # course and activity completion, one call each per participant

    report_id = fresh.admin("report", "dgidt-ia-2020", str(fresh.info["accounts"]["sync"]), *REPORT_COLUMNS)["report"]
    monkeypatch.setenv("LMS_SYNC_MOODLE__COMPLETION_REPORT_ID", str(report_id))
    code, out, err = cli("--state", "report.sqlite3", "pull")
    assert code == 0, out + err
    by_report = calls_made(out + err)
    # Who completed the course (1-90) or an activity (61-150): 150 activity reads, the 150 others
    # completed nothing; the 90 complete need their exact completion time (the report's is text to the
    # minute); the rest is the course, the report page, the activities' ID numbers.
    assert by_report <= 150 + COMPLETED + 8, out + err

    a, b = report_json(cli, "calls.sqlite3"), report_json(cli, "report.sqlite3")
    assert a["participants"] == b["participants"]
    assert a["totals"] == b["totals"]
    attended = {"seance-1": len(SESSION_1), "seance-2": len(SESSION_2), "seance-3": 0, "seance-4": 0}
    assert b["totals"]["attended"] == attended
    assert b["totals"]["completed"] == COMPLETED
    assert b["snapshot"]["source"] == "reportbuilder" and b["snapshot"]["complete"] is True

    # Nothing changed: the report page and the probe, whatever the number of participants.
    code, out, err = cli("--state", "report.sqlite3", "pull")
    assert code == 0 and calls_made(out + err) <= 4 and "incremental" in out + err, out + err
