"""Fixtures for the pull tests: the fake Moodle with completion, a client that never sleeps, a store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from pydantic import SecretStr

from tests.conftest import RECORDINGS as FIXTURES  # noqa: F401 (re-exported for the pull tests)
from tests.fakes.moodle import BASE_URL, TOKEN, FakeMoodle
from tests.fakes.moodle_completion import CompletionState, add_completion

from lms_sync.moodle.client import MoodleClient
from lms_sync.program import Programme, Session
from lms_sync.settings import Settings
from lms_sync.store import Store

PROGRAMME_ID = "dgidt-ia-2020"


def make_settings(**moodle: Any) -> Settings:
    """Settings pointing at the fake, with small retry bounds and a generous rate limit."""
    values: dict[str, Any] = {"url": BASE_URL, "token": SecretStr(TOKEN), "retry_attempts": 2,
                              "requests_per_second": 10_000.0}
    values.update(moodle)
    return Settings(moodle=values, pull={"report_page_size": 2, "enrolled_page_size": 2})


def make_programme(activities: dict[str, int | str | None] | None = None) -> Programme:
    """Two sessions in December 2020; ``activities`` maps session id to its Moodle activity."""
    activities = activities or {}
    return Programme(
        id=PROGRAMME_ID,
        title="Cycle IA",
        timezone="Africa/Tunis",
        url="https://formation.ena.tn/",
        organizer={"name": "DGIDT", "email": "dgidt@example.invalid"},
        sessions=(
            Session(id="seance-1", title="Séance 1", start=datetime(2020, 12, 9, 9), end=datetime(2020, 12, 9, 12),
                    activity=activities.get("seance-1")),
            Session(id="seance-2", title="Séance 2", start=datetime(2020, 12, 23, 9),
                    end=datetime(2020, 12, 23, 12), activity=activities.get("seance-2")),
        ),
    )


@pytest.fixture
def fake() -> Iterator[FakeMoodle]:
    """The fake Moodle with completion handlers, answering every POST to its endpoint."""
    site = FakeMoodle()
    add_completion(site)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        site.install(rsps)
        yield site


@pytest.fixture
def completion(fake: FakeMoodle) -> CompletionState:
    """The fake's completion state."""
    return fake.completion  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def sleeps() -> list[float]:
    """Waits the transport asked for (never really slept)."""
    return []


@pytest.fixture
def client_for(sleeps: list[float]) -> Iterator[Any]:
    """Build a client for given settings; closed at the end."""
    made: list[MoodleClient] = []

    def build(settings: Settings) -> MoodleClient:
        c = MoodleClient(settings.moodle, sleep=sleeps.append)
        made.append(c)
        return c

    yield build
    for c in made:
        c.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh state store."""
    with Store(tmp_path / "state.sqlite3") as s:
        yield s
