"""``lms-sync check``: the table, the capability probes and the exit code, against the fake Moodle and recordings.

The fake checks capabilities where Moodle 5.1 does (``tests/fakes/moodle.py``); the same cases run
against the real test Moodle in ``tests/realmoodle/test_check_real.py``.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from fixtures_moodle import ENDPOINT, TOKEN, load_fixture, make_settings, replay
from tests.fakes.moodle import BASE_URL, FakeMoodle
from tests.fakes.moodle import TOKEN as FAKE_TOKEN
from tests.fakes.moodle_completion import add_completion, add_participant

from lms_sync.commands.check import CHECK_HELP, render_check
from lms_sync.moodle.check import run_check
from lms_sync.moodle.probes import CourseRef
from lms_sync.moodle.client import MoodleClient
from lms_sync.moodle.functions import ALL_FEATURES, CORE_FEATURES, FUNCTIONS, Feature, capabilities_for
from lms_sync.moodle.probes import PROBED
from lms_sync.settings import MoodleSettings

PROGRAMME = CourseRef("dgidt-ia-2020", "DGIDT-IA-2020")
# Needed only in a situation the default site does not have (a hidden course, separate groups), or
# proved by another row: their absence is "not probed" there, and tested on their own below.
CONDITIONAL = {"moodle/course:viewhiddencourses", "webservice/rest:use",
               "moodle/reportbuilder:view"}


def run(settings: MoodleSettings, course: CourseRef | None = PROGRAMME,
        features: frozenset[Feature] = CORE_FEATURES) -> tuple[int, str]:
    """Run the check; return the exit code and the printed table."""
    result = run_check(settings, course, features, client_factory=lambda s: MoodleClient(s, sleep=lambda _s: None))
    out = io.StringIO()
    render_check(result, out)
    text = out.getvalue()
    assert TOKEN not in text and FAKE_TOKEN not in text
    return result.exit_code, text


def row(text: str, check_name: str) -> list[str]:
    """The cells of one table row: name, result, detail."""
    for line in text.splitlines():
        if line.startswith("  " + check_name + " "):
            rest = line[len("  " + check_name):].strip()
            result = "not probed" if rest.startswith("not probed") else rest.split(None, 1)[0]
            return [check_name, result, rest[len(result):].strip()]
    raise AssertionError(f"no row {check_name!r} in:\n{text}")


@pytest.fixture
def site() -> Iterator[FakeMoodle]:
    """The fake site with the course an ENA teacher made by hand (no idnumber) and two participants."""
    fake = FakeMoodle()
    add_completion(fake)
    fake.categories[2] = {"id": 2, "name": "Intelligence artificielle", "idnumber": "", "description": "",
                          "descriptionformat": 1, "parent": 0}
    fake.courses[20] = {"id": 20, "fullname": "IA (à la main)", "shortname": "DGIDT-IA-2020", "categoryid": 2,
                        "idnumber": "", "summary": "", "summaryformat": 1, "format": "topics", "startdate": 1,
                        "enddate": 0, "visible": 1, "enablecompletion": 1}
    add_participant(fake, 20, "hlefevre", "Hélène", "Lefèvre")
    add_participant(fake, 20, "fmenard", "François", "Ménard")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        yield fake


def fake_settings(**overrides: Any) -> MoodleSettings:
    """Settings pointing at the fake site."""
    return MoodleSettings(url=BASE_URL, token=FAKE_TOKEN, retry_attempts=3, **overrides)


def test_the_documented_role_passes_on_a_hand_made_course(site: FakeMoodle) -> None:
    """The shipped role: every capability ok or, where the site cannot show it, not probed; exit 0."""
    code, text = run(fake_settings())
    assert code == 0, text
    assert "made by hand; push adopts it and gives it idnumber dgidt-ia-2020" in row(text, "course")[2]
    for capability in capabilities_for(CORE_FEATURES):
        expected = "not probed" if capability in CONDITIONAL else "ok"
        if capability != "webservice/rest:use":
            assert row(text, capability)[1] == expected, capability
    assert "What to do" not in text and "All lms_sync needs is in place." in text


def test_check_changes_nothing(site: FakeMoodle) -> None:
    """The write probes are refused by Moodle as invalid: no record is created or changed."""
    before = copy.deepcopy((site.categories, site.courses, site.users, site.enrolments, site.events))
    run(fake_settings())
    assert (site.categories, site.courses, site.users, site.enrolments, site.events) == before
    assert site.write_attempts and not site.write_calls  # it probed with writes Moodle refused


@pytest.mark.parametrize("capability", sorted(set(capabilities_for(CORE_FEATURES)) - CONDITIONAL - {"moodle/site:accessallgroups"}))
def test_each_missing_capability_is_named(site: FakeMoodle, capability: str) -> None:
    """An account lacking any one capability of the role gets its row FAIL and a line saying what to add."""
    site.capabilities -= {capability}
    code, text = run(fake_settings())
    assert code == 1, text
    assert row(text, capability)[1] == "FAIL"
    failed = [line.split()[0] for line in text.splitlines() if line.split()[1:2] == ["FAIL"]]
    assert failed == [capability]  # and nothing else is blamed
    todo = text.split("What to do:")[1]
    assert f"give the sync account's role {capability}" in todo or (
        f"give the sync account's role, at system level: {capability} " in todo
        and "deploy/moodle/lms_sync-role.xml" in todo)


def test_an_account_with_rest_and_course_view_only_fails(site: FakeMoodle) -> None:
    """The issue's case: webservice/rest:use and moodle/course:view only. Exit 1, each gap named."""
    site.capabilities = {"webservice/rest:use", "moodle/course:view", "moodle/category:viewcourselist"}
    code, text = run(fake_settings())
    assert code == 1, text
    for capability in ("moodle/course:update", "moodle/course:create", "moodle/calendar:manageentries",
                       "moodle/user:create", "enrol/manual:enrol", "report/completion:view"):
        assert row(text, capability)[1] == "FAIL", capability
    # What Moodle checks later cannot be told apart: said so, not claimed.
    assert row(text, "moodle/course:changesummary")[1] == "not probed"
    assert "moodle/course:update is missing" in row(text, "moodle/course:changesummary")[2]


