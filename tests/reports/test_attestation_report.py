"""The attestation report: the list for the certificate office in each format, from the CLI and over HTTP."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import openpyxl
import pytest

from lms_sync.cli import main
from lms_sync.program import AttestationRule
from lms_sync.reports import build_report, render_attestation, render_report
from lms_sync.reports.attestation import build_attestation
from lms_sync.reports.render_json import schema
from lms_sync.snapshots import Attendance, ParticipantRow, SessionInfo, Snapshot, save_snapshot
from lms_sync.store import Store

SESSIONS = tuple(SessionInfo(f"seance-{i}", f"Séance {i}", f"2020-12-0{i}T09:00:00", f"2020-12-0{i}T12:00:00")
                 for i in range(1, 5))
ADMIN, IT = "Administrations et entreprises publiques", "Responsables informatiques"
RULE = AttestationRule(sessions_attended=3)


def _att(*marks: bool | None) -> dict[str, Attendance]:
    return {s.id: Attendance(m) for s, m in zip(SESSIONS, marks, strict=True)}


def _record(store: Store, programme_id: str = "dgidt-ia-2020") -> None:
    rows = [
        ParticipantRow(1, "a", "", "Amel Ben Saïd", "amel@example.invalid", "STEG", "", completed=True,
                       attendance=_att(True, True, True, True), cohort=IT),
        ParticipantRow(2, "b", "", "Bilel Trabelsi", "bilel@example.invalid", "STEG", "", completed=False,
                       attendance=_att(True, True, False, None), cohort=ADMIN),
        ParticipantRow(3, "c", "", "Chiraz Gharbi", "chiraz@example.invalid", "Commune de Sfax", "",
                       completed=False, attendance=_att(False, False, False, True), cohort=ADMIN),
        ParticipantRow(4, "d", "", "Dora Jaziri", "dora@example.invalid", "Commune de Sfax", "", completed=True,
                       attendance=_att(True, False, True, True), cohort=IT),
    ]
    taken = datetime(2021, 1, 21, 9, 30, tzinfo=UTC)
    run = store.start_run("pull", taken)
    save_snapshot(store, Snapshot(run, programme_id, "Cycle IA", "Africa/Tunis", 2, taken, "calls", complete=True,
                                  completion_enabled=True, sessions=SESSIONS), rows)
    store.finish_run(run, "ok", 0)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "state.sqlite3")
    _record(s)
    return s


def _table(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))


def test_the_list_puts_who_qualifies_first_and_says_what_is_missing(store: Store) -> None:
    """CSV, French: qualifies, then one session short, then the others, each with its reason."""
    table = _table(render_report(store, "csv", report="attestation", rule=RULE))
    assert table == [
        ["Nom", "Courriel", "Institution", "Groupe", "Séances suivies", "Séances exigées", "Séances non relevées",
         "Formation achevée", "Décision", "Ce qui manque"],
        ["Dora Jaziri", "dora@example.invalid", "Commune de Sfax", IT, "3", "3", "0", "oui",
         "Obtient l'attestation", ""],
        ["Amel Ben Saïd", "amel@example.invalid", "STEG", IT, "4", "3", "0", "oui", "Obtient l'attestation", ""],
        ["Bilel Trabelsi", "bilel@example.invalid", "STEG", ADMIN, "2", "3", "1", "non", "À une séance près",
         "2 séance(s) suivie(s) sur 3 exigées ; 1 séance(s) pas encore relevée(s)"],
        ["Chiraz Gharbi", "chiraz@example.invalid", "Commune de Sfax", ADMIN, "1", "3", "0", "non",
         "Ne l'obtient pas", "1 séance(s) suivie(s) sur 3 exigées"],
    ]


def test_counts_per_institution_and_cohort_in_english(store: Store) -> None:
    inst = _table(render_report(store, "csv", report="attestation", rule=RULE, view="institutions", lang="en"))
    assert inst == [["Institution", "Participants", "Qualify", "One session short", "Do not qualify",
                     "Share qualifying (%)"],
                    ["Commune de Sfax", "2", "1", "0", "1", "50.0"], ["STEG", "2", "1", "1", "0", "50.0"],
                    ["Total", "4", "2", "1", "1", "50.0"]]
    cohorts = _table(render_report(store, "csv", report="attestation", rule=RULE, view="cohorts"))
    assert [r[:3] for r in cohorts[1:]] == [[ADMIN, "2", "0"], [IT, "2", "2"], ["Total", "4", "2"]]


def test_json_follows_the_attestation_schema(store: Store) -> None:
    data = json.loads(render_report(store, "json", report="attestation", rule=RULE))
    jsonschema.Draft202012Validator.check_schema(schema("attestation-report.schema.json"))
    jsonschema.Draft202012Validator(schema("attestation-report.schema.json")).validate(data)
    assert data["rule"] == {"sessions_attended": 3, "course_completed": False} and data["sessions_held"] == 4
    assert [(p["name"], p["status"], p["shortfalls"]) for p in data["participants"]] == [
        ("Dora Jaziri", "qualifies", []), ("Amel Ben Saïd", "qualifies", []),
        ("Bilel Trabelsi", "one_session_short", ["sessions"]), ("Chiraz Gharbi", "not_qualified", ["sessions"])]
    assert data["totals"] == {"participants": 4, "qualifies": 2, "one_session_short": 1, "not_qualified": 1,
                              "rate": 0.5}


def test_xlsx_and_html_are_printable_lists(store: Store) -> None:
    """A sheet per view set up like the completion report's, the rule at the foot; HTML split by decision."""
    report = build_report(store)
    att = build_attestation(report, AttestationRule(sessions_attended=3, course_completed=True))
    wb = openpyxl.load_workbook(io.BytesIO(render_attestation(att, "xlsx")))
    assert wb.sheetnames == ["Attestations", "Par institution", "Par groupe"]
    sheet = wb["Attestations"]
    # Bilel's fourth session is not taken yet: the sheet says the list may grow, as the page does.
    assert sheet["A1"].value.startswith("Des présences ne sont pas encore relevées")
    assert sheet["A2"].value == "Nom"
    assert sheet.page_setup.orientation == "landscape" and sheet.print_title_rows == "$2:$2"
    assert sheet.oddFooter.left.text == "Règle : au moins 3 séances suivies sur 4 et formation achevée dans Moodle"
    assert wb.properties.creator == "DGIDT" and wb.properties.title == "Attestations de formation – Cycle IA"
    page = render_attestation(att, "html").decode()
    assert "<h2>Obtient l&#39;attestation (2)</h2>" in page and "<h2>À une séance près (0)</h2>" in page
    assert "<h2>Ne l&#39;obtient pas (2)</h2>" in page and "formation non achevée" in page
    assert "elles comptent comme absences" in page  # Bilel's fourth session is not taken yet
    assert render_attestation(att, "html") == page.encode()  # same data, same bytes


