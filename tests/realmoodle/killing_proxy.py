"""A loopback proxy in front of the real Moodle that kills its client right after Moodle applied a write.

What a power cut or ``kill -9`` does to a nightly push: the write reached Moodle, the answer never
reached lms_sync, and nothing after it ran.
"""

from __future__ import annotations

import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import requests


def _applied(answer: requests.Response) -> bool:
    """Whether Moodle did the write: no exception and no per-item warning (push's capability probes get one)."""
    try:
        data = answer.json()
    except ValueError:
        return False
    return not (isinstance(data, dict) and ("exception" in data or data.get("warnings")))


class KillingProxy:
    """Forwards every request to ``upstream``; after the ``nth`` applied ``wsfunction`` write, SIGKILLs ``victim``."""

    def __init__(self, upstream: str, wsfunction: str, nth: int = 1) -> None:
        self.upstream = upstream.rstrip("/")
        self.wsfunction = wsfunction
        self.nth = nth
        self.victim: int | None = None  # the pid to kill, set once the client process runs
        self.seen = 0
        self.killed = False
        self.calls: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                wsfunction = parse_qs(body.decode("utf-8")).get("wsfunction", [""])[0]
                proxy.calls.append(wsfunction)
                answer = requests.post(proxy.upstream + self.path, data=body, timeout=120,
                                       headers={"Content-Type": self.headers.get("Content-Type", "")})
                if wsfunction == proxy.wsfunction and _applied(answer):
                    proxy.seen += 1
                    if proxy.seen == proxy.nth and proxy.victim is not None:
                        os.kill(proxy.victim, signal.SIGKILL)  # Moodle has applied it; lms_sync never hears
                        proxy.killed = True
                        return
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> KillingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
