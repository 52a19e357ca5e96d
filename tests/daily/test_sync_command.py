"""``lms-sync sync``: push, pull and feed as one recorded run, against the fake Moodle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lms_sync.cli import main
from lms_sync.context import Context
from lms_sync.reports import build_report
from lms_sync.store import Store
from tests.conftest import SHIPPED_PROGRAM, lock_held_by_another_process
from tests.fakes.moodle import BASE_URL, TOKEN, FakeMoodle, MoodleFault

ROSTER = (
    "username;email;firstname;lastname;institution;department\n"
    "hlefevre;helene.lefevre@industrie.gov.tn;Hélène;Lefèvre;Ministère de l'Industrie;DGIDT\n"
    "fmenard;francois.menard@steg.com.tn;François;Ménard;STEG;DSI\n"
)


@pytest.fixture
def site(workdir: Path, fake: FakeMoodle, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory configured for the fake site, with a two-person roster."""
    monkeypatch.setenv("LMS_SYNC_MOODLE__URL", BASE_URL)
    monkeypatch.setenv("LMS_SYNC_MOODLE__TOKEN", TOKEN)
    monkeypatch.setenv("LMS_SYNC_MOODLE__RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("LMS_SYNC_MOODLE__REQUESTS_PER_SECOND", "10000")
    monkeypatch.setenv("LMS_SYNC_ROSTER_FILE", "config/roster.csv")
    (workdir / "config" / "roster.csv").write_text(ROSTER, encoding="utf-8")
    monkeypatch.setattr(Context, "sleep", staticmethod(lambda _seconds: None))  # retries never wait
    return workdir


def last_run(workdir: Path) -> dict:
    with Store(workdir / "var" / "lms_sync.sqlite3") as store:
        run = store.runs(limit=1, kind="sync")[0]
        return {"status": run.status, "exit_code": run.exit_code, "stages": run.summary["stages"]}


def test_full_run_pushes_pulls_and_writes_the_feed(site: Path, fake: FakeMoodle,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync"]) == 0
    run = last_run(site)
    assert run["status"] == "ok" and run["exit_code"] == 0
    stages = run["stages"]
    assert [stages[name]["status"] for name in ("push", "pull", "feed")] == ["ok", "ok", "ok"]
    assert stages["pull"]["participants"] == 2
    assert stages["feed"]["events"] == 4
    assert len(fake.events) == 4 and {u["username"] for u in fake.users.values()} == {"guest", "wsuser", "hlefevre", "fmenard"}
    assert (site / "var" / "sessions.ics").read_bytes().startswith(b"BEGIN:VCALENDAR")
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("info: run=1 sync run 1: push ok") and last.endswith("exit 0 in " + last.split()[-2] + " s")
    assert "hlefevre" not in err and "Lefèvre" not in err and TOKEN not in err  # no personal data, no secret

    # The next night: nothing to push, a new snapshot, the feed untouched.
    fake.reset_calls()
    assert main(["sync"]) == 0
    assert fake.write_calls == []
    assert last_run(site)["stages"]["feed"]["file"] == "unchanged"


def test_the_nightly_run_keeps_and_records_the_cohorts(site: Path, fake: FakeMoodle) -> None:
    """A roster with a groupe column: the night's push makes the groups, its pull records who is in which."""
    lines = ROSTER.splitlines()
    roster = "\n".join([lines[0] + ";groupe", lines[1] + ";Responsables informatiques",
                        lines[2] + ";Administrations et entreprises publiques"]) + "\n"
    (site / "config" / "roster.csv").write_text(roster, encoding="utf-8")
    assert main(["sync"]) == 0
    assert sorted(g["name"] for g in fake.groups.values()) == ["Administrations et entreprises publiques",
                                                               "Responsables informatiques"]
    with Store(site / "var" / "lms_sync.sqlite3") as store:
        report = build_report(store)
    assert {p.email.split(".")[0]: p.cohort for p in report.participants} == {
        "helene": "Responsables informatiques", "francois": "Administrations et entreprises publiques"}


def test_pull_failure_still_writes_the_feed_and_exits_with_the_worst_code(site: Path, fake: FakeMoodle) -> None:
    def refused(_fake: FakeMoodle, _params: dict) -> object:
        raise MoodleFault("nopermissions", "Sorry, but you do not currently have permissions to do that "
                          "(View participants).", "required_capability_exception")

    fake.handlers["core_enrol_get_enrolled_users"] = refused
    assert main(["sync"]) == 1
    run = last_run(site)
    assert run["status"] == "partial" and run["exit_code"] == 1
    assert run["stages"]["push"]["status"] == "ok"
    assert run["stages"]["pull"]["status"] == "failed"
    assert run["stages"]["feed"]["status"] == "ok"
    assert (site / "var" / "sessions.ics").exists()


def test_moodle_down_skips_pull_exits_3_and_still_writes_the_feed(site: Path, fake: FakeMoodle,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMS_SYNC_MOODLE__TOKEN", "wrong-token")
    assert main(["sync"]) == 3
    run = last_run(site)
    assert run["stages"]["push"]["status"] == "failed"
    assert run["stages"]["pull"]["status"] == "skipped"
    assert run["stages"]["feed"]["status"] == "ok"


def test_json_logs_have_the_run_id_on_every_line(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--log-format", "json", "sync"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    assert lines and all(line["run_id"] == 1 for line in lines)


def test_overlapping_runs_the_second_is_refused(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with lock_held_by_another_process(site / "var" / "lms_sync.sqlite3", "sync") as pid:
        assert main(["sync"]) == 4
    err = capsys.readouterr().err
    assert f"error: another lms-sync run (pid {pid}) is using var/lms_sync.sqlite3 for sync" in err
    assert main(["sync"]) == 0  # once the first run is over


def test_runs_lists_the_sync(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync"]) == 0
    capsys.readouterr()
    assert main(["runs", "--kind", "sync", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert (run["kind"], run["status"], run["exit_code"]) == ("sync", "ok", 0)
    assert set(run["summary"]["stages"]) == {"push", "pull", "feed"}


def test_bad_programme_changes_nothing(site: Path, fake: FakeMoodle) -> None:
    program = site / "config" / "program.toml"
    program.write_text(SHIPPED_PROGRAM.read_text(encoding="utf-8").replace("Africa/Tunis", "Tunis"), encoding="utf-8")
    assert main(["sync"]) == 2
    assert fake.calls == [] and not (site / "var").exists()
