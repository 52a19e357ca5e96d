"""Helpers for the Moodle client tests: where the recorded fixtures are, replaying them, test settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import responses
from pydantic import SecretStr

from lms_sync.settings import MoodleSettings

from tests.conftest import RECORDINGS as FIXTURES_DIR
BASE_URL = "https://moodle.example.test"
ENDPOINT = BASE_URL + "/webservice/rest/server.php"
# Distinctive so a leak is unmistakable in any log line, message or repr.
TOKEN = "Tk9-leak-canary-5f2b8c1e0d7a4963"


def fixture_files() -> list[Path]:
    """Every recorded JSON exchange, sorted."""
    return sorted(FIXTURES_DIR.glob("*.json"))


def load_fixture(name: str | Path) -> dict[str, Any]:
    """Read one recorded exchange by file name (or path)."""
    path = name if isinstance(name, Path) else FIXTURES_DIR / name
    if not path.is_file():
        pytest.fail(f"Moodle fixture {path.name} not found in {FIXTURES_DIR} (renamed or removed?)", pytrace=False)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def replay(rsps: responses.RequestsMock, fixture: dict[str, Any], *, url: str = ENDPOINT) -> None:
    """Register the recorded answer (status, content type, body) for the next POST to the endpoint."""
    body = fixture.get("response")
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    rsps.add(
        responses.POST,
        url,
        body=text.encode("utf-8"),
        status=fixture.get("http_status", 200),
        content_type=fixture.get("response_content_type") or "application/json",
    )


def make_settings(**overrides: Any) -> MoodleSettings:
    """Settings for a fake site, with the leak-canary token and small retry bounds."""
    values: dict[str, Any] = {
        "url": BASE_URL,
        "token": SecretStr(TOKEN),
        "retry_attempts": 3,
        "retry_max_seconds": 120.0,
        "concurrency": 4,
        "requests_per_second": 1000.0,
    }
    values.update(overrides)
    return MoodleSettings(**values)
