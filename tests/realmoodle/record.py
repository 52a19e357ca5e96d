"""Record request/answer pairs from the real test Moodle into ``tests/recordings``, in the recordings' format.

    sudo tests/realmoodle/site.sh reset && .venv/bin/python -m tests.realmoodle.record [PREFIX...]

With prefixes (``core_group_``), only the cases whose file name starts with one of them.

For the shapes the first recordings did not have: the answers of check's capability probes (with
the lms_sync role and with the REST-only account), the calls push added (updating a category,
both course dates), and the cohorts' group calls as push and pull make them. Each file names who called, what was sent and what Moodle answered; the token
is stored as ``REDACTED``. The site is reset before and after (some calls write).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from lms_sync.moodle.transport import flatten_params
from tests.conftest import RECORDINGS
from tests.realmoodle.conftest import SITE_SH, _running_site

RELEASE = "5.1+ (Build: 20251017)"
BAD_DATES = {"startdate": 2, "enddate": 1}


# Parameters, or a function of the answers recorded so far (by file name) for what an earlier call made.
Params = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]
COHORT = "Responsables informatiques & systèmes d'information"


def _group_id(answers: dict[str, Any]) -> int:
    return int(answers["core_group_create_groups.cohort.ok.json"][0]["id"])


def cases(site: dict[str, Any]) -> list[tuple[str, str, str, Params, str]]:
    """(file name, token, wsfunction, parameters, note) of each exchange to record."""
    course = site["hand_made"]["course_id"]
    agents = [site["students"]["agent.0001"], site["students"]["agent.0002"]]
    category = site["hand_made"]["category_id"]
    sync_id = site["accounts"]["sync"]
    return [
        ("core_course_get_categories.criteria_idnumber.wslimited.error.json", "limited", "core_course_get_categories",
         {"criteria": [{"key": "idnumber", "value": "dgidt-cat-ia"}]},
         "Searching categories by idnumber without moodle/category:manage: criteriaerror. check's probe for it."),
        ("core_course_get_categories.criteria_visible.wslimited.error.json", "limited", "core_course_get_categories",
         {"criteria": [{"key": "visible", "value": 0}]},
         "Searching by visibility without moodle/category:viewhiddencategories: criteriaerror."),
        ("core_course_create_categories.empty_name.error.json", "sync", "core_course_create_categories",
         {"categories": [{"name": "", "parent": 0}]},
         "An empty name is refused after the moodle/category:manage check: nothing created."),
        ("core_course_create_categories.empty_name.wslimited.error.json", "limited", "core_course_create_categories",
         {"categories": [{"name": "", "parent": 0}]}, "The same without moodle/category:manage: nopermissions."),
        ("core_course_update_categories.set_idnumber.ok.json", "sync", "core_course_update_categories",
         {"categories": [{"id": category, "idnumber": "dgidt-cat-ia"}]},
         "Push adopting a category made by hand: sets its idnumber. The answer is null."),
        ("core_course_create_courses.empty_fullname.error.json", "sync", "core_course_create_courses",
         {"courses": [{"fullname": "", "shortname": "lms-sync-probe", "categoryid": category}]},
         "An empty full name is refused right after the moodle/course:create check: nothing created."),
        ("core_course_create_courses.end_before_start.error.json", "sync", "core_course_create_courses",
         {"courses": [{"fullname": "lms-sync-probe", "shortname": "lms-sync-probe", "idnumber": "lms-sync-probe",
                       "categoryid": category, **BAD_DATES}]},
         "Shortname and idnumber are free, the end is before the start: enddatebeforestartdate, nothing created "
         "(a taken shortname or idnumber would have answered shortnametaken / courseidnumbertaken first)."),
        ("core_course_update_courses.bad_dates.warning.json", "sync", "core_course_update_courses",
         {"courses": [{"id": course, **BAD_DATES}]},
         "The moodle/course:update probe: allowed, then refused as a warning (enddatebeforestartdate)."),
        ("core_course_update_courses.end_date_alone.warning.json", "sync", "core_course_update_courses",
         {"courses": [{"id": course, "enddate": 1611183600}]},
         "An end date sent without a start date: warning nostartdatenoenddate, nothing changed. Push sends both."),
        ("core_course_update_courses.site_course.warning.json", "sync", "core_course_update_courses",
         {"courses": [{"id": 1, "summary": "<p>lms-sync-probe</p>", **BAD_DATES}]},
         "The front page (id 1): every capability is checked, then warning invalidcourse. No course needed."),
        ("core_course_update_courses.site_course.wslimited.warning.json", "limited", "core_course_update_courses",
         {"courses": [{"id": 1, "summary": "<p>lms-sync-probe</p>", **BAD_DATES}]},
         "The same without moodle/course:update: warning nopermissions (Update course settings)."),
        ("core_user_update_users.nonexistent_id.warning.json", "sync", "core_user_update_users",
         {"users": [{"id": 999999999}]}, "The moodle/user:update probe: warning invaliduserid, nothing changed."),
        ("core_user_update_users.nonexistent_id.wslimited.error.json", "limited", "core_user_update_users",
         {"users": [{"id": 999999999}]}, "Without moodle/user:update: nopermissions before any lookup."),
        ("enrol_manual_enrol_users.front_page.error.json", "sync", "enrol_manual_enrol_users",
         {"enrolments": [{"roleid": 5, "userid": sync_id, "courseid": 1}]},
         "The enrolment probe on the front page: enrol and role assignment allowed, then wsnoinstance."),
        ("core_user_get_users_by_field.guest.ok.json", "sync", "core_user_get_users_by_field",
         {"field": "id", "values": [1]},
         "The guest account seen by the lms_sync role: e-mail present (moodle/site:viewuseridentity)."),
        ("core_user_get_users_by_field.guest.wslimited.ok.json", "limited", "core_user_get_users_by_field",
         {"field": "id", "values": [1]}, "Without moodle/user:viewdetails: nobody is returned."),
        ("core_course_get_courses_by_field.shortname_hand_made.ok.json", "sync", "core_course_get_courses_by_field",
         {"field": "shortname", "value": "DGIDT-IA-2020"},
         "The course an ENA teacher made by hand: the programme's shortname, no idnumber (null)."),
        # Cohorts: one course group per audience, marked by its idnumber.
        ("core_group_get_course_groups.site_course.ok.json", "sync", "core_group_get_course_groups",
         {"courseid": 1}, "check's moodle/course:managegroups probe before the course exists: the front page's "
         "groups (none)."),
        ("core_group_get_course_groups.site_course.wslimited.error.json", "limited", "core_group_get_course_groups",
         {"courseid": 1}, "The same without moodle/course:managegroups: nopermissions."),
        ("core_group_create_groups.cohort.ok.json", "sync", "core_group_create_groups",
         {"groups": [{"courseid": course, "name": COHORT, "description": "",
                      "idnumber": "lms-sync-cohort:responsables-informatiques-systemes-d-information"}]},
         "Push creating a cohort's group: the name is the roster's label, the idnumber lms_sync's key."),
        ("core_group_get_course_groups.cohort.ok.json", "sync", "core_group_get_course_groups", {"courseid": course},
         "The course's groups as push and pull read them: the name comes back through format_string (see "
         "whether & is escaped), the idnumber as sent."),
        ("core_group_add_group_members.cohort.ok.json", "sync", "core_group_add_group_members",
         lambda answers: {"members": [{"groupid": _group_id(answers), "userid": uid} for uid in agents]},
         "Two enrolled agents put in the cohort's group: null."),
        ("core_group_get_group_members.cohort.ok.json", "sync", "core_group_get_group_members",
         lambda answers: {"groupids": [_group_id(answers)]}, "The cohort's members, as pull reads them."),
        ("core_group_delete_group_members.cohort.ok.json", "sync", "core_group_delete_group_members",
         lambda answers: {"members": [{"groupid": _group_id(answers), "userid": agents[0]}]},
         "An agent moved to another cohort leaves this group: null."),
        ("core_group_create_groups.cohort_again.error.json", "sync", "core_group_create_groups",
         {"groups": [{"courseid": course, "name": "Autre nom", "description": "",
                      "idnumber": "lms-sync-cohort:responsables-informatiques-systemes-d-information"}]},
         "The cohort's idnumber again (a create whose answer was lost, sent once more): idnumbertaken, nothing "
         "created. Push looks the group up instead."),
    ]


def record(site: Any, name: str, who: str, wsfunction: str, params: dict[str, Any], note: str) -> dict[str, Any]:
    """One exchange, made with the site's token and stored without it."""
    fields = [("wstoken", site.token(who)), ("wsfunction", wsfunction), ("moodlewsrestformat", "json"),
              *flatten_params(params)]
    answer = requests.post(site.url + "/webservice/rest/server.php", data=fields, timeout=60)
    try:
        body: Any = answer.json()
    except ValueError:
        body = answer.text
    flat = {"wstoken": "REDACTED", "wsfunction": wsfunction, "moodlewsrestformat": "json",
            **{k: (int(v) if v.lstrip("-").isdigit() else v) for k, v in flatten_params(params)}}
    return {"moodle_release": RELEASE, "wsfunction": wsfunction, "http_method": "POST",
            "url_path": "/webservice/rest/server.php", "request_params": flat, "request_params_structured": params,
            "http_status": answer.status_code, "response_content_type": answer.headers.get("Content-Type", ""),
            "response": body, "note": f"{note} Recorded by tests/realmoodle/record.py ({who} token)."}


def main() -> int:
    """Reset the site, record every case, reset again."""
    subprocess.run([str(SITE_SH), "reset"], check=True)
    site = _running_site()
    if site is None:
        print("no test site answers: run `sudo tests/realmoodle/site.sh up` first", file=sys.stderr)
        return 1
    answers: dict[str, Any] = {}
    prefixes = tuple(sys.argv[1:])
    for name, who, wsfunction, params, note in cases(site.info):
        if prefixes and not name.startswith(prefixes):
            continue
        data = record(site, name, who, wsfunction, params(answers) if callable(params) else params, note)
        answers[name] = data["response"]
        path = Path(RECORDINGS) / name
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"{name}: {json.dumps(data['response'], ensure_ascii=False)[:100]}")
    subprocess.run([str(SITE_SH), "reset"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
