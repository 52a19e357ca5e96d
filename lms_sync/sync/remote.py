"""Read what Moodle holds for a programme, in as few calls as possible.

A push where nothing changed makes exactly three calls: the course by idnumber, the course's
events, and the course's active participants (with the profile fields we compare). The category
is looked up only when the course is missing or not in the category the state store remembers,
and users by username (batched) only for roster entries not already among the participants.

With a roster's cohort column, two more: the course's groups and the members of lms_sync's ones.

What an admin made by hand before lms_sync arrived is found too, so that push adopts it instead of
making a second one: a course with the programme's shortname and no idnumber, a category with the
programme's category name and no idnumber (two more calls, only while they have no idnumber).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import AccessDenied, NotFound
from ..markers import parse_cohort_idnumber
from ..moodle.client import MoodleClient
from ..moodle.lookups import AttendanceInstance, find_attendance, find_course
from ..moodle.models import AttendanceSession, CalendarEvent, Category, Course, Group, User
from .desired import Desired, DesiredAttendance
from .journal import State

# Fields asked of core_enrol_get_enrolled_users: about a quarter of the default answer's size.
USER_FIELDS = ("id", "username", "firstname", "lastname", "email", "idnumber", "institution", "department", "roles")
COMPARED_USER_FIELDS = ("email", "firstname", "lastname", "institution", "department", "idnumber")


@dataclass(frozen=True)
class RemoteUser:
    """A Moodle account as read; ``fields`` holds only the profile fields Moodle actually returned."""

    id: int
    username: str
    fields: dict[str, str]


@dataclass
class Remote:
    """What Moodle holds that a push compares with; filled by ``read_remote`` (or by tests)."""

    course: Course | None = None
    # When ``category_checked`` is False the course sits in the category the store maps, so the
    # category was not looked up (saves a call per push) and is taken as present.
    category: Category | None = None
    category_checked: bool = True
    events: list[CalendarEvent] = field(default_factory=list)
    # Found by shortname (course) or by name (category), with no idnumber: made by hand, to adopt.
    course_made_by_hand: bool = False
    category_made_by_hand: bool = False
    # A course holding the programme's shortname under another idnumber: a create would be refused.
    shortname_taken_by: Course | None = None
    # The Attendance activity ([attendance] source = "mod_attendance") and its sessions with their statuses.
    attendance: AttendanceInstance | None = None
    attendance_sessions: list[AttendanceSession] = field(default_factory=list)
    attendance_problem: str | None = None  # the programme names an activity the course does not have
    users: dict[str, RemoteUser] = field(default_factory=dict)  # by username
    enrolled: dict[int, frozenset[int]] = field(default_factory=dict)  # active participant id -> role ids
    groups: list[Group] = field(default_factory=list)  # every group of the course (cohorts only)
    group_members: dict[int, frozenset[int]] = field(default_factory=dict)  # lms_sync's groups: id -> user ids


def to_remote_user(user: User) -> RemoteUser:
    """Keep the compared fields Moodle returned; a field it left out (no capability) stays unknown."""
    returned = user.model_fields_set
    return RemoteUser(
        id=user.id,
        username=user.username,
        fields={name: getattr(user, name) or "" for name in COMPARED_USER_FIELDS if name in returned},
    )


def read_remote(client: MoodleClient, desired: Desired, state: State) -> Remote:
    """Look up the category, course, its events and the roster's users and enrolments."""
    remote = Remote()
    want = desired.course
    match = find_course(client, want.idnumber, want.shortname)
    remote.course, remote.course_made_by_hand, remote.shortname_taken_by = match.course, match.made_by_hand, match.taken_by

    mapped_category = state.get("category", desired.category.idnumber)
    if remote.course is not None and mapped_category is not None and remote.course.categoryid == mapped_category.moodle_id:
        remote.category_checked = False
    else:
        categories = client.get_categories(idnumber=desired.category.idnumber)
        remote.category = next((c for c in categories if c.idnumber == desired.category.idnumber), None)
        if remote.category is None:
            remote.category = _category_made_by_hand(client, desired, remote.course)
            remote.category_made_by_hand = remote.category is not None

    if remote.course is not None:
        remote.events = lookup_events(client, remote.course.id)
        if desired.attendance is not None:
            _read_attendance(client, desired.attendance, remote.course, state, remote)

    if desired.users is None:
        return remote
    if remote.course is not None:
        participants = client.get_enrolled_users(remote.course.id, userfields=USER_FIELDS, only_active=True)
        for user in participants:
            remote.users[user.username] = to_remote_user(user)
            remote.enrolled[user.id] = frozenset(r.roleid for r in user.roles)
    missing = [u.username for u in desired.users if u.username not in remote.users]
    if missing:
        for user in client.get_users_by_field("username", missing):
            remote.users[user.username] = to_remote_user(user)
    if desired.cohorts is not None and remote.course is not None:
        try:
            remote.groups = client.get_course_groups(remote.course.id)
        except AccessDenied:
            # No managegroups: the plan's group writes make the preflight stop push with what to add.
            return remote
        ours = [g.id for g in remote.groups if parse_cohort_idnumber(g.idnumber) is not None]
        remote.group_members = {m.groupid: frozenset(m.userids) for m in client.get_group_members(ours)}
    return remote


def _read_attendance(
    client: MoodleClient, want: DesiredAttendance, course: Course, state: State, remote: Remote
) -> None:
    """The Attendance activity and its sessions: the one push recorded (one call), else looked up in the course."""
    mapping = state.get("attendance", want.key)
    if mapping is not None:
        try:
            remote.attendance_sessions = client.get_attendance_sessions(mapping.moodle_id)
            remote.attendance = AttendanceInstance(mapping.moodle_id)
            return
        except NotFound:
            pass  # deleted in Moodle: look again, as with a lost store
    read: dict[int, list[AttendanceSession]] = {}
    remote.attendance, remote.attendance_problem = find_attendance(
        client, course, programme_id=want.key, activity=want.activity, name=want.name, read=read)
    if remote.attendance is not None:
        found = remote.attendance.id
        remote.attendance_sessions = read[found] if found in read else client.get_attendance_sessions(found)


def _category_made_by_hand(client: MoodleClient, desired: Desired, course: Course | None) -> Category | None:
    """The category named like the programme's, with no idnumber: the course's own, else the only top-level one."""
    named = [c for c in client.get_categories(name=desired.category.name) if not c.idnumber]
    own = next((c for c in named if course is not None and c.id == course.categoryid), None)
    # Elsewhere only at the top, where push would have made it: a subcategory of that name is someone else's.
    top = [c for c in named if c.parent == 0]
    return own or (top[0] if len(top) == 1 else None)


def lookup_events(client: MoodleClient, course_id: int) -> list[CalendarEvent]:
    """The course's own course events (read before planning, and to resolve a create whose answer was lost)."""
    events = client.get_calendar_events(course_ids=[course_id]).events
    # Only this course's course events: user and site events are excluded by the call's options.
    return [e for e in events if e.courseid == course_id and e.eventtype == "course"]
