"""``/healthz``: did the nightly run succeed, and recently?"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..store import Run


def health_report(runs: list[Run], now: datetime, max_age_hours: float) -> tuple[dict[str, Any], bool]:
    """The /healthz body and whether it is healthy: the newest finished run succeeded and is recent."""
    running = bool(runs) and runs[0].status == "running"
    last = next((r for r in runs if r.status != "running"), None)
    body: dict[str, Any] = {"running": running, "max_age_hours": max_age_hours, "last_run": None}
    if last is None:
        body["status"] = "no run recorded"
        return body, False
    finished = last.finished_at or last.started_at
    age_hours = round(max((now - finished).total_seconds(), 0.0) / 3600, 2)
    body["last_run"] = {
        "id": last.id,
        "kind": last.kind,
        "outcome": last.status,
        "exit_code": last.exit_code,
        "finished_at": finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "age_hours": age_hours,
    }
    healthy = last.status == "ok" and age_hours <= max_age_hours
    if healthy:
        body["status"] = "ok"
    elif last.status != "ok":
        body["status"] = "last run did not succeed"
    else:
        body["status"] = "last run is too old"
    return body, healthy
