"""The real test Moodle (``site.sh``): where it is, its tokens, resetting it, an admin's hand on it.

The tests here run when a site built by ``tests/realmoodle/site.sh up`` answers. Elsewhere they
are skipped, with one line at the end of the run saying how to enable them; under CI (``CI`` set)
with the Moodle source available they fail instead, so a green CI always includes them.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import REPO, SHIPPED_PROGRAM
from tests.realmoodle.spec import students

HERE = Path(__file__).resolve().parent
SITE_SH = HERE / "site.sh"
SITE_HOME = Path(os.environ.get("TEST_MOODLE_HOME", "/var/tmp/lms-sync-test-moodle"))
ENABLE = ("real-Moodle tests skipped: build and start the test site with `sudo tests/realmoodle/site.sh up` "
          "(Moodle 5.1 source in MOODLE_SRC or ../shared/moodle/), then run the tests again")


def in_ci() -> bool:
    """True under CI (``CI`` set, as CI services and .ci/run do)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def source_available() -> bool:
    """Whether a Moodle source to build the site from is at hand."""
    return bool(os.environ.get("MOODLE_SRC")) or any((REPO.parent / "shared" / "moodle").glob("moodle-*.tar.*"))


@dataclass
class RealMoodle:
    """The running test site: its address, tokens and ids (site.json), and an admin's hand on it."""

    url: str
    info: dict[str, Any]

    def token(self, who: str = "sync") -> str:
        """The web-service token of ``sync`` (the lms_sync role) or ``limited`` (rest:use and course:view only)."""
        return str(self.info["tokens"][who])

    def reset(self) -> None:
        """Put the site back to its built state (a database copy, caches purged): about a second."""
        # The test run already holds the site's lock (real_moodle): reset must not wait for it.
        subprocess.run([str(SITE_SH), "reset"], check=True, capture_output=True, timeout=120,
                       env={**os.environ, "TEST_MOODLE_LOCKED": "1"})

    def admin(self, *args: str) -> Any:
        """Run ``moodle_admin.php`` with ``args`` as the web server's user; its JSON answer."""
        setup = SITE_HOME / "setup"
        done = subprocess.run(
            ["runuser", "-u", "www-data", "--", "php", str(setup / "moodle_admin.php"),
             str(SITE_HOME / "moodle" / "config.php"), *args],
            check=True, capture_output=True, text=True, timeout=120,
        )
        return json.loads(done.stdout)

    def snapshot(self) -> dict[str, int]:
        """Counts and change times of everything push writes (equal before and after: nothing written)."""
        return dict(self.admin("snapshot"))

    @property
    def course_id(self) -> int:
        """The course made by hand."""
        return int(self.info["hand_made"]["course_id"])


def _running_site() -> RealMoodle | None:
    site_json = SITE_HOME / "site.json"
    if not site_json.is_file():
        return None
    info = json.loads(site_json.read_text(encoding="utf-8"))
    try:
        answer = requests.post(info["url"] + "/webservice/rest/server.php", timeout=10, data={
            "wstoken": info["tokens"]["sync"], "wsfunction": "core_webservice_get_site_info",
            "moodlewsrestformat": "json"})
        answer.raise_for_status()
        if "sitename" not in answer.json():
            return None
    except (requests.RequestException, ValueError):
        return None
    return RealMoodle(info["url"], info)


_SITE: list[RealMoodle | None] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip (or, under CI with a source, fail) the real-Moodle tests when no site answers."""
    ours = [item for item in items if HERE in Path(str(item.fspath)).parents]
    if not ours:
        return
    _SITE.append(_running_site())
    if _SITE[0] is not None:
        return
    if in_ci() and source_available():
        return  # a green CI without them would prove nothing: the real_moodle fixture fails each one
    config.stash[_SKIPPED] = len(ours)
    for item in ours:
        item.add_marker(pytest.mark.skip(reason=ENABLE))


_SKIPPED = pytest.StashKey[int]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """One line saying how to enable the skipped real-Moodle tests."""
    skipped = config.stash.get(_SKIPPED, 0)
    if skipped:
        terminalreporter.write_line(f"{skipped} {ENABLE}")


@pytest.fixture(scope="session")
def real_moodle() -> Iterator[RealMoodle]:
    """The running test site (the collection hook skipped every test here when there is none).

    One test run at a time per site: they reset it, so a second run (another clone) waits here.
    """
    site = _SITE[0] if _SITE else _running_site()
    if site is None:
        pytest.fail("CI has the Moodle source but no test site answers: .ci/run runs "
                    "`tests/realmoodle/site.sh up` before the tests (see its output)", pytrace=False)
    with Path(f"{SITE_HOME}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield site


@pytest.fixture
def fresh(real_moodle: RealMoodle) -> RealMoodle:
    """The site as built: the hand-made course, its events and students, no lms_sync run yet."""
    real_moodle.reset()
    return real_moodle


@pytest.fixture
def ena(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_moodle: RealMoodle) -> Path:
    """An ENA admin's working folder: the shipped programme, a roster, settings pointing at the site."""
    for name in list(os.environ):
        if name.startswith("LMS_SYNC_"):
            monkeypatch.delenv(name)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "program.toml").write_bytes(SHIPPED_PROGRAM.read_bytes())
    write_roster(tmp_path / "config" / "roster.csv")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LMS_SYNC_MOODLE__URL", real_moodle.url)
    monkeypatch.setenv("LMS_SYNC_MOODLE__TOKEN", real_moodle.token("sync"))
    return tmp_path


# DGIDT's roster on the first day: 250 of the agents already in the hand-made course, 10 newcomers.
ROSTER_KNOWN = 250
ROSTER_NEW = 10


def write_roster(path: Path, known: int = ROSTER_KNOWN, new: int = ROSTER_NEW) -> list[dict[str, str]]:
    """The roster as DGIDT sends it (French Excel: ``;``, UTF-8 with BOM): ``known`` agents of the hand-made
    course and ``new`` newcomers; returns its rows."""
    rows = [{k: p[k] for k in ("username", "email", "firstname", "lastname", "institution", "department")}
            for p in students()[:known]]
    rows += [{"username": f"nouveau.{n:02d}", "email": f"nouveau.{n:02d}@industrie.gov.tn", "firstname": "Nouvel",
              "lastname": f"Agent {n}", "institution": "Ministère de l'Industrie", "department": "DGIDT"}
             for n in range(1, new + 1)]
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    return rows


@pytest.fixture
def cli(ena: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Run ``lms-sync`` in the ENA folder; returns (exit code, stdout, stderr)."""
    from lms_sync.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    yield run
