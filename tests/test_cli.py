"""The command line as a user meets it: help with examples everywhere, clean failures."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from lms_sync.cli import build_parser, main
from lms_sync.errors import EXIT_CODES


def subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(prefix + (name,))
                found.extend(subcommands(sub, prefix + (name,)))
    return found


def test_every_command_has_help_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    commands = subcommands(build_parser())
    assert {"validate", "config", "feed"} <= {c[0] for c in commands}
    for command in [()] + commands:
        with pytest.raises(SystemExit) as exit_info:
            main([*command, "--help"])
        assert exit_info.value.code == 0
        out = capsys.readouterr().out
        assert "examples:\n  lms-sync" in out, f"`lms-sync {' '.join(command)} --help` shows no example"
        # Every exit code, 70 included, with what to do (wrapped lines joined back).
        flat = " ".join(out.split())
        for code, meaning in EXIT_CODES.items():
            assert f"{code} {meaning}" in flat, f"`lms-sync {' '.join(command)} --help` does not explain exit {code}"


def test_the_readme_lists_the_exit_codes_as_the_help_does() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert [f"| {code} | {meaning} |" in readme for code, meaning in EXIT_CODES.items()] == [True] * len(EXIT_CODES)


def test_global_options_work_after_the_command(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "p.toml").write_bytes((workdir / "config" / "program.toml").read_bytes())
    assert main(["validate", "--program", "p.toml"]) == 0
    assert "ok: programme p.toml: 4 session(s)" in capsys.readouterr().out


def test_validate_says_what_the_attendance_activity_asks_of_moodle(workdir: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """An admin choosing the Attendance activity learns, offline, that Moodle needs more, and how to check it."""
    assert main(["validate"]) == 0
    plain = capsys.readouterr().out
    text = (workdir / "config" / "program.toml").read_text(encoding="utf-8")
    text += '\n[attendance]\nsource = "mod_attendance"\ncreate = true\n'
    (workdir / "p.toml").write_text(text, encoding="utf-8")
    assert main(["validate", "--program", "p.toml"]) == 0
    out = capsys.readouterr().out
    assert "Attendance activity" not in plain and "with the Attendance activity, creating the Attendance activity" in out
    count = [int(line.split("needs ")[1].split()[0]) for line in (plain, out)]
    assert count[1] > count[0] and "`lms-sync check` verifies them" in out


def test_validate_says_cohorts_need_more_of_moodle(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped example roster has a cohort column: validate counts the group functions too."""
    assert main(["validate"]) == 0
    plain = capsys.readouterr().out
    assert main(["--roster", "config/roster.example.csv", "validate"]) == 0
    out = capsys.readouterr().out
    assert "cohorts" not in plain and "(with push with a roster, cohorts)" not in plain and "cohorts" in out
    count = [int(line.split("needs ")[1].split()[0]) for line in (plain, out)]
    assert count[1] == count[0] + 5


def test_feed_to_stdout(workdir: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["feed", "--out", "-"]) == 0
    assert capsysbinary.readouterr().out.startswith(b"BEGIN:VCALENDAR\r\n")


def test_unusable_state_path_is_a_clear_error(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "state").write_text("not sqlite" * 200)
    assert main(["--state", "state", "feed", "--out", "x.ics"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: state store state is damaged or is not an lms_sync state store") and "Traceback" not in err
    assert "restore it from your backup" in err


def test_check_reports_a_refused_token_with_exit_3(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import responses

    monkeypatch.setenv("LMS_SYNC_MOODLE__URL", "https://formation.ena.tn")
    monkeypatch.setenv("LMS_SYNC_MOODLE__TOKEN", "tok-abcdef0123456789")
    with responses.RequestsMock() as mock:
        mock.post("https://formation.ena.tn/webservice/rest/server.php",
                  json={"exception": "moodle_exception", "errorcode": "invalidtoken",
                        "message": "Invalid token - token not found"})
        assert main(["check"]) == 3
    out = capsys.readouterr().out
    assert "FAIL" in out and "tok-abcdef0123456789" not in out
