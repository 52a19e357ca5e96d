"""Routing and hardening: exact paths, methods, security headers, request limits, the sessions page."""

from __future__ import annotations

import http.client
import socket

import pytest
import requests
from tests.web.conftest import Server, run_server, stop_server
from tests.web.test_web_feed import edit_programme

from lms_sync.settings import FeedSettings
from lms_sync.web import make_app


def raw(server: Server, method: str, target: str, headers: dict[str, str] | None = None,
        body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """Send a request line exactly as written (no client-side path normalisation)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def assert_security_headers(headers: dict[str, str]) -> None:
    """The headers every answer carries."""
    lower = {k.lower(): v for k, v in headers.items()}
    assert lower["x-content-type-options"] == "nosniff"
    assert lower["referrer-policy"] == "no-referrer"
    assert lower["x-frame-options"] == "DENY"
    assert "default-src 'none'" in lower["content-security-policy"]


@pytest.mark.parametrize(
    "target",
    [
        "/../sessions.ics",
        "/%2e%2e/sessions.ics",
        "/%2E%2E%2Fconfig/program.toml",
        "/reports/../sessions.ics",
        "/reports/%2e%2e/healthz",
        "/reports/completion.csv/../../../etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "/config/program.toml",
        "/sessions.ics/",
        "/sessions.ics%00",
        "/static/../../lms_sync.sqlite3",
        "/reports/completion.pdf",
        "/nope",
    ],
)
def test_traversal_and_unknown_paths_are_404(server: Server, target: str) -> None:
    status, headers, body = raw(server, "GET", target)
    assert status == 404
    assert body == b"not found\n"
    assert_security_headers(headers)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_only_get_and_head(server: Server, method: str) -> None:
    status, headers, _ = raw(server, method, "/sessions.ics", body=b"x" if method in ("POST", "PUT") else None)
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"
    assert_security_headers(headers)


def test_post_to_reports_is_405_too(server: Server) -> None:
    status, headers, _ = raw(server, "POST", "/reports/completion.csv", body=b"")
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"


def test_security_headers_on_every_answer(server: Server) -> None:
    etag = server.get("/sessions.ics").headers["ETag"]
    for response in (
        server.get("/sessions.ics"),
        server.get("/sessions.ics", headers={"If-None-Match": etag}),
        server.get("/"),
        server.get("/healthz"),
        server.get("/reports/completion.csv"),
        server.get("/missing"),
    ):
        assert_security_headers(dict(response.headers))


def test_request_size_limits(server: Server) -> None:
    status, _, _ = raw(server, "GET", "/sessions.ics", headers={"X-Big": "a" * 20_000})
    assert status == 431
    status, _, _ = raw(server, "GET", "/sessions.ics", body=b"x" * 5_000)
    assert status == 413


def test_page_lists_sessions_in_french(server: Server) -> None:
    edit_programme(server.program_file, 'id = "seance-3"', 'id = "seance-3"\nstatus = "cancelled"')
    response = server.get("/", headers={"Host": "agenda.example.tn"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "'unsafe-inline'" not in csp and "style-src 'sha256-" in csp
    page = response.text
    assert '<html lang="fr">' in page
    assert "mercredi 9 décembre 2020" in page and "09:00–12:00" in page
    assert "Horaire (heure de Tunis)" in page
    assert '<tr class="cancelled"><td>mercredi 6 janvier 2021</td>' in page
    assert "Annulée" in page
    assert 'href="webcal://agenda.example.tn/sessions.ics"' in page
    assert 'href="http://agenda.example.tn/sessions.ics"' in page
    assert page.count("<tr>") + page.count('<tr class="cancelled">') == 5  # header row and 4 sessions


def test_page_in_english_with_public_url(make_settings, program_file) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings().model_copy(
        update={"feed": FeedSettings(public_url="https://formation.ena.tn/agenda/sessions.ics")}
    )
    app = make_app(settings, recheck_seconds=0)
    srv, thread, port = run_server(app)
    try:
        page = requests.get(f"http://127.0.0.1:{port}/?lang=en", timeout=10).text
    finally:
        stop_server(srv, thread)
        app.close()
    assert '<html lang="en">' in page
    assert "Wednesday 9 December 2020" in page
    assert 'href="webcal://formation.ena.tn/agenda/sessions.ics?lang=en"' in page
    assert 'href="https://formation.ena.tn/agenda/sessions.ics?lang=en"' in page


def test_page_escapes_programme_text_and_ignores_odd_hosts(server: Server) -> None:
    edit_programme(server.program_file, "Séance 1 – Introduction", "<script>alert(1)</script> & Introduction")
    response = server.get("/", headers={"Host": 'evil.example"><script>'})
    page = response.text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Introduction" in page
    assert "evil.example" not in page
    assert server.get("/?lang=xx").status_code == 400


def test_server_answers_after_client_hangs_up(server: Server) -> None:
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(b"GET /sessions.ics HTTP/1.1\r\nHost: x\r\n")  # never finished
    assert server.get("/healthz").status_code == 503  # answered: no run is recorded in this store
