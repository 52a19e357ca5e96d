"""``lms-sync pull`` and the reports on the real Moodle 5.1, after the first day's push.

The hand-made course has 300 students, 90 of whom ticked "I have completed this course"; the
roster adds 10 newcomers. Pull reads them all with the lms_sync role; the reports count them.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from tests.realmoodle.conftest import ROSTER_NEW, RealMoodle
from tests.realmoodle.spec import COMPLETED, STUDENTS


def test_pull_after_push_records_every_participant(cli: Any, fresh: RealMoodle) -> None:
    """Push, then pull: one complete snapshot of 310 participants, 90 complete; the reports agree."""
    assert cli("--roster", "config/roster.csv", "push")[0] == 0
    code, out, err = cli("--roster", "config/roster.csv", "pull")
    assert code == 0, out + err
    assert f"{STUDENTS + ROSTER_NEW} participant(s), {COMPLETED} completed, 0 failed" in out + err
    assert "snapshot complete" in out + err

    code, out, _ = cli("report", "completion", "--format", "json", "--out", "-")
    assert code == 0
    report = json.loads(out)
    people = report["participants"]
    assert len(people) == STUDENTS + ROSTER_NEW
    assert sum(1 for p in people if p["completed"]) == COMPLETED
    assert report["snapshot"]["complete"] is True

    code, out, _ = cli("report", "completion", "--format", "csv", "--out", "-", "--delimiter", ",")
    rows = list(csv.reader(io.StringIO(out.lstrip("\ufeff"))))
    assert len([r for r in rows[1:] if r and "@" in "".join(r)]) >= STUDENTS + ROSTER_NEW
    assert any("Lefèvre" in ",".join(r) or "Dubœuf" in ",".join(r) for r in rows)  # accents survive

    # A second pull is a new snapshot of the same people: history is kept.
    assert cli("--roster", "config/roster.csv", "pull")[0] == 0
    code, out, _ = cli("report", "runs")
    assert code == 0 and len([line for line in out.splitlines() if "complete" in line]) == 2
