"""Completion on the fake Moodle: course and activity completion, course contents, Report builder.

``add_completion(fake)`` registers these wsfunctions on a ``FakeMoodle`` (its ``handlers`` registry)
and returns the completion state, also reachable as ``fake.completion``. Answers follow the
recorded shapes (``core_completion_*``, ``core_course_get_contents``,
``core_reportbuilder_retrieve_report``): ``cannotviewreport`` when completion is disabled (or the
account lacks report/completion:view), ``nocriteriaset`` when it is enabled without criteria, ``usernotenroled`` for someone not (or no longer) enrolled, HTML-escaped user text and
display strings in report rows, ``totalrowcount`` 0 on a page past the end.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fakes.moodle import NOW, FakeMoodle, MoodleFault, _int, missing_record

# Titles of the recorded report (core_reportbuilder_retrieve_report.page0_perpage2.ok.json).
REPORT_HEADERS = (
    "Full name with link",
    "Username",
    "Full name",
    "ID number",
    "Email address",
    "Institution",
    "Department",
    "Completed",
    "Time completed",
    "Student progress",
)


@dataclass
class Report:
    """A custom report on the "Course participants" source for one course (students, active)."""

    courseid: int
    headers: tuple[str, ...] = REPORT_HEADERS
    audience: bool = True  # False: the sync account is not in the report's audience
    yes_no: tuple[str, str] = ("Yes", "No")  # the "Completed" words, in the caller's language
    percent: str = "{:.1f}%"  # how "Student progress" is written (format::percent in English)
    # The stored conditions (details.conditiondata); None: course idnumber = the course's, active, student.
    conditions: dict[str, Any] | None = None


@dataclass
class CompletionState:
    """What the fake knows about completion; tests set it directly."""

    # (courseid, userid) -> time the course was completed (absent: not complete)
    course_done: dict[tuple[int, int], int] = field(default_factory=dict)
    # (courseid, userid) -> {cmid: (state, timecompleted)}
    activity: dict[tuple[int, int], dict[int, tuple[int, int]]] = field(default_factory=dict)
    # courseid -> modules [{"id", "name", "modname", "idnumber", "completion"}]
    modules: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    no_criteria: set[int] = field(default_factory=set)  # courses with completion on but no criteria
    broken_users: set[int] = field(default_factory=set)  # every call about them fails (a server bug)
    reports: dict[int, Report] = field(default_factory=dict)


def add_completion(fake: FakeMoodle) -> CompletionState:
    """Register the completion wsfunctions on ``fake`` and return their state."""
    state = CompletionState()
    fake.completion = state  # type: ignore[attr-defined]
    fake.handlers.update(
        {
            "core_completion_get_course_completion_status": _course_status,
            "core_completion_get_activities_completion_status": _activities_status,
            "core_course_get_contents": _contents,
            "core_course_get_course_module": _course_module,
            "core_reportbuilder_retrieve_report": _retrieve_report,
        }
    )
    return state


# ------------------------------------------------------------------------------------------ seeding


def add_course(fake: FakeMoodle, idnumber: str, *, enablecompletion: bool = True, shortname: str | None = None) -> int:
    """Create a course directly in the fake's state and return its id."""
    cid = fake.new_id()
    fake.courses[cid] = {
        "id": cid, "fullname": f"Course {idnumber}", "shortname": shortname or idnumber.upper(), "categoryid": 0,
        "idnumber": idnumber, "summary": "", "summaryformat": 1, "format": "topics", "startdate": NOW,
        "enddate": 0, "visible": 1, "enablecompletion": int(enablecompletion),
    }
    return cid


def add_module(fake: FakeMoodle, courseid: int, name: str, *, idnumber: str = "", modname: str = "page",
               completion: int = 1) -> int:
    """Add an activity with completion tracking to a course; returns its course-module id."""
    cmid = fake.new_id()
    _state(fake).modules.setdefault(courseid, []).append(
        {"id": cmid, "name": name, "modname": modname, "idnumber": idnumber, "completion": completion}
    )
    return cmid


def add_participant(
    fake: FakeMoodle,
    courseid: int,
    username: str,
    firstname: str,
    lastname: str,
    *,
    email: str | None = None,
    institution: str = "",
    department: str = "",
    idnumber: str = "",
    roleid: int = 5,
    suspended: bool = False,
) -> int:
    """Create a user enrolled in the course; returns the user id."""
    uid = fake.new_id()
    fake.users[uid] = {
        "id": uid, "username": username, "firstname": firstname, "lastname": lastname,
        "email": email or f"{username}@example.invalid", "idnumber": idnumber, "institution": institution,
        "department": department, "auth": "manual", "password": "sent", "password_changes": 0,
    }
    fake.enrolments[(courseid, uid)] = {"roleids": {roleid}, "status": int(suspended)}
    return uid


