"""What Moodle should hold for a programme (and roster): category, course, one event per session, users,
and with a roster's cohort column one course group per cohort.

Everything here is derived from the input files and settings only, so it is pure and cheap; each
object carries the stable key lms_sync finds it by again: category and course ``idnumber``,
username, and for events a marker in the description that Moodle's cleaning keeps (the fixtures
show HTML comments and ``data-*`` attributes are stripped, while URL fragments survive).
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from urllib.parse import urlsplit

from ..i18n import t
from ..markers import cohort_idnumber, cohort_key, marker
from ..program import Participant, Programme
from ..settings import PushSettings


def content_hash(value: object) -> str:
    """A short stable hash of a dataclass or plain data, stored with each mapping."""
    data = asdict(value) if hasattr(value, "__dataclass_fields__") else value  # type: ignore[call-overload]
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class DesiredCategory:
    """The course category, found by idnumber (names are not unique in Moodle)."""

    idnumber: str
    name: str


@dataclass(frozen=True)
class DesiredCourse:
    """The programme's course; ``idnumber`` is the programme id."""

    idnumber: str
    shortname: str
    fullname: str
    summary: str
    startdate: int
    enddate: int
    enablecompletion: bool = True

    def fields(self) -> dict[str, object]:
        """The fields compared with Moodle's course and sent on create/update."""
        return {
            "shortname": self.shortname,
            "fullname": self.fullname,
            "summary": self.summary,
            "startdate": self.startdate,
            "enddate": self.enddate,
            "enablecompletion": self.enablecompletion,
        }


@dataclass(frozen=True)
class DesiredEvent:
    """One course event per session; ``key`` is the session id."""

    key: str
    name: str
    description: str
    timestart: int
    timeduration: int

    def fields(self) -> dict[str, object]:
        """The fields compared with Moodle's event."""
        return {
            "name": self.name,
            "description": self.description,
            "timestart": self.timestart,
            "timeduration": self.timeduration,
        }


# Profile fields a roster may leave out; see ``DesiredUser.fields``.
OPTIONAL_USER_FIELDS = ("institution", "department", "idnumber")


@dataclass(frozen=True)
class DesiredUser:
    """A participant's Moodle account, found by username."""

    username: str
    email: str
    firstname: str
    lastname: str
    institution: str
    department: str
    idnumber: str

    def fields(self) -> dict[str, str]:
        """The profile fields lms_sync keeps in step (never the password, never auth of an existing user)."""
        fields = {"email": self.email, "firstname": self.firstname, "lastname": self.lastname}
        # An empty optional field is neither sent nor compared. The roster loader gives "" both for
        # an absent column (the shipped example has no idnumber) and for an empty cell, so "" cannot
        # mean "clear it in Moodle": it would erase what the site's admins or another system (HR
        # import, SSO) keep there. Clearing such a field is left to Moodle's own interface.
        fields.update({name: value for name in OPTIONAL_USER_FIELDS if (value := getattr(self, name))})
        return fields


@dataclass(frozen=True)
class DesiredAttendanceSession:
    """One session of the Attendance activity per programme session that takes place; ``key`` is its id."""

    key: str
    sessdate: int
    duration: int
    description: str  # plain text ending with the marker: get_sessions returns it exactly as sent

    def fields(self) -> dict[str, object]:
        """The fields compared with Moodle's session."""
        return {"sessdate": self.sessdate, "duration": self.duration, "description": self.description}


@dataclass(frozen=True)
class DesiredAttendance:
    """The Attendance activity of ``[attendance] source = "mod_attendance"``; ``key`` is the programme id."""

    key: str
    activity: int | str | None  # an existing activity (course-module id or idnumber); None with create
    create: bool
    name: str
    sessions: tuple[DesiredAttendanceSession, ...]


@dataclass(frozen=True)
class DesiredCohort:
    """One cohort of the roster: a course group found by its idnumber (``lms-sync-cohort:<key>``)."""

    key: str
    name: str  # the label as the roster writes it
    members: tuple[str, ...]  # usernames, sorted

    @property
    def idnumber(self) -> str:
        """The group's idnumber, what marks it as lms_sync's."""
        return cohort_idnumber(self.key)


@dataclass(frozen=True)
class Desired:
    """Everything a push makes Moodle hold; ``users`` is None when no roster is configured."""

    programme_id: str
    category: DesiredCategory
    course: DesiredCourse
    events: tuple[DesiredEvent, ...]
    users: tuple[DesiredUser, ...] | None
    role_id: int
    auth: str
    attendance: DesiredAttendance | None = None
    # None: the roster has no cohort column, and push leaves the course's groups alone.
    cohorts: tuple[DesiredCohort, ...] | None = None


