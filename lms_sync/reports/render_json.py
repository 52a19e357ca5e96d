"""JSON with a versioned schema (``completion-report.schema.json`` in this package).

Keys and values do not depend on the language: booleans, numbers, ISO 8601 times with their
offset. The rows' keys come from the views' columns (``views.py``). ``schema_version`` follows
semantic versioning: a new optional key raises the minor number, a removed or changed key the major one.
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any

from .data import SCHEMA_VERSION, CompletionReport
from .views import Kind, Row, View, all_views, view

SCHEMA_FILE = "completion-report.schema.json"


def schema(name: str = SCHEMA_FILE) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) shipped with the reports: the completion report's by default."""
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _plain(kind: Kind, value: Any) -> Any:
    if kind is Kind.RATE:
        return None if value is None else round(value, 4)
    if kind is Kind.MOMENT:
        return value.isoformat() if isinstance(value, datetime) else value
    return value


def row_dict(v: View, row: Row) -> dict[str, Any]:
    """One row as JSON data: each column with a JSON key, per-session columns gathered in maps."""
    out: dict[str, Any] = {}
    for column in v.columns:
        if column.json_key is None:
            continue
        item = row.item
        value = column.json_value(item) if column.json_value else _plain(column.kind, column.value(item))
        if column.kind is Kind.MARK:
            out.setdefault(column.json_key, {})[column.json_sub] = value.attended
            out.setdefault("statuses", {})[column.json_sub] = value.status
        elif column.json_sub is not None:
            out.setdefault(column.json_key, {})[column.json_sub] = value
        else:
            out[column.json_key] = value
    for key in v.json_maps:
        out.setdefault(key, {})
    return out


def view_rows(v: View) -> list[dict[str, Any]]:
    """The rows of a view as JSON data, totals left out."""
    return [row_dict(v, r) for r in v.rows if not r.total]


def totals_dict(v: View, name_key: str) -> dict[str, Any]:
    """The totals row of a counts view, without its name."""
    total = next(r for r in v.rows if r.total)
    data = row_dict(v, total)
    data.pop(name_key, None)
    return data


def report_dict(report: CompletionReport) -> dict[str, Any]:
    """The report as plain data following the schema."""
    snap = report.snapshot
    views = {v.name: v for v in all_views(report, "en")}
    institutions = views["institutions"]
    cohorts = views.get("cohorts") or view(report, "cohorts", "en")
    return {
        "schema_version": SCHEMA_VERSION,
        "programme": {"id": snap.programme_id, "title": snap.programme_title, "timezone": snap.timezone},
        "snapshot": {
            "run_id": snap.run_id,
            "taken_at": snap.taken_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": snap.source,
            "complete": snap.complete,
            "completion_enabled": snap.completion_enabled,
            "course_id": snap.course_id,
            "notes": list(snap.notes),
        },
        "sessions": view_rows(views["sessions"]),
        "since": {"date": report.since.isoformat() if report.since else None, "completed": report.since_count,
                  "previous_run": report.previous_run},
        "participants": view_rows(views["participants"]),
        "institutions": view_rows(institutions),
        "cohorts": view_rows(cohorts),
        "totals": totals_dict(institutions, "institution"),
    }


def render_json(report: CompletionReport) -> bytes:
    """The report as UTF-8 JSON, keys in a fixed order, ending with a newline."""
    return json_bytes(report_dict(report))


def json_bytes(data: dict[str, Any]) -> bytes:
    """Data as the reports write JSON: UTF-8, indented, ending with a newline."""
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
