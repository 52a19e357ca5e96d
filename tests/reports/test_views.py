"""The views: one declaration of each column feeds CSV, XLSX and JSON alike; the XLSX is set up to print."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest

from lms_sync.cli import main
from lms_sync.reports import build_report, render, render_report
from lms_sync.reports.views import VIEW_NAMES, all_views
from lms_sync.snapshots import Attendance, ParticipantRow
from lms_sync.store import Store
from tests.reports.test_reports import _snapshot, _store_with

LONG_INSTITUTION = ("Ministère de l'Industrie, des Mines et de l'Énergie – Direction générale de l'innovation "
                    "et du développement technologique")  # 121 characters
LONG_EMAIL = "prenom.nom-compose@dgidt.industrie.gov.tn"  # 40 characters, "user016@exam" once


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A store holding one complete snapshot."""
    s = Store(tmp_path / "state.sqlite3")
    _snapshot(s)
    return s


def _csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))


@pytest.mark.parametrize("name", [n for n in VIEW_NAMES if n != "cohorts"])
def test_each_view_is_the_same_table_in_csv_and_xlsx(store: Store, name: str) -> None:
    """The CSV of a view and its XLSX sheet have the same header and as many rows."""
    report = build_report(store)
    views = {v.name: v for v in all_views(report, "fr")}
    table = _csv(render(report, "csv", view=name))
    sheet = openpyxl.load_workbook(io.BytesIO(render(report, "xlsx")))[views[name].title]
    assert [c.value for c in sheet[1]] == table[0]
    assert sheet.max_row == len(table)
    assert all(len(row) == len(table[0]) for row in table)  # one table: every row as wide as its header


def test_no_cohort_no_cohort_column_or_view(store: Store) -> None:
    """The 2020 cycle has no cohorts: no empty "Groupe" column, sheet or JSON counts."""
    report = build_report(store)
    assert "Groupe" not in _csv(render(report, "csv"))[0]
    assert [v.name for v in all_views(report, "fr")] == ["participants", "institutions", "sessions"]
    data = json.loads(render(report, "json"))
    assert data["cohorts"] == [] and {p["cohort"] for p in data["participants"]} == {""}


def test_json_keys_follow_the_columns(store: Store) -> None:
    """The sessions view's counts are in the JSON sessions, read from the same columns as the CSV's."""
    data = json.loads(render_report(store, "json"))
    assert data["sessions"][0] == {"id": "seance-1", "title": "Séance 1", "start": "2020-12-09T09:00:00",
                                   "end": "2020-12-09T12:00:00", "cancelled": False, "tracked": True,
                                   "attended": 1, "marked": 3, "attendance_rate": 0.3333}
    row = _csv(render_report(store, "csv", view="sessions"))[1]
    assert row[6:] == ["1", "3", "33,3"]


def _long_rows() -> list[ParticipantRow]:
    present = {"seance-1": Attendance(True), "seance-2": Attendance(None)}
    return [ParticipantRow(20 + i, f"u{i}", "", f"Participant {i:02d}", LONG_EMAIL.replace("prenom", f"p{i}"),
                           LONG_INSTITUTION if i % 2 else "STEG", "Direction des systèmes d'information",
                           completed=bool(i % 3), time_completed=1610000000 if i % 3 else None, attendance=present)
            for i in range(12)]


def test_xlsx_columns_fit_their_content_capped(tmp_path: Path) -> None:
    """E-mails are not cut (their column is as wide as the longest), institutions wrap at the cap of 60."""
    with _store_with(tmp_path, _long_rows()) as s:
        wb = openpyxl.load_workbook(io.BytesIO(render_report(s, "xlsx")))
    people = wb["Participants"]
    widths = {people.cell(row=1, column=c).value: people.column_dimensions[chr(64 + c)].width
              for c in range(1, people.max_column + 1)}
    assert widths["Courriel"] >= len(LONG_EMAIL.replace("prenom", "p10"))
    # A wide sheet (it prints one page wide): its free text wraps at 36 rather than 60, and its rows are tall
    # enough for the wrapped lines.
    assert widths["Institution"] == 36
    assert people.cell(row=3, column=3).value == LONG_INSTITUTION and people.cell(row=3, column=3).alignment.wrap_text
    assert people.row_dimensions[3].height >= 4 * 15 and people.row_dimensions[1].height >= 2 * 15
    assert widths["Formation achevée"] < 15  # a yes/no column is not as wide as its title: the title wraps
    inst = wb["Par institution"]
    assert inst.column_dimensions["A"].width == 60 and inst.cell(row=2, column=1).value == LONG_INSTITUTION


def test_xlsx_prints_a4_landscape_one_page_wide_header_repeated(store: Store) -> None:
    """Every sheet: landscape A4, fit to one page wide, any height, header row on every page, filter, frozen."""
    wb = openpyxl.load_workbook(io.BytesIO(render_report(store, "xlsx")))
    for ws in wb.worksheets:
        setup = ws.page_setup
        assert (setup.orientation, str(setup.paperSize)) == ("landscape", ws.PAPERSIZE_A4), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage is True
        assert (setup.fitToWidth, setup.fitToHeight) == (1, 0)
        assert ws.print_title_rows == "$1:$1" and ws.freeze_panes == "A2"
        assert ws.auto_filter.ref.startswith("A1:")
        assert ws.oddFooter.center.text == "&P / &N"
    inst = wb["Par institution"]
    assert inst.auto_filter.ref == f"A1:I{inst.max_row - 1}"  # the totals stay out of sorting


