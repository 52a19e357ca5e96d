"""Pull completion from Moodle into one snapshot per run (``lms-sync pull``).

Two ways to read the course, giving the same snapshot for the same data:

* **per participant** (default): the enrolled participants in pages with only the fields reports
  need, then, in the client's bounded and rate-limited pool, each participant's course completion
  (``core_completion_get_course_completion_status``) and activity completion
  (``core_completion_get_activities_completion_status``, for sessions naming an activity).
* **Report builder** (``moodle.completion_report_id`` set): a custom report on the "Course
  participants" source lists every participant with the "Completed" flag in a few pages. Its
  values are display text (HTML-escaped, positional, localised titles), so the titles are checked
  first and the run refuses a report whose columns are not the expected ones. Per-participant calls
  are then made only where they add what the last snapshot lacks: the exact completion time of
  someone newly complete, and session attendance that is not final yet.

A participant whose calls fail after the transport's retries is recorded as ``failed``: the
snapshot is marked incomplete and the run exits 1. Nothing personal is logged: counts and error
codes only.
"""

from __future__ import annotations

import html
import json
import logging
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from .errors import (
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_PARTIAL,
    AccessDenied,
    ConfigError,
    LmsSyncError,
    MoodleError,
    MoodleUnavailable,
    NotFound,
)
from .moodle.client import MoodleClient
from .moodle.models import (
    ActivitiesCompletionResult,
    Course,
    CourseCompletion,
    User,
)
from .program import Programme
from .settings import Settings
from .snapshots import (
    SOURCE_CALLS,
    SOURCE_REPORTBUILDER,
    STATUS_FAILED,
    STATUS_NO_ACCESS,
    STATUS_OK,
    Attendance,
    ParticipantRow,
    SessionInfo,
    Snapshot,
    load_rows,
    load_snapshot,
    save_snapshot,
)
from .store import Store, utcnow
from .sync.journal import load_state

log = logging.getLogger(__name__)

# Only what reports need: the full record is about four times larger and twice as slow (fixtures, fact 13).
USERFIELDS = ("id", "username", "idnumber", "fullname", "email", "institution", "department", "roles")
# Activity completion states: 0 incomplete, 1 complete, 2 complete-pass, 3 complete-fail.
# Attendance counts a completed activity; a failed grade (3) is not attendance.
ATTENDED_STATES = frozenset({1, 2})
COMPLETION_OFF = "cannotviewreport"
# Participants tried in turn to learn whether course completion can be read (see _probe_completion).
_PROBES = 3

ProgressFn = Callable[[int, int], None]


# --------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PullResult:
    """What one pull recorded, for the summary line and the exit code."""

    run_id: int
    source: str
    participants: int
    completed: int
    failed: int
    no_access: int
    calls: int
    seconds: float
    complete: bool
    notes: tuple[str, ...] = ()
    errors: tuple[tuple[str, int], ...] = ()  # (error code, participants), most frequent first
    hints: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        """0 when every participant was read, 1 when some failed."""
        return EXIT_OK if self.complete else EXIT_PARTIAL

    def summary(self) -> str:
        """One line for cron mail and terminals alike (counts only, nothing personal)."""
        state = "complete" if self.complete else "INCOMPLETE"
        text = (
            f"pull run {self.run_id}: {self.participants} participant(s), {self.completed} completed, "
            f"{self.failed} failed, {self.no_access} without access; {self.calls} Moodle call(s) "
            f"via {self.source} in {self.seconds:.1f} s; snapshot {state}"
        )
        if self.errors:
            text += " (" + ", ".join(f"{code}: {n}" for code, n in self.errors) + ")"
        return text


class _Calls:
    """Counts the Moodle calls one pull makes, from the pool's threads too."""

    def __init__(self) -> None:
        self.n = 0
        self._lock = threading.Lock()

    def add(self, k: int = 1) -> None:
        with self._lock:
            self.n += k


# ----------------------------------------------------------------------------------------- course