def test_hidden_course_needs_viewhiddencourses(site: FakeMoodle) -> None:
    """A hidden course: without viewhiddencourses the account cannot enter it, and check says why."""
    site.courses[20]["visible"] = 0
    assert run(fake_settings())[0] == 0
    site.capabilities -= {"moodle/course:viewhiddencourses"}
    code, text = run(fake_settings())
    assert code == 1 and row(text, "moodle/course:viewhiddencourses")[1] == "FAIL"
    assert "is hidden" in row(text, "moodle/course:viewhiddencourses")[2]


def test_accessallgroups_fails_only_where_groups_separate(site: FakeMoodle) -> None:
    """Missing accessallgroups is a warning in a course without groups, a FAIL once it separates them."""
    site.capabilities -= {"moodle/site:accessallgroups"}
    code, text = run(fake_settings())
    assert code == 0 and row(text, "moodle/site:accessallgroups")[1] == "warn"
    site.courses[20]["groupmode"] = 1
    code, text = run(fake_settings())
    assert code == 1 and row(text, "moodle/site:accessallgroups")[1] == "FAIL"


def test_no_course_yet(site: FakeMoodle) -> None:
    """Before the first push: the course rows say push creates it; in-course capabilities are not probed."""
    del site.courses[20]
    code, text = run(fake_settings())
    assert code == 0, text
    assert "push` creates it" in row(text, "course")[2]
    assert row(text, "report/completion:view")[1] == "not probed"
    assert row(text, "moodle/course:update")[1] == "ok"  # probed on the front page instead
    assert "front page" in row(text, "moodle/course:update")[2]


def test_missing_functions_stop_before_the_probes(site: FakeMoodle) -> None:
    """Functions missing from the service are named; capabilities are not probed through them."""
    del site.handlers["core_user_create_users"], site.handlers["enrol_manual_enrol_users"]
    code, text = run(fake_settings())
    assert code == 1 and row(text, "functions")[1] == "FAIL"
    assert "core_user_create_users, enrol_manual_enrol_users" in text.split("What to do:")[1]
    assert "moodle/user:create" not in text


def test_every_capability_has_a_probe() -> None:
    """No capability of the role goes unchecked without a row saying so."""
    assert set(capabilities_for(ALL_FEATURES)) <= PROBED


def test_site_admin_token_is_a_warning(site: FakeMoodle) -> None:
    """An administrator's token: capabilities are not probed (an admin has them all), and it says so."""
    original = site.handlers["core_webservice_get_site_info"]
    site.handlers["core_webservice_get_site_info"] = lambda fake, params: {**original(fake, params),
                                                                            "userissiteadmin": True}
    code, text = run(fake_settings())
    assert code == 0 and row(text, "account")[1] == "warn"
    assert "moodle/course:update" not in text


# ----------------------------------------------------------------------------- from the recordings


def check_recorded(course: CourseRef | None = PROGRAMME, **overrides: object) -> tuple[int, str]:
    """Run the check against answers replayed from the recordings."""
    return run(make_settings(**overrides), course, CORE_FEATURES | ({Feature.REPORT_BUILDER}
               if overrides.get("completion_report_id") else set()))


def site_info(drop: tuple[str, ...] = ()) -> dict[str, object]:
    """The recorded site info with every function lms_sync calls, minus ``drop``."""
    info = copy.deepcopy(load_fixture("core_webservice_get_site_info.ok.json")["response"])
    info["functions"] = [{"name": f.name, "version": "x"} for f in FUNCTIONS if f.name not in drop]
    return info


