"""Every Moodle web-service function lms_sync calls, declared once.

Each declaration says what the answer parses into, whether the call writes, which lms_sync feature
needs it and which capabilities Moodle checks for it as lms_sync calls it (read in Moodle 5.1's
source and proved on a real site by ``tests/realmoodle``). The client parses answers from it,
``check`` lists the service's functions from it, and the role preset
(``deploy/moodle/lms_sync-role.xml``) is generated from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..errors import MoodleRemoteError
from .models import (
    ActivitiesCompletionResult,
    AdministrationOptionsResult,
    AllowedEventTypesResult,
    AttendanceCreated,
    AttendanceSession,
    AttendanceSessionCreated,
    CalendarEventResult,
    CalendarEventsResult,
    Category,
    ContentSection,
    CourseCompletionResult,
    CourseModuleResult,
    CoursesResult,
    CreatedCategory,
    CreatedCourse,
    CreatedUser,
    EventFormResult,
    Group,
    GroupMembers,
    ReportListResult,
    ReportResult,
    SiteInfo,
    StatusResult,
    User,
    WarningsResult,
)


class Feature(StrEnum):
    """What a function is needed for; ``check`` and the role preset ask for features, not functions."""

    SITE = "check"  # every run starts here
    PUSH = "push"  # category, course, calendar events
    ROSTER = "push with a roster"  # users and enrolments
    PULL = "pull"  # participants and completion
    REPORT_BUILDER = "pull through Report builder"  # moodle.completion_report_id
    ACTIVITY_IDNUMBER = "sessions naming their activity by idnumber"
    ATTENDANCE = "the Attendance activity"  # [attendance] source = "mod_attendance"
    ATTENDANCE_CREATE = "creating the Attendance activity"  # [attendance] create = true
    COHORTS = "cohorts"  # a roster with a cohort column: one course group per cohort


# What every installation needs: a push with a roster and a pull (Report builder and idnumbers are opt-in).
CORE_FEATURES = frozenset({Feature.SITE, Feature.PUSH, Feature.ROSTER, Feature.PULL})
ALL_FEATURES = frozenset(Feature)


@dataclass(frozen=True)
class WsFunction:
    """One wsfunction: its answer type (None: JSON null), whether it writes, who needs it, what Moodle checks."""

    name: str
    answer: Any
    features: frozenset[Feature]
    capabilities: tuple[str, ...] = ()
    writes: bool = False

    def needed_for(self, features: Iterable[Feature]) -> bool:
        """True when one of ``features`` uses this function."""
        return bool(self.features & set(features))


def _f(name: str, answer: Any, *features: Feature, caps: tuple[str, ...] = (), writes: bool = False) -> WsFunction:
    return WsFunction(name, answer, frozenset(features), caps, writes)


# Capabilities a system-level role needs for calls in a course context the account is not enrolled in
# (validate_context is require_login: course:view lets a non-participant in, viewhiddencourses a hidden course).
_IN_COURSE = ("moodle/course:view", "moodle/course:viewhiddencourses")
# Which profile fields Moodle returns about other users: username and idnumber/institution/department
# need viewalldetails, e-mail the identity fields (site setting showuseridentity, default "email").
_SEE_USERS = ("moodle/user:viewdetails", "moodle/user:viewalldetails", "moodle/site:viewuseridentity")

FUNCTIONS: tuple[WsFunction, ...] = (
    _f("core_webservice_get_site_info", SiteInfo, Feature.SITE, caps=("webservice/rest:use",)),
    _f("core_course_get_user_administration_options", AdministrationOptionsResult, Feature.SITE),
    _f("core_calendar_get_allowed_event_types", AllowedEventTypesResult, Feature.SITE),
    # Categories: looked up by idnumber (a criterion reserved to category:manage), created, given an idnumber.
    _f("core_course_get_categories", list[Category], Feature.PUSH,
       caps=("moodle/category:viewcourselist", "moodle/category:viewhiddencategories", "moodle/category:manage")),
    _f("core_course_create_categories", list[CreatedCategory], Feature.PUSH,
       caps=("moodle/category:manage",), writes=True),
    _f("core_course_update_categories", None, Feature.PUSH, caps=("moodle/category:manage",), writes=True),
    # Courses: the idnumber comes back only with course:update; update checks one change* per changed field.
    _f("core_course_get_courses_by_field", CoursesResult, Feature.PUSH, Feature.PULL,
       caps=("moodle/course:update", "moodle/course:viewhiddencourses")),
    _f("core_course_create_courses", list[CreatedCourse], Feature.PUSH, caps=("moodle/course:create",), writes=True),
    _f("core_course_update_courses", WarningsResult, Feature.PUSH,
       caps=(*_IN_COURSE, "moodle/course:update", "moodle/course:changefullname", "moodle/course:changeshortname",
             "moodle/course:changesummary", "moodle/course:changecategory", "moodle/course:changeidnumber"),
       writes=True),
    # Course events of a course the account is not enrolled in: manageentries at system level.
    _f("core_calendar_get_calendar_events", CalendarEventsResult, Feature.PUSH, caps=("moodle/calendar:manageentries",)),
    _f("core_calendar_create_calendar_events", CalendarEventsResult, Feature.PUSH,
       caps=("moodle/calendar:manageentries",), writes=True),
    _f("core_calendar_delete_calendar_events", None, Feature.PUSH, caps=("moodle/calendar:manageentries",), writes=True),
    _f("core_user_get_users_by_field", list[User], Feature.ROSTER, caps=_SEE_USERS),
    _f("core_user_create_users", list[CreatedUser], Feature.ROSTER, caps=("moodle/user:create",), writes=True),
    _f("core_user_update_users", WarningsResult, Feature.ROSTER, caps=("moodle/user:update",), writes=True),
    # Enrolling needs the role to be assignable: role:assign and "Allow role assignments" of Student.
    _f("enrol_manual_enrol_users", None, Feature.ROSTER, caps=("enrol/manual:enrol", "moodle/role:assign"),
       writes=True),
    # enrolreview both lets the account list participants (as viewparticipants would) and use onlyactive;
    # in a course in separate-groups mode only accessallgroups shows the participants of every group.
    _f("core_enrol_get_enrolled_users", list[User], Feature.ROSTER, Feature.PULL,
       caps=(*_IN_COURSE, "moodle/course:enrolreview", *_SEE_USERS,
             "moodle/site:accessallgroups")),
    _f("core_completion_get_course_completion_status", CourseCompletionResult, Feature.PULL,
       caps=(*_IN_COURSE, "report/completion:view")),
    _f("core_completion_get_activities_completion_status", ActivitiesCompletionResult, Feature.PULL,
       caps=(*_IN_COURSE, "report/progress:view")),
    # The report's audience must also hold the sync account (Report builder > Audience): not a capability.
    _f("core_reportbuilder_retrieve_report", ReportResult, Feature.REPORT_BUILDER, caps=("moodle/reportbuilder:view",)),
    _f("core_course_get_contents", list[ContentSection], Feature.ACTIVITY_IDNUMBER, Feature.ATTENDANCE,
       caps=_IN_COURSE),
    # The module's idnumber comes back only to an account that may manage activities.
    _f("core_course_get_course_module", CourseModuleResult, Feature.ACTIVITY_IDNUMBER, Feature.ATTENDANCE,
       caps=(*_IN_COURSE, "moodle/course:manageactivities")),
    # The Attendance activity: its page must be visible to the account (mod/attendance:view, else
    # requireloginerror), and sessions are kept with manageattendances.
    _f("mod_attendance_get_sessions", list[AttendanceSession], Feature.ATTENDANCE,
       caps=(*_IN_COURSE, "mod/attendance:view", "mod/attendance:manageattendances")),
    _f("mod_attendance_add_session", AttendanceSessionCreated, Feature.ATTENDANCE,
       caps=("mod/attendance:view", "mod/attendance:manageattendances"), writes=True),
    _f("mod_attendance_remove_session", bool, Feature.ATTENDANCE,
       caps=("mod/attendance:view", "mod/attendance:manageattendances"), writes=True),
    _f("mod_attendance_add_attendance", AttendanceCreated, Feature.ATTENDANCE_CREATE,
       caps=("moodle/course:manageactivities", "mod/attendance:addinstance"), writes=True),
    # Cohorts: every group call enters the course (validate_context) and checks managegroups there.
    _f("core_group_get_course_groups", list[Group], Feature.COHORTS, caps=(*_IN_COURSE, "moodle/course:managegroups")),
    _f("core_group_get_group_members", list[GroupMembers], Feature.COHORTS,
       caps=(*_IN_COURSE, "moodle/course:managegroups")),
    _f("core_group_create_groups", list[Group], Feature.COHORTS, caps=(*_IN_COURSE, "moodle/course:managegroups"),
       writes=True),
    _f("core_group_add_group_members", None, Feature.COHORTS, caps=(*_IN_COURSE, "moodle/course:managegroups"),
       writes=True),
    _f("core_group_delete_group_members", None, Feature.COHORTS, caps=(*_IN_COURSE, "moodle/course:managegroups"),
       writes=True),
)

# Answers modelled for the test doubles and the recordings, which lms_sync itself never asks for.
OTHER_ANSWERS: dict[str, Any] = {
    "core_calendar_get_calendar_event_by_id": CalendarEventResult,
    "core_calendar_update_event_start_day": CalendarEventResult,
    "core_calendar_submit_create_update_form": EventFormResult,
    "core_completion_mark_course_self_completed": StatusResult,
    "core_completion_update_activity_completion_status_manually": StatusResult,
    "core_reportbuilder_list_reports": ReportListResult,
}

BY_NAME: dict[str, WsFunction] = {f.name: f for f in FUNCTIONS}
RESPONSE_TYPES: dict[str, Any] = {**{f.name: f.answer for f in FUNCTIONS}, **OTHER_ANSWERS}


def functions_for(features: Iterable[Feature]) -> list[WsFunction]:
    """The functions ``features`` use, in declaration order."""
    wanted = set(features)
    return [f for f in FUNCTIONS if f.needed_for(wanted)]


def capabilities_for(features: Iterable[Feature]) -> list[str]:
    """Every capability the functions of ``features`` need, sorted, each once."""
    return sorted({cap for f in functions_for(features) for cap in f.capabilities})


def features_of(
    *, report_builder: bool, activity_idnumbers: bool, roster: bool = True, attendance: bool = False,
    attendance_create: bool = False, cohorts: bool = False,
) -> frozenset[Feature]:
    """The features a configuration uses."""
    features = {Feature.SITE, Feature.PUSH, Feature.PULL}
    if cohorts:
        features.add(Feature.COHORTS)
    if attendance or attendance_create:
        features.add(Feature.ATTENDANCE)
    if attendance_create:
        features.add(Feature.ATTENDANCE_CREATE)
    if roster:
        features.add(Feature.ROSTER)
    if report_builder:
        features.add(Feature.REPORT_BUILDER)
    if activity_idnumbers:
        features.add(Feature.ACTIVITY_IDNUMBER)
    return frozenset(features)


@cache
def _adapter(wsfunction: str) -> TypeAdapter[Any]:
    return TypeAdapter(RESPONSE_TYPES[wsfunction])


def parse_response(wsfunction: str, data: Any) -> Any:
    """Validate a decoded answer into the model declared for ``wsfunction``."""
    if RESPONSE_TYPES[wsfunction] is None:
        if data is not None:
            raise MoodleRemoteError("expected an empty (null) answer", wsfunction=wsfunction)
        return None
    try:
        return _adapter(wsfunction).validate_python(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        raise MoodleRemoteError(
            f"unexpected answer shape ({exc.error_count()} problem(s); first at {where}: {first['msg']})",
            wsfunction=wsfunction,
            hint="this Moodle version may not be supported; report it with the Moodle release",
        ) from None