def find_course(client: MoodleClient, store: Store, programme: Programme, calls: _Calls | None = None) -> Course:
    """The programme's Moodle course: through the push mapping when there is one, else by idnumber."""
    calls = calls or _Calls()
    mapped = mapped_course_id(store, programme.id)
    if mapped is not None:
        calls.add()
        found = client.get_courses_by_field("id", mapped).courses
        if found:
            return found[0]
        log.warning("the course recorded by push (id %d) is gone from Moodle; looking it up by idnumber", mapped)
    calls.add()
    found = client.get_courses_by_field("idnumber", programme.id).courses
    if not found:
        raise NotFound(
            f"no Moodle course has idnumber {programme.id!r}",
            wsfunction="core_course_get_courses_by_field",
            hint="run `lms-sync push` first, or set the course's ID number in Moodle to the programme id",
        )
    return found[0]


def mapped_course_id(store: Store, programme_id: str) -> int | None:
    """The Moodle course id recorded by push for this programme, or None."""
    # Push keys the course mapping by its idnumber, which is the programme id (sync.desired).
    mapping = load_state(store).get("course", programme_id)
    return mapping.moodle_id if mapping is not None else None


# -------------------------------------------------------------------------------------- sessions


def plan_sessions(
    client: MoodleClient,
    course_id: int,
    programme: Programme,
    previous: Snapshot | None,
    calls: _Calls,
) -> tuple[tuple[SessionInfo, ...], list[str]]:
    """The programme's sessions with the course-module id recording each one's attendance."""
    notes: list[str] = []
    known = {s.activity: s.cmid for s in previous.sessions if s.cmid is not None} if previous else {}
    wanted = {
        s.activity
        for s in programme.sessions
        if isinstance(s.activity, str) and not s.cancelled and s.activity not in known
    }
    resolved = resolve_idnumbers(client, course_id, wanted, calls) if wanted else {}
    out: list[SessionInfo] = []
    for s in programme.sessions:
        cmid: int | None = None
        if s.activity is not None and not s.cancelled:
            if isinstance(s.activity, int):
                cmid = s.activity
            elif s.activity in known:
                cmid = known[s.activity]  # resolved by an earlier pull: saves the look-up calls
            else:
                cmid = resolved.get(s.activity)
                if cmid is None:
                    notes.append(f"session {s.id}: no activity with idnumber {s.activity!r} in the course")
        out.append(
            SessionInfo(
                id=s.id,
                title=s.title,
                start=s.start.isoformat(),
                end=s.end.isoformat(),
                cancelled=s.cancelled,
                activity=s.activity,
                cmid=cmid,
            )
        )
    return tuple(out), notes


def resolve_idnumbers(client: MoodleClient, course_id: int, wanted: set[str], calls: _Calls) -> dict[str, int]:
    """Course-module ids of the activities whose ID number is in ``wanted`` (those found)."""
    # core_course_get_contents lists the course modules but not their idnumber (fixture
    # core_course_get_contents.ok.json), so each module with completion is read with
    # core_course_get_course_module until every wanted idnumber is found.
    calls.add()
    sections = client.get_course_contents(course_id)
    found: dict[str, int] = {}
    for section in sections:
        for module in section.modules:
            if not module.completion:
                continue  # attendance is read through activity completion: a module without it cannot record it
            idnumber = module.idnumber
            if idnumber is None:
                calls.add()
                idnumber = client.get_course_module(module.id).cm.idnumber
            if idnumber in wanted:
                found[idnumber] = module.id
            if len(found) == len(wanted):
                return found
    return found


def _attendance(sessions: Sequence[SessionInfo], statuses: ActivitiesCompletionResult | None) -> dict[str, Attendance]:
    by_cmid = {st.cmid: st for st in statuses.statuses} if statuses is not None else {}
    out: dict[str, Attendance] = {}
    for s in sessions:
        st = by_cmid.get(s.cmid) if s.cmid is not None else None
        if st is None or not st.hascompletion:
            out[s.id] = Attendance(None)  # not tracked (no activity, or completion off on it)
        else:
            out[s.id] = Attendance(st.state in ATTENDED_STATES, st.timecompleted or None)
    return out


def course_time_completed(status: CourseCompletion) -> int | None:
    """When the course was completed, derived from the criteria (Moodle's answer has no course-level time)."""
    if not status.completed:
        return None
    times = [c.timecompleted for c in status.completions if c.complete and c.timecompleted]
    if not times:
        return None
    # Aggregation 1 = all criteria: complete when the last one was met; 2 = any: when the first was.
    return max(times) if status.aggregation == 1 else min(times)


# ------------------------------------------------------------------------------------ participants


