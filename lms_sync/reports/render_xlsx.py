"""XLSX through openpyxl: one sheet per view, frozen header row, real dates and numbers.

openpyxl stamps the workbook and every zip entry with the current time; both are replaced by the
snapshot's time so the same snapshot always gives the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from ..i18n import t
from ..participant_fields import SHOWN
from .common import (
    FORMULA_START,
    banner_lines,
    institution_header,
    institution_name,
    participant_header,
    profile_cells,
    session_cell,
    status_text,
    yes_no,
)
from .data import CompletionReport

DATE_NUMBER_FORMAT = "yyyy-mm-dd hh:mm"
RATE_NUMBER_FORMAT = "0.0%"


def render_xlsx(report: CompletionReport, *, lang: str = "fr") -> bytes:
    """The report as an XLSX workbook: participants sheet, institutions sheet."""
    wb = Workbook()
    people = wb.active
    assert people is not None
    people.title = t("rep_participants", lang)[:31]
    _participants(people, report, lang)
    _institutions(wb.create_sheet(t("rep_institutions", lang)[:31]), report, lang)
    stamp = report.snapshot.taken_at.replace(tzinfo=None)  # openpyxl writes naive times as UTC
    wb.properties.creator = "lms_sync"
    wb.properties.title = t("rep_title", lang)
    wb.properties.created = stamp
    wb.properties.modified = stamp
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()  # not save_workbook(): that sets "modified" to now
    return _fixed_zip_times(raw.getvalue(), stamp)


def _put(ws: Worksheet, row: int, column: int, value: object) -> Cell:
    """Write a cell; text always stays text, never a formula."""
    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        # openpyxl stores a string starting with "=" as a formula (data type "f"), which Excel runs:
        # names and institutions are typed by participants in their Moodle profile (OWASP CSV injection).
        cell.data_type = "s"
        if value.startswith(FORMULA_START):
            cell.quotePrefix = True  # as Excel does for '=...: stays text even when the cell is edited
    return cell


def _header(ws: Worksheet, titles: list[str], row: int) -> None:
    for col, title in enumerate(titles, start=1):
        _put(ws, row, col, title).font = Font(bold=True)
    ws.freeze_panes = ws.cell(row=row + 1, column=1)  # the header stays visible when scrolling
    for col, title in enumerate(titles, start=1):
        ws.column_dimensions[get_column_letter(col)].width = max(12, min(40, len(title) + 2))


def _banner(ws: Worksheet, report: CompletionReport, lang: str) -> int:
    lines = banner_lines(report, lang)
    for i, text in enumerate(lines, start=1):
        _put(ws, i, 1, text).font = Font(bold=True, color="C00000")
    return len(lines) + 1  # the header row


def _participants(ws: Worksheet, report: CompletionReport, lang: str) -> None:
    top = _banner(ws, report, lang)
    _header(ws, participant_header(report, lang), top)
    for r, p in enumerate(report.participants, start=top + 1):
        values: list[object] = [*profile_cells(p), *(session_cell(p, i, lang) for i in range(len(p.attended)))]
        for c, value in enumerate(values, start=1):
            _put(ws, r, c, value)
        ws.cell(row=r, column=len(values) + 1, value=p.attendance_rate).number_format = RATE_NUMBER_FORMAT
        values += [None, yes_no(p.completed, lang)]
        _put(ws, r, len(values), values[-1])
        when_cell = ws.cell(row=r, column=len(values) + 1,
                            value=p.time_completed.replace(tzinfo=None) if p.time_completed else None)
        when_cell.number_format = DATE_NUMBER_FORMAT  # a real date Excel can sort and filter
        _put(ws, r, len(values) + 2, status_text(p.status, lang) or None)
    for col, field in enumerate(SHOWN, start=1):  # the profile columns hold longer text than their titles
        ws.column_dimensions[get_column_letter(col)].width = field.width
    ws.column_dimensions[get_column_letter(len(SHOWN) + len(report.sessions) + 3)].width = 17


def _institutions(ws: Worksheet, report: CompletionReport, lang: str) -> None:
    top = _banner(ws, report, lang)
    _header(ws, institution_header(report, lang), top)
    lines = [*((institution_name(i.institution, lang), i) for i in report.institutions),
             (t("rep_total", lang), report.totals)]
    for r, (name, line) in enumerate(lines, start=top + 1):
        values: list[object] = [name, line.enrolled, *line.attended]
        for c, value in enumerate(values, start=1):
            _put(ws, r, c, value)
        ws.cell(row=r, column=len(values) + 1, value=line.attendance_rate).number_format = RATE_NUMBER_FORMAT
        values += [None, line.completed]
        _put(ws, r, len(values), line.completed)
        rate_cell = ws.cell(row=r, column=len(values) + 1, value=line.rate)
        rate_cell.number_format = RATE_NUMBER_FORMAT  # a number shown as a percentage
        ws.cell(row=r, column=len(values) + 2, value=line.failed)
        ws.cell(row=r, column=len(values) + 3, value=line.no_access)
        if name == t("rep_total", lang) and line is report.totals:
            for c in range(1, len(values) + 4):
                ws.cell(row=r, column=c).font = Font(bold=True)


def _fixed_zip_times(data: bytes, stamp: datetime) -> bytes:
    moment = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=moment)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()