# ----------------------------------------------------------------------------------------- handlers


def _state(fake: FakeMoodle) -> CompletionState:
    return fake.completion  # type: ignore[attr-defined,no-any-return]


def _course(fake: FakeMoodle, params: dict[str, Any]) -> dict[str, Any]:
    if _int(params.get("courseid")) not in fake.courses:
        raise missing_record()
    return fake.enter_course(_int(params.get("courseid")))


def _check_user(fake: FakeMoodle, courseid: int, userid: int) -> None:
    if userid in _state(fake).broken_users:
        raise MoodleFault("dmlreadexception", "Error reading from database", "dml_read_exception")
    enrolment = fake.enrolments.get((courseid, userid))
    if enrolment is None or enrolment["status"]:
        raise MoodleFault("usernotenroled", "User is not enrolled in this course")


def _course_status(fake: FakeMoodle, params: dict[str, Any]) -> Any:
    course = _course(fake, params)
    userid = _int(params.get("userid"))
    no_criteria = course["id"] in _state(fake).no_criteria
    if not course["enablecompletion"] or not fake.can("report/completion:view"):
        raise MoodleFault("cannotviewreport", "You cannot view this report")
    _check_user(fake, course["id"], userid)
    if no_criteria:  # Moodle looks at the criteria last, after the enrolment (recorded: no_criteria.error)
        raise MoodleFault("nocriteriaset", "No completion criteria set for this course")
    done = _state(fake).course_done.get((course["id"], userid))
    return {
        "completionstatus": {
            "completed": done is not None,
            "aggregation": 2,
            "completions": [
                {"type": 1, "title": "Self completion", "status": "No", "complete": False, "timecompleted": None,
                 "details": {"type": "Self completion", "criteria": "Self completion",
                             "requirement": "Marking yourself complete", "status": ""}},
                {"type": 4, "title": "Activity completion", "status": "Yes" if done else "No",
                 "complete": done is not None, "timecompleted": done,
                 "details": {"type": "Activity completion", "criteria": "<a href=\"#\">Séance 1</a>",
                             "requirement": "Marking yourself complete", "status": ""}},
            ],
        },
        "warnings": [],
    }


def _activities_status(fake: FakeMoodle, params: dict[str, Any]) -> Any:
    course = _course(fake, params)
    userid = _int(params.get("userid"))
    if userid != fake.ws_userid:
        fake.require("report/progress:view")
    _check_user(fake, course["id"], userid)
    if not course["enablecompletion"]:
        return {"statuses": [], "warnings": []}  # as recorded: empty, no error
    states = _state(fake).activity.get((course["id"], userid), {})
    statuses = []
    for module in _state(fake).modules.get(course["id"], []):
        if not module["completion"]:
            continue
        st, when = states.get(module["id"], (0, 0))
        statuses.append({
            "cmid": module["id"], "modname": module["modname"], "instance": 1, "state": st, "timecompleted": when,
            "tracking": module["completion"], "overrideby": None, "valueused": False, "hascompletion": True,
            "isautomatic": False, "istrackeduser": True, "uservisible": True, "details": [],
            "isoverallcomplete": st in (1, 2),
        })
    return {"statuses": statuses, "warnings": []}


def _contents(fake: FakeMoodle, params: dict[str, Any]) -> Any:
    course = _course(fake, params)
    modules = [
        # No idnumber: core_course_get_contents does not return it (recorded fixture).
        {"id": m["id"], "url": f"{fake.url}/mod/{m['modname']}/view.php?id={m['id']}", "name": m["name"],
         "instance": m.get("instance", 1), "contextid": 20 + m["id"], "visible": 1, "uservisible": True, "modname": m["modname"],
         "completion": m["completion"]}
        for m in _state(fake).modules.get(course["id"], [])
    ]
    return [{"id": 1, "name": "General", "visible": 1, "section": 0, "modules": modules}]