def enrolled_participants(
    client: MoodleClient, course_id: int, *, role_id: int, page_size: int, calls: _Calls
) -> list[User]:
    """Active participants holding ``role_id``, read in pages sorted by id (so pages never overlap)."""
    users: list[User] = []
    seen: set[int] = set()
    offset = 0
    while True:
        calls.add()
        page = client.get_enrolled_users(
            course_id,
            userfields=USERFIELDS,
            only_active=True,
            sort_by="id",
            limit_from=offset,
            limit_number=page_size,
        )
        fresh = [u for u in page if u.id not in seen]
        seen.update(u.id for u in fresh)
        users += fresh
        # A short page ends the list; so does a server that ignores paging (answers more than asked,
        # or nothing new), which would otherwise loop forever.
        if len(page) < page_size or len(page) > page_size or not fresh:
            break
        offset += page_size
    # Teachers and managers are enrolled too; the report builder report keeps students only.
    return [u for u in users if not u.roles or any(r.roleid == role_id for r in u.roles)]


@dataclass(frozen=True)
class _Reading:
    completion: CourseCompletion | None
    completion_error: str | None
    activities: ActivitiesCompletionResult | None


def _reader(
    client: MoodleClient, course_id: int, calls: _Calls, *, read_completion: bool, read_activities: bool
) -> Callable[[int], _Reading]:
    def read(user_id: int) -> _Reading:
        completion, error = None, None
        if read_completion:
            calls.add()
            try:
                completion = client.get_course_completion_status(course_id, user_id).completionstatus
            except AccessDenied as exc:
                if exc.errorcode != COMPLETION_OFF:
                    raise
                # Completion has no criteria, or the account lacks report/completion:view: Moodle's
                # answer for this course, not a failure of this participant.
                error = COMPLETION_OFF
        activities = None
        if read_activities:
            calls.add()
            activities = client.get_activities_completion_status(course_id, user_id)
        return _Reading(completion, error, activities)

    return read


def _error_code(exc: MoodleError) -> str:
    return exc.errorcode or type(exc).__name__


# ------------------------------------------------------------------------------------ report builder


@dataclass(frozen=True)
class ReportColumn:
    """A column lms_sync reads from the custom report, with the titles Moodle gives it."""

    key: str
    titles: tuple[str, ...]
    required: bool = True


# Titles as Moodle 5.1 shows them to an English-speaking account (fixture
# core_reportbuilder_retrieve_report.page0_perpage2.ok.json). Columns are matched by title, never by
# position, since editing the report in the UI moves them.
REPORT_COLUMNS: tuple[ReportColumn, ...] = (
    ReportColumn("userlink", ("Full name with link",)),
    ReportColumn("username", ("Username",)),
    ReportColumn("fullname", ("Full name",)),
    ReportColumn("idnumber", ("ID number",), required=False),
    ReportColumn("email", ("Email address",)),
    ReportColumn("institution", ("Institution",)),
    ReportColumn("department", ("Department",)),
    ReportColumn("completed", ("Completed",)),
    ReportColumn("timecompleted", ("Time completed",), required=False),
)
_COMPLETED_VALUES = {"Yes": True, "No": False, "": False}  # "": no course_completions row yet (fact 12)
_PROFILE_ID = re.compile(r"""href=["'][^"']*/user/profile\.php\?id=(\d+)""")
_REPORT_HINT = (
    "edit the custom report so it has the columns {cols} with their default titles, seen by the sync "
    "account in English (its preferred language), or unset moodle.completion_report_id to read "
    "participants one by one"
)


def report_layout(headers: Sequence[str], report_id: int) -> dict[str, int]:
    """Map column keys to positions from the report's titles; refuse a report lms_sync would misread."""
    positions: dict[str, int] = {}
    problems: list[str] = []
    for column in REPORT_COLUMNS:
        at = [i for i, h in enumerate(headers) if h.strip() in column.titles]
        if len(at) > 1:
            problems.append(f"column {column.titles[0]!r} appears {len(at)} times")
        elif at:
            positions[column.key] = at[0]
        elif column.required:
            problems.append(f"column {column.titles[0]!r} is missing")
    if problems:
        wanted = ", ".join(repr(c.titles[0]) for c in REPORT_COLUMNS if c.required)
        raise ConfigError(
            f"Report builder report {report_id} does not have the layout lms_sync reads: "
            + "; ".join(problems)
            + f". Its columns are: {', '.join(repr(h) for h in headers) or 'none'}",
            hint=_REPORT_HINT.format(cols=wanted),
        )
    return positions


