"""The shipped deployment files agree with each other, and the systemd units are hardened."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.conftest import REPO

DEPLOY = REPO / "deploy"
UNITS = ("lms-sync.service", "lms-sync-serve.service")
SETTINGS = "/etc/lms-sync/settings.toml"


def unit(name: str) -> dict[str, list[str]]:
    """A unit file's keys and their values (a key may repeat)."""
    values: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd" / name).read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_timer_cron_and_serve_share_one_settings_file_one_user_one_state_folder() -> None:
    """The old cron line used /srv/lms-sync/var while serve read /var/lib/lms-sync: never again."""
    install = (DEPLOY / "install.sh").read_text(encoding="utf-8")
    for name in UNITS:
        values = unit(name)
        assert f"--settings {SETTINGS} " in values["ExecStart"][0] + " ", name
        assert values["User"] == ["lms-sync"] and values["StateDirectory"] == ["lms-sync"], name
        assert values["WorkingDirectory"] == ["/var/lib/lms-sync"], name
        assert "/var/lib/lms-sync" in values["ReadWritePaths"], name
    cron = [line for line in (DEPLOY / "cron" / "lms-sync").read_text().splitlines() if re.match(r"[0-9*]", line)]
    assert len(cron) == 1 and cron[0].split()[5] == "lms-sync"
    assert cron[0].split()[6] == "/usr/local/lib/lms-sync/nightly"
    assert "/usr/local/bin/lms-sync sync" in (DEPLOY / "cron" / "nightly").read_text()
    # The command both cron and admins use runs lms_sync with that same file, as that same user.
    assert 'ETC=/etc/lms-sync' in install and "--settings $ETC/settings.toml" in install
    assert 'exec runuser -u $SERVICE_USER' in install
    assert 'state_path = "$STATE/lms_sync.sqlite3"' in install and "STATE=/var/lib/lms-sync" in install


def test_the_unit_gives_the_token_as_a_credential_file() -> None:
    values = unit("lms-sync.service")
    assert values["LoadCredential"] == ["moodle-token:/etc/lms-sync/moodle-token"]
    assert "LMS_SYNC_MOODLE__TOKEN_FILE=%d/moodle-token" in values["Environment"]
    assert not any("TOKEN=" in value for value in values["Environment"])  # never the token itself


@pytest.mark.parametrize("script", ["install.sh", "cron/nightly"])
def test_shell_scripts_parse(script: str) -> None:
    path = DEPLOY / script
    assert os.access(path, os.X_OK)
    subprocess.run(["sh", "-n", str(path)], check=True)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed (package systemd)")
@pytest.mark.parametrize("name", UNITS)
def test_units_score_2_or_better_in_systemd_analyze_security(name: str) -> None:
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(DEPLOY / "systemd" / name)],
                            capture_output=True, text=True, check=False)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    if found is None and "--offline" in result.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    assert found is not None, result.stdout + result.stderr
    assert float(found[1]) <= 2.0, f"{name} scores {found[1]}:\n" + "\n".join(
        line for line in result.stdout.splitlines() if "✗" in line)
