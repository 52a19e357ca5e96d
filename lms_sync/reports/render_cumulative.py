"""The report across programmes in each format.

CSV holds one view (people by default); XLSX a sheet per view, set up to print like the completion
report's; JSON follows ``programmes-report.schema.json``; HTML is one printable page with a chart
of the people trained per institution. Built from each programme's latest snapshot, so the bytes
change only when a pull records a new one.
"""

from __future__ import annotations

from typing import Any

from ..i18n import t
from . import formatting
from .cumulative import CumulativeReport
from .cumulative_views import cumulative_view, cumulative_views
from .data import SCHEMA_VERSION
from .render_csv import csv_bytes
from .render_json import json_bytes, totals_dict, view_rows

CUMULATIVE_SCHEMA_FILE = "programmes-report.schema.json"


def _warnings(report: CumulativeReport, lang: str) -> list[str]:
    partial = [p.title for p in report.programmes if not p.complete]
    return [t("cum_incomplete", lang).format(programmes=", ".join(partial))] if partial else []


def cumulative_dict(report: CumulativeReport) -> dict[str, Any]:
    """The report as plain data following its schema."""
    views = {v.name: v for v in cumulative_views(report, "en")}
    return {
        "schema_version": SCHEMA_VERSION,
        "programmes": view_rows(views["programmes"]),
        "people": view_rows(views["people"]),
        "institutions": view_rows(views["institutions"]),
        "totals": totals_dict(views["institutions"], "institution"),
    }


def render_cumulative(report: CumulativeReport, fmt: str, *, lang: str = "fr", delimiter: str = ";",
                      view: str = "people") -> bytes:
    """The report across programmes in ``fmt``; ``view`` picks the CSV's one table."""
    if fmt == "csv":
        return csv_bytes(cumulative_view(report, view, lang), lang=lang, delimiter=delimiter)
    title = t("cum_title", lang)
    stamp = max(p.taken_at for p in report.programmes)
    if fmt == "xlsx":
        from .render_xlsx import workbook_bytes  # openpyxl is heavy: load it only for XLSX (serve's memory)

        return workbook_bytes(cumulative_views(report, lang), lang=lang, title=title, stamp=stamp,
                              banner=_warnings(report, lang), subject=t("cum_latest", lang))
    if fmt == "json":
        return json_bytes(cumulative_dict(report))
    if fmt == "html":
        from .render_html import Bar, Chart, render_page, table

        bars = tuple(
            Bar(s.institution or t("rep_not_set", lang), s.completed_any / s.people if s.people else None,
                f"{formatting.count(s.people, lang)} ({formatting.percent(s.completed_any / s.people if s.people else None, lang)})")
            for s in report.institutions)
        views = {v.name: v for v in cumulative_views(report, lang)}
        return render_page(
            "completion.html.j2", lang=lang, title=title, meta=[t("cum_latest", lang)],
            warnings=_warnings(report, lang), charts=[Chart(t("cum_chart", lang), bars)],
            tables=[table(views[n], lang) for n in ("programmes", "institutions", "people")],
        )
    raise ValueError(f"unknown report format {fmt!r}")
