"""Cohorts on the real Moodle 5.1: the roster's ``groupe`` column becomes one course group per audience.

Push creates the two groups (marked by their idnumber) with their members, a second push writes
nothing, moving an agent to the other audience moves them, pull records each participant's cohort
and the report data counts per cohort.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lms_sync.moodle.client import MoodleClient
from lms_sync.reports import build_report
from lms_sync.settings import load_settings
from lms_sync.store import Store
from tests.realmoodle.conftest import ROSTER_KNOWN, ROSTER_NEW, RealMoodle, write_roster
from tests.realmoodle.killing_proxy import KillingProxy
from tests.realmoodle.spec import STUDENTS
from tests.realmoodle.test_check_real import rows

ADMIN = "Administrations et entreprises publiques"
# An ampersand and an apostrophe: Moodle gives group names back through format_string.
IT = "Responsables informatiques & systèmes d'information"
MOVED = "agent.0001"


def write_cohort_roster(path: Path, moved: bool = False) -> dict[str, str]:
    """The first day's roster with a ``groupe`` column: the first half one audience, the rest the other."""
    rows = write_roster(path)
    cohort = {}
    for n, row in enumerate(rows):
        cohort[row["username"]] = ADMIN if n < len(rows) // 2 else IT
    if moved:
        cohort[MOVED] = IT
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.DictWriter(f, fieldnames=[*rows[0], "groupe"], delimiter=";")
        writer.writeheader()
        writer.writerows({**row, "groupe": cohort[row["username"]]} for row in rows)
    return cohort


def groups_in_moodle(site: RealMoodle) -> dict[str, tuple[str, set[str]]]:
    """The course's groups as the sync account reads them: name -> (idnumber, member usernames)."""
    with MoodleClient(load_settings().moodle) as client:
        groups = client.get_course_groups(site.course_id)
        members = {m.groupid: set(m.userids) for m in client.get_group_members([g.id for g in groups])}
        users = client.get_enrolled_users(site.course_id, userfields=("id", "username"))
    names = {u.id: u.username for u in users}
    return {g.name: (g.idnumber or "", {names[i] for i in members.get(g.id, set())}) for g in groups}


def test_cohorts_are_kept_as_groups_and_counted_in_the_report(cli: Any, fresh: RealMoodle, ena: Path) -> None:
    roster = ena / "config" / "roster.csv"
    cohort = write_cohort_roster(roster)
    code, out, err = cli("--roster", str(roster), "push", "--dry-run")
    assert code == 0, out + err
    assert "+ create group administrations-et-entreprises-publiques: new cohort" in out
    code, out, err = cli("--roster", str(roster), "push")
    assert code == 0, out + err

    groups = groups_in_moodle(fresh)
    half = (ROSTER_KNOWN + ROSTER_NEW) // 2
    admin_id, admin_members = groups[ADMIN]
    it_key = next(k for k, (idn, _) in groups.items() if idn == "lms-sync-cohort:responsables-informatiques-systemes-d-information")
    assert admin_id == "lms-sync-cohort:administrations-et-entreprises-publiques"
    assert admin_members == {u for u, c in cohort.items() if c == ADMIN} and len(admin_members) == half
    assert len(groups[it_key][1]) == half

    before = fresh.snapshot()
    code, out, _ = cli("--roster", str(roster), "push")
    assert code == 0 and out.startswith("No changes."), out
    assert fresh.snapshot() == before  # no group, no membership written

    write_cohort_roster(roster, moved=True)
    code, out, err = cli("--roster", str(roster), "push")
    assert code == 0, out + err
    assert "- remove group_member agent.0001 (id" in out and "moved to another cohort" in out
    groups = groups_in_moodle(fresh)
    assert MOVED not in groups[ADMIN][1] and MOVED in groups[it_key][1]

    code, out, err = cli("--roster", str(roster), "pull")
    assert code == 0, out + err
    with Store(load_settings().state_path) as store:
        report = build_report(store)
    by_name = {p.email.split("@")[0]: p.cohort for p in report.participants}
    assert by_name[MOVED] == IT  # the label as the roster writes it, "&" and "'" included
    counts = {c.label: c.enrolled for c in report.cohorts}
    assert counts == {"": STUDENTS - ROSTER_KNOWN, ADMIN: half - 1, IT: half + 1}


def test_check_probes_managegroups_when_the_roster_has_cohorts(cli: Any, fresh: RealMoodle, ena: Path) -> None:
    """With a cohort column check asks for moodle/course:managegroups, proves it, and names it when missing."""
    roster = ena / "config" / "roster.csv"
    code, out, _ = cli("--roster", str(roster), "check")
    assert code == 0 and "moodle/course:managegroups" not in out, out  # no cohort column: not needed
    write_cohort_roster(roster)
    code, out, _ = cli("--roster", str(roster), "check")
    assert code == 0, out
    assert rows(out)["moodle/course:managegroups"] == ("ok", "manages the groups of course DGIDT-IA-2020"), out
    fresh.admin("capability", "lms_sync", "moodle/course:managegroups", "inherit")
    try:
        code, out, _ = cli("--roster", str(roster), "check")
        assert code == 1, out
        assert rows(out)["moodle/course:managegroups"][0] == "FAIL" and "(the cohorts)" in out, out
        before = fresh.snapshot()
        code, out, err = cli("--roster", str(roster), "push")
        assert code == 1 and "moodle/course:managegroups" in err, out + err
        assert fresh.snapshot() == before
    finally:
        fresh.admin("capability", "lms_sync", "moodle/course:managegroups", "allow")


@pytest.mark.parametrize("wsfunction", ["core_group_create_groups", "core_group_add_group_members"])
def test_push_killed_after_a_group_write_is_finished_by_the_next(ena: Path, fresh: RealMoodle, cli: Any,
                                                                 wsfunction: str) -> None:
    """kill -9 right after Moodle created a group or added members: the next push finishes, nothing twice."""
    roster = ena / "config" / "roster.csv"
    cohort = write_cohort_roster(roster)
    if wsfunction == "core_group_add_group_members":
        assert cli("--roster", str(roster), "push")[0] == 0
        write_cohort_roster(roster, moved=True)  # one member to move: the add is the write that gets killed
        cohort[MOVED] = IT
    with KillingProxy(fresh.url, wsfunction) as proxy:
        env = {**os.environ, "LMS_SYNC_MOODLE__URL": proxy.url}
        process = subprocess.Popen([sys.executable, "-m", "lms_sync", "--roster", str(roster), "push"],
                                   cwd=ena, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proxy.victim = process.pid
        process.communicate(timeout=300)
    assert proxy.killed, proxy.calls
    assert process.returncode == -9

    code, out, err = cli("--roster", str(roster), "push")
    assert code == 0, out + err
    groups = groups_in_moodle(fresh)
    ours = {name: members for name, (idnumber, members) in groups.items() if idnumber.startswith("lms-sync-cohort:")}
    assert len(ours) == 2  # no second group of a cohort
    assert ours[ADMIN] == {u for u, c in cohort.items() if c == ADMIN}
    assert cli("--roster", str(roster), "push")[1].startswith("No changes.")
