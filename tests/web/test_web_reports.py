"""Report endpoints: bearer tokens, no-store, query validation, and the missing-module answer."""

from __future__ import annotations

from datetime import date

import pytest
import requests
from tests.web.conftest import GENERATED_TOKEN, PLAIN_TOKEN, Server, StandInRenderer, run_server, stop_server

from lms_sync.settings import Settings
from lms_sync.tokens import TokenChecker, new_token, token_hash
from lms_sync.web import REPORT_FORMATS, make_app

from pydantic import SecretStr


def bearer(token: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
@pytest.mark.parametrize(
    "headers",
    [{}, bearer("wrong"), bearer(PLAIN_TOKEN + "x"), bearer(""), {"Authorization": f"Basic {PLAIN_TOKEN}"},
     {"Authorization": PLAIN_TOKEN}, bearer(token_hash(GENERATED_TOKEN))],
    ids=["none", "wrong", "longer", "empty", "basic", "no-scheme", "the-hash-itself"],
)
def test_refused_without_the_right_token(server: Server, fmt: str, headers: dict[str, str]) -> None:
    response = server.get(f"/reports/completion.{fmt}", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.text == "unauthorized\n"
    assert server.renderer.calls == []


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
@pytest.mark.parametrize("token", [PLAIN_TOKEN, GENERATED_TOKEN], ids=["plain", "hashed"])
def test_served_with_a_right_token(server: Server, fmt: str, token: str) -> None:
    response = server.get(f"/reports/completion.{fmt}", headers=bearer(token))
    assert response.status_code == 200
    assert response.content == f"report {fmt}".encode()
    assert response.headers["Content-Type"] == StandInRenderer.CONTENT_TYPES[fmt]
    assert response.headers["Cache-Control"] == "no-store"
    assert [(c.fmt, c.run, c.since, c.lang, c.delimiter) for c in server.renderer.calls] == [
        (fmt, "latest", None, "fr", ";")
    ]


def test_query_parameters_are_validated_and_passed_on(server: Server) -> None:
    ok = server.get("/reports/completion.csv?lang=en&run=12&since=2021-01-06", headers=bearer(PLAIN_TOKEN))
    assert ok.status_code == 200
    call = server.renderer.calls[-1]
    assert (call.lang, call.run, call.since) == ("en", 12, date(2021, 1, 6))
    for query in ("lang=de", "run=-1", "run=abc", "run=0", "since=yesterday", "since=2021-13-01",
                  "lang=fr&lang=en"):
        response = server.get(f"/reports/completion.csv?{query}", headers=bearer(PLAIN_TOKEN))
        assert response.status_code == 400, query
    # Authentication comes first: a bad query without a token says nothing about the query.
    assert server.get("/reports/completion.csv?run=abc").status_code == 401


def test_no_token_configured_refuses_everyone(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = make_settings(report_tokens=[], report_token_hashes=[])
    app = make_app(settings, renderer=StandInRenderer(), recheck_seconds=0)
    srv, thread, port = run_server(app)
    try:
        for headers in ({}, bearer(""), bearer(PLAIN_TOKEN)):
            response = requests.get(f"http://127.0.0.1:{port}/reports/completion.csv", headers=headers, timeout=10)
            assert response.status_code == 401
    finally:
        stop_server(srv, thread)
        app.close()


def test_token_checker() -> None:
    token = new_token()
    assert len(token) >= 43
    checker = TokenChecker([SecretStr("s3cret")], [token_hash(token).upper()])
    assert checker.check(b"s3cret") and checker.check(token.encode())
    assert not checker.check(b"") and not checker.check(b"s3cret ") and not checker.check(token_hash(token).encode())
    assert checker.check_header(f"bearer  {token} ")
    assert not checker.check_header("Bearer caf\u00e9\u0100")
    with pytest.raises(ValueError):
        TokenChecker(hashes=["not-a-hash"])


def test_bad_hash_in_settings_stops_start_up(make_settings) -> None:  # type: ignore[no-untyped-def]
    from lms_sync.errors import ConfigError

    with pytest.raises(ConfigError):
        make_app(make_settings(report_token_hashes=["abc"]))


def test_token_new_prints_token_and_its_hash(capsys: pytest.CaptureFixture[str]) -> None:
    from lms_sync.cli import main

    assert main(["token", "new"]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    token, digest = lines[1], lines[3]
    assert token_hash(token) == digest
    assert TokenChecker(hashes=[digest]).check_header(f"Bearer {token}")
