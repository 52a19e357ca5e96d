"""Report endpoints wired to the real ``lms_sync.reports`` (skipped where that package is absent)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
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


def test_csv_view_over_http_is_one_table_named_for_its_view(make_settings: Callable[..., Settings]) -> None:
    """?view=institutions gives that table alone, as the CLI's --view does; ?view= on another format is a 400."""
    settings = make_settings()
    app = make_app(settings, recheck_seconds=0)
    srv, thread, port = run_server(app)
    base = f"http://127.0.0.1:{port}/reports/completion"
    auth = {"Authorization": f"Bearer {PLAIN_TOKEN}"}
    try:
        with Store(settings.state_path) as store:
            run = record_snapshot(store)
        response = requests.get(f"{base}.csv?view=institutions", headers=auth, timeout=10)
        assert response.status_code == 200
        assert response.headers["Content-Disposition"] == 'attachment; filename="completion-institutions.csv"'
        lines = response.content.decode("utf-8-sig").split("\r\n")
        assert lines[0].startswith("Institution;Inscrits;") and lines[-2].startswith("Total;2;")
        with Store(settings.state_path) as store:
            assert response.content == reports.render_report(store, "csv", run=run, view="institutions")
        people = requests.get(f"{base}.csv", headers=auth, timeout=10)
        assert people.content.decode("utf-8-sig").startswith("Nom;Courriel;")
        assert requests.get(f"{base}.csv?view=people", headers=auth, timeout=10).status_code == 400
        assert requests.get(f"{base}.xlsx?view=sessions", headers=auth, timeout=10).status_code == 400
    finally:
        stop_server(srv, thread)
        app.close()


def test_serve_loads_no_renderer_library_before_a_report_is_asked_for() -> None:
    """openpyxl, Jinja2 and Babel stay out of `serve`'s memory until a report needs them."""
    import subprocess
    import sys

    code = ("import sys; import lms_sync.web, lms_sync.reports, lms_sync.commands.report; "
            "print(sorted(m for m in ('openpyxl', 'jinja2', 'babel') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_attestation_over_http_behind_the_report_tokens(make_settings: Callable[..., Settings],
                                                        program_file: Path) -> None:
    """/reports/attestation.<fmt>: 401 without a token, 404 while the programme has no rule, then the list in each
    format, the same bytes as the CLI's; editing the rule changes the list at once (the rule is in the cache key)."""
    from lms_sync.program import AttestationRule

    settings = make_settings()
    app = make_app(settings, recheck_seconds=0)
    srv, thread, port = run_server(app)
    base = f"http://127.0.0.1:{port}/reports/attestation"
    auth = {"Authorization": f"Bearer {PLAIN_TOKEN}"}
    try:
        with Store(settings.state_path) as store:
            run = record_snapshot(store)
        assert requests.get(f"{base}.csv", timeout=10).status_code == 401
        missing = requests.get(f"{base}.csv", headers=auth, timeout=10)
        assert missing.status_code == 404 and "no [attestation] rule" in missing.text
        program_file.write_text(program_file.read_text(encoding="utf-8") + "\n[attestation]\ncourse_completed = true\n",
                                encoding="utf-8")
        for fmt in REPORT_FORMATS:
            response = requests.get(f"{base}.{fmt}", headers=auth, timeout=10)
            assert response.status_code == 200, (fmt, response.text[:200])
            assert response.headers["Cache-Control"] == "no-store"
            with Store(settings.state_path) as store:
                assert response.content == reports.render_report(
                    store, fmt, run=run, report="attestation", rule=AttestationRule(course_completed=True))
        table = requests.get(f"{base}.csv", headers=auth, timeout=10).content.decode("utf-8-sig").split("\r\n")
        assert [line.split(";")[0] for line in table[1:3]] == ["Amel Ben", "Karim Tr"]  # Amel completed: first
        assert requests.get(f"{base}.csv?view=institutions", headers=auth, timeout=10).headers[
            "Content-Disposition"] == 'attachment; filename="attestation-institutions.csv"'
        assert requests.get(f"{base}.csv?view=sessions", headers=auth, timeout=10).status_code == 400
        assert requests.get(f"{base}.csv?since=2021-01-01", headers=auth, timeout=10).status_code == 400
        program_file.write_text(program_file.read_text(encoding="utf-8").replace(
            "course_completed = true", "sessions_attended = 1"), encoding="utf-8")
        again = requests.get(f"{base}.json", headers=auth, timeout=10).json()
        assert again["rule"] == {"sessions_attended": 1, "course_completed": False}
    finally:
        stop_server(srv, thread)
        app.close()
