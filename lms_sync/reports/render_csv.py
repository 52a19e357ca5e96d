"""CSV: UTF-8 with a BOM and ``;`` by default (what Excel expects in a French locale).

Layout: an "incomplete snapshot" line first when that is the case, then the participant view,
an empty line, then the institution view ending with the totals.
"""

from __future__ import annotations

import csv
import io

from .common import banner_lines, institution_cells, institution_header, participant_cells, participant_header
from .data import CompletionReport


def render_csv(report: CompletionReport, *, lang: str = "fr", delimiter: str = ";") -> bytes:
    """The report as CSV bytes (CRLF line ends, as RFC 4180 and Excel want)."""
    if delimiter not in (";", ","):
        raise ValueError("the CSV delimiter must be ';' or ','")
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    if not report.complete:
        writer.writerow([banner_lines(report, lang)[0]])
    writer.writerow(participant_header(report, lang))
    writer.writerows(participant_cells(p, lang) for p in report.participants)
    writer.writerow([])
    writer.writerow(institution_header(report, lang))
    writer.writerows(institution_cells(line, lang) for line in report.institutions)
    writer.writerow(institution_cells(report.totals, lang, total=True))
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")
