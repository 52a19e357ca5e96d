"""serve with several programmes: one feed of all, one per programme, a page listing them."""

from __future__ import annotations

from pathlib import Path

import icalendar
import requests
from tests.conftest import write_programmes
from tests.web.conftest import run_server, stop_server

from lms_sync.settings import FeedSettings, Settings
from lms_sync.web import make_app


def uids(data: bytes) -> list[str]:
    """The UIDs of a feed's events."""
    return [str(e["UID"]) for e in icalendar.Calendar.from_ical(data).walk("VEVENT")]


def test_feeds_and_page_of_two_programmes(tmp_path: Path) -> None:
    """/sessions.ics has both cycles, /programs/<id>/sessions.ics one each, the page links each feed."""
    write_programmes(tmp_path / "programs")
    settings = Settings(programs_dir=tmp_path / "programs", state_path=tmp_path / "state.sqlite3",
                        feed=FeedSettings(uid_domain="formation.ena.tn",
                                          public_url="https://formation.ena.tn/lms-sync/sessions.ics"))
    app = make_app(settings, recheck_seconds=0)
    srv, thread, port = run_server(app)
    base = f"http://127.0.0.1:{port}"
    try:
        every = requests.get(base + "/sessions.ics", timeout=10)
        assert every.status_code == 200 and len(uids(every.content)) == 8
        one = requests.get(base + "/programs/dgidt-ia-2021/sessions.ics", timeout=10)
        assert one.status_code == 200 and len(uids(one.content)) == 4
        assert all(uid.startswith("dgidt-ia-2021-") for uid in uids(one.content))
        assert one.headers["ETag"] != every.headers["ETag"]
        assert requests.get(base + "/programs/dgidt-ia-2021/sessions.ics", timeout=10,
                            headers={"If-None-Match": one.headers["ETag"]}).status_code == 304
        assert requests.get(base + "/programs/nope/sessions.ics", timeout=10).status_code == 404
        assert requests.get(base + "/programs/%2E%2E/sessions.ics", timeout=10).status_code == 404
        page = requests.get(base + "/", timeout=10).text
        assert "Toutes les formations" in page and "Nouveau cycle de formation" in page
        assert "https://formation.ena.tn/lms-sync/programs/dgidt-ia-2021/sessions.ics" in page
        assert "webcal://formation.ena.tn/lms-sync/sessions.ics" in page
    finally:
        stop_server(srv, thread)
        app.close()


def test_report_across_programmes_over_http(tmp_path: Path) -> None:
    """/reports/programmes.<fmt>: behind the report tokens, every programme unless program=ID, latest snapshots only."""
    import jsonschema
    from pydantic import SecretStr
    from tests.reports.test_cumulative import two_cycles
    from tests.web.conftest import PLAIN_TOKEN

    from lms_sync.reports.render_cumulative import CUMULATIVE_SCHEMA_FILE
    from lms_sync.reports.render_json import schema
    from lms_sync.settings import ServeSettings
    from lms_sync.store import Store

    write_programmes(tmp_path / "programs")
    with Store(tmp_path / "state.sqlite3") as store:
        two_cycles(store)
    settings = Settings(programs_dir=tmp_path / "programs", state_path=tmp_path / "state.sqlite3",
                        feed=FeedSettings(uid_domain="formation.ena.tn"),
                        serve=ServeSettings(report_tokens=[SecretStr(PLAIN_TOKEN)]))
    app = make_app(settings, recheck_seconds=0)
    srv, thread, port = run_server(app)
    base, auth = f"http://127.0.0.1:{port}/reports/programmes", {"Authorization": f"Bearer {PLAIN_TOKEN}"}
    try:
        assert requests.get(base + ".json", timeout=10).status_code == 401
        every = requests.get(base + ".json", headers=auth, timeout=30)
        assert every.status_code == 200 and every.headers["Cache-Control"] == "no-store"
        data = every.json()
        jsonschema.validate(data, schema(CUMULATIVE_SCHEMA_FILE))
        assert [p["id"] for p in data["programmes"]] == ["dgidt-ia-2020", "dgidt-ia-2021"]
        assert data["totals"]["people"] == 4
        one = requests.get(base + ".json?program=dgidt-ia-2021", headers=auth, timeout=30).json()
        assert [p["id"] for p in one["programmes"]] == ["dgidt-ia-2021"]
        csv = requests.get(base + ".csv?view=institutions&lang=en", headers=auth, timeout=30)
        assert csv.headers["Content-Disposition"] == 'attachment; filename="programmes-institutions.csv"'
        assert csv.content.decode("utf-8-sig").startswith("Institution;People trained;")
        people = requests.get(base + ".csv", headers=auth, timeout=30)
        assert people.headers["Content-Disposition"] == 'attachment; filename="programmes.csv"'
        for query in ("run=3", "since=2021-01-01", "view=sessions", "program=nope"):
            assert requests.get(f"{base}.csv?{query}", headers=auth, timeout=10).status_code in (400, 404), query
    finally:
        stop_server(srv, thread)
        app.close()
