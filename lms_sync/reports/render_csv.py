"""CSV: UTF-8 with a BOM and ``;`` by default (what Excel expects in a French locale).

Layout: an "incomplete snapshot" line first when that is the case, then the participant view,
an empty line, then the institution view ending with the totals.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from .common import (
    FORMULA_START,
    banner_lines,
    institution_cells,
    institution_header,
    participant_cells,
    participant_header,
)
from .data import CompletionReport


def defuse(cell: str) -> str:
    """The cell as text a spreadsheet shows and never evaluates: a leading ' before a formula start."""
    # OWASP CSV injection guidance: names, institutions and departments come from Moodle profiles
    # participants edit, and Excel or LibreOffice run a cell starting with = + - @ as a formula.
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def _safe(cells: Iterable[str]) -> list[str]:
    return [defuse(c) for c in cells]


def render_csv(report: CompletionReport, *, lang: str = "fr", delimiter: str = ";") -> bytes:
    """The report as CSV bytes (CRLF line ends, as RFC 4180 and Excel want)."""
    if delimiter not in (";", ","):
        raise ValueError("the CSV delimiter must be ';' or ','")
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    # Every cell goes through defuse(): session titles come from the programme, the rest from Moodle.
    if not report.complete:
        writer.writerow(_safe([banner_lines(report, lang)[0]]))
    writer.writerow(_safe(participant_header(report, lang)))
    writer.writerows(_safe(participant_cells(p, lang)) for p in report.participants)
    writer.writerow([])
    writer.writerow(_safe(institution_header(report, lang)))
    writer.writerows(_safe(institution_cells(line, lang)) for line in report.institutions)
    writer.writerow(_safe(institution_cells(report.totals, lang, total=True)))
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")
