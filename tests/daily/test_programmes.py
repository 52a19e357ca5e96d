"""One deployment, two programmes (config/programs/): the next cycle never cancels the last one."""

from __future__ import annotations

import json
from pathlib import Path

import icalendar
import pytest

from lms_sync.cli import main
from lms_sync.context import Context
from lms_sync.lock import programme_scope
from lms_sync.store import Store
from tests.conftest import lock_held_by_another_process, write_programmes
from tests.fakes.moodle import BASE_URL, TOKEN, FakeMoodle

ROSTER = (
    "username;email;firstname;lastname;institution;department\n"
    "hlefevre;helene.lefevre@industrie.gov.tn;Hélène;Lefèvre;Ministère de l'Industrie;DGIDT\n"
)
FIRST, SECOND = "dgidt-ia-2020", "dgidt-ia-2021"


@pytest.fixture
def ena(workdir: Path, fake: FakeMoodle, monkeypatch: pytest.MonkeyPatch) -> Path:
    """config/programs/ with both cycles (the first with its roster), the old config/program.toml moved away."""
    monkeypatch.setenv("LMS_SYNC_MOODLE__URL", BASE_URL)
    monkeypatch.setenv("LMS_SYNC_MOODLE__TOKEN", TOKEN)
    monkeypatch.setenv("LMS_SYNC_MOODLE__RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("LMS_SYNC_MOODLE__REQUESTS_PER_SECOND", "10000")
    monkeypatch.setattr(Context, "sleep", staticmethod(lambda _seconds: None))
    (workdir / "config" / "program.toml").unlink()
    first, _ = write_programmes(workdir / "config" / "programs")
    first.write_text(first.read_text(encoding="utf-8").replace(
        'lang = "fr"', 'lang = "fr"\nroster = "roster-2020.csv"', 1), encoding="utf-8")
    (workdir / "config" / "programs" / "roster-2020.csv").write_text(ROSTER, encoding="utf-8")
    return workdir


def statuses(path: Path) -> dict[str, str]:
    """STATUS of each event of a feed file, by UID."""
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    return {str(e["UID"]): str(e["STATUS"]) for e in calendar.walk("VEVENT")}


def last_sync(workdir: Path) -> dict:
    """The stages of the last sync run."""
    with Store(workdir / "var" / "lms_sync.sqlite3") as store:
        return store.runs(limit=1, kind="sync")[0].summary["stages"]  # type: ignore[no-any-return]


def archive(path: Path) -> None:
    """Mark a programme file archived, as the admin would once the cycle is over."""
    path.write_text(path.read_text(encoding="utf-8").replace('lang = "fr"', 'lang = "fr"\nstatus = "archived"', 1),
                    encoding="utf-8")


def test_validate_checks_every_programme(ena: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Both files and the first one's roster are checked; a clashing id names both files."""
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "programme config/programs/dgidt-ia-2020.toml: 4 session(s)" in out
    assert "programme config/programs/dgidt-ia-2021.toml: 4 session(s)" in out
    assert "roster config/programs/roster-2020.csv: 1 participant(s)" in out
    second = ena / "config" / "programs" / "dgidt-ia-2021.toml"
    second.write_text(second.read_text(encoding="utf-8").replace(f'id = "{SECOND}"', f'id = "{FIRST}"'),
                      encoding="utf-8")
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert "config/programs/dgidt-ia-2021.toml: program.id" in err and "config/programs/dgidt-ia-2020.toml" in err


def test_nightly_run_of_two_programmes(ena: Path, fake: FakeMoodle) -> None:
    """Two courses, a push and a pull stage each, a feed of eight sessions none cancelled, and each one's own feed."""
    assert main(["sync"]) == 0
    assert {c["idnumber"] for c in fake.courses.values()} >= {FIRST, SECOND}
    stages = last_sync(ena)
    assert list(stages) == [f"push {FIRST}", f"pull {FIRST}", f"push {SECOND}", f"pull {SECOND}", "feed"]
    assert stages[f"pull {FIRST}"]["participants"] == 1 and stages[f"pull {SECOND}"]["participants"] == 0
    every = statuses(ena / "var" / "sessions.ics")
    assert len(every) == 8 and set(every.values()) == {"CONFIRMED"}
    own = statuses(ena / "var" / "programs" / SECOND / "sessions.ics")
    assert len(own) == 4 and all(uid.startswith(SECOND) for uid in own)
    assert stages["feed"]["files"] == 3


def test_archived_programme_is_left_alone_and_keeps_its_sessions(ena: Path, fake: FakeMoodle) -> None:
    """Archived: push writes nothing to its course, pull skips it, the feed keeps its four sessions confirmed."""
    assert main(["sync"]) == 0
    archive(ena / "config" / "programs" / "dgidt-ia-2020.toml")
    first_course = next(c for c in fake.courses.values() if c["idnumber"] == FIRST)
    fake.courses[first_course["id"]]["fullname"] = "Changed by hand after the cycle"
    fake.reset_calls()
    assert main(["sync"]) == 0
    assert fake.courses[first_course["id"]]["fullname"] == "Changed by hand after the cycle"
    assert list(last_sync(ena)) == [f"push {SECOND}", f"pull {SECOND}", "feed"]
    every = statuses(ena / "var" / "sessions.ics")
    assert [s for uid, s in every.items() if uid.startswith(FIRST)] == ["CONFIRMED"] * 4


def test_one_failing_programme_does_not_stop_the_other(ena: Path, fake: FakeMoodle) -> None:
    """The second cycle's course cannot be created tonight: the first is pushed and pulled, the run exits 1."""
    fake.inject("http500", "core_course_create_courses", skip=1)  # the first create (2020's course) succeeds
    for _ in range(6):  # every retry of the second fails too
        fake.inject("http500", "core_course_create_courses")
    assert main(["sync"]) == 1
    stages = last_sync(ena)
    assert stages[f"push {FIRST}"]["status"] == "ok" and stages[f"pull {FIRST}"]["status"] == "ok"
    assert stages[f"push {SECOND}"]["status"] != "ok"
    assert stages["feed"]["status"] == "ok"


def test_programmes_run_side_by_side(ena: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """While another process pushes the first cycle, the second runs; the nightly run skips only the busy one."""
    state = ena / "var" / "lms_sync.sqlite3"
    state.parent.mkdir(parents=True, exist_ok=True)
    with lock_held_by_another_process(state, programme_scope(FIRST)):
        assert main(["--program", SECOND, "sync"]) == 0
        assert main(["sync"]) == 4
    stages = last_sync(ena)
    assert stages[f"push {FIRST}"]["exit_code"] == 4 and stages[f"push {SECOND}"]["status"] == "ok"
    assert main(["runs", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert {r["programme_id"] for r in runs if r["kind"] == "sync"} == {SECOND, None}


def test_naming_programmes(ena: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown id lists the known ones; one roster for two programmes asks which one."""
    assert main(["--program", "dgidt-ia-2030", "validate"]) == 2
    assert "no programme with id 'dgidt-ia-2030' (programmes: dgidt-ia-2020, dgidt-ia-2021)" in capsys.readouterr().err
    (ena / "other.csv").write_text(ROSTER, encoding="utf-8")
    assert main(["--roster", "other.csv", "push", "--dry-run"]) == 2
    assert "one roster (other.csv) for 2 programmes" in capsys.readouterr().err
    assert main(["--roster", "other.csv", "--program", SECOND, "push", "--dry-run"]) == 0


def test_the_next_cycle_in_the_single_file_keeps_the_last_one(workdir: Path, fake: FakeMoodle,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's case: config/program.toml copied with a new id, same store. The held sessions stay confirmed."""
    from tests.conftest import next_cycle_text

    assert main(["feed"]) == 0
    (workdir / "config" / "program.toml").write_text(next_cycle_text(), encoding="utf-8")
    assert main(["feed"]) == 0
    every = statuses(workdir / "var" / "sessions.ics")
    assert len(every) == 8
    # Today (2026) every session of 2020-2021 took place: history is unchanged, none is cancelled.
    assert set(every.values()) == {"CONFIRMED"}


def test_reports_per_programme(ena: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each programme has its own report; with two, the command asks which; report runs lists both."""
    assert main(["sync"]) == 0
    capsys.readouterr()
    assert main(["report", "completion", "--format", "json", "--out", "-"]) == 2
    assert "which one's report?" in capsys.readouterr().err
    assert main(["--program", FIRST, "report", "completion", "--format", "json", "--out", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["programme"]["id"] == FIRST and len(report["participants"]) == 1
    assert main(["--program", SECOND, "report", "completion", "--format", "json", "--out", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["participants"] == []
    assert main(["report", "runs"]) == 0
    listing = capsys.readouterr().out
    assert FIRST in listing and SECOND in listing


def test_a_removed_programme_asks_before_its_sessions_to_come_leave_moodle(
    ena: Path, fake: FakeMoodle, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its file removed: push refuses to delete the events of its sessions to come until --force-delete; the course stays."""
    from tests.conftest import next_cycle_text

    future = next_cycle_text().replace('id = "dgidt-ia-2021"', 'id = "dgidt-ia-2090"').replace(
        "DGIDT-IA-2021", "DGIDT-IA-2090").replace("2021-12-", "2090-12-").replace("2022-01-", "2091-01-")
    path = ena / "config" / "programs" / "dgidt-ia-2090.toml"
    path.write_text(future, encoding="utf-8")
    assert main(["push"]) == 0 and main(["feed"]) == 0
    course = next(c for c in fake.courses.values() if c["idnumber"] == "dgidt-ia-2090")
    assert len(fake.course_events(course["id"])) == 4
    path.unlink()
    capsys.readouterr()
    assert main(["push"]) == 1
    captured = capsys.readouterr()
    assert "programme dgidt-ia-2090 has no file any more" in captured.err and "--force-delete" in captured.err
    assert len(fake.course_events(course["id"])) == 4  # asked, not done
    assert main(["sync"]) == 1
    assert last_sync(ena)["retire dgidt-ia-2090"]["to_delete"] == 4
    assert main(["push", "--force-delete"]) == 0
    assert fake.course_events(course["id"]) == [] and course["id"] in fake.courses
    assert main(["push"]) == 0  # nothing left to ask about
    every = statuses(ena / "var" / "sessions.ics")
    assert [s for uid, s in every.items() if uid.startswith("dgidt-ia-2090-")] == ["CANCELLED"] * 4


def test_check_looks_at_each_programmes_course(ena: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One table per live programme, each with its own course row."""
    assert main(["push"]) == 0
    capsys.readouterr()
    code = main(["check"])
    out = capsys.readouterr().out
    assert f"== programme {FIRST}" in out and f"== programme {SECOND}" in out
    assert out.count("course completion") >= 2 and code == 0, out
    archive(ena / "config" / "programs" / "dgidt-ia-2020.toml")
    main(["check"])
    assert f"== programme {FIRST}" not in capsys.readouterr().out


def test_report_across_programmes_counts_each_person_once_per_programme(
    ena: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hélène is in both cycles (one Moodle account, two courses): one row, two programmes; Salma in the second."""
    second = ena / "config" / "programs" / f"{SECOND}.toml"
    second.write_text(second.read_text(encoding="utf-8").replace(
        'lang = "fr"', 'lang = "fr"\nroster = "roster-2021.csv"', 1), encoding="utf-8")
    (ena / "config" / "programs" / "roster-2021.csv").write_text(ROSTER + "sbenali;salma.benali@steg.com.tn;Salma;Ben Ali;"
                                                                 "STEG;Formation\n", encoding="utf-8")
    assert main(["sync"]) == 0
    capsys.readouterr()
    assert main(["report", "programmes", "--format", "json", "--out", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["id"] for p in data["programmes"]] == [FIRST, SECOND]
    assert [(p["email"], p["trained"]) for p in data["people"]] == [("helene.lefevre@industrie.gov.tn", 2),
                                                                     ("salma.benali@steg.com.tn", 1)]
    assert data["totals"]["people"] == 2 and data["totals"]["enrolled"] == {FIRST: 1, SECOND: 2}
    out = ena / "var" / "reports" / "programmes-institutions.csv"
    assert main(["report", "programmes", "--view", "institutions"]) == 0
    assert "programmes-institutions.csv: written (2 programme(s), 2 people trained" in capsys.readouterr().out
    lines = out.read_bytes().decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Institution;Personnes formées;") and len(lines) == 4  # 2 institutions and the total
    assert main(["--program", FIRST, "report", "programmes", "--format", "json", "--out", "-"]) == 0
    assert [p["id"] for p in json.loads(capsys.readouterr().out)["programmes"]] == [FIRST]
    assert main(["report", "programmes", "--format", "xlsx", "--view", "people", "--out", "-"]) == 2
    assert "--view applies to CSV only" in capsys.readouterr().err