@dataclass(frozen=True)
class ReportParticipant:
    """One report row, unescaped and keyed."""

    user_id: int
    username: str
    idnumber: str
    fullname: str
    email: str
    institution: str
    department: str
    completed: bool


def parse_report_row(columns: Sequence[str | None], layout: Mapping[str, int], report_id: int) -> ReportParticipant:
    """Turn one positional row of display strings into a participant; refuse values of the wrong kind."""

    def text(key: str, *, escaped: bool = True) -> str:
        if key not in layout:
            return ""
        value = columns[layout[key]] if layout[key] < len(columns) else None
        value = value or ""
        # User text fields come HTML-escaped ("l&#039;Industrie"); "Full name" does not (fact 12).
        return html.unescape(value).strip() if escaped else value.strip()

    link = columns[layout["userlink"]] or "" if layout["userlink"] < len(columns) else ""
    found = _PROFILE_ID.search(link)
    completed_text = text("completed")
    if found is None or completed_text not in _COMPLETED_VALUES:
        what = "a user profile link" if found is None else "Yes/No"
        raise ConfigError(
            f"Report builder report {report_id}: a row does not hold {what} where its title says so",
            hint=_REPORT_HINT.format(cols="'Full name with link', 'Completed'"),
        )
    return ReportParticipant(
        user_id=int(found.group(1)),
        username=text("username"),
        idnumber=text("idnumber"),
        fullname=text("fullname", escaped=False),
        email=text("email"),
        institution=text("institution"),
        department=text("department"),
        completed=_COMPLETED_VALUES[completed_text],
    )


# Moodle's text filter operator "Is equal to" (core_reportbuilder\local\filters\text::IS_EQUAL_TO), as
# stored in the report's conditiondata (fixture core_reportbuilder_retrieve_report.page0_perpage2.ok.json).
_IS_EQUAL_TO = 3
def check_report_course(conditiondata: str | None, course: Course, report_id: int) -> None:
    """Refuse a report whose stored conditions do not limit it to ``course`` (by its ID number)."""
    # The rows carry no course, so the report's own conditions are the only free evidence of what
    # it lists: a report id pointing at another course's report would otherwise give a "complete"
    # snapshot of the wrong people.
    fix = (
        f"edit report {report_id}'s conditions to: Course ID number is equal to {course.idnumber!r} (plus active "
        "enrolment and role student), or set moodle.completion_report_id to the report built for this course, "
        "or unset it to read participants one by one"
    )
    try:
        conditions = json.loads(conditiondata) if conditiondata else None
    except ValueError:
        conditions = None
    if not isinstance(conditions, dict):
        raise ConfigError(
            f"Report builder report {report_id}: Moodle did not give its conditions, so lms_sync cannot check that "
            f"it lists the participants of course {course.id} (ID number {course.idnumber!r})",
            hint=fix,
        )
    operator = conditions.get("course:idnumber_operator")
    value = conditions.get("course:idnumber_value")
    if str(operator) != str(_IS_EQUAL_TO) or not isinstance(value, str):
        raise ConfigError(
            f"Report builder report {report_id} is not limited to one course: it has no condition "
            f"\"Course ID number is equal to\" (course {course.id} has ID number {course.idnumber!r})",
            hint=fix,
        )
    # Moodle compares text conditions without regard to case.
    if not course.idnumber or value.strip().casefold() != course.idnumber.strip().casefold():
        raise ConfigError(
            f"Report builder report {report_id} is about another course: its condition is course ID number "
            f"{value!r}, but the programme's course is {course.id} with ID number {course.idnumber!r}",
            hint=fix,
        )