@responses.activate
def test_bad_token() -> None:
    """A refused token: exit 3, and point at the token setting."""
    replay(responses.mock, load_fixture("error.invalid_token.json"))
    code, text = check_recorded()
    assert code == 3, text
    assert row(text, "reachable")[1] == "ok" and row(text, "token")[1] == "FAIL"
    assert "LMS_SYNC_MOODLE__TOKEN" in text


@responses.activate
def test_wrong_url_html() -> None:
    """An HTML page instead of the API: exit 3, and point at the URL setting."""
    replay(responses.mock, load_fixture("error.wrong_url.prefixed_path.json"))
    code, text = check_recorded()
    assert code == 3, text
    assert row(text, "reachable")[1] == "FAIL" and "LMS_SYNC_MOODLE__URL" in text


@responses.activate
def test_web_services_disabled() -> None:
    """The empty 403: exit 3, say how to enable web services."""
    replay(responses.mock, load_fixture("error.webservices_disabled.json"))
    code, text = check_recorded()
    assert code == 3 and row(text, "web services")[1] == "FAIL" and "enable web services" in text


@responses.activate
def test_unreachable() -> None:
    """Connection refused: exit 3 after one attempt."""
    responses.add(responses.POST, ENDPOINT, body=requests.ConnectionError("refused"))
    code, text = check_recorded()
    assert code == 3, text
    assert row(text, "reachable")[1] == "FAIL"
    assert len(responses.calls) == 1


def test_unconfigured_url() -> None:
    """No URL: exit 2 naming the variable."""
    code, text = check_recorded(url=None)
    assert code == 2 and "LMS_SYNC_MOODLE__URL" in text


@responses.activate
def test_report_builder_not_in_audience() -> None:
    """With completion_report_id set, the report is read once and its audience checked."""
    responses.add(responses.POST, ENDPOINT, json=site_info())
    replay(responses.mock, load_fixture("core_reportbuilder_retrieve_report.not_in_audience.error.json"))
    result = run_check(make_settings(completion_report_id=1), None, {Feature.SITE, Feature.REPORT_BUILDER},
                       client_factory=lambda s: MoodleClient(s, sleep=lambda _s: None))
    assert result.exit_code == 1
    report = next(f for f in result.findings if f.check == "report builder")
    assert report.status == "FAIL" and "audience" in (report.todo or "")


@responses.activate
def test_site_stopping_mid_check_exits_3_and_names_the_step() -> None:
    """The site stops answering after site info: the row of that step says so, exit 3."""
    responses.add(responses.POST, ENDPOINT, json=site_info())
    responses.add(responses.POST, ENDPOINT, status=503, body="")
    code, text = check_recorded()
    assert code == 3, text
    assert row(text, "course")[1] == "FAIL" and "503" in row(text, "course")[2]
    assert "lms_sync cannot use this Moodle site" in text


def test_help_lists_every_function_and_capability_and_the_preset() -> None:
    """The help tells the admin what to create: the preset, each capability, each function, exit codes."""
    for function in FUNCTIONS:
        assert function.name in CHECK_HELP
    for capability in capabilities_for(ALL_FEATURES):
        assert capability in CHECK_HELP
    assert "deploy/moodle/lms_sync-role.xml" in CHECK_HELP and "Manage tokens" in CHECK_HELP
    assert "70" in CHECK_HELP


def test_table_is_aligned(site: FakeMoodle) -> None:
    """The result column starts at the same offset on every row, under its header."""
    _, text = run(fake_settings())
    lines = text.splitlines()
    header = next(line for line in lines if line.lstrip().startswith("check "))
    column = header.index("result")
    rows = lines[lines.index(header) + 2:]
    rows = rows[: rows.index("")]
    assert rows and all(line[column:].startswith(("ok", "FAIL", "warn", "skip", "not probed")) for line in rows)
    assert all(line[column - 1] == " " for line in rows)


@pytest.mark.parametrize("course", [True, False])
def test_cohorts_need_managegroups(site: FakeMoodle, course: bool) -> None:
    """A roster with cohorts: managegroups is probed in the course (the front page before it exists)."""
    if not course:
        del site.courses[20]
    features = CORE_FEATURES | {Feature.COHORTS}
    code, text = run(fake_settings(), features=features)
    assert code == 0, text
    where = "course DGIDT-IA-2020" if course else "the site's front page"
    assert row(text, "moodle/course:managegroups")[1:] == ["ok", f"manages the groups of {where}"]
    assert "moodle/course:managegroups" not in run(fake_settings())[1]  # no cohorts: not asked for
    site.capabilities -= {"moodle/course:managegroups"}
    code, text = run(fake_settings(), features=features)
    assert code == 1 and row(text, "moodle/course:managegroups")[1] == "FAIL"
