"""The attestation report in each format: the list for the certificate office and the counts.

CSV holds one view (the list by default); XLSX a sheet per view, set up to print like the completion
report's; JSON follows ``attestation-report.schema.json``; HTML is one printable page with the
list split by decision. The rule is printed with every format but CSV (which holds one table).
"""

from __future__ import annotations

from typing import Any

from ..i18n import t
from .attestation import Attestation, AttestationStatus
from .attestation_views import STATUS_ORDER, attestation_view, attestation_views, decision_text, rule_text
from .common import banner_lines, snapshot_label
from .data import SCHEMA_VERSION
from .render_csv import csv_bytes
from .render_json import json_bytes, totals_dict, view_rows
from .views import View

ATTESTATION_SCHEMA_FILE = "attestation-report.schema.json"


def _title(att: Attestation, lang: str) -> str:
    return f"{t('att_title', lang)} – {att.report.snapshot.programme_title}"


def _warnings(att: Attestation, lang: str) -> list[str]:
    lines = banner_lines(att.report, lang)
    if any(line.unknown and not line.qualifies for line in att.lines):
        lines.append(t("att_lower_bound", lang))
    return lines


def attestation_dict(att: Attestation) -> dict[str, Any]:
    """The attestation as plain data following its schema."""
    snap = att.report.snapshot
    views = {v.name: v for v in attestation_views(att, "en")}
    institutions = views["institutions"]
    return {
        "schema_version": SCHEMA_VERSION,
        "programme": {"id": snap.programme_id, "title": snap.programme_title, "timezone": snap.timezone},
        "snapshot": {"run_id": snap.run_id, "taken_at": snap.taken_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "complete": snap.complete},
        "rule": {"sessions_attended": att.rule.sessions_attended, "course_completed": att.rule.course_completed},
        "sessions_held": att.sessions_held,
        "participants": view_rows(views["participants"]),
        "institutions": view_rows(institutions),
        "cohorts": view_rows(views["cohorts"]) if "cohorts" in views else [],
        "totals": totals_dict(institutions, "institution"),
    }


def _split(people: View, status: AttestationStatus) -> View:
    rows = tuple(r for r in people.rows if r.item.status is status)
    return View(people.name, people.title, people.columns, rows)


def render_attestation(att: Attestation, fmt: str, *, lang: str = "fr", delimiter: str = ";",
                       view: str = "participants") -> bytes:
    """The attestation report of ``att`` in ``fmt``."""
    if fmt == "csv":
        return csv_bytes(attestation_view(att, view, lang), lang=lang, delimiter=delimiter)
    rule = t("att_rule", lang).format(rule=rule_text(att, lang))
    if fmt == "xlsx":
        from .render_xlsx import workbook_bytes  # openpyxl is heavy: load it only for XLSX (serve's memory)

        return workbook_bytes(attestation_views(att, lang), lang=lang, title=_title(att, lang),
                              stamp=att.report.snapshot.taken_at, banner=_warnings(att, lang),
                              subject=rule, note=rule)
    if fmt == "json":
        return json_bytes(attestation_dict(att))
    if fmt == "html":
        from .render_html import render_page, table

        views = {v.name: v for v in attestation_views(att, lang)}
        people = views["participants"]
        totals = {AttestationStatus.QUALIFIES: att.totals.qualifies,
                  AttestationStatus.ONE_SESSION_SHORT: att.totals.one_session_short,
                  AttestationStatus.NOT_QUALIFIED: att.totals.not_qualified}
        lists = [(decision_text(s, lang), totals[s], table(_split(people, s), lang)) for s in STATUS_ORDER]
        return render_page(
            "attestation.html.j2", lang=lang, title=_title(att, lang),
            meta=[snapshot_label(att.report, lang), rule], warnings=_warnings(att, lang),
            lists=lists, counts=[table(views[n], lang) for n in ("institutions", "cohorts") if n in views],
        )
    raise ValueError(f"unknown report format {fmt!r}")