def read_report(
    client: MoodleClient, report_id: int, page_size: int, calls: _Calls, course: Course
) -> list[ReportParticipant]:
    """Every row of the custom report, in ceil(total / page_size) calls, once checked to be about ``course``."""
    calls.add()
    first = client.retrieve_report(report_id, page=0, perpage=page_size)
    layout = report_layout(first.data.headers, report_id)
    check_report_course(first.details.conditiondata, course, report_id)
    pages = [first]
    # totalrowcount comes from the first page: a page past the end answers 0 (fact 12), so it is
    # never asked for.
    for page in range(1, math.ceil(first.data.totalrowcount / page_size)):
        calls.add()
        result = client.retrieve_report(report_id, page=page, perpage=page_size)
        if result.data.headers != first.data.headers:
            report_layout(result.data.headers, report_id)  # raises if now unreadable
            raise ConfigError(
                f"Report builder report {report_id} changed while it was being read",
                hint="run the pull again",
            )
        if not result.data.rows:
            break  # rows removed while reading
        pages.append(result)
    seen: dict[int, ReportParticipant] = {}
    for result in pages:
        for row in result.data.rows:
            p = parse_report_row(row.columns, layout, report_id)
            seen.setdefault(p.user_id, p)  # a row shifting across pages while reading is kept once
    return list(seen.values())


# ------------------------------------------------------------------------------------------- pull


def pull_completion(
    client: MoodleClient,
    store: Store,
    programme: Programme,
    settings: Settings,
    *,
    progress: ProgressFn | None = None,
    now: Callable[[], datetime] = utcnow,
) -> PullResult:
    """Read the course's participants and completion into a new snapshot; one run, one snapshot."""
    started = time.monotonic()
    taken_at = now()
    run_id = store.start_run("pull", taken_at)
    calls = _Calls()
    try:
        result = _pull(client, store, programme, settings, run_id, taken_at, calls, progress)
    except LmsSyncError as err:
        store.finish_run(run_id, "failed", err.exit_code, {"error": type(err).__name__, "calls": calls.n})
        raise
    except BaseException:
        store.finish_run(run_id, "failed", EXIT_INTERNAL, {"error": "internal", "calls": calls.n})
        raise
    result = replace(result, calls=calls.n, seconds=time.monotonic() - started)
    store.finish_run(
        run_id,
        "ok" if result.complete else "partial",
        result.exit_code,
        {
            "source": result.source,
            "participants": result.participants,
            "completed": result.completed,
            "failed": result.failed,
            "no_access": result.no_access,
            "calls": result.calls,
            "seconds": round(result.seconds, 3),
        },
    )
    log.debug("%s", result.summary())  # the caller prints or logs the summary once
    return result


def _pull(
    client: MoodleClient,
    store: Store,
    programme: Programme,
    settings: Settings,
    run_id: int,
    taken_at: datetime,
    calls: _Calls,
    progress: ProgressFn | None,
) -> PullResult:
    course = find_course(client, store, programme, calls)
    previous = load_snapshot(store, "latest", programme_id=programme.id)
    sessions, notes = plan_sessions(client, course.id, programme, previous, calls)
    enabled = bool(course.enablecompletion)
    if not enabled:
        notes.append("completion is disabled on the course: course completion and attendance are unknown")
    report_id = settings.moodle.completion_report_id
    if report_id is not None:
        rows = _rows_from_report(
            client, store, course, sessions, previous, settings, report_id, enabled, calls, progress
        )
        source = SOURCE_REPORTBUILDER
    else:
        rows = _rows_from_calls(client, course, sessions, settings, enabled, calls, progress)
        source = SOURCE_CALLS
    hints: list[str] = []
    if any(r.error == COMPLETION_OFF and r.status == STATUS_OK for r in rows):
        notes.append(
            "Moodle refused course completion (cannotviewreport): the course has no completion criteria, "
            "or the sync account lacks report/completion:view"
        )
        hints.append("set completion criteria on the course and grant the sync account report/completion:view")
    failed = [r for r in rows if r.status == STATUS_FAILED]
    snapshot = Snapshot(
        run_id=run_id,
        programme_id=programme.id,
        programme_title=programme.title,
        timezone=programme.timezone,
        course_id=course.id,
        taken_at=taken_at,
        source=source,
        complete=not failed,
        completion_enabled=enabled,
        sessions=sessions,
        notes=tuple(notes),
    )
    save_snapshot(store, snapshot, rows)
    errors = Counter(r.error or "error" for r in failed).most_common()
    return PullResult(
        run_id=run_id,
        source=source,
        participants=len(rows),
        completed=sum(1 for r in rows if r.completed),
        failed=len(failed),
        no_access=sum(1 for r in rows if r.status == STATUS_NO_ACCESS),
        calls=calls.n,
        seconds=0.0,
        complete=not failed,
        notes=tuple(notes),
        errors=tuple(errors),
        hints=tuple(hints),
    )