def _cohorts(roster: list[Participant] | None) -> tuple[DesiredCohort, ...] | None:
    if roster is None or all(p.cohort is None for p in roster):
        return None
    members: dict[str, tuple[str, list[str]]] = {}
    for p in roster:
        if p.cohort:
            members.setdefault(cohort_key(p.cohort), (p.cohort, []))[1].append(p.username)
    return tuple(DesiredCohort(key, name, tuple(sorted(names))) for key, (name, names) in sorted(members.items()))


def _timestamp(programme: Programme, local: datetime) -> int:
    return int(programme.aware(local).timestamp())


def event_description(programme: Programme, text: str, session_id: str) -> str:
    """HTML description: the session text, then the platform link whose fragment is the marker.

    Written in the form Moodle's cleaning returns unchanged (plain ``<p>`` and ``<a href>``), so
    what is read back equals what was sent and an unchanged event never looks drifted.
    """
    base = programme.url if programme.url.endswith("/") else programme.url + "/"
    href = f"{base.split('#', 1)[0]}#{marker(programme.id, session_id)}"
    host = urlsplit(programme.url).hostname or programme.url
    parts = [f"<p>{html.escape(text, quote=False)}</p>"] if text.strip() else []
    link = f'<a href="{html.escape(href)}">{html.escape(host, quote=False)}</a>'
    parts.append(f"<p>{html.escape(t('platform', programme.lang), quote=False)} : {link}</p>")
    return "".join(parts)


def attendance_description(programme: Programme, title: str, session_id: str) -> str:
    """The session's title and its marker, as plain text (the Attendance activity keeps it as sent)."""
    return f"{title} #{marker(programme.id, session_id)}"


def _attendance(programme: Programme) -> DesiredAttendance | None:
    spec = programme.attendance
    if spec is None or not programme.takes_attendance_in_moodle:
        return None
    # Cancelled sessions get no attendance session: nobody is marked present at a session that does not happen.
    sessions = tuple(
        DesiredAttendanceSession(
            key=s.id,
            sessdate=_timestamp(programme, s.start),
            duration=_timestamp(programme, s.end) - _timestamp(programme, s.start),
            description=attendance_description(programme, s.title, s.id),
        )
        for s in programme.sessions
        if not s.cancelled
    )
    return DesiredAttendance(
        key=programme.id,
        activity=spec.activity,
        create=spec.create,
        name=programme.attendance_name,
        sessions=sessions,
    )


def desired_state(programme: Programme, roster: list[Participant] | None, settings: PushSettings) -> Desired:
    """Build the desired Moodle state from the programme, the roster (optional) and push settings."""
    spec = programme.course
    sessions = programme.sessions
    # Course dates span the sessions that take place; all sessions when every one is cancelled.
    live = [s for s in sessions if not s.cancelled] or list(sessions)
    start = min((_timestamp(programme, s.start) for s in live), default=0)
    end = max((_timestamp(programme, s.end) for s in live), default=0)
    summary_text = spec.summary if spec.summary is not None else programme.description
    course = DesiredCourse(
        idnumber=programme.id,
        shortname=spec.shortname or programme.id.upper(),
        fullname=spec.fullname or programme.title,
        summary=f"<p>{html.escape(summary_text.strip(), quote=False)}</p>" if summary_text.strip() else "",
        startdate=start,
        enddate=end,
    )
    prefix = t("cancelled_prefix", programme.lang)
    events = tuple(
        DesiredEvent(
            key=s.id,
            # A cancelled session stays visible in Moodle, named like in the feed, so nobody turns up.
            name=(prefix + s.title) if s.cancelled else s.title,
            description=event_description(programme, s.description, s.id),
            timestart=_timestamp(programme, s.start),
            timeduration=_timestamp(programme, s.end) - _timestamp(programme, s.start),
        )
        for s in sessions
    )
    users = None
    if roster is not None:
        users = tuple(
            DesiredUser(
                username=p.username,
                email=p.email,
                firstname=p.firstname,
                lastname=p.lastname,
                institution=p.institution,
                department=p.department,
                idnumber=p.idnumber,
            )
            for p in roster
        )
    return Desired(
        programme_id=programme.id,
        category=DesiredCategory(
            idnumber=settings.category_idnumber or spec.category_idnumber, name=spec.category_name
        ),
        course=course,
        events=events,
        users=users,
        role_id=settings.role_id,
        auth=settings.auth,
        attendance=_attendance(programme),
        cohorts=_cohorts(roster),
    )
