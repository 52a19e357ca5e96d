"""Inputs read with a size cap, outputs that never land on an input, failing devices named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lms_sync.cli import main
from lms_sync.store import Store

ENTRIES = "SELECT count(*) FROM feed_entries"


@pytest.mark.parametrize(
    ("out", "what"),
    [
        ("var/lms_sync.sqlite3", "the state store"),
        ("var/lms_sync.sqlite3-wal", "the state store's write-ahead log"),
        ("var/lms_sync.sqlite3-shm", "the state store's shared-memory file"),
        ("config/program.toml", "the programme"),
        ("config/roster.example.csv", "the roster"),
        ("config/settings.toml", "the settings file"),
        ("config/../config/program.toml", "the programme"),
    ],
)
def test_feed_never_overwrites_an_input(workdir: Path, capsys: pytest.CaptureFixture[str], out: str,
                                        what: str) -> None:
    (workdir / "config" / "settings.toml").write_text('roster_file = "config/roster.example.csv"\n')
    assert main(["feed", "--out", "var/first.ics"]) == 0  # a store with a run in it
    before = {p: p.read_bytes() for p in (workdir / "config").iterdir()}
    store_before = (workdir / "var" / "lms_sync.sqlite3").read_bytes()
    capsys.readouterr()

    assert main(["feed", "--out", out]) == 2
    err = capsys.readouterr().err
    assert f"is {what} (" in err and "writing there would destroy it" in err
    assert {p: p.read_bytes() for p in (workdir / "config").iterdir()} == before
    assert (workdir / "var" / "lms_sync.sqlite3").read_bytes() == store_before
    assert main(["runs"]) == 0  # the history is still readable


def test_a_symlink_or_hard_link_to_the_store_is_refused_too(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["feed", "--out", "var/first.ics"]) == 0
    os.symlink(workdir / "var" / "lms_sync.sqlite3", workdir / "soft.ics")
    os.link(workdir / "var" / "lms_sync.sqlite3", workdir / "hard.ics")
    for out in ("soft.ics", "hard.ics"):
        assert main(["feed", "--out", out]) == 2
    with Store(workdir / "var" / "lms_sync.sqlite3") as store:
        assert store.db.execute(ENTRIES).fetchone()[0] == 4  # intact


def test_report_never_overwrites_the_state_store(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["feed", "--out", "var/first.ics"]) == 0
    assert main(["report", "completion", "--out", "var/lms_sync.sqlite3"]) == 2
    assert "is the state store" in capsys.readouterr().err


def test_sync_refuses_a_feed_path_on_the_programme(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMS_SYNC_FEED__OUT_PATH", "config/program.toml")
    before = (workdir / "config" / "program.toml").read_bytes()
    assert main(["sync"]) == 2
    assert "config/program.toml is the programme" in capsys.readouterr().err
    assert (workdir / "config" / "program.toml").read_bytes() == before
    assert not (workdir / "var" / "lms_sync.sqlite3").exists()  # refused before anything ran


def test_writing_to_a_full_device_says_so(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    assert main(["feed", "--out", "/dev/full"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write /dev/full: No space left on device")
    assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")  # written into, never replaced


def test_standard_output_that_fails_says_so(workdir: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    import io
    import sys

    with open("/dev/full", "wb", buffering=0) as full:
        monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BufferedWriter(full)))
        assert main(["feed", "--out", "-"]) == 2
    assert "cannot write to standard output: No space left on device" in capsys.readouterr().err


def test_an_endless_programme_is_refused_without_reading_it_all(workdir: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero on this system")
    assert main(["--program", "/dev/zero", "validate"]) == 2
    assert "/dev/zero: error: is larger than 8 MB; this cannot be the right file" in capsys.readouterr().err


def test_a_huge_roster_and_token_file_are_refused(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    big = workdir / "big.csv"
    with big.open("wb") as handle:
        handle.truncate(65 * 1024 * 1024)  # sparse: costs no disk
    assert main(["--roster", str(big), "validate"]) == 2
    assert "big.csv: error: is larger than 64 MB" in capsys.readouterr().err

    token = workdir / "token"
    token.write_bytes(b"x" * 70_000)
    monkeypatch.setenv("LMS_SYNC_MOODLE__TOKEN_FILE", str(token))
    assert main(["validate"]) == 2
    assert f"token_file {token} is larger than 64 kB" in capsys.readouterr().err
