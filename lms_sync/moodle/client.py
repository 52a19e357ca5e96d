"""Typed Moodle web-service client: one method per wsfunction, returning models, batching big writes.

Writes are not retried on transient faults unless the caller passes ``retry_safe=True`` (it looked
the object up first, or the call sets absolute values). Per-item ``warnings`` are always returned.

A list write bigger than ``max_input_vars`` is sent in several calls (chunks). When one chunk fails,
the error raised keeps its own type (TransientError, AlreadyExists...) and carries ``.partial``, a
``PartialBatch`` with the results of the chunks already applied (``done``, ``applied``) and the items
not applied or in doubt (``failed``, ``unsent``): read it with ``partial_of(exc)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from ..errors import AccessDenied, InvalidParameter, MoodleError, MoodleRemoteError
from ..settings import MoodleSettings
from .batching import (
    ItemResult,
    PartialBatch,
    RateLimiter,
    chunk_by_budget,
    map_parallel,
)
from .functions import parse_response
from .models import (
    ActivitiesCompletionResult,
    AdministrationOptionsResult,
    AllowedEventTypesResult,
    AttendanceCreated,
    AttendanceSession,
    AttendanceSessionCreated,
    CalendarEvent,
    CalendarEventsResult,
    Category,
    ContentSection,
    CourseCompletionResult,
    CourseModuleResult,
    CoursesResult,
    CreatedCategory,
    CreatedCourse,
    CreatedUser,
    Group,
    GroupMembers,
    MoodleWarning,
    ReportResult,
    SiteInfo,
    User,
    WarningsResult,
)
from .transport import MoodleTransport

T = TypeVar("T")
R = TypeVar("R")

CourseField = Literal["id", "ids", "shortname", "idnumber", "category"]
UserField = Literal["id", "idnumber", "username", "email"]


class MoodleClient:
    """Moodle's REST web services as typed Python methods."""

    def __init__(
        self,
        settings: MoodleSettings,
        *,
        transport: MoodleTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        total_seconds: float | None = None,
    ) -> None:
        """Build the client (and its transport) from the settings; ``sleep``/``clock`` are for tests.

        ``total_seconds`` bounds all the client's calls together (see ``MoodleTransport``).
        """
        self.settings = settings
        self.transport = transport or MoodleTransport(settings, sleep=sleep, total_seconds=total_seconds)
        self._limiter = RateLimiter(settings.requests_per_second, clock=clock, sleep=sleep)

    def __repr__(self) -> str:
        return f"MoodleClient(url={self.settings.url!r})"

    def close(self) -> None:
        """Release the HTTP connections."""
        self.transport.close()

    def __enter__(self) -> MoodleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ plumbing

    def _read(self, wsfunction: str, params: Mapping[str, Any] | None = None) -> Any:
        return parse_response(wsfunction, self.transport.call(wsfunction, params))

    def _write(self, wsfunction: str, params: Mapping[str, Any], *, retry_safe: bool) -> Any:
        return parse_response(wsfunction, self.transport.call(wsfunction, params, write=True, retry_safe=retry_safe))

    def _chunks(
        self, wsfunction: str, key: str, items: Sequence[Any], other: Mapping[str, Any] | None = None
    ) -> list[list[Any]]:
        return list(chunk_by_budget(key, items, self.settings.max_input_vars, other, wsfunction=wsfunction))

    def _write_chunks(
        self,
        wsfunction: str,
        key: str,
        items: Sequence[Any],
        combine: Callable[[list[Any]], R],
        *,
        retry_safe: bool,
        shown: Sequence[Any] | None = None,
    ) -> R:
        """Send ``items`` as ``{key: chunk}`` writes; ``combine`` merges the answers; a failure carries ``.partial``."""
        # ``shown`` (as long as ``items``) is what PartialBatch lists instead of ``items`` (event ids, not dicts).
        chunks = self._chunks(wsfunction, key, items)  # every chunk is checked against the budget before any write
        listed = list(items if shown is None else shown)
        answers: list[Any] = []
        sent = 0
        for chunk in chunks:
            try:
                answers.append(self._write(wsfunction, {key: chunk}, retry_safe=retry_safe))
            except MoodleError as exc:
                # The earlier chunks are in Moodle now: the caller must record them (events have no idnumber).
                end = sent + len(chunk)
                partial = PartialBatch(wsfunction, combine(answers), listed[:sent], listed[sent:end], listed[end:])
                setattr(exc, "partial", partial)  # noqa: B010 - MoodleError (errors.py) does not declare it
                raise
            sent += len(chunk)
        return combine(answers)

    def map_reads(self, fn: Callable[[T], R], items: Sequence[T]) -> list[ItemResult[T, R]]:
        """Run a read per item in the bounded, rate-limited pool; each result holds a value or its error."""
        return map_parallel(fn, items, concurrency=self.settings.concurrency, limiter=self._limiter)

    # ---------------------------------------------------------------------------------------------- site

    def get_site_info(self) -> SiteInfo:
        """``core_webservice_get_site_info``: site name, release, the token's user and its functions."""
        result: SiteInfo = self._read("core_webservice_get_site_info")
        return result

    # ------------------------------------------------------------------------------------------ categories

    def get_categories(
        self,
        *,
        idnumber: str | None = None,
        name: str | None = None,
        parent: int | None = None,
        visible: bool | None = None,
    ) -> list[Category]:
        """``core_course_get_categories`` filtered by the given criteria (all categories when none).

        Searching on idnumber needs moodle/category:manage, on visibility viewhiddencategories: without
        them Moodle answers ``criteriaerror`` (an AccessDenied here).
        """
        criteria = [
            {"key": key, "value": value}
            for key, value in (("idnumber", idnumber), ("name", name), ("parent", parent), ("visible", visible))
            if value is not None
        ]
        result: list[Category] = self._read("core_course_get_categories", {"criteria": criteria, "addsubcategories": 0})
        return result

    def create_categories(
        self, categories: Sequence[Mapping[str, Any]], *, retry_safe: bool = False
    ) -> list[CreatedCategory]:
        """``core_course_create_categories``; each dict has name, parent, idnumber, description...

        If a chunk fails, its error carries ``.partial`` (PartialBatch): ``done`` lists the categories already created.
        """
        return self._write_chunks(
            "core_course_create_categories", "categories", categories, _concat, retry_safe=retry_safe
        )

    def update_categories(self, categories: Sequence[Mapping[str, Any]], *, retry_safe: bool = False) -> None:
        """``core_course_update_categories``; each dict has ``id`` and the fields to change (never ``parent``).

        If a chunk fails, its error carries ``.partial`` (PartialBatch): ``applied`` lists the categories already sent.
        """
        self._write_chunks(
            "core_course_update_categories", "categories", categories, _nothing, retry_safe=retry_safe
        )

    # --------------------------------------------------------------------------------------------- courses

    def get_courses_by_field(self, field: CourseField, value: str | int | Sequence[int]) -> CoursesResult:
        """``core_course_get_courses_by_field``; for ``field="ids"`` pass a list of ids."""
        if field == "ids" and not isinstance(value, str | int):
            value = ",".join(str(v) for v in value)
        result: CoursesResult = self._read("core_course_get_courses_by_field", {"field": field, "value": value})
        return result

    def create_courses(self, courses: Sequence[Mapping[str, Any]], *, retry_safe: bool = False) -> list[CreatedCourse]:
        """``core_course_create_courses``; all-or-nothing per call (one duplicate fails its whole chunk).

        If a chunk fails, its error carries ``.partial`` (PartialBatch): ``done`` lists the courses already created.
        """
        return self._write_chunks("core_course_create_courses", "courses", courses, _concat, retry_safe=retry_safe)

    def update_courses(self, courses: Sequence[Mapping[str, Any]], *, retry_safe: bool = False) -> WarningsResult:
        """``core_course_update_courses``; each dict has ``id`` and the fields to change; warnings per course.

        If a chunk fails, its error carries ``.partial`` (PartialBatch): ``applied`` lists the courses already sent.
        """
        return self._write_chunks(
            "core_course_update_courses", "courses", courses, _merge_warnings, retry_safe=retry_safe
        )

    # -------------------------------------------------------------------------------------------- calendar

    def get_calendar_events(
        self,
        *,
        event_ids: Sequence[int] = (),
        course_ids: Sequence[int] = (),
        time_start: int | datetime = 0,
        time_end: int | datetime | None = None,
    ) -> CalendarEventsResult:
        """``core_calendar_get_calendar_events``, course events only (no user or site events), by ids or range."""
        options: dict[str, Any] = {"userevents": 0, "siteevents": 0, "timestart": time_start, "timeend": time_end}
        wsfunction = "core_calendar_get_calendar_events"
        if not event_ids and not course_ids:
            raise ValueError("give event_ids or course_ids")
        # Moodle answers the union of both filters (the courses' events in the range, plus the given ids).
        # The course filter therefore goes with the first call only: sent with every eventids chunk, it
        # brings the courses' events back once per chunk. Chunks are sized as if each carried it.
        courses = list(course_ids)
        base = {"options": options, "events": {"courseids": courses}}
        chunks = self._chunks(wsfunction, "eventids", list(event_ids), base) if event_ids else [[]]
        events: dict[int, CalendarEvent] = {}
        warnings: list[MoodleWarning] = []
        for index, chunk in enumerate(chunks):
            filters = {"eventids": chunk, "courseids": courses if index == 0 else []}
            result: CalendarEventsResult = self._read(wsfunction, {"options": options, "events": filters})
            for event in result.events:
                events.setdefault(event.id, event)  # an id given and also in a course's range comes once
            warnings += [w for w in result.warnings if w not in warnings]
        return CalendarEventsResult(events=list(events.values()), warnings=warnings)

    def get_calendar_event_by_id(self, event_id: int) -> CalendarEvent:
        """``core_calendar_get_calendar_event_by_id``, with ``location``.

        Moodle reports a nonexistent id as ``nopermissions`` (AccessDenied), not as NotFound.
        """
        result = self._read("core_calendar_get_calendar_event_by_id", {"eventid": event_id})
        event: CalendarEvent = result.event
        return event

    def create_calendar_events(
        self, events: Sequence[Mapping[str, Any]], *, retry_safe: bool = False
    ) -> CalendarEventsResult:
        """``core_calendar_create_calendar_events``; re-sending creates duplicates, so retry only if looked up.

        If a chunk fails, its error carries ``.partial`` (PartialBatch): ``done`` is the CalendarEventsResult of
        the events already created; record them, or the next run creates them again (events have no idnumber).
        """
        return self._write_chunks(
            "core_calendar_create_calendar_events", "events", events, _merge_events, retry_safe=retry_safe
        )

    def delete_calendar_events(self, event_ids: Sequence[int], *, retry_safe: bool = False) -> None:
        """``core_calendar_delete_calendar_events``; a missing id raises NotFound for its whole chunk.

        If a chunk fails, its error carries ``.partial`` (PartialBatch): ``applied`` lists the event ids already
        deleted, ``failed`` those of the failed chunk, ``unsent`` the rest.
        """
        items = [{"eventid": event_id, "repeat": 0} for event_id in event_ids]
        self._write_chunks(
            "core_calendar_delete_calendar_events", "events", items, _nothing, retry_safe=retry_safe, shown=event_ids
        )

    def update_calendar_event(
        self,
        event_id: int,
        *,
        course_id: int,
        name: str,
        timestart: datetime | int,
        duration: timedelta | int,
        tz: str | ZoneInfo,
        description: str = "",
        description_format: int = 1,
        location: str = "",
        visible: bool = True,
        user_id: int | None = None,
        retry_safe: bool = False,
    ) -> CalendarEvent:
        """``core_calendar_submit_create_update_form``: change every field of a course event, location included.

        The form reads times in the calling (sync) user's timezone: ``tz`` must be that zone (the
        user's Moodle timezone, or the site's when the user has the default). The saved start is
        compared with the wanted one so a wrong ``tz`` fails loudly instead of shifting sessions.
        """
        zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        start_ts = int(timestart.timestamp()) if isinstance(timestart, datetime) else int(timestart)
        seconds = int(duration.total_seconds()) if isinstance(duration, timedelta) else int(duration)
        if start_ts % 60 or seconds % 60:
            raise ValueError("Moodle's event form works in whole minutes: start and duration must be multiples of 60 s")
        local = datetime.fromtimestamp(start_ts, zone)
        until = datetime.fromtimestamp(start_ts + seconds, zone)
        form: list[tuple[str, Any]] = [
            ("id", event_id),
            *([("userid", user_id)] if user_id is not None else []),
            ("modulename", ""),
            ("instance", 0),
            ("visible", 1 if visible else 0),
            ("eventtype", "course"),
            ("courseid", course_id),
            ("sesskey", "x"),  # checked by the web form only, not over web services
            ("_qf__core_calendar_local_event_forms_update", 1),
            ("name", name),
            ("timestart[day]", local.day),
            ("timestart[month]", local.month),
            ("timestart[year]", local.year),
            ("timestart[hour]", local.hour),
            ("timestart[minute]", local.minute),
            ("description[text]", description),
            ("description[format]", description_format),
            ("description[itemid]", 0),
            ("location", location),
            ("duration", 2),  # 2 = duration given in minutes
            # The form also posts the "until" selector; sending the matching end keeps it consistent.
            ("timedurationuntil[day]", until.day),
            ("timedurationuntil[month]", until.month),
            ("timedurationuntil[year]", until.year),
            ("timedurationuntil[hour]", until.hour),
            ("timedurationuntil[minute]", until.minute),
            ("timedurationminutes", seconds // 60),
        ]
        wsfunction = "core_calendar_submit_create_update_form"
        result = self._write(wsfunction, {"formdata": urlencode(form)}, retry_safe=retry_safe)
        if result.validationerror or result.event is None:
            raise InvalidParameter(
                f"Moodle's event form rejected the values for event {event_id} (it gives no details)",
                wsfunction=wsfunction,
                hint="check the course id, the name (not empty) and that the event exists and is a course event",
            )
        event: CalendarEvent = result.event
        if event.timestart != start_ts:
            raise MoodleRemoteError(
                f"event {event_id} was saved starting at {event.timestart}, not {start_ts}: "
                f"the sync account's Moodle timezone is not {zone.key}",
                wsfunction=wsfunction,
                hint="set the sync account's timezone in Moodle to the one lms_sync uses, then sync again",
            )
        return event

    def get_allowed_event_types(self, course_id: int = 0) -> AllowedEventTypesResult:
        """``core_calendar_get_allowed_event_types``: the event types the account may create (in a course)."""
        result: AllowedEventTypesResult = self._read("core_calendar_get_allowed_event_types", {"courseid": course_id})
        return result

    def get_user_administration_options(self, course_ids: Sequence[int]) -> AdministrationOptionsResult:
        """``core_course_get_user_administration_options``: what the account may administer in each course."""
        result: AdministrationOptionsResult = self._read(
            "core_course_get_user_administration_options", {"courseids": list(course_ids)}
        )
        return result

    # ----------------------------------------------------------------------------------------------- users

    def get_users_by_field(self, field: UserField, values: Sequence[str | int]) -> list[User]:
        """``core_user_get_users_by_field``: many values per call, split under max_input_vars."""
        users: list[User] = []
        wsfunction = "core_user_get_users_by_field"
        for chunk in self._chunks(wsfunction, "values", list(values), {"field": field}):
            users += self._read(wsfunction, {"field": field, "values": chunk})
        return users

    def create_users(self, users: Sequence[Mapping[str, Any]], *, retry_safe: bool = False) -> list[CreatedUser]:
        """``core_user_create_users``; a duplicate username or email fails its whole chunk (InvalidParameter).

        If a chunk fails, its error carries ``.partial`` (PartialBatch): ``done`` lists the users already created.
        """
        return self._write_chunks("core_user_create_users", "users", users, _concat, retry_safe=retry_safe)

    def update_users(self, users: Sequence[Mapping[str, Any]], *, retry_safe: bool = False) -> WarningsResult:
        """``core_user_update_users``; each dict has ``id`` and the fields to change.

        If a chunk fails, its error carries ``.partial`` (PartialBatch): ``applied`` lists the users already sent.
        """
        return self._write_chunks("core_user_update_users", "users", users, _merge_warnings, retry_safe=retry_safe)

    def enrol_users(self, enrolments: Sequence[Mapping[str, Any]], *, retry_safe: bool = False) -> None:
        """``enrol_manual_enrol_users``; each dict has roleid, userid, courseid (timestart, timeend, suspend).

        If a chunk fails, its error carries ``.partial`` (PartialBatch): ``applied`` lists the enrolments already made.
        """
        self._write_chunks("enrol_manual_enrol_users", "enrolments", enrolments, _nothing, retry_safe=retry_safe)

    # -------------------------------------------------------------------------------------- groups

    def get_course_groups(self, course_id: int) -> list[Group]:
        """``core_group_get_course_groups``: every group of the course, with its idnumber (managegroups)."""
        result: list[Group] = self._read("core_group_get_course_groups", {"courseid": course_id})
        return result

    def get_group_members(self, group_ids: Sequence[int]) -> list[GroupMembers]:
        """``core_group_get_group_members``: the user ids in each group."""
        if not group_ids:
            return []
        result: list[GroupMembers] = self._read("core_group_get_group_members", {"groupids": list(group_ids)})
        return result

    def create_groups(self, groups: Sequence[Mapping[str, Any]], *, retry_safe: bool = False) -> list[Group]:
        """``core_group_create_groups``; each dict has courseid, name, description, idnumber.

        A batch is all-or-nothing (one transaction); a name or idnumber already used in the course fails
        it (invalidparameter, idnumbertaken). Re-sending after a lost answer fails the same way, so look up
        (by idnumber) before retrying.
        """
        return self._write_chunks("core_group_create_groups", "groups", groups, _concat, retry_safe=retry_safe)

    def add_group_members(self, members: Sequence[Mapping[str, Any]], *, retry_safe: bool = False) -> None:
        """``core_group_add_group_members``; each dict has groupid, userid. Adding a member again is accepted.

        Only enrolled users may be members (invalidparameter otherwise): enrol first.
        """
        self._write_chunks("core_group_add_group_members", "members", members, _nothing, retry_safe=retry_safe)

    def delete_group_members(self, members: Sequence[Mapping[str, Any]], *, retry_safe: bool = False) -> None:
        """``core_group_delete_group_members``; each dict has groupid, userid. Removing a non-member is accepted."""
        self._write_chunks("core_group_delete_group_members", "members", members, _nothing, retry_safe=retry_safe)

    def get_course_contents(self, course_id: int) -> list[ContentSection]:
        """``core_course_get_contents``: the course's sections and their modules."""
        result: list[ContentSection] = self._read("core_course_get_contents", {"courseid": course_id})
        return result

    def get_course_module(self, cmid: int) -> CourseModuleResult:
        """``core_course_get_course_module``: one module's record, with its idnumber."""
        result: CourseModuleResult = self._read("core_course_get_course_module", {"cmid": cmid})
        return result

    def get_enrolled_users(
        self,
        course_id: int,
        *,
        userfields: Sequence[str] = (),
        only_active: bool = False,
        with_capability: str | None = None,
        group_id: int | None = None,
        limit_from: int = 0,
        limit_number: int = 0,
        sort_by: Literal["id", "firstname", "lastname", "siteorder"] | None = None,
    ) -> list[User]:
        """``core_enrol_get_enrolled_users``; ``userfields`` shrinks the answer about four times."""
        options: list[dict[str, Any]] = []
        if userfields:
            options.append({"name": "userfields", "value": ",".join(userfields)})
        if only_active:
            options.append({"name": "onlyactive", "value": 1})
        if with_capability:
            options.append({"name": "withcapability", "value": with_capability})
        if group_id is not None:
            options.append({"name": "groupid", "value": group_id})
        if sort_by:
            options += [{"name": "sortby", "value": sort_by}, {"name": "sortdirection", "value": "ASC"}]
        if limit_from:
            options.append({"name": "limitfrom", "value": limit_from})
        if limit_number:
            options.append({"name": "limitnumber", "value": limit_number})
        result: list[User] = self._read("core_enrol_get_enrolled_users", {"courseid": course_id, "options": options})
        return result

    # ------------------------------------------------------------------------------------------ completion

    def get_course_completion_status(self, course_id: int, user_id: int) -> CourseCompletionResult:
        """``core_completion_get_course_completion_status``; AccessDenied (cannotviewreport) if completion is off."""
        result: CourseCompletionResult = self._read(
            "core_completion_get_course_completion_status", {"courseid": course_id, "userid": user_id}
        )
        return result

    def get_activities_completion_status(self, course_id: int, user_id: int) -> ActivitiesCompletionResult:
        """``core_completion_get_activities_completion_status``; empty statuses when completion is off."""
        result: ActivitiesCompletionResult = self._read(
            "core_completion_get_activities_completion_status", {"courseid": course_id, "userid": user_id}
        )
        return result

    def retrieve_report(self, report_id: int, *, page: int = 0, perpage: int = 0) -> ReportResult:
        """``core_reportbuilder_retrieve_report``; ``page`` is zero-based, ``perpage`` 0 means every row."""
        result: ReportResult = self._read(
            "core_reportbuilder_retrieve_report", {"reportid": report_id, "page": page, "perpage": perpage}
        )
        return result


    # ----------------------------------------------------------------------------- Attendance activity

    def add_attendance(
        self, course_id: int, name: str, *, intro: str = "", groupmode: int = 0, retry_safe: bool = False
    ) -> int:
        """``mod_attendance_add_attendance``: a new Attendance activity (section 0); returns its attendance id.

        The course-module id is not returned (find it with ``get_course_contents``). Re-sending makes a
        second activity: retry only after looking it up.
        """
        result: AttendanceCreated = self._write(
            "mod_attendance_add_attendance",
            {"courseid": course_id, "name": name, "intro": intro, "groupmode": groupmode},
            retry_safe=retry_safe,
        )
        return result.attendanceid

    def get_attendance_sessions(self, attendance_id: int) -> list[AttendanceSession]:
        """``mod_attendance_get_sessions``: every session of the activity with every status taken, in one call."""
        try:
            result: list[AttendanceSession] = self._read("mod_attendance_get_sessions", {"attendanceid": attendance_id})
        except InvalidParameter as exc:
            # The plugin's "Invalid session id or no permissions.": the id is an int, so it is the permission.
            capability = "mod/attendance:manageattendances"
            raise AccessDenied(f"Moodle refuses to show the Attendance activity's sessions (needs {capability})",
                               capability=capability, wsfunction=exc.wsfunction, errorcode=exc.errorcode,
                               hint=f"give the sync account's role {capability} at system level") from None
        return result

    def add_attendance_session(
        self, attendance_id: int, *, sessiontime: int, duration: int, description: str, groupid: int = 0,
        retry_safe: bool = False,
    ) -> int:
        """``mod_attendance_add_session`` without a calendar event of its own; returns the session id.

        Moodle accepts duplicates (no key on sessions): retry only after looking it up by its marker.
        """
        result: AttendanceSessionCreated = self._write(
            "mod_attendance_add_session",
            {"attendanceid": attendance_id, "description": description, "sessiontime": sessiontime,
             "duration": duration, "groupid": groupid, "addcalendarevent": False},
            retry_safe=retry_safe,
        )
        return result.sessionid

    def remove_attendance_session(self, session_id: int, *, retry_safe: bool = False) -> None:
        """``mod_attendance_remove_session``: removes the session and its statuses; NotFound when already gone."""
        self._write("mod_attendance_remove_session", {"sessionid": session_id}, retry_safe=retry_safe)


# ------------------------------------------------------------------------------ combining chunk answers


def _concat(answers: list[list[T]]) -> list[T]:
    """The list answers of every chunk, in order."""
    return [row for answer in answers for row in answer]


def _merge_warnings(answers: list[WarningsResult]) -> WarningsResult:
    """One WarningsResult holding the warnings of every chunk."""
    return WarningsResult(warnings=[w for answer in answers for w in answer.warnings])


def _merge_events(answers: list[CalendarEventsResult]) -> CalendarEventsResult:
    """One CalendarEventsResult holding the events and warnings of every chunk."""
    return CalendarEventsResult(
        events=[e for answer in answers for e in answer.events],
        warnings=[w for answer in answers for w in answer.warnings],
    )


def _nothing(answers: list[None]) -> None:
    """Calls that answer ``null``: nothing to merge."""
    return None
