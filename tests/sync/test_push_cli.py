"""``lms-sync push`` through ``lms_sync.cli.main``: output and exit codes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from tests.sync.conftest import PROGRAM_FILE
from tests.fakes.moodle import BASE_URL, TOKEN, FakeMoodle

from lms_sync.cli import main
from lms_sync.context import Context
from lms_sync.store import Store
from lms_sync.sync.journal import in_doubt, journal_pending

ROSTER = "username;email;firstname;lastname;institution;department\n" \
         "hlefevre;helene.lefevre@industrie.gov.tn;Hélène;Lefèvre;Ministère de l'Industrie;DGIDT\n" \
         "fmenard;francois.menard@steg.com.tn;François;Ménard;STEG;DSI\n"


@pytest.fixture
def cli(fake: FakeMoodle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run the CLI in an empty folder against the fake, with a client that never sleeps."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LMS_SYNC_MOODLE__URL", BASE_URL)
    monkeypatch.setenv("LMS_SYNC_MOODLE__TOKEN", TOKEN)
    monkeypatch.setenv("LMS_SYNC_MOODLE__RETRY_ATTEMPTS", "2")
    monkeypatch.setattr(Context, "sleep", staticmethod(lambda _seconds: None))  # retries never wait
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    base = ["--program", str(PROGRAM_FILE), "--state", str(tmp_path / "state.sqlite3"), "--roster", str(roster)]
    return lambda *argv: main([*base, "push", *argv])


def test_dry_run_prints_plan_and_exits_0(cli, fake, capsys) -> None:
    """--dry-run prints the terraform-like plan and writes nothing."""
    assert cli("--dry-run") == 0
    out = capsys.readouterr().out
    assert "+ create course dgidt-ia-2020" in out
    assert "Plan: 10 to add, 0 to change, 0 to delete or suspend, 0 to record locally." in out
    assert fake.write_calls == []


def test_push_then_noop_exit_0(cli, fake, capsys) -> None:
    """A push exits 0; the next one prints "No changes." and writes nothing."""
    assert cli() == 0
    capsys.readouterr()
    fake.reset_calls()
    assert cli() == 0
    assert capsys.readouterr().out.startswith("No changes.")
    assert fake.write_calls == []


def test_some_failed_exit_1(cli, fake, capsys) -> None:
    """An event create Moodle refuses: exit 1 and the failure is named."""
    fake.handlers["core_calendar_create_calendar_events"] = lambda f, p: {
        "events": [], "warnings": [{"item": "", "warningcode": "nopermissions", "message": "no"}]
    }
    assert cli() == 1
    err = capsys.readouterr().err
    assert "failed:" in err and "seance-1" in err


def test_refused_mass_delete_names_the_flag(cli, fake, capsys, tmp_path) -> None:
    """Every event deleted: refused with exit 1 and a hint naming --force-delete."""
    assert cli() == 0
    text = PROGRAM_FILE.read_text(encoding="utf-8").replace('id = "seance-', 'id = "s-')
    other = tmp_path / "program.toml"
    other.write_text(text, encoding="utf-8")
    capsys.readouterr()
    code = main(["--program", str(other), "--state", str(tmp_path / "state.sqlite3"), "push"])
    assert code == 1
    assert "--force-delete" in capsys.readouterr().err
    assert main(["--program", str(other), "--state", str(tmp_path / "state.sqlite3"), "push", "--force-delete"]) == 0


def test_bad_config_exit_2(cli, tmp_path, capsys) -> None:
    """A broken programme file: exit 2, nothing sent."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[program]\nid = 'x'\n", encoding="utf-8")
    assert main(["--program", str(bad), "--state", str(tmp_path / "s.sqlite3"), "push"]) == 2


def test_token_refused_exit_3(cli, fake, capsys) -> None:
    """Moodle refuses the token: exit 3 with a hint."""
    fake.token = "another"
    assert cli() == 3
    assert "hint:" in capsys.readouterr().err


def test_unreachable_exit_3(cli, fake, capsys) -> None:
    """Moodle keeps timing out on reads: exit 3."""
    for _ in range(5):
        fake.inject("timeout_before")
    assert cli() == 3


