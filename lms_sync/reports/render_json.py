"""JSON with a versioned schema (``completion-report.schema.json`` in this package).

Keys and values do not depend on the language: booleans, numbers, ISO 8601 times with their
offset. ``schema_version`` follows semantic versioning: a new optional key raises the minor
number, a removed or changed key the major one.
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any

from ..participant_fields import SHOWN
from .data import SCHEMA_VERSION, CompletionReport, InstitutionLine

SCHEMA_FILE = "completion-report.schema.json"


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) the JSON report follows."""
    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _counts(line: InstitutionLine, session_ids: list[str]) -> dict[str, Any]:
    return {
        "enrolled": line.enrolled,
        "attended": dict(zip(session_ids, line.attended, strict=True)),
        "marked": dict(zip(session_ids, line.marked, strict=True)),
        "attendance_rate": None if line.attendance_rate is None else round(line.attendance_rate, 4),
        "completed": line.completed,
        "completion_rate": None if line.rate is None else round(line.rate, 4),
        "failed": line.failed,
        "no_access": line.no_access,
    }


def report_dict(report: CompletionReport) -> dict[str, Any]:
    """The report as plain data following the schema."""
    snap = report.snapshot
    ids = [s.id for s in report.sessions]
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
        "sessions": [
            {"id": s.id, "title": s.title, "start": s.start, "end": s.end, "cancelled": s.cancelled,
             "tracked": s.tracked}
            for s in report.sessions
        ],
        "since": {"date": report.since.isoformat() if report.since else None, "completed": report.since_count,
                  "previous_run": report.previous_run},
        "participants": [
            {
                "user_id": p.user_id,
                **{f.json_key or f.key: getattr(p, f.key) for f in SHOWN},
                "status": p.status,
                "attended": dict(zip(ids, p.attended, strict=True)),
                "statuses": dict(zip(ids, p.statuses, strict=True)),
                "attendance_rate": None if p.attendance_rate is None else round(p.attendance_rate, 4),
                "completed": p.completed,
                "time_completed": _iso(p.time_completed),
            }
            for p in report.participants
        ],
        "institutions": [{"institution": i.institution, **_counts(i, ids)} for i in report.institutions],
        "totals": _counts(report.totals, ids),
    }


def render_json(report: CompletionReport) -> bytes:
    """The report as UTF-8 JSON, keys in a fixed order, ending with a newline."""
    return (json.dumps(report_dict(report), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
