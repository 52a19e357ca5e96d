"""Completion reports: read-only views of a snapshot (``data``) rendered as CSV, XLSX, JSON or HTML.

The one entry point for the CLI and the HTTP service::

    body = render_report(store, "csv", run="latest", since=None, lang="fr", delimiter=";", view="participants")
    content_type = CONTENT_TYPES["csv"]

``report="attestation"`` with the programme's ``rule`` gives who earns the attestation
(``attestation.py``, ``attestation_views.py``). The tables are the views of ``views.py`` (participants, institutions, cohorts, sessions): a CSV
holds one, the other formats all. The same snapshot always gives the same bytes (no clock is read). ``NoSnapshot`` (a LookupError)
means there is nothing to report for that run. The JSON follows ``completion-report.schema.json``
(see ``render_json.schema()``).
"""

from __future__ import annotations

from datetime import date

from ..program import AttestationRule
from ..store import Store
from .attestation import build_attestation
from .attestation_views import ATTESTATION_VIEWS
from .render_attestation import render_attestation
from .data import SCHEMA_VERSION, CompletionReport, NoSnapshot, build_report
from .render_csv import render_csv
from .render_html import render_html
from .render_json import render_json, schema
from .views import VIEW_NAMES

FORMATS: tuple[str, ...] = ("csv", "xlsx", "json", "html")
REPORTS: tuple[str, ...] = ("completion", "attestation", "programmes")
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
    rule: AttestationRule | None = None,
) -> bytes:
    """The ``report`` (completion, or attestation under ``rule``) of snapshot ``run`` (the latest of
    ``programme_id``) in ``fmt``, or the report across ``programmes`` (every one's latest snapshot, or
    ``programme_id``'s); NoSnapshot if none."""
    if report not in REPORTS:
        raise ValueError(f"unknown report {report!r}; use one of {', '.join(REPORTS)}")
    if report == "programmes":  # across programmes: every one's latest snapshot (or the one named)
        from .cumulative import build_cumulative
        from .render_cumulative import render_cumulative

        across = build_cumulative(store, [programme_id] if programme_id else None)
        return render_cumulative(across, fmt, lang=lang, delimiter=delimiter, view=view)
    built = build_report(store, run=run, since=since, programme_id=programme_id)
    if report == "attestation":
        if rule is None:
            raise ValueError("the attestation report needs the programme's rule")
        if view not in ATTESTATION_VIEWS:
            raise ValueError(f"unknown attestation view {view!r}; use one of {', '.join(ATTESTATION_VIEWS)}")
        return render_attestation(build_attestation(built, rule), fmt, lang=lang, delimiter=delimiter, view=view)
    return render(built, fmt, lang=lang, delimiter=delimiter, view=view)


__all__ = [
    "ATTESTATION_VIEWS",
    "REPORTS",
    "render_attestation",
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
