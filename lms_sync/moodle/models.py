"""Frozen pydantic models of Moodle's web-service answers, shaped on the recorded fixtures.

Unknown keys are ignored so a newer Moodle adding fields does not break lms_sync; a missing
required key or a wrong type becomes a ``MoodleRemoteError`` in ``functions.parse_response``.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator


class MoodleModel(BaseModel):
    """Base of every answer model: frozen, extra keys ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class MoodleWarning(MoodleModel):
    """One entry of a ``warnings[]`` list: a per-item failure inside a successful call."""

    item: str | None = None
    itemid: int | str | None = None
    warningcode: str = ""
    message: str = ""


class WarningsResult(MoodleModel):
    """An answer that only carries warnings (``core_course_update_courses``, ``core_user_update_users``)."""

    warnings: list[MoodleWarning] = Field(default_factory=list)


# ------------------------------------------------------------------------------------------------ site


class SiteFunction(MoodleModel):
    """One function of the token's external service."""

    name: str
    version: str = ""


class SiteFeature(MoodleModel):
    """One site-wide feature switch (``advancedfeatures``)."""

    name: str
    value: int | str | None = None


class SiteInfo(MoodleModel):
    """``core_webservice_get_site_info``: who the token belongs to and what its service allows."""

    sitename: str
    siteurl: str = ""
    siteid: int = 1
    username: str
    userid: int
    fullname: str = ""
    lang: str = ""
    release: str = ""
    version: str = ""
    userissiteadmin: bool = False
    functions: list[SiteFunction] = Field(default_factory=list)
    advancedfeatures: list[SiteFeature] = Field(default_factory=list)

    @property
    def function_names(self) -> frozenset[str]:
        """Names of the wsfunctions the token may call."""
        return frozenset(f.name for f in self.functions)

    def feature(self, name: str) -> int | str | None:
        """Value of a site feature switch such as ``enablecompletion``, or None when not reported."""
        return next((f.value for f in self.advancedfeatures if f.name == name), None)


# ------------------------------------------------------------------------------------- categories, courses


class Category(MoodleModel):
    """A course category (``core_course_get_categories``)."""

    id: int
    name: str
    idnumber: str | None = None
    description: str = ""
    descriptionformat: int = 1
    parent: int = 0
    visible: bool = True
    path: str = ""


class CreatedCategory(MoodleModel):
    """One row of ``core_course_create_categories``."""

    id: int
    name: str


class Course(MoodleModel):
    """A course as ``core_course_get_courses_by_field`` returns it."""

    id: int
    shortname: str
    fullname: str
    displayname: str = ""
    categoryid: int | None = None
    idnumber: str | None = None
    summary: str = ""
    summaryformat: int = 1
    format: str = ""
    startdate: int = 0
    enddate: int = 0
    visible: bool = True
    groupmode: int = 0  # 1: separate groups
    enablecompletion: bool = False
    lang: str = ""


class CoursesResult(MoodleModel):
    """``core_course_get_courses_by_field``: courses and warnings."""

    courses: list[Course] = Field(default_factory=list)
    warnings: list[MoodleWarning] = Field(default_factory=list)


class CreatedCourse(MoodleModel):
    """One row of ``core_course_create_courses``."""

    id: int
    shortname: str


# -------------------------------------------------------------------------------------------- calendar


class CourseRef(MoodleModel):
    """The course summary embedded in a detailed calendar event."""

    id: int
    shortname: str = ""
    idnumber: str | None = None


