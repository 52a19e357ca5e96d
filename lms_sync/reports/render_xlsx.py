"""XLSX through openpyxl: one sheet per view, readable on screen and on paper.

Each sheet: columns as wide as their content (capped, long text wraps), a frozen header row, an
autofilter, real dates and percentages, and a page set-up for printing: A4 landscape, one page
wide (as many tall as needed), the header row repeated on every page, page numbers in the footer.

openpyxl stamps the workbook and every zip entry with the current time; both are replaced by the
snapshot's time so the same snapshot always gives the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from ..i18n import t
from . import formatting
from .common import FORMULA_START, banner_lines, cell_text
from .data import CompletionReport
from .views import Column, Kind, View, all_views

RATE_NUMBER_FORMAT = "0.0%"
MAX_WIDTH = 60  # characters; longer text wraps inside its cell
LONG_TEXT_WIDTH = 36  # the cap of free-text columns on a sheet wider than WIDE_SHEET
WIDE_SHEET = 200  # characters: wider, and one page wide on A4 would print too small
MIN_WIDTH = 6
LINE_HEIGHT = 15  # points: one line of the default 11-point font
AUTHOR = "DGIDT"
_HEADER_FILL = PatternFill("solid", fgColor="E6EAF0")
_BOLD = Font(bold=True)


def render_xlsx(report: CompletionReport, *, lang: str = "fr") -> bytes:
    """The completion report as an XLSX workbook, one sheet per view."""
    title = f"{t('rep_title', lang)} – {report.snapshot.programme_title}"
    return workbook_bytes(all_views(report, lang), lang=lang, title=title, stamp=report.snapshot.taken_at,
                          banner=banner_lines(report, lang))


def workbook_bytes(views: Sequence[View], *, lang: str, title: str, stamp: datetime, banner: Sequence[str] = (),
                   subject: str = "", note: str = "") -> bytes:
    """Views as a workbook, a sheet each, stamped ``stamp`` (aware) so the bytes depend on the data only;
    ``note`` is printed at the foot of every page."""
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    for v in views:
        _sheet(wb.create_sheet(v.title[:31]), v, lang, banner, title, note)
    naive = stamp.astimezone(UTC).replace(tzinfo=None) if stamp.tzinfo else stamp
    wb.properties.creator = AUTHOR
    wb.properties.lastModifiedBy = AUTHOR
    wb.properties.title = title
    wb.properties.subject = subject or title
    wb.properties.created = naive  # openpyxl writes naive times as UTC: the snapshot's are UTC
    wb.properties.modified = naive
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()  # not save_workbook(): that sets "modified" to now
    return _fixed_zip_times(raw.getvalue(), naive)


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


def _typed(column: Column, value: Any, lang: str) -> tuple[object, str | None, str]:
    """A cell's value, its number format and the text it shows (for its width)."""
    if column.kind is Kind.COUNT:
        return value, "0", str(value)
    if column.kind is Kind.RATE:
        return value, RATE_NUMBER_FORMAT, "100.0%"
    if column.kind is Kind.MOMENT:
        if value is None:
            return None, None, ""
        return value.replace(tzinfo=None), formatting.xlsx_date_format(lang), "00/00/0000 00:00"  # a real date
    text = cell_text(column.kind, value, lang)
    return text or None, None, text


def _sheet(ws: Worksheet, view: View, lang: str, banner: Sequence[str], title: str, note: str) -> None:
    for i, text in enumerate(banner, start=1):
        _put(ws, i, 1, text).font = Font(bold=True, color="C00000")
    top = len(banner) + 1  # the header row
    columns = view.shown
    headers = [column.header(lang) for column in columns]
    # A header wraps at its spaces, so it needs only its longest word; content needs its whole text.
    widths = [max(MIN_WIDTH, *(len(word) for word in header.split())) for header in headers]
    cells: list[list[tuple[object, str | None, str]]] = []
    for row in view.rows:
        typed = []
        for c, column in enumerate(columns):
            value, number_format, shown = _typed(column, column.value(row.item), lang)
            widths[c] = max(widths[c], len(shown))
            typed.append((value, number_format, shown))
        cells.append(typed)
    widths = _capped(widths, columns)
    wrap = Alignment(wrap_text=True, vertical="top")
    for c, header in enumerate(headers, start=1):
        cell = _put(ws, top, c, header)
        cell.font, cell.fill, cell.alignment = _BOLD, _HEADER_FILL, wrap
    _height(ws, top, [(h, w) for h, w in zip(headers, widths, strict=True)])
    for r, (row, typed) in enumerate(zip(view.rows, cells, strict=True), start=top + 1):
        for c, (column, (value, number_format, _shown)) in enumerate(zip(columns, typed, strict=True), start=1):
            cell = _put(ws, r, c, value)
            if number_format:
                cell.number_format = number_format
            if row.total:
                cell.font = _BOLD
            cell.alignment = wrap if column.long_text else Alignment(vertical="top")
        _height(ws, r, [(shown, w) for (_v, _f, shown), w, col in zip(typed, widths, columns, strict=True)
                        if col.long_text])
    for c, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = width
    last_col = get_column_letter(max(1, len(columns)))
    ws.freeze_panes = ws.cell(row=top + 1, column=1)  # the header stays visible when scrolling
    plain_rows = [r for r, row in enumerate(view.rows, start=top + 1) if not row.total]
    ws.auto_filter.ref = f"A{top}:{last_col}{max(plain_rows, default=top)}"  # the totals stay out of sorts
    _page_setup(ws, top, title, note)


def _capped(widths: list[int], columns: Sequence[Column]) -> list[int]:
    """Column widths with room for the cell padding, capped; long text narrower on a wide sheet."""
    padded = [min(MAX_WIDTH, w + 2) for w in widths]
    if sum(padded) > WIDE_SHEET:
        # Fitting one page wide scales the whole sheet down: a few very wide text columns would make
        # every column small on paper, so they wrap at a narrower width instead.
        padded = [min(LONG_TEXT_WIDTH, w) if c.long_text else w for w, c in zip(padded, columns, strict=True)]
    return padded


def _lines(text: str, width: int) -> int:
    """How many lines ``text`` wraps to in a column ``width`` characters wide (words kept whole if they fit)."""
    room = max(1, width - 1)
    total = 0
    for paragraph in text.splitlines() or [""]:
        lines, used = 1, 0
        for word in paragraph.split():
            size = len(word)
            if used and used + 1 + size > room:
                lines, used = lines + 1, 0
            used += size + (1 if used else 0)
            while used > room:  # a word longer than the column breaks where it must
                lines, used = lines + 1, used - room
        total += lines
    return total


def _height(ws: Worksheet, row: int, texts: list[tuple[str, int]]) -> None:
    """Make a row as tall as its most wrapped cell: spreadsheets do not all size wrapped rows themselves."""
    lines = max((_lines(text, width) for text, width in texts), default=1)
    if lines > 1:
        ws.row_dimensions[row].height = LINE_HEIGHT * lines


def _page_setup(ws: Worksheet, header_row: int, title: str, note: str) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages tall as the rows need
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_title_rows = f"{header_row}:{header_row}"  # the header on top of every printed page
    ws.print_options.gridLines = True
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.6, bottom=0.6, header=0.3, footer=0.3)
    ws.oddHeader.left.text = title.replace("&", "&&")  # & starts a header code
    ws.oddHeader.right.text = ws.title.replace("&", "&&")
    ws.oddFooter.center.text = "&P / &N"
    if note:
        ws.oddFooter.left.text = note.replace("&", "&&")


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
