"""Fixtures for the HTTP service tests: a real waitress server on a free loopback port."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr
from waitress import create_server, wasyncore

from lms_sync.settings import FeedSettings, ServeSettings, Settings
from lms_sync.store import Store
from lms_sync.tokens import token_hash
from lms_sync.web import LmsSyncApp, make_app, server_options

REPO = Path(__file__).resolve().parents[2]
PLAIN_TOKEN = "plain-secret-token-0123456789"
GENERATED_TOKEN = "generated-token-abcdefghijklmnopqrstuvwxyz"


@dataclass
class RenderCall:
    """What the stand-in report renderer was asked for."""

    fmt: str
    run: str | int
    since: date | None
    lang: str
    delimiter: str


class StandInRenderer:
    """Answers like lms_sync.reports would, with fixed bytes per format, recording each call."""

    CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json",
                     "html": "text/html; charset=utf-8",
                     "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

    def __init__(self) -> None:
        self.calls: list[RenderCall] = []

    def __call__(self, store: Store, fmt: str, *, run: str | int, since: date | None, lang: str,
                 delimiter: str, programme_id: str | None = None, report: str = "completion",
                 view: str = "participants") -> tuple[bytes, str]:
        self.calls.append(RenderCall(fmt, run, since, lang, delimiter))
        return f"report {fmt}".encode(), self.CONTENT_TYPES[fmt]


@dataclass
class Server:
    """A running server and what it serves."""

    url: str
    host: str
    port: int
    app: LmsSyncApp
    program_file: Path
    state_path: Path
    renderer: StandInRenderer

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET with a short timeout."""
        return requests.get(self.url + path, timeout=10, **kwargs)


def run_server(app: Any) -> tuple[Any, threading.Thread, int]:
    """Start waitress on a free 127.0.0.1 port in a thread; return the server, thread and port."""
    server = create_server(app, **server_options("127.0.0.1", 0, 4))
    stop = threading.Event()

    def loop() -> None:
        # server.run() with a stop flag: short polls, and the sockets are closed by this same thread,
        # so no other thread ever touches the socket map.
        while not stop.is_set():
            wasyncore.loop(timeout=0.02, map=server._map, count=1)
        wasyncore.close_all(server._map, ignore_all=True)

    thread = threading.Thread(target=loop, name="waitress", daemon=True)
    server._test_stop = stop
    thread.start()
    return server, thread, int(server.effective_port)


def stop_server(server: Any, thread: threading.Thread) -> None:
    """Stop the loop thread (it closes every socket), then the worker threads."""
    server._test_stop.set()
    thread.join(timeout=5)
    server.task_dispatcher.shutdown()
    assert not thread.is_alive()


@pytest.fixture
def program_file(tmp_path: Path) -> Path:
    """A copy of the shipped programme the tests may edit."""
    target = tmp_path / "program.toml"
    shutil.copy(REPO / "config" / "program.toml", target)
    return target


@pytest.fixture
def make_settings(tmp_path: Path, program_file: Path) -> Callable[..., Settings]:
    """Settings on the temp programme and store, with one plain and one hashed token."""

    def build(**serve: Any) -> Settings:
        serve_settings = {
            "report_tokens": [SecretStr(PLAIN_TOKEN)],
            "report_token_hashes": [token_hash(GENERATED_TOKEN)],
            **serve,
        }
        return Settings(
            program_file=program_file,
            state_path=tmp_path / "state.sqlite3",
            feed=FeedSettings(uid_domain="formation.ena.tn"),
            serve=ServeSettings(**serve_settings),
        )

    return build


@pytest.fixture
def server(make_settings: Callable[..., Settings], program_file: Path, tmp_path: Path) -> Iterator[Server]:
    """The app served for real; it re-checks the programme on every request (no waiting in tests)."""
    renderer = StandInRenderer()
    settings = make_settings()
    app = make_app(settings, renderer=renderer, recheck_seconds=0)
    srv, thread, port = run_server(app)
    try:
        yield Server(f"http://127.0.0.1:{port}", "127.0.0.1", port, app, program_file,
                     settings.state_path, renderer)
    finally:
        stop_server(srv, thread)
        app.close()

