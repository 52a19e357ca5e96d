"""``run_check``: the table and exit code for a good token, missing functions, bad token, wrong URL, no site."""

from __future__ import annotations

import copy
import io
import json

import requests
import responses
from fixtures_moodle import ENDPOINT, TOKEN, load_fixture, make_settings, replay

from lms_sync.moodle.check import CHECK_HELP, OPTIONAL_FUNCTIONS, REQUIRED_FUNCTIONS, run_check
from lms_sync.moodle.client import MoodleClient
from lms_sync.settings import MoodleSettings, Settings


def check(course_idnumber: str | None = "dgidt-ia-2020", **overrides: object) -> tuple[int, str]:
    """Run the check on the fake site; return the exit code and the printed text."""
    settings = Settings(moodle=make_settings(**overrides))
    out = io.StringIO()

    def factory(s: MoodleSettings) -> MoodleClient:
        return MoodleClient(s, sleep=lambda _s: None)

    code = run_check(settings, out, course_idnumber, client_factory=factory)
    text = out.getvalue()
    assert TOKEN not in text
    return code, text


def site_info(drop: tuple[str, ...] = ()) -> dict[str, object]:
    """The recorded site info with all needed functions, minus ``drop``."""
    info = copy.deepcopy(load_fixture("core_webservice_get_site_info.ok.json")["response"])
    names = {f["name"] for f in info["functions"]}
    needed = [*REQUIRED_FUNCTIONS, *OPTIONAL_FUNCTIONS]
    info["functions"] += [{"name": n, "version": "x"} for n in needed if n not in names]
    info["functions"] = [f for f in info["functions"] if f["name"] not in drop]
    return info


def row(text: str, check_name: str) -> list[str]:
    """The cells of one table row."""
    for line in text.splitlines():
        cells = line.split()
        if line.startswith("  " + check_name + " ") and len(cells) >= 2:
            return [check_name, *line[len("  " + check_name):].split(None, 1)]
    raise AssertionError(f"no row {check_name!r} in:\n{text}")


@responses.activate
def test_good_token_all_functions() -> None:
    """Everything in place: every row ok, exit 0."""
    responses.add(responses.POST, ENDPOINT, json=site_info())
    replay(responses.mock, load_fixture("core_course_get_courses_by_field.idnumber.ok.json"))
    code, text = check()
    assert code == 0, text
    assert row(text, "token")[1] == "ok" and "wsuser" in row(text, "token")[2]
    assert "DGIDT Lab Moodle, Moodle 5.1+ (Build: 20251017)" in row(text, "site")[2]
    assert row(text, "functions")[1] == "ok"
    assert row(text, "course")[1] == "ok" and row(text, "course completion")[1] == "ok"
    assert "What to do" not in text


@responses.activate
def test_token_missing_functions() -> None:
    """Missing functions are named, with where to add them; exit 1."""
    responses.add(responses.POST, ENDPOINT, json=site_info(drop=("core_user_create_users", "enrol_manual_enrol_users")))
    replay(responses.mock, load_fixture("core_course_get_courses_by_field.idnumber.ok.json"))
    code, text = check()
    assert code == 1, text
    assert row(text, "functions")[1] == "FAIL"
    assert "core_user_create_users, enrol_manual_enrol_users" in text.split("What to do:")[1]


@responses.activate
def test_course_without_completion() -> None:
    """A course with completion off is reported; exit 1."""
    responses.add(responses.POST, ENDPOINT, json=site_info())
    course = load_fixture("core_course_get_courses_by_field.idnumber.ok.json")["response"]
    course["courses"][0]["enablecompletion"] = 0
    responses.add(responses.POST, ENDPOINT, body=json.dumps(course), content_type="application/json")
    code, text = check()
    assert code == 1 and row(text, "course completion")[1] == "FAIL"


@responses.activate
def test_course_missing() -> None:
    """No course with the programme's idnumber: exit 1, and say push creates it."""
    responses.add(responses.POST, ENDPOINT, json=site_info())
    replay(responses.mock, load_fixture("core_course_get_courses_by_field.not_found.ok.json"))
    code, text = check("does-not-exist")
    assert code == 1 and row(text, "course")[1] == "FAIL" and "lms-sync push" in text


@responses.activate
def test_bad_token() -> None:
    """A refused token: exit 3, and point at the token setting."""
    replay(responses.mock, load_fixture("error.invalid_token.json"))
    code, text = check()
    assert code == 3, text
    assert row(text, "reachable")[1] == "ok" and row(text, "token")[1] == "FAIL"
    assert "LMS_SYNC_MOODLE__TOKEN" in text


