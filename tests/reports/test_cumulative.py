"""The view across programmes: each person once, counted once per programme they took part in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from lms_sync.reports.cumulative import build_cumulative
from lms_sync.reports.data import NoSnapshot
from lms_sync.snapshots import Attendance, ParticipantRow, SessionInfo, Snapshot, save_snapshot
from lms_sync.store import Store

SESSIONS = (SessionInfo("seance-1", "Séance 1", "2020-12-09T09:00:00", "2020-12-09T12:00:00", cmid=1),
            SessionInfo("seance-2", "Séance 2", "2020-12-23T09:00:00", "2020-12-23T12:00:00", cmid=2))


def snapshot(store: Store, programme: str, start: str, rows: list[ParticipantRow]) -> int:
    """Record a pull of ``programme`` whose first session starts at ``start``."""
    run = store.start_run("pull", programme_id=programme)
    sessions = tuple(SessionInfo(s.id, s.title, start, start.replace("09:00", "12:00"), cmid=s.cmid) for s in SESSIONS)
    save_snapshot(store, Snapshot(run, programme, f"Cycle {programme}", "Africa/Tunis", 7,
                                  datetime(2022, 6, 1, tzinfo=UTC), "calls", True, True, sessions), rows)
    store.finish_run(run, "ok", 0)
    return run


def row(user_id: int, username: str, email: str, institution: str, *, completed: bool, attended: tuple[bool, bool],
        status: str = "ok") -> ParticipantRow:
    """One participant as a pull recorded them."""
    return ParticipantRow(user_id=user_id, username=username, fullname=username.title(), email=email,
                          institution=institution, department="", status=status, completed=completed,
                          attendance={"seance-1": Attendance(attended[0]), "seance-2": Attendance(attended[1])})


def test_people_and_institutions_across_two_cycles(tmp_path: Path) -> None:
    """Amel took both cycles; Bilel's account was recreated under a new username (same e-mail); Chokri left."""
    with Store(tmp_path / "s.sqlite3") as store:
        snapshot(store, "dgidt-ia-2020", "2020-12-09T09:00:00", [
            row(1, "amel", "amel@industrie.gov.tn", "STEG", completed=True, attended=(True, True)),
            row(2, "bilel", "bilel@industrie.gov.tn", "Ministère de l'Industrie", completed=False,
                attended=(True, False)),
        ])
        snapshot(store, "dgidt-ia-2021", "2021-12-09T09:00:00", [
            row(1, "amel", "amel@industrie.gov.tn", "STEG", completed=False, attended=(False, False)),
            row(3, "bilel.b", "Bilel@industrie.gov.tn", "Commune de Sfax", completed=True, attended=(True, True)),
            row(4, "chokri", "chokri@steg.com.tn", "STEG", completed=False, attended=(False, False),
                status="no_access"),
        ])
        report = build_cumulative(store)
    assert [p.id for p in report.programmes] == ["dgidt-ia-2020", "dgidt-ia-2021"]
    people = {p.username: p for p in report.people}
    assert set(people) == {"amel", "bilel.b"}  # Bilel once, under his latest account; Chokri no longer enrolled
    assert (people["amel"].trained, people["amel"].completed) == (2, 1)
    bilel = people["bilel.b"]
    assert bilel.institution == "Commune de Sfax" and (bilel.trained, bilel.completed) == (2, 1)
    assert bilel.programmes[0] is not None and (bilel.programmes[0].attended, bilel.programmes[0].marked) == (1, 2)
    assert report.totals.enrolled == (2, 2) and report.totals.completed == (1, 1)
    assert (report.totals.people, report.totals.completed_any) == (2, 2)
    steg = next(i for i in report.institutions if i.institution == "STEG")
    assert (steg.people, steg.enrolled, steg.completed) == (1, (1, 1), (1, 0))


def test_no_snapshot_yet(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite3") as store, pytest.raises(NoSnapshot):
        build_cumulative(store)
