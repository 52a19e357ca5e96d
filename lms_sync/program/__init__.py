"""The programme and roster: frozen models and the loaders that validate the files under config/."""

from .loader import load_programme
from .models import (
    AttestationRule,
    AttendanceSource,
    AttendanceSpec,
    CourseSpec,
    Organizer,
    Participant,
    Programme,
    ProgrammeStatus,
    Session,
    SessionStatus,
)
from .roster import has_cohorts, load_roster

__all__ = [
    "AttestationRule",
    "AttendanceSource",
    "AttendanceSpec",
    "CourseSpec",
    "Organizer",
    "Participant",
    "Programme",
    "ProgrammeStatus",
    "Session",
    "SessionStatus",
    "has_cohorts",
    "load_programme",
    "load_roster",
]
