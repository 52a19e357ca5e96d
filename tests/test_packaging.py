"""What a packager or a new admin sees first: the licence, the package metadata, what git ignores."""

from __future__ import annotations

import shutil
import subprocess
import tomllib

import pytest

from tests.conftest import REPO


def test_the_licence_the_metadata_names_is_shipped() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")
    assert any(c.startswith("Programming Language :: Python :: 3.11") for c in project["classifiers"])
    assert project["urls"]["Homepage"].startswith("https://")


@pytest.mark.parametrize("path", ["config/settings.toml", "var/lms_sync.sqlite3", "var/lms_sync.sqlite3-wal",
                                  "var/reports/completion.xlsx", ".env"])
def test_local_settings_and_state_are_never_committed(path: str) -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO, check=False)
    assert result.returncode == 0, f"{path} is not ignored by git"


def test_report_templates_and_schemas_are_package_data() -> None:
    """An installed lms_sync (not an editable checkout) has every template, stylesheet and schema it reads."""
    from fnmatch import fnmatch

    globs = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    package = REPO / "lms_sync"
    needed = [p.relative_to(package).as_posix() for p in (package / "reports").rglob("*")
              if p.is_file() and p.suffix in (".j2", ".css", ".json")]
    assert len(needed) >= 5
    assert [p for p in needed if not any(fnmatch(p, g) for g in globs["lms_sync"])] == []