def test_help_has_examples(capsys) -> None:
    """push --help shows examples."""
    with pytest.raises(SystemExit):
        main(["push", "--help"])
    assert "lms-sync push --dry-run" in capsys.readouterr().out


def _renamed_programme(tmp_path: Path) -> Path:
    """The shipped programme with every session id changed: a plan deleting every event."""
    other = tmp_path / "program.toml"
    other.write_text(PROGRAM_FILE.read_text(encoding="utf-8").replace('id = "seance-', 'id = "s-'), encoding="utf-8")
    return other


def test_dry_run_of_a_refused_plan_exits_1(cli, fake, capsys, tmp_path) -> None:
    """--dry-run exits 1 when push would refuse the plan, so a script can check first; nothing is written."""
    assert cli() == 0
    capsys.readouterr()
    fake.reset_calls()
    state = ["--state", str(tmp_path / "state.sqlite3")]
    assert main(["--program", str(_renamed_programme(tmp_path)), *state, "push", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "push would be refused" in err and "--force-delete" in err
    assert fake.write_calls == []
    assert main(["--program", str(_renamed_programme(tmp_path)), *state, "push", "--dry-run", "--force-delete"]) == 0


def test_dry_run_says_interrupted_writes_would_be_resolved(cli, fake, capsys, tmp_path) -> None:
    """An interrupted write left in the journal: a dry run says it would be resolved, and leaves it pending."""
    assert cli() == 0
    with Store(tmp_path / "state.sqlite3") as store, store.transaction() as db:
        journal_pending(db, "dgidt-ia-2020", None, "create", "event", "seance-1")
    capsys.readouterr()
    assert cli("--dry-run") == 0
    err = capsys.readouterr().err
    assert "would be resolved" in err and "were checked in Moodle and resolved" not in err
    with Store(tmp_path / "state.sqlite3") as store:
        assert len(in_doubt(store, "dgidt-ia-2020")) == 1
    assert cli() == 0
    assert "were checked in Moodle and resolved" in capsys.readouterr().err


def test_help_names_the_dry_run_exit_code(capsys) -> None:
    """push --help says a dry run exits 1 when the plan would be refused."""
    with pytest.raises(SystemExit):
        main(["push", "--help"])
    assert "exit 1 if push would refuse the plan" in " ".join(capsys.readouterr().out.split())


class _FillingDisk:
    """A store connection whose disk fills up after ``writes`` statements that change it (SQLite's own error)."""

    def __init__(self, db, writes: int) -> None:
        self._db, self.left = db, writes

    def _count(self, sql: str) -> None:
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            self.left -= 1
            if self.left < 0:
                full = sqlite3.OperationalError("database or disk is full")
                full.sqlite_errorcode, full.sqlite_errorname = 13, "SQLITE_FULL"
                raise full

    def execute(self, sql, *args):
        self._count(sql)
        return self._db.execute(sql, *args)

    def executemany(self, sql, *args):
        self._count(sql)
        return self._db.executemany(sql, *args)

    def __getattr__(self, name):
        return getattr(self._db, name)


@pytest.mark.parametrize("writes", [1, 4, 9])
def test_a_full_disk_during_push_is_a_clear_error_and_loses_nothing(cli, fake, capsys, monkeypatch,
                                                                     writes) -> None:
    """The store's disk fills up mid-push: exit 2 saying so (not "internal error"); the next push finishes."""
    opened = Store.__init__

    def filling(self, path, **kw):
        opened(self, path, **kw)
        self.db = _FillingDisk(self.db, writes)

    monkeypatch.setattr(Store, "__init__", filling)
    assert cli() == 2
    err = capsys.readouterr().err
    assert "the disk is full" in err and "free space on the disk holding" in err
    assert "internal error" not in err and "damaged" not in err and "Traceback" not in err

    monkeypatch.setattr(Store, "__init__", opened)  # space freed
    assert cli() == 0
    assert len(fake.events) == 4 and len(fake.courses) == 1 and len(fake.categories) == 1
    assert sorted(u["username"] for u in fake.users.values()) == ["fmenard", "guest", "hlefevre", "wsuser"]
    fake.reset_calls()
    assert cli() == 0 and fake.write_calls == []  # nothing duplicated, nothing left to do
