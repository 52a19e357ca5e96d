"""A real HTTP server on 127.0.0.1 standing in for Moodle, that misbehaves on demand.

``tests/fakes/moodle.py`` answers through ``responses`` (no socket); this one listens on a loopback
port, so what only a real connection shows (a reset, a trickle, an endless body, a truncated one)
reaches lms_sync's transport as it would from a broken proxy or site. By default it answers like the
stateful ``FakeMoodle`` it wraps (or with a site-info answer); ``misbehave(kind, ...)`` changes the
next answers::

    with LoopbackMoodle() as site:
        site.misbehave("trickle", interval=0.05)       # one byte per interval, for ever
        settings = site.settings(deadline=0.5)

Kinds: ``reset`` (TCP RST before any answer), ``trickle`` (headers then one body byte per
``interval``), ``stall`` (accepts, reads, never answers), ``truncate`` (Content-Length larger than what
is sent, then close), ``html`` (a login page with HTTP 200), ``status`` (``code``, optional
``retry_after``), ``echo_token`` (a Moodle error whose message quotes the token, raw and URL-encoded,
as a misconfigured proxy or plugin does), ``huge`` (an endless body, or ``size`` bytes).

Run as a script it serves a FakeMoodle with completion until killed (the Debian-root proof uses it)::

    python -m tests.fakes.loopback --port 8765 --token TOKEN
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote

from pydantic import SecretStr

from lms_sync.settings import MoodleSettings

TOKEN = "loopback-token-7f3a9c2e5b"
ENDPOINT = "/webservice/rest/server.php"
SITE_INFO = {"sitename": "Loopback Moodle", "username": "wsuser", "userid": 3, "siteid": 1, "release": "5.1",
             "version": "2025100600", "functions": [], "userissiteadmin": False}


@dataclass
class Behaviour:
    """One way of misbehaving, for ``times`` answers (None: for ever)."""

    kind: str
    times: int | None = None
    params: dict[str, Any] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment: unbuffered writes meet the client's delayed ACK (40 ms a call).
    wbufsize = 64 * 1024

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        pass  # quiet: the tests assert on lms_sync's output, not this server's

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        site = self.server.site
        form = dict(parse_qsl(body, keep_blank_values=True))
        site.requests.append(form)
        behaviour = site.take()
        if behaviour is None:
            status, headers, text = site.answer(body)
            self._send(status, headers, text.encode("utf-8"))
            return
        getattr(self, "_" + behaviour.kind)(form, **behaviour.params)

    do_GET = do_POST  # noqa: N815

    # --- helpers ---

    def _send(self, status: int, headers: dict[str, str], data: bytes, length: int | None = None) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _stopped(self) -> bool:
        return self.server.site.stopping.is_set()

    # --- the kinds of misbehaviour ---

    def _reset(self, form: dict[str, str]) -> None:
        # SO_LINGER with a zero timeout makes close() send a TCP RST instead of a FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _stall(self, form: dict[str, str]) -> None:
        self.server.site.stopping.wait()
        self.close_connection = True

    def _trickle(self, form: dict[str, str], interval: float = 0.05, body: bytes | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.flush()
        data = body if body is not None else json.dumps(SITE_INFO).encode() * 1000
        for byte in data:
            if self._stopped():
                break
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                break  # the client gave up: what a deadline does
            self.server.site.stopping.wait(interval)
        self.close_connection = True

    def _truncate(self, form: dict[str, str]) -> None:
        data = json.dumps(SITE_INFO).encode()
        self._send(200, {"Content-Type": "application/json"}, data[: len(data) // 2], length=len(data))
        self.close_connection = True

    def _html(self, form: dict[str, str]) -> None:
        page = b"<!DOCTYPE html><html><head><title>Log in</title></head><body>Log in to the site</body></html>"
        self._send(200, {"Content-Type": "text/html; charset=utf-8"}, page)

    def _status(self, form: dict[str, str], code: int = 503, retry_after: str | None = None) -> None:
        headers = {"Content-Type": "text/html"}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        self._send(code, headers, b"<html><body>Service Unavailable</body></html>")

    def _echo_token(self, form: dict[str, str], errorcode: str = "invalidparameter") -> None:
        token = form.get("wstoken", "")
        error = {"exception": "core\\exception\\moodle_exception", "errorcode": errorcode,
                 "message": f"Invalid request wstoken={token} (sent as wstoken={quote(token)})",
                 "debuginfo": f"SELECT * FROM mdl_external_tokens WHERE token = '{token}'"}
        self._send(200, {"Content-Type": "application/json"}, json.dumps(error).encode())

    def _huge(self, form: dict[str, str], size: int | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if size is not None:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        block = b" " * 65536
        sent = 0
        while not self._stopped() and (size is None or sent < size):
            piece = block if size is None else block[: min(len(block), size - sent)]
            try:
                self.wfile.write(piece)
            except OSError:
                break
            sent += len(piece)
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    site: LoopbackMoodle

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (a deadline, a size cap) is what these tests provoke


class LoopbackMoodle:
    """A stand-in Moodle on a free 127.0.0.1 port; a context manager that stops it on exit."""

    def __init__(self, fake: Any | None = None, token: str = TOKEN, port: int = 0,
                 certificate: tuple[str, str] | None = None) -> None:
        """Answer like ``fake`` (a FakeMoodle; its token is used) or, without one, with site info for ``token``.

        ``certificate`` (certificate file, key file) serves HTTPS instead of HTTP.
        """
        self.fake = fake
        self.token = fake.token if fake is not None else token
        self.requests: list[dict[str, str]] = []
        self.stopping = threading.Event()
        self._behaviours: list[Behaviour] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.site = self
        self.port = int(self._server.server_address[1])
        scheme = "http"
        if certificate is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="loopback-moodle", daemon=True)

    def __enter__(self) -> LoopbackMoodle:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def misbehave(self, kind: str, *, times: int | None = None, **params: Any) -> None:
        """Answer the next ``times`` requests (all when None) this way."""
        if not hasattr(_Handler, "_" + kind):
            raise ValueError(f"unknown misbehaviour {kind!r}")
        with self._lock:
            self._behaviours.append(Behaviour(kind, times, params))

    def behave(self) -> None:
        """Answer normally again."""
        with self._lock:
            self._behaviours.clear()

    def take(self) -> Behaviour | None:
        """The misbehaviour for this request, if any."""
        with self._lock:
            if not self._behaviours:
                return None
            behaviour = self._behaviours[0]
            if behaviour.times is not None:
                behaviour.times -= 1
                if behaviour.times <= 0:
                    self._behaviours.pop(0)
            return behaviour

    def answer(self, body: str) -> tuple[int, dict[str, str], str]:
        """A normal answer: the wrapped fake's, else site info (or Moodle's invalidtoken error)."""
        if self.fake is not None:
            request = type("Request", (), {"body": body})()
            status, headers, text = self.fake._callback(request)
            return status, headers, text
        form = dict(parse_qsl(body, keep_blank_values=True))
        if form.get("wstoken") != self.token:
            answer: dict[str, Any] = {"exception": "core\\exception\\moodle_exception", "errorcode": "invalidtoken",
                                      "message": "Invalid token - token not found"}
        else:
            answer = SITE_INFO
        return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(answer)

    def settings(self, **overrides: Any) -> MoodleSettings:
        """Moodle settings for this site, with one attempt per call and short timeouts unless overridden."""
        values: dict[str, Any] = {"url": self.url, "token": SecretStr(self.token), "retry_attempts": 1,
                                  "connect_timeout": 2.0, "read_timeout": 5.0, "deadline": 5.0}
        values.update(overrides)
        return MoodleSettings(**values)


def self_signed(folder: Path, host: str = "127.0.0.1") -> tuple[str, str] | None:
    """A self-signed certificate for ``host`` made with the openssl command (None when it is absent)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        return None
    import ipaddress

    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        san = f"IP:{ipaddress.ip_address(host)}"
    except ValueError:
        san = f"DNS:{host}"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={host}",
                    "-addext", f"subjectAltName={san}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert), str(key)


def main() -> None:
    """Serve a FakeMoodle with completion on a loopback port until killed."""
    from tests.fakes.moodle import FakeMoodle
    from tests.fakes.moodle_completion import add_completion

    parser = argparse.ArgumentParser(description="a fake Moodle on 127.0.0.1, for end-to-end proofs")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    fake = FakeMoodle(url=f"http://127.0.0.1:{args.port}", token=args.token)
    add_completion(fake)
    with LoopbackMoodle(fake, port=args.port) as site:
        print(f"fake Moodle on {site.url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
