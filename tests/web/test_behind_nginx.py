"""Behind a real nginx on loopback with the shipped deploy/nginx/lms-sync.conf: every link of the page works."""

from __future__ import annotations

import html.parser
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
import urllib3
from tests.web.conftest import PLAIN_TOKEN, run_server, stop_server

from lms_sync.settings import FeedSettings, ServeSettings, Settings
from lms_sync.web import make_app

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "deploy" / "nginx" / "lms-sync.conf"
SITE = "formation.ena.tn"

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                                reason="nginx is not installed (apt-get install nginx-light)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value for name, value in attrs if tag == "a" and name == "href" and value]


@dataclass
class Proxy:
    """nginx on https://127.0.0.1:<port> in front of lms_sync, answering as formation.ena.tn."""

    port: int

    def get(self, url: str, **kwargs: object) -> requests.Response:
        """Fetch a URL of the public site through the loopback nginx."""
        parts = urlsplit(url)
        assert parts.hostname == SITE, url
        target = f"https://127.0.0.1:{self.port}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        headers = {"Host": SITE, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return requests.get(target, headers=headers, verify=False, timeout=10, allow_redirects=False, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def behind_nginx(tmp_path: Path, make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Proxy]]:
    """Start lms_sync with given settings changes, and nginx in front of it with the shipped location block."""
    from tests.fakes.loopback import self_signed

    certificate = self_signed(tmp_path, host=SITE)
    if certificate is None:
        pytest.skip("no openssl command to make a certificate for nginx")
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    running: list[tuple[object, object, object, subprocess.Popen[bytes]]] = []

    def start(**changes: object) -> Proxy:
        settings = make_settings().model_copy(update=changes)
        app = make_app(settings, recheck_seconds=0)
        srv, thread, app_port = run_server(app)
        port = _free_port()
        location = SHIPPED.read_text(encoding="utf-8").replace("127.0.0.1:8080", f"127.0.0.1:{app_port}")
        (tmp_path / "lms-sync.conf").write_text(location, encoding="utf-8")
        temp = tmp_path / "temp"
        temp.mkdir(exist_ok=True)
        user = "user root root;" if os.geteuid() == 0 else ""
        (tmp_path / "nginx.conf").write_text(f"""
            {user}
            worker_processes 1;
            pid {tmp_path}/nginx.pid;
            error_log {tmp_path}/error.log;
            events {{ worker_connections 64; }}
            http {{
                access_log off;
                client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy;
                fastcgi_temp_path {temp}/fastcgi; uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;
                server {{
                    listen 127.0.0.1:{port} ssl;
                    server_name {SITE};
                    ssl_certificate {certificate[0]};
                    ssl_certificate_key {certificate[1]};
                    include {tmp_path}/lms-sync.conf;
                }}
            }}
        """, encoding="utf-8")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        proc = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        running.append((srv, thread, app, proc))
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"nginx did not start: {proc.stderr.read().decode() if proc.stderr else ''}") from None
                time.sleep(0.02)
        return Proxy(port)

    try:
        yield start
    finally:
        for srv, thread, app, proc in running:
            proc.terminate()
            proc.wait(timeout=10)
            stop_server(srv, thread)  # type: ignore[arg-type]
            app.close()  # type: ignore[attr-defined]


def _follow_every_link(proxy: Proxy, page_url: str) -> dict[str, int]:
    """Fetch the page, then every link on it (webcal:// as the https:// a calendar app fetches); their statuses."""
    page = proxy.get(page_url)
    assert page.status_code == 200, page.text
    links = _Links()
    links.feed(page.text)
    statuses = {}
    for href in links.hrefs:
        url = urljoin(page_url, href)
        if url.startswith("webcal://"):
            url = "https://" + url.removeprefix("webcal://")
        statuses[href] = proxy.get(url).status_code
    return statuses


@pytest.mark.parametrize("lang_query", ["", "?lang=en"])
def test_every_link_works_behind_the_prefix_without_public_url(behind_nginx, lang_query: str) -> None:  # type: ignore[no-untyped-def]
    proxy = behind_nginx(serve=ServeSettings(trusted_proxies=1, report_tokens=[PLAIN_TOKEN]))
    statuses = _follow_every_link(proxy, f"https://{SITE}/lms-sync/{lang_query}")
    suffix = "?lang=en" if lang_query else ""
    other = "?lang=fr" if lang_query else "?lang=en"
    assert statuses == {
        f"webcal://{SITE}/lms-sync/sessions.ics{suffix}": 200,
        f"https://{SITE}/lms-sync/sessions.ics{suffix}": 200,  # https and the prefix kept
        other: 200,
    }


def test_every_link_works_with_public_url(behind_nginx) -> None:  # type: ignore[no-untyped-def]
    public = f"https://{SITE}/lms-sync/sessions.ics"
    proxy = behind_nginx(serve=ServeSettings(trusted_proxies=1), feed=FeedSettings(public_url=public))
    assert _follow_every_link(proxy, f"https://{SITE}/lms-sync/?lang=en") == {
        f"webcal://{SITE}/lms-sync/sessions.ics?lang=en": 200, f"{public}?lang=en": 200, "?lang=fr": 200}


def test_feed_reports_and_health_through_the_proxy(behind_nginx) -> None:  # type: ignore[no-untyped-def]
    proxy = behind_nginx(serve=ServeSettings(trusted_proxies=1, report_tokens=[PLAIN_TOKEN]))
    feed = proxy.get(f"https://{SITE}/lms-sync/sessions.ics")
    assert feed.status_code == 200 and feed.content.startswith(b"BEGIN:VCALENDAR")
    again = proxy.get(f"https://{SITE}/lms-sync/sessions.ics", headers={"If-None-Match": feed.headers["ETag"]})
    assert again.status_code == 304  # the validators survive the proxy
    assert proxy.get(f"https://{SITE}/lms-sync/reports/completion.csv").status_code == 401
    with_token = proxy.get(f"https://{SITE}/lms-sync/reports/completion.csv",
                           headers={"Authorization": f"Bearer {PLAIN_TOKEN}"})
    assert with_token.status_code == 404 and "no pull" in with_token.text  # authorised; no snapshot yet
    assert proxy.get(f"https://{SITE}/lms-sync/healthz").status_code == 503  # answered: no run yet
    bare = proxy.get(f"https://{SITE}/lms-sync")
    assert bare.status_code == 301 and bare.headers["Location"].endswith("/lms-sync/")


def test_forwarded_headers_are_ignored_unless_the_proxy_is_trusted(server) -> None:  # type: ignore[no-untyped-def]
    """Directly, with the default settings: a client cannot make the page link elsewhere."""
    page = server.get("/", headers={"Host": "agenda.example.tn", "X-Forwarded-Proto": "https",
                                    "X-Forwarded-Host": "evil.example", "X-Forwarded-Prefix": "/evil"}).text
    assert 'href="http://agenda.example.tn/sessions.ics"' in page
    assert "evil" not in page
