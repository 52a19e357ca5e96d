"""Fixtures for the push tests: a fake Moodle behind ``responses``, a client that never sleeps, a store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
from pydantic import SecretStr

# tests/ is not a package: make ``fakes`` importable the way the other suites and benchmarks do.
from tests.conftest import RECORDINGS as FIXTURES_DIR  # noqa: F401 (re-exported for the fake tests)
from tests.fakes.moodle import BASE_URL, TOKEN, FakeMoodle

from lms_sync.moodle.client import MoodleClient
from lms_sync.program import Participant, Programme, load_programme
from lms_sync.settings import MoodleSettings, PushSettings
from lms_sync.store import Store

REPO = Path(__file__).resolve().parents[2]
PROGRAM_FILE = REPO / "config" / "program.toml"


def moodle_settings(**overrides: object) -> MoodleSettings:
    """Settings pointing at the fake site, with few retries."""
    values: dict[str, object] = {"url": BASE_URL, "token": SecretStr(TOKEN), "retry_attempts": 2,
                                 "requests_per_second": 1000.0}
    values.update(overrides)
    return MoodleSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def fake() -> Iterator[FakeMoodle]:
    """An empty fake Moodle answering every POST to its endpoint."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeMoodle().install(rsps)


@pytest.fixture
def client(fake: FakeMoodle) -> Iterator[MoodleClient]:
    """A client on the fake site; retries wait for nothing."""
    with MoodleClient(moodle_settings(), sleep=lambda _s: None) as c:
        yield c


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh state store."""
    with Store(tmp_path / "state.sqlite3") as s:
        yield s


@pytest.fixture(scope="session")
def programme() -> Programme:
    """The shipped programme (four sessions)."""
    return load_programme(PROGRAM_FILE)[0]


@pytest.fixture
def roster() -> list[Participant]:
    """Three participants with accented names."""
    return [
        Participant(username="hlefevre", email="helene.lefevre@industrie.gov.tn", firstname="Hélène",
                    lastname="Lefèvre", institution="Ministère de l'Industrie", department="DGIDT"),
        Participant(username="fmenard", email="francois.menard@steg.com.tn", firstname="François",
                    lastname="Ménard", institution="STEG", department="DSI"),
        Participant(username="zdubeuf", email="zoe.dubeuf@commune-sfax.tn", firstname="Zoé-Gaëlle",
                    lastname="Dubœuf d'Arçy", institution="Commune de Sfax", department=""),
    ]


@pytest.fixture
def push_settings() -> PushSettings:
    """Default push settings."""
    return PushSettings()
