"""Where a pull's data comes from, one reader per source, each making as few calls as it can.

* the course, by its idnumber (push gives it the programme id; an adopted course included);
* the participants: enrolled users in pages (with when each last opened the course), or the
  Report builder report (``report_builder.py``);
* per participant, in the client's bounded pool: course completion, activity completion;
* the Attendance activity: every session with every status in one call;
* with a roster's cohort column, the cohorts: the course's groups and the members of lms_sync's
  ones, two calls whatever the number of participants (``core_enrol_get_enrolled_users`` gives
  each user's groups without their idnumber, and the Report builder path gives none).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import MoodleError, NotFound
from ..markers import parse_cohort_idnumber, parse_marker
from ..moodle.batching import ItemResult
from ..moodle.client import MoodleClient
from ..moodle.lookups import find_attendance
from ..moodle.models import (
    ActivitiesCompletionResult,
    AttendanceSession,
    Course,
    CourseCompletion,
    User,
)
from ..participant_fields import PROFILE_FIELDS
from ..program import Programme
from ..snapshots import Attendance, SessionInfo, Snapshot
from .calls import Calls
from .plan import Listed

log = logging.getLogger("lms_sync.pull")

# Only what reports and the plan need: the full record is about four times larger and twice as slow.
USERFIELDS = ("id", *(f.userfield for f in PROFILE_FIELDS), "roles", "lastcourseaccess")
# Activity completion states: 0 incomplete, 1 complete, 2 complete-pass, 3 complete-fail.
# Attendance counts a completed activity; a failed grade (3) is not attendance.
ATTENDED_STATES = frozenset({1, 2})
COMPLETION_OFF = "cannotviewreport"  # completion disabled on the course, or report/completion:view missing
NO_CRITERIA = "nocriteriaset"  # completion enabled but no criteria set (a course push just made): nobody completes it
# Moodle's answer about the course, the same for everyone: completion unknown, not a failed participant.
COURSE_WIDE = frozenset({COMPLETION_OFF, NO_CRITERIA})

ProgressFn = Callable[[int, int], None]


# ---------------------------------------------------------------------------------------- course


def find_course(client: MoodleClient, programme: Programme, previous: Snapshot | None, calls: Calls) -> Course:
    """The programme's course: by idnumber (the programme id), else the one the last snapshot read."""
    calls.add()
    found = [c for c in client.get_courses_by_field("idnumber", programme.id).courses if c.idnumber == programme.id]
    if found:
        return found[0]
    if previous is not None and previous.course_id is not None:
        calls.add()
        again = client.get_courses_by_field("id", previous.course_id).courses
        if again:
            log.warning("course %d no longer has idnumber %s; reading it as the last snapshot did",
                        previous.course_id, programme.id)
            return again[0]
    raise NotFound(
        f"no Moodle course has idnumber {programme.id!r}",
        wsfunction="core_course_get_courses_by_field",
        hint="run `lms-sync push` first (it creates the course, or adopts one made by hand), or set the course's "
             "ID number in Moodle to the programme id",
    )


# -------------------------------------------------------------------------------------- sessions


def plan_sessions(
    client: MoodleClient, course_id: int, programme: Programme, previous: Snapshot | None, calls: Calls
) -> tuple[tuple[SessionInfo, ...], list[str]]:
    """The programme's sessions with the course-module id recording each one's attendance (activity completion)."""
    notes: list[str] = []
    track = not programme.takes_attendance_in_moodle
    known = {s.activity: s.cmid for s in previous.sessions if s.cmid is not None} if previous else {}
    wanted = {s.activity for s in programme.sessions
              if track and isinstance(s.activity, str) and not s.cancelled and s.activity not in known}
    resolved = resolve_idnumbers(client, course_id, wanted, calls) if wanted else {}
    out: list[SessionInfo] = []
    for s in programme.sessions:
        cmid: int | None = None
        if track and s.activity is not None and not s.cancelled:
            if isinstance(s.activity, int):
                cmid = s.activity
            elif s.activity in known:
                cmid = known[s.activity]  # resolved by an earlier pull: saves the look-up calls
            else:
                cmid = resolved.get(s.activity)
                if cmid is None:
                    notes.append(f"session {s.id}: no activity with idnumber {s.activity!r} in the course")
        out.append(SessionInfo(id=s.id, title=s.title, start=s.start.isoformat(), end=s.end.isoformat(),
                               cancelled=s.cancelled, activity=s.activity, cmid=cmid))
    return tuple(out), notes


