"""Frozen models of a training programme: the programme itself, its sessions, its participants."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator

from ..i18n import t

SLUG = r"^[a-z0-9][a-z0-9._-]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ProgrammeStatus(StrEnum):
    """Whether a programme is still run: an archived one is history, never touched again."""

    LIVE = "live"
    ARCHIVED = "archived"


class SessionStatus(StrEnum):
    """Whether a session takes place."""

    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class Organizer(_Frozen):
    """Who runs the programme (the iCalendar ORGANIZER)."""

    name: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class CourseSpec(_Frozen):
    """How the programme appears in Moodle; every field has a sensible default."""

    shortname: str | None = Field(default=None, min_length=1, max_length=255)
    fullname: str | None = Field(default=None, min_length=1, max_length=254)
    summary: str | None = None
    category_idnumber: str = Field(default="dgidt-cat-ia", min_length=1, max_length=100)
    category_name: str = Field(default="Intelligence artificielle", min_length=1)


class AttendanceSource(StrEnum):
    """Where per-session attendance is read from."""

    ACTIVITY_COMPLETION = "activity_completion"  # each session names an activity; completing it = attended
    MOD_ATTENDANCE = "mod_attendance"  # the Attendance activity: a teacher marks P/L/E/A per session


class AttendanceSpec(_Frozen):
    """The ``[attendance]`` table: how attendance is taken (absent: sessions' ``activity`` completion)."""

    source: AttendanceSource
    activity: int | str | None = Field(
        default=None, description="the Attendance activity: course-module id or activity idnumber"
    )
    create: bool = Field(default=False, description="push creates the Attendance activity in the course")
    name: str | None = Field(default=None, min_length=1, max_length=255,
                             description="the Attendance activity's name when push creates it")
    attended: tuple[str, ...] = Field(
        default=("P", "L"), min_length=1, description="status acronyms that count as attended (Present, Late)"
    )

    @model_validator(mode="after")
    def _one_way_to_find_it(self) -> AttendanceSpec:
        if self.source is AttendanceSource.MOD_ATTENDANCE:
            if self.activity is None and not self.create:
                raise ValueError("with source = \"mod_attendance\", name the activity (activity = its course-module "
                                 "id or idnumber) or let push make one (create = true)")
            if self.activity is not None and self.create:
                raise ValueError("give either activity (an existing Attendance activity) or create = true, not both")
        elif self.activity is not None or self.create or self.name is not None:
            raise ValueError("with source = \"activity_completion\" each session names its own activity "
                             "([[sessions]] activity = ...); activity, create and name belong to mod_attendance")
        return self


class AttestationRule(_Frozen):
    """The ``[attestation]`` table: what earns a participant the programme's attestation.

    ``sessions_attended = N``: at least N of the sessions that take place attended;
    ``course_completed = true``: the Moodle course completed. Both given: both are needed. The
    loader also refuses an N larger than the sessions not cancelled (it needs the sessions).
    """

    sessions_attended: StrictInt | None = Field(
        default=None, description="at least this many of the sessions not cancelled attended")
    course_completed: StrictBool = Field(default=False, description="the Moodle course completed")

    @field_validator("sessions_attended")
    @classmethod
    def _at_least_one(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(f"{value} session(s) is no rule: write a number from 1 to the number of sessions, "
                             "or leave sessions_attended out")
        return value

    @model_validator(mode="after")
    def _some_criterion(self) -> AttestationRule:
        if self.sessions_attended is None and not self.course_completed:
            raise ValueError("the attestation needs a criterion: sessions_attended = N (at least N sessions "
                             "attended) and/or course_completed = true")
        return self


class Session(_Frozen):
    """One training session; ``start``/``end`` are naive local times in the programme's timezone."""

    id: str = Field(pattern=SLUG, max_length=64)
    title: str = Field(min_length=1)
    start: datetime
    end: datetime
    status: SessionStatus = SessionStatus.CONFIRMED
    description: str = ""
    location: str | None = None
    activity: int | str | None = Field(
        default=None, description="Moodle activity recording attendance: course-module id or activity idnumber"
    )

    @field_validator("start", "end", mode="before")
    @classmethod
    def _full_local_datetime(cls, value: object) -> object:
        # A bare date would silently become midnight; an offset would be dropped by the model.
        if isinstance(value, date) and not isinstance(value, datetime):
            raise ValueError(f"{value.isoformat()} has no time of day; write it like {value.isoformat()}T09:00:00")
        if isinstance(value, str) and "T" not in value and " " not in value.strip():
            raise ValueError(f"{value!r} has no time of day; write a local date-time like 2020-12-09T09:00:00")
        return value

    @field_validator("start", "end")
    @classmethod
    def _naive_to_the_second(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            raise ValueError("write local time without an offset (the programme's timezone applies)")
        return value.replace(microsecond=0)

    @field_validator("title", "description", "location")
    @classmethod
    def _no_control_characters(cls, value: str | None) -> str | None:
        # Control characters are invalid in iCalendar TEXT and break Moodle's form parsing.
        return None if value is None else "".join(ch for ch in value if ch in "\n\t" or ord(ch) >= 32 and ch != "\x7f")

    @property
    def cancelled(self) -> bool:
        """True when the session will not take place."""
        return self.status is SessionStatus.CANCELLED


class Participant(_Frozen):
    """One row of the roster."""

    username: str
    email: str
    firstname: str
    lastname: str
    institution: str = ""
    department: str = ""
    idnumber: str = ""
    # None: the roster has no cohort column, so push leaves the course's groups alone; "": no cohort.
    cohort: str | None = None
    line: int = Field(default=0, exclude=True, description="line in the roster file, for messages")


class ProgrammeHeader(_Frozen):
    """The ``[program]`` table: what the programme is, independent of its sessions."""

    id: str = Field(pattern=SLUG, max_length=100)
    title: str
    timezone: str
    url: str
    organizer: Organizer
    partners: tuple[str, ...] = ()
    description: str = ""
    location: str = ""
    lang: str = "fr"
    status: ProgrammeStatus = ProgrammeStatus.LIVE
    roster: str | None = Field(default=None, min_length=1,
                               description="the programme's participants CSV, relative to the programme file")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}; use an IANA name such as Africa/Tunis") from None
        return value

    @field_validator("url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an absolute URL; write it like https://formation.ena.tn/")
        return value

    @property
    def archived(self) -> bool:
        """True once the programme is over: push leaves its course alone, the feed keeps it as it was."""
        return self.status is ProgrammeStatus.ARCHIVED

    @property
    def tz(self) -> ZoneInfo:
        """The programme's timezone object."""
        return ZoneInfo(self.timezone)

    @property
    def host(self) -> str:
        """Host of the platform URL, used as the default UID domain."""
        return urlsplit(self.url).hostname or "localhost"

    def aware(self, local: datetime) -> datetime:
        """A session's naive local time made timezone-aware in the programme's timezone."""
        return local.replace(tzinfo=self.tz)


class Programme(ProgrammeHeader):
    """A validated programme: what the files under config/ describe."""

    course: CourseSpec = CourseSpec()
    sessions: tuple[Session, ...] = ()
    attendance: AttendanceSpec | None = None
    attestation: AttestationRule | None = None

    @property
    def attendance_name(self) -> str:
        """The Attendance activity's name: ``[attendance] name``, else a default in the programme's language."""
        return (self.attendance.name if self.attendance else None) or t("attendance_name", self.lang)

    @property
    def takes_attendance_in_moodle(self) -> bool:
        """True when attendance is taken in an Attendance activity (mod_attendance)."""
        return self.attendance is not None and self.attendance.source is AttendanceSource.MOD_ATTENDANCE

    def session(self, session_id: str) -> Session | None:
        """The session with this id, if any."""
        return next((s for s in self.sessions if s.id == session_id), None)
