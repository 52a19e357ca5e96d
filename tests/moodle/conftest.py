"""Pytest fixtures for the Moodle client tests; helpers live in ``fixtures_moodle``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import responses
from fixtures_moodle import fixture_files, make_settings

from lms_sync.moodle.client import MoodleClient


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``fixture_file`` over the recordings, so a new recording is covered with no new code."""
    if "fixture_file" in metafunc.fixturenames:
        files = fixture_files()
        metafunc.parametrize("fixture_file", files, ids=[f.name for f in files])


@pytest.fixture
def sleeps() -> list[float]:
    """Every wait the code asked for, instead of really sleeping."""
    return []


@pytest.fixture
def fake_sleep(sleeps: list[float]) -> Callable[[float], None]:
    """A sleep that records and returns at once."""
    return sleeps.append


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """A responses mock where every registered answer need not be used."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def client(fake_sleep: Callable[[float], None]) -> Iterator[MoodleClient]:
    """A client on the fake site that never sleeps."""
    with MoodleClient(make_settings(), sleep=fake_sleep) as c:
        yield c


@pytest.fixture
def client_factory(fake_sleep: Callable[[float], None]) -> Callable[..., MoodleClient]:
    """Build a client with setting overrides (e.g. a small max_input_vars)."""
    return lambda **overrides: MoodleClient(make_settings(**overrides), sleep=fake_sleep)