class CalendarEvent(MoodleModel):
    """A calendar event, from the list calls or the detailed ones (``get_calendar_event_by_id``, the form).

    The list calls give ``courseid`` and ``format`` and no ``location``; the detailed calls give
    ``course.id``, ``descriptionformat`` and ``location``. Both are read into the same fields.
    """

    id: int
    name: str
    description: str = ""
    format: int = Field(default=1, validation_alias=AliasChoices("format", "descriptionformat"))
    courseid: int | None = None
    groupid: int | None = None
    userid: int | None = None
    eventtype: str = ""
    timestart: int
    timeduration: int = 0
    visible: bool = True
    sequence: int = 1
    modulename: str | None = None
    timemodified: int | None = None
    location: str | None = None  # None: this call does not report it

    @model_validator(mode="before")
    @classmethod
    def _course_from_detail(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("courseid") is None and isinstance(data.get("course"), dict):
            data = {**data, "courseid": data["course"].get("id")}
        return data

    @property
    def timeend(self) -> int:
        """End as Unix seconds."""
        return self.timestart + self.timeduration


class CalendarEventsResult(MoodleModel):
    """``core_calendar_get_calendar_events`` / ``core_calendar_create_calendar_events``: events and warnings."""

    events: list[CalendarEvent] = Field(default_factory=list)
    warnings: list[MoodleWarning] = Field(default_factory=list)


class CalendarEventResult(MoodleModel):
    """``core_calendar_get_calendar_event_by_id`` / ``core_calendar_update_event_start_day``."""

    event: CalendarEvent
    warnings: list[MoodleWarning] = Field(default_factory=list)


class EventFormResult(MoodleModel):
    """``core_calendar_submit_create_update_form``: the saved event, or ``validationerror`` with no details."""

    event: CalendarEvent | None = None
    validationerror: bool = False


# ----------------------------------------------------------------------------------------------- users


class Role(MoodleModel):
    """A role held in a course."""

    roleid: int
    shortname: str = ""
    name: str = ""


class User(MoodleModel):
    """A user (``core_user_get_users_by_field``, ``core_enrol_get_enrolled_users``).

    Fields the caller may not see, or not asked for with ``userfields``, keep their defaults.
    """

    id: int
    username: str = ""
    firstname: str = ""
    lastname: str = ""
    fullname: str = ""
    email: str = ""
    idnumber: str = ""
    institution: str = ""
    department: str = ""
    auth: str = ""
    suspended: bool = False
    lang: str = ""
    timezone: str = ""
    city: str = ""
    country: str = ""
    lastcourseaccess: int | None = None  # when they last opened the course (0: never), with userfields
    roles: list[Role] = Field(default_factory=list)


class CreatedUser(MoodleModel):
    """One row of ``core_user_create_users``."""

    id: int
    username: str


# ---------------------------------------------------------------------------------------------- completion


class CompletionCriterion(MoodleModel):
    """One course-completion criterion and whether the user met it."""

    type: int
    title: str = ""
    status: str = ""
    complete: bool = False
    timecompleted: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class CourseCompletion(MoodleModel):
    """A user's course completion."""

    completed: bool
    aggregation: int = 1
    completions: list[CompletionCriterion] = Field(default_factory=list)


class CourseCompletionResult(MoodleModel):
    """``core_completion_get_course_completion_status``."""

    completionstatus: CourseCompletion
    warnings: list[MoodleWarning] = Field(default_factory=list)


class ActivityCompletion(MoodleModel):
    """A user's completion state of one course module (state 0 incomplete, 1 complete, 2 pass, 3 fail)."""

    cmid: int
    modname: str = ""
    instance: int | None = None
    state: int
    timecompleted: int | None = None
    tracking: int = 0
    overrideby: int | None = None
    hascompletion: bool = True
    isautomatic: bool = False
    istrackeduser: bool = True
    uservisible: bool = True
    isoverallcomplete: bool | None = None


class ActivitiesCompletionResult(MoodleModel):
    """``core_completion_get_activities_completion_status`` (empty when completion is disabled)."""

    statuses: list[ActivityCompletion] = Field(default_factory=list)
    warnings: list[MoodleWarning] = Field(default_factory=list)


class StatusResult(MoodleModel):
    """A ``{"status": bool, "warnings": [...]}`` answer."""

    status: bool
    warnings: list[MoodleWarning] = Field(default_factory=list)


# -------------------------------------------------------------------------------------------- reports


class ReportDetails(MoodleModel):
    """The report record of a custom report."""

    id: int
    name: str = ""
    source: str = ""
    sourcename: str = ""
    conditiondata: str | None = None  # JSON of the stored conditions: tells which course the report lists


class ReportRow(MoodleModel):
    """One row: display strings positionally aligned with ``ReportData.headers``."""

    columns: list[str | None]


class ReportData(MoodleModel):
    """One page of a custom report; ``totalrowcount`` is 0 on a page past the end."""

    headers: list[str] = Field(default_factory=list)
    rows: list[ReportRow] = Field(default_factory=list)
    totalrowcount: int = 0


class ReportResult(MoodleModel):
    """``core_reportbuilder_retrieve_report``."""

    details: ReportDetails
    data: ReportData
    warnings: list[MoodleWarning] = Field(default_factory=list)


class ReportSummary(MoodleModel):
    """One entry of ``core_reportbuilder_list_reports``."""

    id: int
    name: str = ""
    source: str = ""


class ReportListResult(MoodleModel):
    """``core_reportbuilder_list_reports``: the custom reports the caller may view."""

    reports: list[ReportSummary] = Field(default_factory=list)
    warnings: list[MoodleWarning] = Field(default_factory=list)


class ContentModule(MoodleModel):
    """A course module as ``core_course_get_contents`` lists it (without its idnumber in 5.1)."""

    id: int
    name: str = ""
    modname: str = ""
    instance: int | None = None  # the activity's own id (an Attendance activity's attendanceid)
    completion: int = 0
    idnumber: str | None = None


class ContentSection(MoodleModel):
    """A course section with its modules (``core_course_get_contents``)."""

    modules: list[ContentModule] = Field(default_factory=list)


class CourseModule(MoodleModel):
    """The ``cm`` record of ``core_course_get_course_module``."""

    id: int
    idnumber: str | None = ""


class CourseModuleResult(MoodleModel):
    """``core_course_get_course_module``."""

    cm: CourseModule
    warnings: list[MoodleWarning] = Field(default_factory=list)


# ---------------------------------------------------------------------------------- capability probes


class AllowedEventTypesResult(MoodleModel):
    """``core_calendar_get_allowed_event_types``: the event types the account may create (course, site...)."""

    allowedeventtypes: list[str] = Field(default_factory=list)
    warnings: list[MoodleWarning] = Field(default_factory=list)


class AdministrationOption(MoodleModel):
    """One entry of a course's administration options (``update`` = moodle/course:update)."""

    name: str
    available: bool


class CourseAdministrationOptions(MoodleModel):
    """The administration options of one course."""

    id: int
    options: list[AdministrationOption] = Field(default_factory=list)

    def available(self, name: str) -> bool:
        """Whether the option ``name`` is available to the account."""
        return any(o.name == name and o.available for o in self.options)


class AdministrationOptionsResult(MoodleModel):
    """``core_course_get_user_administration_options``: per course; a course the account cannot enter is a warning."""

    courses: list[CourseAdministrationOptions] = Field(default_factory=list)
    warnings: list[MoodleWarning] = Field(default_factory=list)


# ------------------------------------------------------------------------------- Attendance activity


class AttendanceCreated(MoodleModel):
    """``mod_attendance_add_attendance``: only the instance id (the course-module id is not returned)."""

    attendanceid: int


class AttendanceSessionCreated(MoodleModel):
    """``mod_attendance_add_session``: only the new session's id."""

    sessionid: int


class AttendanceStatus(MoodleModel):
    """One status of an Attendance activity (its own copy of P/L/E/A, with ids in no useful order)."""

    id: int
    acronym: str
    description: str = ""
    grade: float = 0
    deleted: int = 0


class AttendanceLog(MoodleModel):
    """One participant's status in one session; ``statusid`` comes as a string."""

    studentid: int
    statusid: int


class AttendanceSession(MoodleModel):
    """One session of an Attendance activity with every status taken (``mod_attendance_get_sessions``)."""

    id: int
    attendanceid: int
    sessdate: int
    duration: int = 0
    description: str = ""  # raw, exactly as sent: the lms_sync marker survives
    groupid: int = 0
    lasttaken: int | None = None
    lasttakenby: int = 0
    statuses: list[AttendanceStatus] = Field(default_factory=list)
    attendance_log: list[AttendanceLog] = Field(default_factory=list)


# ----------------------------------------------------------------------------------------------- groups


class Group(MoodleModel):
    """A course group (``core_group_get_course_groups``, ``core_group_create_groups``)."""

    id: int
    courseid: int
    name: str
    idnumber: str | None = None  # "" when none; lms_sync's cohorts carry lms-sync-cohort:<key>
    description: str = ""


class GroupMembers(MoodleModel):
    """One group's members (``core_group_get_group_members``): user ids only."""

    groupid: int
    userids: list[int] = Field(default_factory=list)
