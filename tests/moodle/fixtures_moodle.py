"""Helpers for the Moodle client tests: where the recorded fixtures are, replaying them, test settings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NoReturn

import pytest
import responses
from pydantic import SecretStr

from lms_sync.settings import MoodleSettings

# CI clones the repository beside a copy of shared/, so the fixtures live in <clone>/../shared.
FIXTURES_DIR = (Path(__file__).resolve().parents[2] / ".." / "shared" / "moodle-fixtures").resolve()
BASE_URL = "https://moodle.example.test"
ENDPOINT = BASE_URL + "/webservice/rest/server.php"
# Distinctive so a leak is unmistakable in any log line, message or repr.
TOKEN = "Tk9-leak-canary-5f2b8c1e0d7a4963"


def in_ci() -> bool:
    """True under CI (``CI`` set, as CI services do), where a missing fixture must fail, not skip."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def fixtures_missing() -> NoReturn:
    """Fail under CI, skip locally: the recorded fixtures folder is absent."""
    where = f"Moodle fixtures folder not found at {FIXTURES_DIR}"
    if in_ci():
        # A green CI with every fixture test skipped would prove nothing.
        pytest.fail(f"{where}: CI must provide shared/moodle-fixtures beside the clone", pytrace=False)
    pytest.skip(f"{where} (put shared/ beside the clone; with CI set this is a failure)")


def fixture_files() -> list[Path]:
    """Every recorded JSON exchange, sorted; empty when the shared folder is absent."""
    return sorted(FIXTURES_DIR.glob("*.json")) if FIXTURES_DIR.is_dir() else []


def load_fixture(name: str | Path) -> dict[str, Any]:
    """Read one recorded exchange by file name (or path); a missing folder skips locally and fails under CI."""
    path = name if isinstance(name, Path) else FIXTURES_DIR / name
    if not FIXTURES_DIR.is_dir():
        fixtures_missing()
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