def _counting(fn: Callable[[int], _Reading], total: int, progress: ProgressFn | None) -> Callable[[int], _Reading]:
    if progress is None:
        return fn
    lock = threading.Lock()
    done = [0]
    progress(0, total)

    def wrapped(user_id: int) -> _Reading:
        try:
            return fn(user_id)
        finally:
            with lock:
                done[0] += 1
                progress(done[0], total)

    return wrapped


def _rows_from_calls(
    client: MoodleClient,
    course: Course,
    sessions: tuple[SessionInfo, ...],
    settings: Settings,
    enabled: bool,
    calls: _Calls,
    progress: ProgressFn | None,
) -> list[ParticipantRow]:
    users = enrolled_participants(
        client, course.id, role_id=settings.pull.role_id, page_size=settings.pull.enrolled_page_size, calls=calls
    )
    tracked = enabled and any(s.tracked for s in sessions)
    read = _reader(client, course.id, calls, read_completion=enabled, read_activities=tracked)
    results = client.map_reads(_counting(read, len(users), progress), [u.id for u in users])
    rows: list[ParticipantRow] = []
    for user, res in zip(users, results, strict=True):
        base = ParticipantRow(
            user_id=user.id,
            username=user.username,
            idnumber=user.idnumber,
            fullname=user.fullname or f"{user.firstname} {user.lastname}".strip(),
            email=user.email,
            institution=user.institution.strip(),
            department=user.department.strip(),
            attendance={s.id: Attendance(None) for s in sessions},
        )
        rows.append(_row(base, res.value, res.error, sessions))
    return rows


def _row(
    base: ParticipantRow, reading: _Reading | None, error: MoodleError | None, sessions: Sequence[SessionInfo]
) -> ParticipantRow:
    if error is not None:
        # usernotenroled: the enrolment ended between the list and this call; Moodle's answer, not a failure.
        status = STATUS_NO_ACCESS if isinstance(error, NotFound) else STATUS_FAILED
        return replace(base, status=status, error=_error_code(error))
    assert reading is not None
    completed, when = base.completed, base.time_completed
    if reading.completion is not None:
        completed, when = reading.completion.completed, course_time_completed(reading.completion)
    attendance = dict(base.attendance)
    if reading.activities is not None:
        attendance = _attendance(sessions, reading.activities)
    return replace(
        base,
        completed=completed,
        time_completed=when,
        error=reading.completion_error or base.error,
        attendance=attendance,
    )


def _rows_from_report(
    client: MoodleClient,
    store: Store,
    course: Course,
    sessions: tuple[SessionInfo, ...],
    previous: Snapshot | None,
    settings: Settings,
    report_id: int,
    enabled: bool,
    calls: _Calls,
    progress: ProgressFn | None,
) -> list[ParticipantRow]:
    listed = read_report(client, report_id, settings.pull.report_page_size, calls, course)
    before = {r.user_id: r for r in load_rows(store, previous.run_id)} if previous else {}
    final_days = timedelta(days=settings.pull.attendance_final_days)
    tracked = [s for s in sessions if s.tracked] if enabled else []
    same_cmid = {s.id for s in previous.sessions if s.cmid is not None} if previous else set()
    same_cmid &= {s.id for s in tracked if _cmid_of(previous, s.id) == s.cmid}

    def final(prev: ParticipantRow, session: SessionInfo) -> bool:
        seen = prev.attendance.get(session.id)
        if seen is None or seen.attended is None or session.id not in same_cmid or previous is None:
            return False
        if seen.attended:
            return True  # attendance once recorded is kept
        # An absence is final once the previous pull happened well after the session ended.
        ended = datetime.fromisoformat(session.end).replace(tzinfo=_tz(previous.timezone))
        return previous.taken_at >= ended + final_days

    rows: list[ParticipantRow] = []
    todo: dict[int, tuple[bool, bool]] = {}  # user id -> (read completion, read activities)
    for p in listed:
        prev = before.get(p.user_id)
        usable = prev is not None and prev.status == STATUS_OK
        base = ParticipantRow(
            user_id=p.user_id,
            username=p.username,
            idnumber=p.idnumber,
            fullname=p.fullname,
            email=p.email,
            institution=p.institution,
            department=p.department,
            completed=p.completed if enabled else None,
            attendance={s.id: Attendance(None) for s in sessions},
        )
        need_time = False
        if enabled and p.completed:
            if usable and prev.completed and prev.time_completed:  # type: ignore[union-attr]
                base = replace(base, time_completed=prev.time_completed)  # type: ignore[union-attr]
            else:
                need_time = True  # newly complete: only the per-user call has the exact time
        need_attendance = False
        if tracked:
            if usable and all(final(prev, s) for s in tracked):  # type: ignore[arg-type]
                base = replace(base, attendance={**base.attendance, **{s.id: prev.attendance[s.id] for s in tracked}})  # type: ignore[union-attr]
            else:
                need_attendance = True
        if need_time or need_attendance:
            todo[p.user_id] = (need_time, need_attendance)
        rows.append(base)

    if enabled and rows:
        rows, todo = _probe_completion(client, course.id, rows, todo, calls)

    if todo:
        readers = {
            flags: _reader(client, course.id, calls, read_completion=flags[0], read_activities=flags[1])
            for flags in set(todo.values())
        }
        ids = sorted(todo)
        results = client.map_reads(_counting(lambda uid: readers[todo[uid]](uid), len(ids), progress), ids)
        by_id = {r.item: r for r in results}
        rows = [
            _from_report(row, by_id[row.user_id].value, by_id[row.user_id].error, sessions)
            if row.user_id in by_id
            else row
            for row in rows
        ]
    elif progress is not None:
        progress(len(rows), len(rows))
    return sorted(rows, key=lambda r: r.user_id)