@responses.activate
def test_wrong_url_html() -> None:
    """An HTML page instead of the API: exit 3, and point at the URL setting."""
    replay(responses.mock, load_fixture("error.wrong_url.prefixed_path.json"))
    code, text = check()
    assert code == 3, text
    assert row(text, "reachable")[1] == "FAIL" and "LMS_SYNC_MOODLE__URL" in text


@responses.activate
def test_web_services_disabled() -> None:
    """The empty 403: exit 3, say how to enable web services."""
    replay(responses.mock, load_fixture("error.webservices_disabled.json"))
    code, text = check()
    assert code == 3 and row(text, "web services")[1] == "FAIL" and "enable web services" in text


@responses.activate
def test_unreachable() -> None:
    """Connection refused: exit 3 after one attempt."""
    responses.add(responses.POST, ENDPOINT, body=requests.ConnectionError("refused"))
    code, text = check()
    assert code == 3, text
    assert row(text, "reachable")[1] == "FAIL"
    assert len(responses.calls) == 1


def test_unconfigured_url() -> None:
    """No URL: exit 2 naming the variable."""
    code, text = check(url=None)
    assert code == 2 and "LMS_SYNC_MOODLE__URL" in text


@responses.activate
def test_report_builder_checked_when_configured() -> None:
    """With completion_report_id set, the report is read once and its audience checked."""
    responses.add(responses.POST, ENDPOINT, json=site_info())
    replay(responses.mock, load_fixture("core_reportbuilder_retrieve_report.not_in_audience.error.json"))
    code, text = check(None, completion_report_id=1)
    assert code == 1 and row(text, "report builder")[1] == "FAIL" and "audience" in text


def test_help_lists_every_function_and_the_rest_capability() -> None:
    """The help tells the admin what to create, function by function."""
    for name in REQUIRED_FUNCTIONS:
        assert name in CHECK_HELP
    assert "webservice/rest:use" in CHECK_HELP and "Manage tokens" in CHECK_HELP


def test_table_is_aligned() -> None:
    """The result column starts at the same offset on every row, under its header."""
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, ENDPOINT, json=site_info())
        replay(rsps, load_fixture("core_course_get_courses_by_field.idnumber.ok.json"))
        _, text = check()
    lines = text.splitlines()
    header = next(line for line in lines if line.lstrip().startswith("check "))
    column = header.index("result")
    rows = lines[lines.index(header) + 2 :]
    rows = rows[: rows.index("")]
    assert rows and all(line[column:].split()[0] in {"ok", "FAIL", "warn", "skip"} for line in rows)
    assert all(line[column - 1] == " " for line in rows)


@responses.activate
def test_report_builder_timeout_still_prints_the_table() -> None:
    """A transient fault while reading the report is a FAIL row, not an escaped exception; exit 3."""
    responses.add(responses.POST, ENDPOINT, json=site_info())
    responses.add(responses.POST, ENDPOINT, body=requests.ReadTimeout("slow"))
    replay(responses.mock, load_fixture("core_course_get_courses_by_field.idnumber.ok.json"))
    code, text = check(completion_report_id=1)
    assert code == 3, text
    assert row(text, "report builder")[1] == "FAIL" and "no answer" in row(text, "report builder")[2]
    assert row(text, "course")[1] == "ok"  # the checks after it still ran
    assert "lms_sync cannot use this Moodle site" in text


@responses.activate
def test_report_builder_unexpected_answer_is_a_fail_row() -> None:
    """Any other Moodle error on the report (here an unknown exception) is reported in the table; exit 1."""
    responses.add(responses.POST, ENDPOINT, json=site_info())
    responses.add(responses.POST, ENDPOINT, json={"exception": "x", "errorcode": "somethingodd", "message": "odd"})
    code, text = check(None, completion_report_id=1)
    assert code == 1, text
    assert row(text, "report builder")[1] == "FAIL" and "odd" in row(text, "report builder")[2]


@responses.activate
def test_course_lookup_failing_transiently_exits_3() -> None:
    """The site stops answering after site info: the table shows it, and the exit code says unavailable."""
    responses.add(responses.POST, ENDPOINT, json=site_info())
    responses.add(responses.POST, ENDPOINT, status=503, body="")
    code, text = check()
    assert code == 3, text
    assert row(text, "course")[1] == "FAIL" and "503" in row(text, "course")[2]
