"""Completion reports: read-only views of a snapshot (``data``) rendered as CSV, XLSX, JSON or HTML.

The one entry point for the CLI and the HTTP service::

    body = render_report(store, "csv", run="latest", since=None, lang="fr", delimiter=";", view="participants")
    content_type = CONTENT_TYPES["csv"]

The tables are the views of ``views.py`` (participants, institutions, cohorts, sessions): a CSV
holds one, the other formats all. The same snapshot always gives the same bytes (no clock is read). ``NoSnapshot`` (a LookupError)
means there is nothing to report for that run. The JSON follows ``completion-report.schema.json``
(see ``render_json.schema()``).
"""

from __future__ import annotations

from datetime import date

from ..store import Store
from .data import SCHEMA_VERSION, CompletionReport, NoSnapshot, build_report
from .render_csv import render_csv
from .render_html import render_html
from .render_json import render_json, schema
from .views import VIEW_NAMES

FORMATS: tuple[str, ...] = ("csv", "xlsx", "json", "html")
CONTENT_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
}


def render(report: CompletionReport, fmt: str, *, lang: str = "fr", delimiter: str = ";",
           view: str = "participants") -> bytes:
    """Render an already built report in ``fmt``; ``view`` picks the CSV's one table (the others hold every view)."""
    if view not in VIEW_NAMES:
        raise ValueError(f"unknown report view {view!r}; use one of {', '.join(VIEW_NAMES)}")
    if fmt == "csv":
        return render_csv(report, lang=lang, delimiter=delimiter, view=view)
    if fmt == "xlsx":
        from .render_xlsx import render_xlsx  # openpyxl is heavy: load it only for XLSX (serve's memory)

        return render_xlsx(report, lang=lang)
    if fmt == "json":
        return render_json(report)
    if fmt == "html":
        return render_html(report, lang=lang)
    raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")


def render_report(
    store: Store,
    fmt: str,
    *,
    run: int | str = "latest",
    since: date | None = None,
    lang: str = "fr",
    delimiter: str = ";",
    programme_id: str | None = None,
    view: str = "participants",
    report: str = "completion",
) -> bytes:
    """The completion report of snapshot ``run`` (the latest of ``programme_id``) in ``fmt``; NoSnapshot if none."""
    if report != "completion":
        raise ValueError(f"unknown report {report!r}")
    built = build_report(store, run=run, since=since, programme_id=programme_id)
    return render(built, fmt, lang=lang, delimiter=delimiter, view=view)


__all__ = [
    "CONTENT_TYPES",
    "FORMATS",
    "SCHEMA_VERSION",
    "VIEW_NAMES",
    "CompletionReport",
    "NoSnapshot",
    "build_report",
    "render",
    "render_report",
    "schema",
]
