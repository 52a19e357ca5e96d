"""Read-only views of one completion snapshot: per participant, per institution, per cohort, totals.

Everything a renderer shows comes from here, and everything here comes from the snapshot: no
clock is read, so the same snapshot always gives the same report.

Cohorts (the programme's audiences, the roster's ``cohort`` column kept as Moodle groups by push):
``ParticipantLine.cohort`` is the participant's cohort label ("" when in none), and
``CompletionReport.cohorts`` counts them per cohort exactly as ``institutions`` does per
institution (the same ``InstitutionLine``, whose ``label`` is the cohort; "" gathers those in no
cohort). It is empty when no participant of the snapshot has a cohort, so a renderer can leave the
view out. Who earns the attestation is built from a report by ``attestation.build_attestation``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from ..snapshots import (
    STATUS_FAILED,
    STATUS_NO_ACCESS,
    ParticipantRow,
    SessionInfo,
    Snapshot,
    completed_since,
    load_rows,
    load_snapshot,
    previous_snapshot,
)
from ..store import Store
from ..text import fold

# 1.1: counts gained "no_access"; "enrolled" (and so "completion_rate") no longer counts them.
# 1.2: participants gained "statuses" (the Attendance activity's per session) and "attendance_rate";
#      counts gained "marked" per session and "attendance_rate".
# 1.3: "since" gained "previous_run" (none on a first snapshot).
# 1.4: participants gained "cohort", sessions their attendance counts, and "cohorts" its counts (views.py).
SCHEMA_VERSION = "1.4"


class NoSnapshot(LookupError):
    """There is no snapshot for the asked run (or no pull has been recorded yet)."""


@dataclass(frozen=True)
class ParticipantLine:
    """One participant as reports show them; times are aware, in the programme's timezone."""

    user_id: int
    fullname: str
    email: str
    institution: str
    department: str
    status: str  # ok, failed, no_access
    attended: tuple[bool | None, ...]  # aligned with CompletionReport.sessions
    completed: bool | None
    time_completed: datetime | None
    statuses: tuple[str | None, ...] = ()  # the status taken (its label in the activity), aligned with sessions
    cohort: str = ""  # the cohort label (the lms_sync course group they are in); "" when in none

    @property
    def marked(self) -> int:
        """Sessions whose attendance is known for them (taken, or activity completion read)."""
        return sum(1 for a in self.attended if a is not None)

    @property
    def attendance_rate(self) -> float | None:
        """Sessions attended over sessions whose attendance is known; None when none is."""
        return sum(1 for a in self.attended if a) / self.marked if self.marked else None


@dataclass(frozen=True)
class InstitutionLine:
    """Counts for one institution, or one cohort (or the totals); participants no longer enrolled count apart."""

    institution: str
    enrolled: int  # still enrolled: every participant but the no_access ones, failed included
    attended: tuple[int, ...]  # per session, among the enrolled
    completed: int  # among the enrolled
    failed: int  # enrolled but not read: counted in enrolled, so the rate is a lower bound
    no_access: int = 0  # listed but no longer enrolled (Moodle said usernotenroled)
    marked: tuple[int, ...] = ()  # per session, among the enrolled: those whose attendance is known

    @property
    def label(self) -> str:
        """What the line counts: the institution, or the cohort ("" for those with none; the totals too)."""
        return self.institution

    @property
    def attendance_rate(self) -> float | None:
        """Attended over known attendance, every session together; None when none is known."""
        known = sum(self.marked)
        return sum(self.attended) / known if known else None

    def session_rate(self, index: int) -> float | None:
        """One session's attendance: attended over those whose attendance is known."""
        return self.attended[index] / self.marked[index] if self.marked and self.marked[index] else None

    @property
    def rate(self) -> float | None:
        """Completed over enrolled, None when nobody is enrolled."""
        return self.completed / self.enrolled if self.enrolled else None


@dataclass(frozen=True)
class CompletionReport:
    """Everything one report shows, built from one snapshot."""

    snapshot: Snapshot
    sessions: tuple[SessionInfo, ...]
    participants: tuple[ParticipantLine, ...]
    institutions: tuple[InstitutionLine, ...]
    totals: InstitutionLine
    since: date | None
    since_count: int  # participants who completed since ``since`` (or since the previous snapshot)
    previous_run: int | None = None  # the snapshot ``since_count`` compares with; None on the first one
    cohorts: tuple[InstitutionLine, ...] = ()  # per cohort, like ``institutions``; empty when nobody has one

    @property
    def complete(self) -> bool:
        """False when some participants could not be read: the report must say so."""
        return self.snapshot.complete

    @property
    def taken_at_local(self) -> datetime:
        """When the snapshot was taken, in the programme's timezone."""
        return self.snapshot.taken_at.astimezone(ZoneInfo(self.snapshot.timezone))


