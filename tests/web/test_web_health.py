"""/healthz: the last finished run's outcome and age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.web.conftest import Server

from lms_sync.store import Store, utcnow
from lms_sync.web import health_report


def test_503_without_any_run_then_200_after_a_good_one(server: Server) -> None:
    response = server.get("/healthz")
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json()["last_run"] is None

    with Store(server.state_path) as store:
        run = store.start_run("sync")
        store.finish_run(run, "ok", 0, {"pushed": 3})
    response = server.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["last_run"]["kind"] == "sync"
    assert body["last_run"]["outcome"] == "ok"
    assert body["last_run"]["age_hours"] < 1
    assert set(body) == {"status", "running", "max_age_hours", "last_run"}
    assert set(body["last_run"]) == {"id", "kind", "outcome", "exit_code", "finished_at", "age_hours"}


def test_failed_last_run_is_503(server: Server) -> None:
    with Store(server.state_path) as store:
        store.finish_run(store.start_run("sync"), "ok", 0)
        store.finish_run(store.start_run("sync"), "failed", 3)
    response = server.get("/healthz")
    assert response.status_code == 503
    assert response.json()["last_run"]["outcome"] == "failed"


def test_running_run_is_reported_but_judged_on_the_last_finished() -> None:
    now = datetime(2021, 1, 7, 3, 0, tzinfo=UTC)
    from lms_sync.store import Run

    finished = Run(1, "sync", now - timedelta(hours=25), now - timedelta(hours=24), "ok", 0, {})
    running = Run(2, "sync", now - timedelta(minutes=5), None, "running", None, {})
    body, healthy = health_report([running, finished], now, 36)
    assert healthy and body["running"] is True and body["last_run"]["age_hours"] == 24.0
    body, healthy = health_report([running, finished], now, 12)
    assert not healthy and body["status"] == "last run is too old"
    assert health_report([running], now, 36)[1] is False


def test_old_run_is_503(server: Server) -> None:
    long_ago = utcnow() - timedelta(hours=48)
    with Store(server.state_path) as store:
        run = store.start_run("sync", started_at=long_ago)
        store.finish_run(run, "ok", 0, finished_at=long_ago)
    response = server.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "last run is too old"


def test_a_failed_sync_is_unhealthy_even_when_its_pull_succeeded(server: Server) -> None:
    # What `lms-sync sync` records: the sync run, with push and pull runs of their own inside it.
    with Store(server.state_path) as store:
        sync = store.start_run("sync")
        store.finish_run(store.start_run("push"), "ok", 0)
        store.finish_run(store.start_run("pull"), "ok", 0)
        store.finish_run(sync, "failed", 2, {"stages": {"feed": {"status": "failed"}}})
    response = server.get("/healthz")
    assert response.status_code == 503
    assert (response.json()["last_run"]["kind"], response.json()["last_run"]["outcome"]) == ("sync", "failed")


def test_without_any_sync_the_newest_run_counts(server: Server) -> None:
    with Store(server.state_path) as store:
        store.finish_run(store.start_run("push"), "ok", 0)
    assert server.get("/healthz").status_code == 200
