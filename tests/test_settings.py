"""Settings from file, .env and environment; secrets masked; bad values named with their variable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lms_sync.cli import main
from lms_sync.settings import load_settings

TOKEN = "tok-7c1e5f0d9a2b4e8f"


def test_environment_overrides_file_and_nested_delimiter(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / "config" / "settings.toml").write_text(
        '[moodle]\nurl = "https://file.example/"\nconcurrency = 6\n', encoding="utf-8"
    )
    monkeypatch.setenv("LMS_SYNC_MOODLE__URL", "https://formation.ena.tn/")
    settings = load_settings()
    assert settings.moodle.url == "https://formation.ena.tn"
    assert settings.moodle.concurrency == 6


def test_dotenv_is_read(workdir: Path) -> None:
    (workdir / ".env").write_text("LMS_SYNC_STATE_PATH=/srv/state.sqlite3\n", encoding="utf-8")
    assert load_settings().state_path == Path("/srv/state.sqlite3")


def test_token_from_file(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / "token").write_text(TOKEN + "\n", encoding="utf-8")
    monkeypatch.setenv("LMS_SYNC_MOODLE__TOKEN_FILE", str(workdir / "token"))
    settings = load_settings()
    assert settings.moodle.token is not None and settings.moodle.token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)


def test_unreadable_token_file_is_a_config_error(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMS_SYNC_MOODLE__TOKEN_FILE", "/nonexistent/token")
    assert main(["config"]) == 2
    err = capsys.readouterr().err
    assert "moodle: error: token_file /nonexistent/token cannot be read" in err


def test_config_masks_secrets(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LMS_SYNC_MOODLE__TOKEN", TOKEN)
    monkeypatch.setenv("LMS_SYNC_SERVE__REPORT_TOKENS", json.dumps([TOKEN + "-report"]))
    assert main(["config", "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["moodle"]["token"] == "**********"
    assert data["serve"]["report_tokens"] == ["**********"]
    assert TOKEN not in out


def test_bad_value_names_key_and_variable(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LMS_SYNC_MOODLE__URL", "formation.ena.tn")
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert ("environment: moodle.url: error: must start with https://, like https://formation.ena.tn "
            "(or http:// for a lab site) (environment variable LMS_SYNC_MOODLE__URL)") in err


def test_unknown_key_in_settings_file(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "custom.toml").write_text("[moodle]\nurll = 'x'\n", encoding="utf-8")
    assert main(["--settings", "custom.toml", "config"]) == 2
    err = capsys.readouterr().err
    assert "custom.toml: moodle.urll: error: unknown key 'urll' in [moodle]; did you mean 'url'? allowed keys: url," in err
    assert "environment variable" not in err  # the file is to blame, not the environment


def test_a_misspelt_key_in_the_default_settings_file_is_blamed_on_it(workdir: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "config" / "settings.toml").write_text("[serve]\nprot = 8081\n", encoding="utf-8")
    assert main(["config"]) == 2
    err = capsys.readouterr().err
    assert "config/settings.toml: serve.prot: error: unknown key 'prot' in [serve]; did you mean 'port'?" in err
    assert "LMS_SYNC_" not in err


@pytest.mark.parametrize(
    ("variable", "nearest"),
    [("LMS_SYNC_MOODLE_TOKEN", "LMS_SYNC_MOODLE__TOKEN"), ("LMS_SYNC_MOODEL__URL", "LMS_SYNC_MOODLE__URL"),
     ("LMS_SYNC_STATE", "LMS_SYNC_STATE_PATH"), ("lms_sync_progam_file", "LMS_SYNC_PROGRAM_FILE")],
)
def test_a_misspelt_variable_warns_with_the_nearest_name(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch, variable: str,
                                                        nearest: str) -> None:
    monkeypatch.setenv(variable, "some value")
    monkeypatch.setenv("LMS_SYNC_MOODLE__CONCURRENCY", "3")  # a right one: no warning
    assert main(["validate"]) == 0
    err = capsys.readouterr().err
    assert err == f"environment: {variable}: warning: matches no setting and is ignored; did you mean {nearest}?\n"


def test_missing_explicit_settings_file(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--settings", "nope.toml", "config"]) == 2
    assert "nope.toml: error: settings file not found" in capsys.readouterr().err


def test_other_programs_variables_in_dotenv_are_ignored(workdir: Path) -> None:
    (workdir / ".env").write_text("DATABASE_URL=postgres://x\nLMS_SYNC_MOODLE__CONCURRENCY=3\n", encoding="utf-8")
    assert load_settings().moodle.concurrency == 3


def test_a_bad_value_is_blamed_on_the_place_it_came_from(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "config" / "settings.toml").write_text("[moodle]\nconcurrency = 0\n", encoding="utf-8")
    (workdir / ".env").write_text("LMS_SYNC_MOODLE__READ_TIMEOUT=abc\n", encoding="utf-8")
    assert main(["config"]) == 2
    err = capsys.readouterr().err
    assert "config/settings.toml: moodle.concurrency: error: Input should be greater than or equal to 1" in err
    assert ".env: moodle.read_timeout: error: Input should be a valid number" in err


def test_unparsable_nested_environment_value(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LMS_SYNC_MOODLE", "notjson")
    assert main(["config"]) == 2
    assert "hint: nested values in LMS_SYNC_* variables are JSON" in capsys.readouterr().err


def test_settings_file_written_with_a_bom_is_read(workdir: Path) -> None:
    (workdir / "config" / "settings.toml").write_bytes(b"\xef\xbb\xbf[moodle]\nurl = 'https://formation.ena.tn/'\n")
    assert load_settings().moodle.url == "https://formation.ena.tn"


def test_settings_file_syntax_error_names_the_line(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "config" / "settings.toml").write_text('[moodle]\nurl = "https://x.tn\n', encoding="utf-8")
    assert main(["config"]) == 2
    assert "config/settings.toml: line 2, column 20: error: not valid TOML" in capsys.readouterr().err


@pytest.mark.parametrize("variable", ["LMS_SYNC_MOODLE__URL", "LMS_SYNC_FEED__PUBLIC_URL"])
def test_a_url_with_a_password_is_refused_without_printing_it(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "https://admin:s3cretpass@formation.ena.tn/lms-sync/sessions.ics")
    assert main(["config"]) == 2
    captured = capsys.readouterr()
    assert "must not hold a user name or password (user:pass@)" in captured.err
    assert "s3cretpass" not in captured.err + captured.out and "admin:" not in captured.err


def test_a_misspelt_key_inside_a_section_variable_is_an_error(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a known section the variable is read, so a wrong key is refused (not just warned about)."""
    monkeypatch.setenv("LMS_SYNC_SERVE__REPORT_TOKEN", "x")
    assert main(["validate"]) == 2
    assert ("environment: serve.report_token: error: unknown key 'report_token' in [serve]; did you mean "
            "'report_tokens'?") in capsys.readouterr().err