def build_report(store: Store, *, run: int | str = "latest", since: date | None = None,
                 programme_id: str | None = None) -> CompletionReport:
    """The report of one snapshot (the latest of ``programme_id``); ``since`` limits the participants to who
    completed on or after it."""
    snapshot = load_snapshot(store, run, programme_id=programme_id)
    if snapshot is not None and programme_id is not None and snapshot.programme_id != programme_id:
        snapshot = None  # run N is another programme's
    if snapshot is None:
        what = "no pull has been recorded yet" if run == "latest" else f"run {run} has no completion snapshot"
        if programme_id is not None:
            what += f" for programme {programme_id}"
        raise NoSnapshot(what)
    tz = ZoneInfo(snapshot.timezone)
    rows = load_rows(store, snapshot.run_id)
    sessions = snapshot.sessions
    lines = [_line(r, sessions, tz) for r in rows]
    lines.sort(key=lambda p: (fold(p.institution), fold(p.fullname), p.user_id))

    by_inst: dict[str, list[ParticipantLine]] = {}
    for line in lines:
        by_inst.setdefault(line.institution, []).append(line)
    institutions = tuple(_count(name, members, len(sessions)) for name, members in sorted(
        by_inst.items(), key=lambda kv: fold(kv[0])))
    totals = _count("", lines, len(sessions))
    by_cohort: dict[str, list[ParticipantLine]] = {}
    for line in lines:
        by_cohort.setdefault(line.cohort, []).append(line)
    cohorts = () if set(by_cohort) <= {""} else tuple(
        _count(name, members, len(sessions)) for name, members in sorted(by_cohort.items(), key=lambda kv: fold(kv[0])))

    previous = previous_snapshot(store, snapshot.run_id, programme_id=snapshot.programme_id)
    if since is not None:
        cutoff = datetime.combine(since, time(0), tz)
        recent = completed_since(store, snapshot.run_id, since=cutoff)
        shown = tuple(p for p in lines if p.user_id in recent)
    else:
        recent = completed_since(store, snapshot.run_id)
        shown = tuple(lines)
    return CompletionReport(
        snapshot=snapshot,
        sessions=sessions,
        participants=shown,
        institutions=institutions,
        totals=totals,
        since=since,
        since_count=len(recent),
        previous_run=previous.run_id if previous is not None else None,
        cohorts=cohorts,
    )


def _line(row: ParticipantRow, sessions: tuple[SessionInfo, ...], tz: ZoneInfo) -> ParticipantLine:
    return ParticipantLine(
        user_id=row.user_id,
        fullname=row.fullname,
        email=row.email,
        institution=row.institution,
        department=row.department,
        status=row.status,
        attended=tuple(row.attendance[s.id].attended if s.id in row.attendance else None for s in sessions),
        completed=row.completed,
        time_completed=datetime.fromtimestamp(row.time_completed, tz) if row.time_completed else None,
        statuses=tuple(row.attendance[s.id].status_label or row.attendance[s.id].status
                       if s.id in row.attendance else None for s in sessions),
        cohort=row.cohort,
    )


def _count(name: str, members: list[ParticipantLine], n_sessions: int) -> InstitutionLine:
    # Someone whose enrolment ended between the participant list and their own calls is not
    # enrolled: counting them would inflate "Inscrits" and lower the completion rate.
    enrolled = [p for p in members if p.status != STATUS_NO_ACCESS]
    return InstitutionLine(
        institution=name,
        enrolled=len(enrolled),
        attended=tuple(sum(1 for p in enrolled if p.attended[i]) for i in range(n_sessions)),
        completed=sum(1 for p in enrolled if p.completed),
        failed=sum(1 for p in enrolled if p.status == STATUS_FAILED),
        no_access=len(members) - len(enrolled),
        marked=tuple(sum(1 for p in enrolled if p.attended[i] is not None) for i in range(n_sessions)),
    )


__all__ = [
    "SCHEMA_VERSION",
    "STATUS_FAILED",
    "STATUS_NO_ACCESS",
    "CompletionReport",
    "InstitutionLine",
    "NoSnapshot",
    "ParticipantLine",
    "build_report",
]