def test_xlsx_incomplete_snapshot_repeats_the_header_below_the_banner(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite3") as s:
        _snapshot(s, failed=True)
        wb = openpyxl.load_workbook(io.BytesIO(render_report(s, "xlsx")))
    people = wb["Participants"]
    assert people["A1"].value.startswith("INSTANTANÉ INCOMPLET")
    assert people.print_title_rows == "$2:$2" and people.freeze_panes == "A3"


def test_cli_view_writes_one_table_named_for_it(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--view institutions writes completion-institutions.csv; --view with XLSX is refused (exit 2)."""
    with Store(workdir / "var" / "lms_sync.sqlite3") as s:
        _snapshot(s)
    assert main(["report", "completion", "--view", "institutions"]) == 0
    table = _csv((workdir / "var" / "reports" / "completion-institutions.csv").read_bytes())
    assert table[0][:2] == ["Institution", "Inscrits"] and table[-1][0] == "Total"
    capsys.readouterr()
    assert main(["report", "completion", "--format", "xlsx", "--view", "sessions"]) == 2
    assert "--view applies to CSV only" in capsys.readouterr().err
    assert not (workdir / "var" / "reports" / "completion.xlsx").exists()


# ------------------------------------------------------------------------------------------ cohorts

ADMIN, IT = "Administrations et entreprises publiques", "Responsables informatiques"


def _cohort_rows() -> list[ParticipantRow]:
    present = {"seance-1": Attendance(True), "seance-2": Attendance(None)}
    absent = {"seance-1": Attendance(False), "seance-2": Attendance(None)}
    return [
        ParticipantRow(1, "a", "", "Amel Ben Saïd", "amel@example.invalid", "STEG", "", completed=True,
                       time_completed=1610000000, attendance=present, cohort=IT),
        ParticipantRow(2, "b", "", "Bilel Trabelsi", "bilel@example.invalid", "STEG", "", completed=False,
                       attendance=absent, cohort=ADMIN),
        ParticipantRow(3, "c", "", "Chiraz Gharbi", "chiraz@example.invalid", "Commune de Sfax", "", completed=False,
                       attendance=present, cohort=ADMIN),
        ParticipantRow(4, "d", "", "Dora Jaziri", "dora@example.invalid", "Commune de Sfax", "", completed=False,
                       attendance=absent),
    ]


def test_cohorts_cut_every_format(tmp_path: Path) -> None:
    """With cohorts: a "Groupe" column, a view (CSV, sheet, JSON, HTML section and chart) counted per cohort."""
    import jsonschema

    from lms_sync.reports import schema

    with _store_with(tmp_path, _cohort_rows()) as s:
        report = build_report(s)
    people = _csv(render(report, "csv"))
    assert people[0][:5] == ["Nom", "Courriel", "Institution", "Service", "Groupe"]
    assert [r[4] for r in people[1:]] == [ADMIN, "", IT, ADMIN]  # Chiraz, Dora (Commune de Sfax), Amel, Bilel
    cohorts = _csv(render(report, "csv", view="cohorts"))
    assert cohorts[0][:2] == ["Groupe", "Inscrits"]
    assert [(r[0], r[1], r[-4]) for r in cohorts[1:]] == [
        ("(non renseignée)", "1", "0"), (ADMIN, "2", "0"), (IT, "1", "1"), ("Total", "4", "1")]
    wb = openpyxl.load_workbook(io.BytesIO(render(report, "xlsx")))
    assert wb.sheetnames == ["Participants", "Par institution", "Par groupe", "Par séance"]
    assert [c.value for c in wb["Par groupe"]["A"]] == ["Groupe", "(non renseignée)", ADMIN, IT, "Total"]
    data = json.loads(render(report, "json"))
    jsonschema.Draft202012Validator(schema()).validate(data)
    assert [(c["cohort"], c["enrolled"], c["completed"]) for c in data["cohorts"]] == [("", 1, 0), (ADMIN, 2, 0),
                                                                                       (IT, 1, 1)]
    assert [p["cohort"] for p in data["participants"]] == [ADMIN, "", IT, ADMIN]
    page = render(report, "html", lang="en").decode()
    assert "Completion rate by cohort" in page and '<table class="data" id="cohorts">' in page
    assert page.count('<ul class="bars">') == 3


def test_html_chart_labels_are_whole_and_profile_text_is_escaped(tmp_path: Path) -> None:
    """An 80-character institution is written in full in its chart label and its hover title (no "…"); markup
    typed into a Moodle profile is shown as text by the autoescaping templates."""
    rows = _long_rows()
    rows[0] = ParticipantRow(99, "x", "", '<img src=x onerror="alert(1)">', "x@example.invalid",
                             "<b>STEG</b> & co", "", completed=False, attendance=rows[0].attendance)
    with _store_with(tmp_path, rows) as s:
        page = render_report(s, "html").decode()
    label = "Ministère de l&#39;Industrie, des Mines et de l&#39;Énergie – Direction générale de l&#39;innovation"
    assert f'<span class="label" title="{label} et du développement technologique">{label} et du' in page
    assert "…" not in page
    assert "<img" not in page and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
    assert "&lt;b&gt;STEG&lt;/b&gt; &amp; co" in page