def resolve_idnumbers(client: MoodleClient, course_id: int, wanted: set[str], calls: Calls) -> dict[str, int]:
    """Course-module ids of the activities whose ID number is in ``wanted`` (those found)."""
    # core_course_get_contents lists the course modules but not their idnumber, so each module with
    # completion is read with core_course_get_course_module until every wanted idnumber is found.
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


# ---------------------------------------------------------------------------------- participants


def enrolled_participants(
    client: MoodleClient, course_id: int, *, role_id: int, page_size: int, calls: Calls
) -> list[Listed]:
    """Active participants holding ``role_id``, read in pages sorted by id (so pages never overlap)."""
    users = []
    seen: set[int] = set()
    offset = 0
    while True:
        calls.add()
        page = client.get_enrolled_users(course_id, userfields=USERFIELDS, only_active=True, sort_by="id",
                                         limit_from=offset, limit_number=page_size)
        fresh = [u for u in page if u.id not in seen]
        seen.update(u.id for u in fresh)
        users += fresh
        # A short page ends the list; so does a server that ignores paging (answers more than asked,
        # or nothing new), which would otherwise loop forever.
        if len(page) < page_size or len(page) > page_size or not fresh:
            break
        offset += page_size
    # Teachers and managers are enrolled too; the report builder report keeps students only.
    return [_listed(u) for u in users if not u.roles or any(r.roleid == role_id for r in u.roles)]


def _listed(user: User) -> Listed:
    values = {f.key: str(getattr(user, f.userfield) or "").strip() for f in PROFILE_FIELDS}
    values["fullname"] = values["fullname"] or f"{user.firstname} {user.lastname}".strip()
    lastaccess = "" if user.lastcourseaccess is None else str(user.lastcourseaccess)
    return Listed(user.id, lastaccess=lastaccess, **values)  # type: ignore[arg-type]  # str fields


# ------------------------------------------------------------------------------- per participant


@dataclass(frozen=True)
class Reading:
    """What the per-participant calls said about one participant."""

    completion: CourseCompletion | None
    completion_error: str | None
    activities: ActivitiesCompletionResult | None


def per_participant(
    client: MoodleClient,
    course_id: int,
    completion: frozenset[int],
    activities: frozenset[int],
    calls: Calls,
    progress: ProgressFn | None,
) -> dict[int, ItemResult[int, Reading]]:
    """Read, in the bounded pool, the course completion and activity completion the plan asks for."""
    ids = sorted(completion | activities)

    def read(user_id: int) -> Reading:
        status, error = None, None
        if user_id in completion:
            calls.add()
            try:
                status = client.get_course_completion_status(course_id, user_id).completionstatus
            except MoodleError as exc:
                if exc.errorcode not in COURSE_WIDE:
                    raise
                # Completion disabled or without criteria, or the account lacks report/completion:view:
                # Moodle's answer for this course, not a failure of this participant.
                error = exc.errorcode
        done = None
        if user_id in activities:
            calls.add()
            done = client.get_activities_completion_status(course_id, user_id)
        return Reading(status, error, done)

    results = client.map_reads(_counting(read, len(ids), progress), ids)
    return {r.item: r for r in results}


def _counting(fn: Callable[[int], Reading], total: int, progress: ProgressFn | None) -> Callable[[int], Reading]:
    if progress is None:
        return fn
    import threading

    lock = threading.Lock()
    done = [0]
    progress(0, total)

    def wrapped(user_id: int) -> Reading:
        try:
            return fn(user_id)
        finally:
            with lock:
                done[0] += 1
                progress(done[0], total)

    return wrapped


def activity_attendance(sessions: Sequence[SessionInfo], statuses: ActivitiesCompletionResult) -> dict[str, Attendance]:
    """Each tracked session's attendance from one participant's activity completion."""
    by_cmid = {st.cmid: st for st in statuses.statuses}
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


def error_code(exc: MoodleError) -> str:
    """What a snapshot row records of a failure: Moodle's error code, else the error class."""
    return exc.errorcode or type(exc).__name__


