"""CSV: one view per file, UTF-8 with a BOM and ``;`` by default (what Excel expects in a French locale).

One table per file, as every tool reading CSV expects: the header row, then one row per line,
nothing above or below. So an incomplete snapshot has no banner line here: the participants who
could not be read say so in their own row (ÉCHEC DE LECTURE), the other views count them ("Non lus").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from .common import FORMULA_START, row_text
from .data import CompletionReport
from .views import View
from .views import view as build_view


def defuse(cell: str) -> str:
    """The cell as text a spreadsheet shows and never evaluates: a leading ' before a formula start."""
    # OWASP CSV injection guidance: names, institutions and departments come from Moodle profiles
    # participants edit, and Excel or LibreOffice run a cell starting with = + - @ as a formula.
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def _safe(cells: Iterable[str]) -> list[str]:
    return [defuse(c) for c in cells]


def csv_bytes(view: View, *, lang: str, delimiter: str) -> bytes:
    """One view as CSV bytes (CRLF line ends, as RFC 4180 and Excel want)."""
    if delimiter not in (";", ","):
        raise ValueError("the CSV delimiter must be ';' or ','")
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    # Every cell goes through defuse(): session titles come from the programme, the rest from Moodle.
    writer.writerow(_safe(c.header(lang) for c in view.shown))
    writer.writerows(_safe(row_text(view, row.item, lang)) for row in view.rows)
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def render_csv(report: CompletionReport, *, lang: str = "fr", delimiter: str = ";",
               view: str = "participants") -> bytes:
    """The completion report's view ``view`` (participants by default) as CSV."""
    return csv_bytes(build_view(report, view, lang), lang=lang, delimiter=delimiter)
