"""The lab course, pulled from the fake Moodle, and the tools that look at its reports as a reader would.

The lab course is the shipped programme's four sessions and 40 participants with the long names
DGIDT's reports must survive (institutions of up to 80 characters, e-mails of about 45, two
cohorts, the programme's two audiences). It is
pulled once per test session through ``pull_completion`` and the stateful fake, as ``lms-sync pull``
would. The printing checks need Debian's ``chromium`` and LibreOffice (``libreoffice-calc-nogui``);
without them they skip with a line saying so, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import responses

from lms_sync.moodle.client import MoodleClient
from lms_sync.program.loader import load_programme
from lms_sync.pull import pull_completion
from lms_sync.reports import CompletionReport, build_report
from lms_sync.store import Store
from tests.completion.conftest import make_settings
from tests.conftest import SHIPPED_PROGRAM
from tests.fakes.moodle import FakeMoodle
from tests.fakes.moodle_completion import add_completion, add_course, add_module, add_participant

INSTITUTIONS = (
    "Ministère de l'Industrie, des Mines et de l'Énergie – Direction générale (DGIDT)",  # 80 characters
    "Société Tunisienne de l'Électricité et du Gaz (STEG) – Direction informatique",
    "Commune de Sfax",
    "Office National de l'Assainissement – Direction des systèmes d'information",
    "Centre National de l'Informatique",
    "Agence Nationale de Promotion de la Recherche Scientifique et de l'Innovation",
)
FIRST = ("Hélène", "François", "Zoé-Gaëlle", "Amel", "Mohamed Amine", "Sarra", "Khaled", "Inès", "Youssef", "Rim")
LAST = ("Lefèvre", "Ménard", "Dubœuf d’Arçy", "Ben Saïd", "Trabelsi", "Ben Abdallah", "Gharbi", "Jaziri")
PARTICIPANTS = 40
COHORTS = (("Agents des ministères, entreprises publiques et collectivités locales", "agents"),
           ("Responsables informatiques", "responsables-informatiques"))

SETUP_HINT = ("apt-get install -y --no-install-recommends chromium libreoffice-calc-nogui "
              "(or run .ci/run as root) to run the printing checks")


@dataclass(frozen=True)
class LabCourse:
    """The lab course's report, with its names for the checks."""

    report: CompletionReport
    emails: tuple[str, ...]
    names: tuple[str, ...]


def _lab_site(fake: FakeMoodle, programme_id: str, sessions: list[str]) -> list[tuple[int, str, str]]:
    cid = add_course(fake, programme_id)
    modules = [add_module(fake, cid, f"Classe virtuelle {i + 1}", idnumber=sid, modname="bigbluebuttonbn")
               for i, sid in enumerate(sessions)]
    people = []
    for i in range(PARTICIPANTS):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 3) % len(LAST)]
        username = f"user{i:03d}"
        email = f"{username}.{last.split()[-1].lower().replace('’', '')}@administration-publique.gov.tn"
        uid = add_participant(fake, cid, username, first, f"{last} {i:02d}", email=email,
                              institution=INSTITUTIONS[i % len(INSTITUTIONS)],
                              department="Direction des systèmes d'information et de la transformation numérique")
        attended = {m: ((1 if (i + n) % 4 else 0), 1607500000 + n) for n, m in enumerate(modules[: 1 + i % 4])}
        fake.completion.activity[(cid, uid)] = attended  # type: ignore[attr-defined]
        if i % 3 == 0:
            fake.completion.course_done[(cid, uid)] = 1610000000 + i * 3600  # type: ignore[attr-defined]
        people.append((uid, f"{first} {last} {i:02d}", email))
    # The programme's two audiences, as push keeps them: one course group per cohort.
    for gid, (name, key) in enumerate(COHORTS, start=900):
        members = {uid for n, (uid, _, _) in enumerate(people) if n % 2 == gid - 900}
        fake.groups[gid] = {"id": gid, "courseid": cid, "name": name, "idnumber": f"lms-sync-cohort:{key}",
                            "description": "", "members": members}
    return people


@pytest.fixture(scope="session")
def lab_course(tmp_path_factory: pytest.TempPathFactory) -> LabCourse:
    """The lab course pulled through the fake Moodle into a fresh store, and its report."""
    programme, problems = load_programme(SHIPPED_PROGRAM)
    assert problems == []
    # Attendance through each session's activity (its ID number is the session id).
    programme = programme.model_copy(update={"sessions": tuple(
        s.model_copy(update={"activity": s.id}) for s in programme.sessions)})
    site = FakeMoodle()
    add_completion(site)
    settings = make_settings()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        site.install(rsps)
        people = _lab_site(site, programme.id, [s.id for s in programme.sessions])
        store = Store(tmp_path_factory.mktemp("lab") / "state.sqlite3")
        client = MoodleClient(settings.moodle, sleep=lambda _s: None)
        try:
            pull_completion(client, store, programme, settings, cohorts=True)
        finally:
            client.close()
    report = build_report(store)
    store.close()
    assert len(report.participants) == PARTICIPANTS and len(report.cohorts) == 2
    return LabCourse(report, tuple(e for _, _, e in people), tuple(n for _, n, _ in people))


def _tool(names: tuple[str, ...], what: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    message = f"{what} not found: {SETUP_HINT}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The headless browser (Debian's chromium)."""
    return _tool(("chromium", "chromium-browser", "google-chrome"), "chromium")


@pytest.fixture(scope="session")
def soffice() -> str:
    """LibreOffice, headless."""
    return _tool(("soffice", "libreoffice"), "LibreOffice (soffice)")


def run_chromium(chromium: str, profile: Path, *args: str, timeout: float = 60) -> str:
    """Run headless chromium once with its own profile; its standard output."""
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
               "--disable-background-networking", f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def profile(tmp_path: Path) -> Iterator[Path]:
    """A throw-away browser or office profile."""
    path = tmp_path / "profile"
    path.mkdir()
    yield path
