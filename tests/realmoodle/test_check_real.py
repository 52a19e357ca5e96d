"""``lms-sync check`` on the real Moodle 5.1: it tells the truth about every capability, and writes nothing.

The site was set up as ``check --help`` says: the role imported from the shipped preset, the service
with the functions lms_sync declares, a token. Each test takes one capability away from that role
through Moodle's own API, as an admin would in "Define roles", and puts it back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lms_sync.moodle.functions import ALL_FEATURES, CORE_FEATURES, capabilities_for
from lms_sync.moodle.role_preset import ROLE_SHORTNAME, role_preset_xml
from tests.conftest import REPO
from tests.realmoodle.conftest import SITE_HOME, RealMoodle

# Held by every account through the Authenticated user role in a new site: the preset has them for
# sites that took them from that role. Taken from both roles to see check notice.
AUTHENTICATED_USER = {"moodle/category:viewcourselist", "moodle/reportbuilder:view"}
# Needed only when the site shows the case (a hidden course, separate groups), or proved by other rows.
CONDITIONAL = {"moodle/course:viewhiddencourses", "webservice/rest:use",
               "moodle/reportbuilder:view"}


def rows(out: str) -> dict[str, tuple[str, str]]:
    """The check table as {check: (result, detail)}."""
    table: dict[str, tuple[str, str]] = {}
    for line in out.splitlines():
        if not line.startswith("  ") or line.startswith("  -"):
            continue
        name, _, rest = line.strip().partition("  ")
        rest = rest.strip()
        result = "not probed" if rest.startswith("not probed") else rest.split(" ", 1)[0]
        table[name] = (result, rest[len(result):].strip())
    return table


@pytest.fixture
def without(real_moodle: RealMoodle) -> Iterator[Any]:
    """Take capabilities away from the lms_sync role for one test; they come back afterwards."""
    taken: list[tuple[str, str]] = []

    def take(capability: str) -> None:
        for role in (ROLE_SHORTNAME, "user") if capability in AUTHENTICATED_USER else (ROLE_SHORTNAME,):
            real_moodle.admin("capability", role, capability, "inherit")
            taken.append((role, capability))

    yield take
    for role, capability in taken:
        real_moodle.admin("capability", role, capability, "allow")


def test_the_documented_role_passes(cli: Any, fresh: RealMoodle) -> None:
    """The account with exactly the preset's role: every capability ok (or not needed here); exit 0; no write."""
    real_moodle = fresh
    before = real_moodle.snapshot()
    code, out, _ = cli("check")
    assert code == 0, out
    table = rows(out)
    for capability in capabilities_for(CORE_FEATURES):
        if capability not in CONDITIONAL:
            assert table[capability][0] == "ok", (capability, table[capability])
    assert "made by hand; push adopts it" in table["course"][1]
    assert real_moodle.snapshot() == before


def test_a_rest_only_account_fails(cli: Any, real_moodle: RealMoodle, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's account (webservice/rest:use and moodle/course:view only): exit 1, what it lacks named."""
    monkeypatch.setenv("LMS_SYNC_MOODLE__TOKEN", real_moodle.token("limited"))
    code, out, _ = cli("check")
    assert code == 1, out
    table = rows(out)
    for capability in ("moodle/course:update", "moodle/course:create", "moodle/calendar:manageentries",
                       "moodle/user:create", "moodle/user:update", "enrol/manual:enrol", "report/completion:view",
                       "report/progress:view", "moodle/category:manage", "moodle/course:enrolreview"):
        assert table[capability][0] == "FAIL", (capability, table[capability])
    assert "give the sync account's role, at system level: " in out


@pytest.mark.parametrize("capability", sorted(set(capabilities_for(CORE_FEATURES)) - CONDITIONAL - {"moodle/site:accessallgroups"}))
def test_each_capability_missing_is_named(cli: Any, without: Any, capability: str) -> None:
    """Whichever capability of the role is missing, the real Moodle's answers make check name it; exit 1."""
    without(capability)
    code, out, _ = cli("check")
    assert code == 1, out
    table = rows(out)
    assert table[capability][0] == "FAIL", out
    assert [name for name, (result, _) in table.items() if result == "FAIL"] == [capability]
    assert capability in out.split("What to do:")[1]


def test_hidden_course_needs_viewhiddencourses(cli: Any, fresh: RealMoodle, without: Any) -> None:
    """A hidden course: entering it takes viewhiddencourses, and check says so when it is missing."""
    fresh.admin("course", str(fresh.course_id), "visible", "0")
    assert cli("check")[0] == 0
    without("moodle/course:viewhiddencourses")
    code, out, _ = cli("check")
    assert code == 1 and rows(out)["moodle/course:viewhiddencourses"][0] == "FAIL", out
    fresh.reset()


def test_accessallgroups_fails_only_where_groups_separate(cli: Any, fresh: RealMoodle, without: Any) -> None:
    """Missing accessallgroups: a warning while the course has no separate groups, a FAIL once it has."""
    without("moodle/site:accessallgroups")
    code, out, _ = cli("check")
    assert code == 0 and rows(out)["moodle/site:accessallgroups"][0] == "warn", out
    fresh.admin("course", str(fresh.course_id), "groupmode", "1")
    code, out, _ = cli("check")
    assert code == 1 and rows(out)["moodle/site:accessallgroups"][0] == "FAIL", out
    fresh.reset()


def test_the_preset_imports_and_gives_exactly_the_declared_capabilities(real_moodle: RealMoodle) -> None:
    """Moodle validates the shipped preset, and the role imported from it holds what lms_sync declares."""
    shipped = REPO / "deploy" / "moodle" / "lms_sync-role.xml"
    assert shipped.read_text(encoding="utf-8") == role_preset_xml()
    copy = SITE_HOME / "setup" / "check-preset.xml"
    copy.write_bytes(shipped.read_bytes())
    copy.chmod(0o644)
    answer = real_moodle.admin("preset-valid", str(copy))
    assert answer["valid"] is True and answer["shortname"] == ROLE_SHORTNAME
    assert answer["capabilities"] == len(capabilities_for(ALL_FEATURES))
    role = real_moodle.admin("role", ROLE_SHORTNAME)
    assert role["capabilities"] == capabilities_for(ALL_FEATURES)
    assert role["allowassign"] == ["student"] and role["contextlevels"] == [10]  # CONTEXT_SYSTEM


def test_site_json_holds_no_secret_in_the_repository(real_moodle: RealMoodle) -> None:
    """The site's tokens live beside the site, never under the clone."""
    assert not (REPO / "site.json").exists()
    assert REPO not in Path(SITE_HOME).resolve().parents
    assert "tokens" in json.loads((SITE_HOME / "site.json").read_text(encoding="utf-8"))