def _course_module(fake: FakeMoodle, params: dict[str, Any]) -> Any:
    cmid = _int(params.get("cmid"))
    for courseid, modules in _state(fake).modules.items():
        for m in modules:
            if m["id"] == cmid:
                cm = {"id": cmid, "course": courseid, "module": 1, "name": m["name"], "modname": m["modname"],
                      "instance": m.get("instance", 1), "section": 1, "idnumber": m["idnumber"],
                      "completion": m["completion"]}
                if not fake.can("moodle/course:manageactivities"):
                    cm.pop("idnumber")  # the full record, idnumber included, only to who manages activities
                return {"cm": cm, "warnings": []}
    raise missing_record()


def _esc(text: str) -> str:
    # Moodle's s(): & < > " and ' as &#039;
    return html.escape(text, quote=True).replace("&#x27;", "&#039;")


def _userdate(ts: int) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return f"{moment:%A}, {moment.day} {moment:%B %Y}, {moment.hour % 12 or 12}:{moment:%M %p}"


def report_rows(fake: FakeMoodle, report: Report) -> list[list[str]]:
    """All rows of a report, as display strings in the report's column order."""
    state = _state(fake)
    cid = report.courseid
    users = [
        fake.users[uid]
        for (c, uid), enrolment in fake.enrolments.items()
        if c == cid and not enrolment["status"] and 5 in enrolment["roleids"]
    ]
    rows = []
    for u in sorted(users, key=lambda u: u["username"]):
        full = f"{u['firstname']} {u['lastname']}"
        done = state.course_done.get((cid, u["id"]))
        touched = (cid, u["id"]) in state.activity
        values = {
            "Full name with link": f'<a href="{fake.url}/user/profile.php?id={u["id"]}">{full}</a>',
            "Username": _esc(u["username"]),
            "Full name": full,  # not escaped, as recorded
            "ID number": _esc(u["idnumber"]),
            "Email address": _esc(u["email"]),
            "Institution": _esc(u["institution"]),
            "Department": _esc(u["department"]),
            # "" when the user has no course_completions row yet (never aggregated)
            "Completed": report.yes_no[0] if done else (report.yes_no[1] if touched else ""),
            "Time completed": _userdate(done) if done else "",
            "Student progress": report.percent.format(_progress(state, cid, u["id"], bool(done))),
        }
        rows.append([values.get(h, "") for h in report.headers])
    return rows


def _progress(state: CompletionState, cid: int, uid: int, done: bool) -> float:
    """As core_completion\\progress::get_course_progress_percentage: 100 once the course is complete, else
    the share of activities with completion that are complete or passed; no such activity: 0."""
    if done:
        return 100.0
    tracked = [m["id"] for m in state.modules.get(cid, []) if m.get("completion")]
    states = state.activity.get((cid, uid), {})
    complete = sum(1 for cmid, (st, _) in states.items() if st in (1, 2))
    return 100.0 * complete / len(tracked) if tracked else 0.0


def _conditions(fake: FakeMoodle, report: Report) -> dict[str, Any]:
    if report.conditions is not None:
        return report.conditions
    # As recorded: text operator 3 is "Is equal to"; enrolment status 0 is active; role 5 is student.
    return {"course:idnumber_operator": 3, "course:idnumber_value": fake.courses[report.courseid]["idnumber"],
            "enrolment:status_operator": 1, "enrolment:status_value": 0, "role:name_operator": 1,
            "role:name_value": 5}


def _retrieve_report(fake: FakeMoodle, params: dict[str, Any]) -> Any:
    report_id = _int(params.get("reportid"))
    report = _state(fake).reports.get(report_id)
    if report is None:
        raise missing_record()
    if not report.audience:
        raise MoodleFault("errorreportview", "You cannot view this report",
                          "core_reportbuilder\\exception\\report_access_exception")
    page, perpage = _int(params.get("page"), 0), _int(params.get("perpage"), 10)
    rows = report_rows(fake, report)
    total = len(rows)
    if perpage > 0:  # 0 or negative: no limit (fact 12)
        rows = rows[page * perpage:(page + 1) * perpage]
    return {
        "details": {"id": report_id, "name": "DGIDT — complétion", "source":
                    "core_course\\reportbuilder\\datasource\\participants", "sourcename": "Course participants",
                    "conditiondata": json.dumps(_conditions(fake, report))},
        "data": {
            "headers": list(report.headers),
            "rows": [{"columns": r} for r in rows],
            # COUNT(*) OVER() on the returned page: 0 past the end
            "totalrowcount": total if rows else 0,
        },
        "warnings": [],
    }
