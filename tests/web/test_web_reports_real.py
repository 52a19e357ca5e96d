"""Report endpoints wired to the real ``lms_sync.reports`` (skipped where that package is absent)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import requests
from tests.web.conftest import PLAIN_TOKEN, run_server, stop_server

from lms_sync.settings import Settings
from lms_sync.store import Store
from lms_sync.web import REPORT_FORMATS, make_app

reports = pytest.importorskip("lms_sync.reports")
snapshots = pytest.importorskip("lms_sync.snapshots")


def record_snapshot(store: Store) -> int:
    """One finished pull with two participants, one of whom completed."""
    run = store.start_run("pull")
    session = snapshots.SessionInfo("seance-1", "Séance 1", "2020-12-09T09:00:00", "2020-12-09T12:00:00")
    snapshot = snapshots.Snapshot(
        run_id=run, programme_id="dgidt-ia-2020", programme_title="Cycle IA", timezone="Africa/Tunis",
        course_id=7, taken_at=datetime(2021, 1, 21, 2, 0, tzinfo=UTC), source="calls", complete=True,
        completion_enabled=True, sessions=(session,),
    )
    rows = [
        snapshots.ParticipantRow(user_id=1, username="a.ben", fullname="Amel Ben", institution="ENA",
                                 completed=True, time_completed=1611100000),
        snapshots.ParticipantRow(user_id=2, username="k.tr", fullname="Karim Tr", institution="DGIDT",
                                 completed=False),
    ]
    snapshots.save_snapshot(store, snapshot, rows)
    store.finish_run(run, "ok", 0)
    return run


def test_real_reports_404_before_any_pull_then_200(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    app = make_app(settings, recheck_seconds=0)  # the default renderer: lms_sync.reports
    srv, thread, port = run_server(app)
    base = f"http://127.0.0.1:{port}/reports/completion"
    auth = {"Authorization": f"Bearer {PLAIN_TOKEN}"}
    try:
        assert requests.get(f"{base}.csv", timeout=10).status_code == 401
        empty = requests.get(f"{base}.csv", headers=auth, timeout=10)
        assert empty.status_code == 404
        assert "no pull" in empty.text
        with Store(settings.state_path) as store:
            run = record_snapshot(store)
        for fmt in REPORT_FORMATS:
            response = requests.get(f"{base}.{fmt}?run={run}", headers=auth, timeout=10)
            assert response.status_code == 200, fmt
            assert response.headers["Content-Type"] == reports.CONTENT_TYPES[fmt]
            assert response.headers["Cache-Control"] == "no-store"
            with Store(settings.state_path) as store:
                assert response.content == reports.render_report(store, fmt, run=run, lang="fr", delimiter=";")
        assert requests.get(f"{base}.json?run={run + 100}", headers=auth, timeout=10).status_code == 404
    finally:
        stop_server(srv, thread)
        app.close()
