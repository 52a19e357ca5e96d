"""A server that survives slow clients: half-open connections and report load never starve the feed."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
import requests
from tests.web.conftest import PLAIN_TOKEN, run_server, stop_server
from tests.web.test_web_reports_real import record_snapshot

from lms_sync.settings import Settings
from lms_sync.store import Store
from lms_sync.web import make_app

AUTH = {"Authorization": f"Bearer {PLAIN_TOKEN}"}


class BlockingRenderer:
    """Renders only when released, counting its renders: a report that takes as long as the test says."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.renders = 0

    def __call__(self, store: Store, fmt: str, *, run: str | int, since: date | None, lang: str,
                 delimiter: str, programme_id: str | None = None, report: str = "completion",
                 view: str = "participants") -> tuple[bytes, str]:
        self.renders += 1
        self.started.set()
        assert self.release.wait(timeout=30)
        return f"{fmt} {lang} {since}".encode(), "text/csv; charset=utf-8"


@pytest.fixture
def slow(make_settings: Callable[..., Settings]) -> Iterator[tuple[str, BlockingRenderer, Settings]]:
    """A server with 4 worker threads (2 seats for reports) and a renderer that blocks."""
    renderer = BlockingRenderer()
    settings = make_settings()
    app = make_app(settings, renderer=renderer, recheck_seconds=0)
    srv, thread, port = run_server(app)
    try:
        yield f"http://127.0.0.1:{port}", renderer, settings
    finally:
        renderer.release.set()
        stop_server(srv, thread)
        app.close()


def test_half_open_connections_beyond_the_old_limit_do_not_lock_the_feed_out(slow) -> None:  # type: ignore[no-untyped-def]
    url, _renderer, _settings = slow
    port = int(url.rsplit(":", 1)[1])
    held = []
    try:
        for _ in range(250):  # the old connection_limit was 200: the 201st calendar waited for ever
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /sessions.ics HTTP/1.1\r\nHost: slow")
            held.append(sock)
        started = time.monotonic()
        assert requests.get(url + "/sessions.ics", timeout=5).status_code == 200
        assert time.monotonic() - started < 2
    finally:
        for sock in held:
            sock.close()


def test_report_load_never_delays_the_feed(slow) -> None:  # type: ignore[no-untyped-def]
    url, renderer, _settings = slow
    with ThreadPoolExecutor(max_workers=6) as pool:
        # Six report requests while the render is stuck: two wait for it (the seats), four are told to retry.
        asked = [pool.submit(requests.get, url + "/reports/completion.xlsx", headers=AUTH, timeout=30)
                 for _ in range(6)]
        assert renderer.started.wait(timeout=10)
        deadline = time.monotonic() + 10
        while sum(f.done() for f in asked) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        done = [f.result() for f in asked if f.done()]
        assert [r.status_code for r in done] == [503] * 4
        assert all(r.headers["Retry-After"] == "5" for r in done)
        # Meanwhile the feed answers at once, however long the report takes.
        for _ in range(5):
            started = time.monotonic()
            assert requests.get(url + "/sessions.ics", timeout=5).status_code == 200
            assert time.monotonic() - started < 1
        renderer.release.set()
        waited = [f.result() for f in asked if f.result().status_code == 200]
    assert len(waited) == 2 and renderer.renders == 1  # one render for both waiting requests
    again = requests.get(url + "/reports/completion.xlsx", headers=AUTH, timeout=5)
    assert again.status_code == 200 and again.content == waited[0].content and renderer.renders == 1  # cached


def test_a_new_snapshot_is_rendered_anew(slow) -> None:  # type: ignore[no-untyped-def]
    url, renderer, settings = slow
    renderer.release.set()
    assert requests.get(url + "/reports/completion.csv", headers=AUTH, timeout=10).status_code == 200
    assert requests.get(url + "/reports/completion.csv?lang=en", headers=AUTH, timeout=10).status_code == 200
    assert requests.get(url + "/reports/completion.csv", headers=AUTH, timeout=10).status_code == 200
    assert renderer.renders == 2  # per language, cached
    with Store(settings.state_path) as store:
        record_snapshot(store)  # a nightly pull
    assert requests.get(url + "/reports/completion.csv", headers=AUTH, timeout=10).status_code == 200
    assert renderer.renders == 3