# --------------------------------------------------------------------------- Attendance activity


@dataclass(frozen=True)
class AttendanceTaken:
    """Every status the Attendance activity holds for the programme's sessions, by user then session."""

    attendance_id: int
    by_user: dict[int, dict[str, Attendance]]
    sessions: dict[str, int]  # programme session id -> the activity's session id
    unknown_statuses: int  # log rows whose status is not one of the activity's own (reported, not counted)


def find_attendance_activity(
    client: MoodleClient, course: Course, programme: Programme, previous: Snapshot | None, calls: Calls
) -> tuple[int | None, list[AttendanceSession]]:
    """The Attendance activity (the one the last snapshot read, else found in the course) and its sessions."""
    if previous is not None and previous.attendance_id is not None:
        try:
            calls.add()
            return previous.attendance_id, client.get_attendance_sessions(previous.attendance_id)
        except NotFound:
            pass  # removed: look for it again
    spec = programme.attendance
    assert spec is not None
    calls.add()
    read: dict[int, list[AttendanceSession]] = {}
    instance, problem = find_attendance(client, course, programme_id=programme.id, activity=spec.activity,
                                        name=programme.attendance_name, read=read)
    calls.add(len(read))
    if instance is None:
        if problem:
            raise NotFound(problem, wsfunction="mod_attendance_get_sessions", hint="fix [attendance] in the programme")
        return None, []
    if instance.id in read:
        return instance.id, read[instance.id]
    calls.add()
    return instance.id, client.get_attendance_sessions(instance.id)


def attendance_taken(
    attendance_id: int,
    found: Sequence[AttendanceSession],
    programme: Programme,
    sessions: Sequence[SessionInfo],
) -> AttendanceTaken:
    """Map the activity's sessions to the programme's (marker, else exact time) and read every status."""
    assert programme.attendance is not None
    attended = set(programme.attendance.attended)
    mine: dict[str, AttendanceSession] = {}
    for s in sorted(found, key=lambda s: (not s.attendance_log, s.id)):  # a taken one wins over a copy
        marker = parse_marker(s.description)
        if marker and marker[0] == programme.id:
            mine.setdefault(marker[1], s)
    by_time = {(s.sessdate, s.duration): s for s in sorted(found, key=lambda s: -s.id)
               if parse_marker(s.description) is None}
    by_user: dict[int, dict[str, Attendance]] = {}
    unknown = 0
    for info in sessions:
        session = mine.get(info.id)
        if session is None:
            # A session a teacher made by hand, adopted by push for its very time (it carries no marker).
            p = programme.session(info.id)
            if p is not None and not p.cancelled:
                start = int(programme.aware(p.start).timestamp())
                session = by_time.get((start, int(programme.aware(p.end).timestamp()) - start))
        if session is None:
            continue
        mine[info.id] = session
        statuses = {st.id: st for st in session.statuses}
        for row in session.attendance_log:
            status = statuses.get(row.statusid)
            if status is None:
                unknown += 1  # any id is accepted by the plugin: not one of this activity's, not counted
                continue
            by_user.setdefault(row.studentid, {})[info.id] = Attendance(
                status.acronym in attended, None, status.acronym, status.description,
                session.lasttakenby or None, session.lasttaken)
    return AttendanceTaken(attendance_id, by_user, {k: v.id for k, v in mine.items()}, unknown)


# ------------------------------------------------------------------------------------------ cohorts


def read_cohorts(client: MoodleClient, course_id: int, calls: Calls) -> dict[int, str]:
    """Each member's cohort: the name of the lms_sync group (idnumber ``lms-sync-cohort:...``) they are in."""
    calls.add()
    groups = client.get_course_groups(course_id)
    # Names come back through format_string, which escapes "&": the label is the unescaped name.
    ours = {g.id: html.unescape(g.name) for g in groups if parse_cohort_idnumber(g.idnumber) is not None}
    if not ours:
        return {}
    calls.add()
    cohort_of: dict[int, str] = {}
    for members in sorted(client.get_group_members(sorted(ours)), key=lambda m: m.groupid):
        for user_id in members.userids:
            # Push keeps one cohort each; one put in two by hand shows the first group's (oldest).
            cohort_of.setdefault(user_id, ours.get(members.groupid, ""))
    return cohort_of
