"""The fake Moodle answers in the recorded shapes: each recorded request is replayed against it and the
answer's keys and value types are compared with the recorded answer, so the fake cannot drift."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses
from tests.sync.conftest import FIXTURES_DIR
from tests.fakes.moodle import ENDPOINT, TOKEN, FakeMoodle
from tests.realmoodle.record import COHORT

# fixture file -> what the fake must hold before the recorded request is replayed
# The first recordings' sync role could not see e-mail addresses (no moodle/site:viewuseridentity).
WITHOUT: dict[str, set[str]] = {
    "core_user_get_users_by_field.username.ok.json": {"moodle/site:viewuseridentity"},
    "core_user_get_users_by_field.not_found.ok.json": {"moodle/site:viewuseridentity"},
    "core_group_create_groups.limited_user.error.json": {"moodle/course:managegroups"},
}
# The REST-only account of tests/realmoodle (what every authenticated user has, plus course:view).
LIMITED = {"webservice/rest:use", "moodle/course:view", "moodle/category:viewcourselist", "moodle/reportbuilder:view"}

SEEDS: dict[str, set[str]] = {
    "core_course_get_categories.by_idnumber.ok.json": {"category"},
    "core_course_create_categories.ok.json": set(),
    "core_course_get_courses_by_field.idnumber.ok.json": {"category", "course"},
    "core_course_get_courses_by_field.not_found.ok.json": {"category", "course"},
    "core_course_create_courses.ok.json": {"category"},
    "core_course_create_courses.duplicate_idnumber.error.json": {"category", "course"},
    "core_course_update_courses.ok.json": {"category", "course"},
    "core_course_update_courses.nonexistent_id.warning.json": {"category", "course"},
    "core_calendar_get_calendar_events.range.ok.json": {"category", "course", "events"},
    "core_calendar_create_calendar_events.ok.json": {"category", "course"},
    "core_calendar_create_calendar_events.unknown_field_idnumber.error.json": {"category", "course"},
    "core_calendar_create_calendar_events.nonexistent_course.error.json": {"category", "course"},
    "core_calendar_delete_calendar_events.ok.json": {"category", "course", "events"},
    "core_calendar_delete_calendar_events.nonexistent.error.json": {"category", "course", "events"},
    "core_user_get_users_by_field.username.ok.json": {"users"},
    "core_user_get_users_by_field.not_found.ok.json": {"users"},
    "core_user_create_users.ok.json": set(),
    "core_user_create_users.duplicate_username.error.json": {"users"},
    "core_user_update_users.ok.json": {"users"},
    "enrol_manual_enrol_users.ok.json": {"category", "course", "users"},
    "enrol_manual_enrol_users.nonexistent_user.error.json": {"category", "course", "users"},
    "core_enrol_get_enrolled_users.ok.json": {"category", "course", "users", "enrolments"},
    "core_enrol_get_enrolled_users.options.ok.json": {"category", "course", "users", "enrolments"},
    "core_enrol_get_enrolled_users.limit_institution.ok.json": {"category", "course", "users", "enrolments"},
    "error.invalid_token.json": set(),
    # Recorded from the real test Moodle (tests/realmoodle/record.py): check's probes and push's new calls.
    "core_course_get_categories.criteria_idnumber.wslimited.error.json": {"category"},
    "core_course_get_categories.criteria_visible.wslimited.error.json": {"category"},
    "core_course_create_categories.empty_name.error.json": set(),
    "core_course_create_categories.empty_name.wslimited.error.json": set(),
    "core_course_update_categories.set_idnumber.ok.json": {"category"},
    "core_course_create_courses.empty_fullname.error.json": {"category"},
    "core_course_create_courses.end_before_start.error.json": {"category"},
    "core_course_update_courses.bad_dates.warning.json": {"category", "course"},
    "core_course_update_courses.end_date_alone.warning.json": {"category", "course"},
    "core_course_update_courses.site_course.warning.json": set(),
    "core_course_update_courses.site_course.wslimited.warning.json": set(),
    "core_user_update_users.nonexistent_id.warning.json": set(),
    "core_user_update_users.nonexistent_id.wslimited.error.json": set(),
    "enrol_manual_enrol_users.front_page.error.json": set(),
    "core_user_get_users_by_field.guest.ok.json": set(),
    "core_user_get_users_by_field.guest.wslimited.ok.json": set(),
    "core_course_get_courses_by_field.shortname_hand_made.ok.json": {"category", "course"},
    # Course groups (the cohorts), recorded in the lab-attendance course 11 with participants 508-510.
    "core_group_create_groups.ok.json": {"lab"},
    "core_group_create_groups.duplicate_name.error.json": {"lab", "groups"},
    "core_group_create_groups.duplicate_idnumber.error.json": {"lab", "groups"},
    "core_group_create_groups.batch_partial_failure.error.json": {"lab", "groups"},
    "core_group_create_groups.limited_user.error.json": {"lab"},
    "core_group_get_course_groups.ok.json": {"lab", "groups"},
    "core_group_get_group_members.ok.json": {"lab", "groups"},
    "core_group_add_group_members.ok.json": {"lab", "groups"},
    "core_group_add_group_members.repeat.ok.json": {"lab", "groups"},
    "core_group_add_group_members.nonexistent_group.error.json": {"lab", "groups"},
    "core_group_add_group_members.user_not_enrolled.error.json": {"lab", "groups", "users"},
    "core_group_delete_group_members.ok.json": {"lab", "groups"},
    "core_group_delete_group_members.repeat.ok.json": {"lab", "groups"},
    # Recorded from the real test Moodle (tests/realmoodle/record.py core_group_): the cohorts' calls.
    "core_group_get_course_groups.site_course.ok.json": set(),
    "core_group_get_course_groups.site_course.wslimited.error.json": set(),
    "core_group_create_groups.cohort.ok.json": {"category", "course"},
    "core_group_get_course_groups.cohort.ok.json": {"category", "course", "cohort"},
    "core_group_add_group_members.cohort.ok.json": {"category", "course", "users", "enrolments", "cohort"},
    "core_group_get_group_members.cohort.ok.json": {"category", "course", "users", "enrolments", "cohort"},
    "core_group_delete_group_members.cohort.ok.json": {"category", "course", "users", "enrolments", "cohort"},
    "core_group_create_groups.cohort_again.error.json": {"category", "course", "cohort"},
}


def seed(fake: FakeMoodle, parts: set[str]) -> None:
    """The recorded scenario, with the recorded ids (category 2, course 2, users 5-7 and more, events 3-7)."""
    if "category" in parts:
        fake.categories[2] = {"id": 2, "name": "Intelligence artificielle", "idnumber": "dgidt-cat-ia",
                              "description": "<p>Formations</p>", "descriptionformat": 1, "parent": 0}
    if "course" in parts:
        fake.courses[2] = {"id": 2, "fullname": "Intelligence artificielle", "shortname": "DGIDT-IA-2020",
                           "categoryid": 2, "idnumber": "dgidt-ia-2020", "summary": "<p>IA</p>", "summaryformat": 1,
                           "format": "topics", "startdate": 1607468400, "enddate": 1611183600, "visible": 1,
                           "enablecompletion": 1}
    if "events" in parts:
        for eid in range(3, 8):
            fake.events[eid] = {"id": eid, "name": f"Séance {eid - 2}", "description": "<p>x</p>", "format": 1,
                                "courseid": 2, "userid": 3, "eventtype": "course", "timestart": 1607500800 + eid,
                                "timeduration": 10800, "visible": 1, "sequence": 1}
    if "users" in parts:
        people = [(5, "hlefevre", ""), (6, "fmenard", "STEG"), (7, "zdubreuil", "Commune de Sfax")]
        people += [(8 + i, f"user.{i:04d}", "Ministère de l'Éducation") for i in range(6)]
        for uid, username, institution in people:
            fake.users[uid] = {"id": uid, "username": username, "firstname": "Prénom", "lastname": "Nom",
                               "email": f"{username}@example.invalid", "idnumber": f"DGIDT-{uid:04d}",
                               "institution": institution, "department": "DRH", "auth": "manual",
                               "city": "Tunis", "country": "TN",
                               "password": "sent", "password_changes": 0}
    if "enrolments" in parts:
        for uid in fake.users:
            fake.enrolments[(2, uid)] = {"roleids": {5}, "status": 0}
    if "lab" in parts:  # the lab-attendance course and its three participants
        fake.courses[11] = {**_LAB_COURSE, "id": 11}
        for uid in (508, 509, 510):
            fake.users[uid] = {**fake.users[1], "id": uid, "username": f"lab{uid}", "email": f"lab{uid}@example.invalid"}
            fake.enrolments[(11, uid)] = {"roleids": {5}, "status": 0}
    if "cohort" in parts:  # the cohort's group the real test Moodle made, agents 5 and 6 in it
        fake.groups[1] = {"id": 1, "courseid": 2, "name": COHORT, "description": "", "members": {5, 6},
                          "idnumber": "lms-sync-cohort:responsables-informatiques-systemes-d-information"}
    if "groups" in parts:  # groups A and B as the recordings made them; 508 and 509 in A, 510 in B
        for gid, name, idnumber, members in ((1, "Groupe A – Ministère", "lab-att-grp-a", {508, 509}),
                                             (2, "Groupe B – STEG", "lab-att-grp-b", {510})):
            fake.groups[gid] = {"id": gid, "courseid": 11, "name": name, "idnumber": idnumber,
                                "description": name, "members": set(members)}


_LAB_COURSE = {"fullname": "Lab attendance", "shortname": "LAB-ATT", "categoryid": 2, "idnumber": "lab-att",
               "summary": "", "summaryformat": 1, "format": "topics", "startdate": 1607468400, "enddate": 1611183600,
               "visible": 1, "enablecompletion": 1}


def shape_mismatches(ours: Any, recorded: Any, path: str = "response") -> list[str]:
    """Where the two answers differ in keys or value types (null matches anything, lists by first item)."""
    if recorded is None or ours is None:
        return [] if (recorded is None) == (ours is None) or path != "response" else [f"{path}: null vs value"]
    if isinstance(recorded, dict):
        if not isinstance(ours, dict):
            return [f"{path}: expected an object"]
        problems = []
        if set(ours) != set(recorded):
            problems.append(f"{path}: keys differ: missing {sorted(set(recorded) - set(ours))}, "
                            f"extra {sorted(set(ours) - set(recorded))}")
        for key in set(ours) & set(recorded):
            problems += shape_mismatches(ours[key], recorded[key], f"{path}.{key}")
        return problems
    if isinstance(recorded, list):
        if not isinstance(ours, list):
            return [f"{path}: expected a list"]
        if ours and recorded:
            return shape_mismatches(ours[0], recorded[0], f"{path}[0]")
        return [] if bool(ours) == bool(recorded) else [f"{path}: {len(ours)} items, recorded {len(recorded)}"]
    if type(ours) is not type(recorded):
        return [f"{path}: {type(ours).__name__} vs recorded {type(recorded).__name__}"]
    return []


def test_shape_compare_catches_drift() -> None:
    """The comparison itself notices a missing key and a wrong type."""
    assert shape_mismatches({"a": 1}, {"a": 1, "b": 2}) != []
    assert shape_mismatches({"a": "1"}, {"a": 1}) != []
    assert shape_mismatches([{"a": True}], [{"a": True}]) == []


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_fake_answers_like_the_recording(name: str) -> None:
    """Replaying the recorded request against the fake gives an answer of the recorded shape."""
    path = FIXTURES_DIR / name
    fixture = json.loads(path.read_text(encoding="utf-8"))
    fake = FakeMoodle()
    fake.capabilities -= WITHOUT.get(name, set())
    if ".wslimited." in name:
        fake.capabilities = set(LIMITED)
    seed(fake, SEEDS[name])
    params = {k: str(v) for k, v in fixture["request_params"].items()}
    if params.get("wstoken") == "REDACTED" and name != "error.invalid_token.json":
        params["wstoken"] = TOKEN
    with responses.RequestsMock() as rsps:
        fake.install(rsps)
        answer = requests.post(ENDPOINT, data=params, timeout=5)
    assert answer.status_code == fixture["http_status"]
    ours = answer.json()
    recorded = fixture["response"]
    if isinstance(recorded, dict) and "errorcode" in recorded:
        assert ours["errorcode"] == recorded["errorcode"]
        assert set(ours) == set(recorded)
        return
    assert shape_mismatches(ours, recorded) == []


def test_every_push_function_is_covered() -> None:
    """Each wsfunction push relies on has at least one recorded shape checked above."""
    used = {name.split(".")[0] for name in SEEDS}
    needed = {
        "core_course_get_categories", "core_course_create_categories", "core_course_get_courses_by_field",
        "core_course_create_courses", "core_course_update_courses", "core_calendar_get_calendar_events",
        "core_calendar_create_calendar_events", "core_calendar_delete_calendar_events",
        "core_user_get_users_by_field", "core_user_create_users", "core_user_update_users",
        "enrol_manual_enrol_users", "core_enrol_get_enrolled_users",
        "core_group_get_course_groups", "core_group_get_group_members", "core_group_create_groups",
        "core_group_add_group_members", "core_group_delete_group_members",
    }
    assert needed <= used
    assert needed <= set(FakeMoodle().handlers)


def test_cleaning_strips_comments_and_data_attributes_like_moodle() -> None:
    """The description-marker recording: what the fake keeps is what Moodle kept."""
    path = FIXTURES_DIR / "core_calendar_create_calendar_events.description_markers.ok.json"
    from tests.fakes.moodle import clean_html

    for case in json.loads(path.read_text(encoding="utf-8"))["cases"].values():
        if case["format"] == 1:
            assert clean_html(case["sent"]) == case["get_description"]



def test_group_names_come_back_escaped_like_moodle() -> None:
    """Moodle gives group names through format_string: "&" is "&amp;" when read, as sent when created."""
    created = json.loads((FIXTURES_DIR / "core_group_create_groups.cohort.ok.json").read_text(encoding="utf-8"))
    listed = json.loads((FIXTURES_DIR / "core_group_get_course_groups.cohort.ok.json").read_text(encoding="utf-8"))
    fake = FakeMoodle()
    seed(fake, {"category", "course"})
    with responses.RequestsMock() as rsps:
        fake.install(rsps)
        for fixture in (created, listed):
            params = {**{k: str(v) for k, v in fixture["request_params"].items()}, "wstoken": TOKEN}
            ours = requests.post(ENDPOINT, data=params, timeout=5).json()
            assert [g["name"] for g in ours] == [g["name"] for g in fixture["response"]]
            assert [g["idnumber"] for g in ours] == [g["idnumber"] for g in fixture["response"]]
