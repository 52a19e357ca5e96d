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


def two_cycles(store: Store) -> None:
    """Amel took both cycles (completed the first), Bilel both under two accounts, Dora and Eve only the second
    (Eve's institution in Moodle looks like a formula)."""
    snapshot(store, "dgidt-ia-2020", "2020-12-09T09:00:00", [
        row(1, "amel", "amel@industrie.gov.tn", "STEG", completed=True, attended=(True, True)),
        row(2, "bilel", "bilel@industrie.gov.tn", "Ministère de l'Industrie", completed=False, attended=(True, False)),
    ])
    snapshot(store, "dgidt-ia-2021", "2021-12-09T09:00:00", [
        row(1, "amel", "amel@industrie.gov.tn", "STEG", completed=False, attended=(False, False)),
        row(3, "bilel.b", "Bilel@industrie.gov.tn", "Commune de Sfax", completed=True, attended=(True, True)),
        row(5, "dora", "dora@cnudst.rnrt.tn", "", completed=False, attended=(True, False)),
        row(6, "eve", "eve@example.tn", '=HYPERLINK("x")', completed=False, attended=(False, False)),
    ])


def csv_rows(data: bytes) -> list[list[str]]:
    """A CSV report as rows of cells (BOM and ';' as the reports write them)."""
    import csv
    import io

    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8")), delimiter=";"))


def test_csv_people_one_row_per_person_a_column_per_programme(tmp_path: Path) -> None:
    from lms_sync.reports.render_cumulative import render_cumulative

    with Store(tmp_path / "s.sqlite3") as store:
        two_cycles(store)
        report = build_cumulative(store)
    rows = csv_rows(render_cumulative(report, "csv"))
    header, people = rows[0], {r[0]: r for r in rows[1:]}
    assert header == ["Nom", "Courriel", "Institution", "Cycle dgidt-ia-2020", "Cycle dgidt-ia-2021",
                      "Programmes suivis", "Programmes achevés"]
    assert people["Amel"][3:] == ["achevée", "non achevée", "2", "1"]
    assert people["Bilel.B"][3:] == ["non achevée", "achevée", "2", "1"]  # one person, two accounts
    assert people["Dora"][3:] == ["", "non achevée", "1", "0"]  # not in the first cycle: blank
    english = csv_rows(render_cumulative(report, "csv", lang="en"))
    assert english[0][-2:] == ["Programmes taken", "Programmes completed"]
    assert {r[0]: r for r in english[1:]}["Amel"][3:5] == ["completed", "not completed"]


def test_csv_institutions_count_people_once_and_per_programme(tmp_path: Path) -> None:
    from lms_sync.reports.render_cumulative import render_cumulative

    with Store(tmp_path / "s.sqlite3") as store:
        two_cycles(store)
        rows = csv_rows(render_cumulative(build_cumulative(store), "csv", view="institutions", delimiter=";"))
    assert rows[0] == ["Institution", "Personnes formées", "Ont achevé au moins un programme",
                       "Inscrits – Cycle dgidt-ia-2020", "Ont achevé – Cycle dgidt-ia-2020",
                       "Inscrits – Cycle dgidt-ia-2021", "Ont achevé – Cycle dgidt-ia-2021"]
    by_name = {r[0]: r[1:] for r in rows[1:]}
    assert by_name["STEG"] == ["1", "1", "1", "1", "1", "0"]
    assert by_name["(non renseignée)"] == ["1", "0", "0", "0", "1", "0"]
    assert by_name["'=HYPERLINK(\"x\")"] == ["1", "0", "0", "0", "1", "0"]  # defused, never run by a spreadsheet
    assert by_name["Total"] == ["4", "2", "2", "1", "4", "1"]


def test_json_follows_its_schema_and_xlsx_html_hold_every_view(tmp_path: Path) -> None:
    import io
    import json

    import jsonschema
    from openpyxl import load_workbook

    from lms_sync.reports.render_cumulative import CUMULATIVE_SCHEMA_FILE, render_cumulative
    from lms_sync.reports.render_json import schema

    with Store(tmp_path / "s.sqlite3") as store:
        two_cycles(store)
        report = build_cumulative(store)
    data = json.loads(render_cumulative(report, "json"))
    jsonschema.validate(data, schema(CUMULATIVE_SCHEMA_FILE))
    amel = next(p for p in data["people"] if p["username"] == "amel")
    assert amel["programmes"]["dgidt-ia-2020"] == {"completed": True, "attended": 2, "marked": 2}
    dora = next(p for p in data["people"] if p["username"] == "dora")
    assert dora["programmes"]["dgidt-ia-2020"] is None
    assert data["totals"] == {"people": 4, "completed_any": 2, "enrolled": {"dgidt-ia-2020": 2, "dgidt-ia-2021": 4},
                              "completed": {"dgidt-ia-2020": 1, "dgidt-ia-2021": 1}}
    assert [p["completion_rate"] for p in data["programmes"]] == [0.5, 0.25]

    book = load_workbook(io.BytesIO(render_cumulative(report, "xlsx")))
    assert book.sheetnames == ["Personnes", "Par institution", "Programmes"]
    assert book.properties.creator == "DGIDT"
    people = book["Personnes"]
    cells = [[c.value for c in r] for r in people.iter_rows()]
    assert any(r[:1] == ["Amel"] and "achevée" in r for r in cells)
    # An institution Moodle holds as a formula stays text: a string cell, never a formula cell.
    eve = next(r for r in people.iter_rows() if r[0].value == "Eve")
    assert eve[2].value == '=HYPERLINK("x")' and eve[2].data_type == "s"

    html = render_cumulative(report, "html", lang="en").decode()
    assert "Training across programmes" in html and "Bilel.B" in html
    assert "=HYPERLINK(&#34;x&#34;)" in html or "=HYPERLINK(&quot;x&quot;)" in html
    assert render_cumulative(report, "html") == render_cumulative(report, "html")  # no clock read


def test_an_unknown_view_is_refused_naming_the_views(tmp_path: Path) -> None:
    from lms_sync.reports.render_cumulative import render_cumulative

    with Store(tmp_path / "s.sqlite3") as store:
        two_cycles(store)
        report = build_cumulative(store)
    with pytest.raises(ValueError, match="people, institutions, programmes"):
        render_cumulative(report, "csv", view="sessions")