# ------------------------------------------------------------------------------------------ the CLI


def test_cli_refuses_a_programme_without_a_rule_then_writes_the_list(workdir: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with Store(workdir / "var" / "lms_sync.sqlite3") as s:
        _record(s)
    assert main(["report", "attestation"]) == 2
    err = capsys.readouterr().err
    assert "no [attestation] table" in err and "sessions_attended = 3" in err
    assert not (workdir / "var" / "reports" / "attestation.csv").exists()
    program = workdir / "config" / "program.toml"
    program.write_text(program.read_text(encoding="utf-8") + "\n[attestation]\nsessions_attended = 3\n",
                       encoding="utf-8")
    assert main(["report", "attestation", "--format", "xlsx"]) == 0
    out = workdir / "var" / "reports" / "attestation.xlsx"
    assert out.stat().st_mode & 0o777 == 0o600
    assert "2 qualify, 1 one session short, 1 do not" in capsys.readouterr().out
    assert main(["report", "attestation", "--view", "cohorts", "--out", "-"]) == 0
    assert capsys.readouterr().out.startswith("\ufeffGroupe;Participants;")


def test_cli_names_the_missing_rule_before_any_pull(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No rule and no snapshot yet: the user hears of the rule now, not after a night's pull."""
    assert main(["report", "attestation"]) == 2
    err = capsys.readouterr().err
    assert "no [attestation] table" in err and "lms-sync pull" not in err


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json", "html"])
def test_an_empty_course_gives_empty_reports_not_errors(tmp_path: Path, fmt: str) -> None:
    """No participant, no session: every format of both reports renders (headers, zero totals)."""
    with Store(tmp_path / "s.sqlite3") as s:
        taken = datetime(2021, 1, 21, tzinfo=UTC)
        run = s.start_run("pull", taken)
        save_snapshot(s, Snapshot(run, "p1", "P", "Africa/Tunis", 2, taken, "calls", True, True, ()), [])
        s.finish_run(run, "ok", 0)
        completion = render_report(s, fmt)
        attestation = render_report(s, fmt, report="attestation", rule=AttestationRule(course_completed=True))
    if fmt == "json":
        assert json.loads(completion)["totals"]["enrolled"] == 0
        assert json.loads(attestation)["totals"]["participants"] == 0
    elif fmt == "csv":
        assert completion.decode("utf-8-sig").count("\r\n") == 1 and attestation.decode("utf-8-sig").count("\r\n") == 1
    elif fmt == "xlsx":
        for body, first in ((completion, "Participants"), (attestation, "Attestations")):
            wb = openpyxl.load_workbook(io.BytesIO(body))
            assert wb[first].max_row == 1  # the header row, nobody under it
            assert list(wb["Par institution"].iter_rows(values_only=True))[-1][:2] == ("Total", 0)
    else:
        assert '<td data-label="Inscrits" class="n">0</td>' in completion.decode()  # the totals line, at zero
        assert "<h2>Obtient l&#39;attestation (0)</h2>" in attestation.decode()