def _probe_completion(
    client: MoodleClient,
    course_id: int,
    rows: list[ParticipantRow],
    todo: dict[int, tuple[bool, bool]],
    calls: _Calls,
) -> tuple[list[ParticipantRow], dict[int, tuple[bool, bool]]]:
    """Ask Moodle for one participant's course completion, so the report path records what the calls path would."""
    # The report shows "Completed" Yes/No even when the course has completion on but no criteria,
    # where core_completion_get_course_completion_status answers cannotviewreport for everyone:
    # the calls path then records "unknown" with that error. One call tells which case this is.
    # Someone whose completion time is needed anyway goes first, so the probe costs nothing extra.
    needing = [uid for uid, (need_time, _) in sorted(todo.items()) if need_time]
    order = list(dict.fromkeys([*needing, *sorted(r.user_id for r in rows)]))[:_PROBES]
    for user_id in order:
        calls.add()
        try:
            status = client.get_course_completion_status(course_id, user_id).completionstatus
        except MoodleUnavailable:
            raise  # Moodle is down or refuses the token: every other call would fail too
        except MoodleError as exc:
            if isinstance(exc, AccessDenied) and exc.errorcode == COMPLETION_OFF:
                unknown = [replace(r, completed=None, time_completed=None, error=COMPLETION_OFF) for r in rows]
                return unknown, {uid: (False, att) for uid, (_, att) in todo.items() if att}
            # Most likely this participant's own trouble (left the course, a server bug on their
            # record): try another. If it is not, their own reads below record the failure.
            log.warning("completion probe: %s for one participant; trying another", _error_code(exc))
            continue
        if todo.get(user_id, (False, False))[0]:
            # Reuse the answer: it is the per-user completion call this participant needed.
            rows = [
                replace(r, completed=status.completed, time_completed=course_time_completed(status))
                if r.user_id == user_id
                else r
                for r in rows
            ]
            attendance = todo[user_id][1]
            todo = {k: v for k, v in todo.items() if k != user_id}
            if attendance:
                todo[user_id] = (False, True)
        return rows, todo
    log.warning("completion probe: no participant could be read; the report's Completed flags are kept")
    return rows, todo


def _from_report(
    base: ParticipantRow, reading: _Reading | None, error: MoodleError | None, sessions: Sequence[SessionInfo]
) -> ParticipantRow:
    row = _row(base, reading, error, sessions)
    if reading is not None and reading.completion is not None:
        # The report's flag and the call agree unless completion changed in between; the call is newer.
        row = replace(row, completed=reading.completion.completed)
    if row.status != STATUS_OK:
        row = replace(row, completed=base.completed)  # the report still told us whether they completed
    return row


def _cmid_of(snapshot: Snapshot | None, session_id: str) -> int | None:
    if snapshot is None:
        return None
    return next((s.cmid for s in snapshot.sessions if s.id == session_id), None)


def _tz(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)
