"""The pure plan of a pull: whose course and activity completion to read again, and what is carried over.

It reads no clock, no file and no network: given who Moodle lists now (with when each last opened
the course), the previous snapshot and the settings, it decides. One rule, one comment each:

* A **full read** (everyone) on the first pull, when the last full read is older than
  ``pull.full_reread_days``, or when what is read changed (the sessions' activities, completion
  switched on or off): it catches what teachers changed without the participant opening the course.
* Otherwise a participant is read again only when something they did can have changed it: they
  are new, their last read failed, they opened the course since (their last access differs), or
  they opened it shortly before they were last read (Moodle records an access at most once a
  minute, so what they did in that minute leaves no newer access).
  Everyone else keeps what the previous snapshot read.
* The Report builder path gives "Completed" for everyone on every pull; only someone newly
  complete needs the per-participant call (the exact completion time).
* Without a last access (a report without that column), an absence is read again until it is
  final: recorded in a snapshot taken ``attendance_final_days`` after the session ended.
* A report's "Student progress" of 0 % means no activity of the course is complete for that
  participant (Moodle counts complete and complete-pass), so no session's activity is: absent in
  every tracked session, without a call, on full reads too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ..snapshots import STATUS_OK, ParticipantRow, SessionInfo, Snapshot


# Moodle writes a course access at most every LASTACCESS_UPDATE_SECS (60 s); the rest is room for
# the two clocks (Moodle's and this host's) disagreeing.
RECENT_ACCESS = timedelta(minutes=5)


@dataclass(frozen=True)
class Listed:
    """One participant as the list source gives them (enrolled users, or a report row)."""

    user_id: int
    username: str = ""
    idnumber: str = ""
    fullname: str = ""
    email: str = ""
    institution: str = ""
    department: str = ""
    lastaccess: str = ""  # when they last opened the course, as Moodle says it ("": the source does not tell)
    completed: bool | None = None  # the report's "Completed" flag (None: the source does not give it)
    progress: float | None = None  # the report's "Student progress" percent (None: the source does not give it)


@dataclass(frozen=True)
class ReadPlan:
    """The per-participant calls to make, and why."""

    full: bool
    completion: frozenset[int]  # user ids whose course completion is read
    activities: frozenset[int]  # user ids whose activity completion (session attendance) is read
    why: str  # why this pull is full, or "" when incremental
    none_complete: frozenset[int] = frozenset()  # user ids with no activity complete (report progress 0 %)

    @property
    def calls(self) -> int:
        """How many per-participant calls the plan makes."""
        return len(self.completion) + len(self.activities)


def full_read_reason(
    previous: Snapshot | None,
    sessions: Sequence[SessionInfo],
    *,
    now: datetime,
    full_every: timedelta,
    completion_enabled: bool,
) -> str:
    """Why every participant must be read this time ("" when an incremental pull will do)."""
    if previous is None:
        return "first pull"
    if previous.full_read_at is None or now - previous.full_read_at >= full_every:
        return f"last full read more than {full_every.days} day(s) ago"
    if previous.completion_enabled != completion_enabled:
        return "completion was switched on or off in the course"
    if {s.id: s.cmid for s in previous.sessions if s.cmid} != {s.id: s.cmid for s in sessions if s.cmid}:
        return "the sessions' activities changed"
    return ""


def plan_reads(
    listed: Sequence[Listed],
    previous: Snapshot | None,
    before: Mapping[int, ParticipantRow],
    sessions: Sequence[SessionInfo],
    *,
    now: datetime,
    full_every: timedelta,
    final_after: timedelta,
    completion_enabled: bool,
    read_activities: bool,
    flags_given: bool,
) -> ReadPlan:
    """Who to read: everyone on a full read, else only those something can have changed for."""
    why = full_read_reason(previous, sessions, now=now, full_every=full_every, completion_enabled=completion_enabled)
    tracked = [s for s in sessions if s.cmid is not None] if read_activities else []
    completion: set[int] = set()
    activities: set[int] = set()
    none_complete: set[int] = set()
    for p in listed:
        prev = before.get(p.user_id)
        usable = prev is not None and prev.status == STATUS_OK
        # They may have done something since: new, failed last time, or opened the course since.
        stale = (bool(why) or not usable or not p.lastaccess or p.lastaccess != prev.lastaccess  # type: ignore[union-attr]
                 or _opened_just_before_read(prev))  # type: ignore[arg-type]
        if completion_enabled:
            if flags_given:
                # The report's flag is fresh; only someone newly complete needs the exact time.
                known_time = usable and prev.completed and prev.time_completed  # type: ignore[union-attr]
                if p.completed and not known_time:
                    completion.add(p.user_id)
            elif stale:
                completion.add(p.user_id)
        if tracked and completion_enabled and p.progress == 0:
            none_complete.add(p.user_id)
        elif tracked and stale:
            if p.lastaccess or bool(why) or not usable:
                activities.add(p.user_id)
            elif not all(_final(prev, s, previous, final_after) for s in tracked):  # type: ignore[arg-type]
                activities.add(p.user_id)
    return ReadPlan(bool(why), frozenset(completion), frozenset(activities), why, frozenset(none_complete))


def _opened_just_before_read(prev: ParticipantRow) -> bool:
    """Whether their last recorded access was so close to their last read that it may hide a later one."""
    if prev.read_at is None or not prev.lastaccess.isdigit() or prev.lastaccess == "0":
        return False
    opened = datetime.fromtimestamp(int(prev.lastaccess), UTC)
    return prev.read_at - opened < RECENT_ACCESS


def _final(prev: ParticipantRow, session: SessionInfo, previous: Snapshot | None, final_after: timedelta) -> bool:
    """Whether the previous snapshot's attendance of ``session`` can be kept without reading it again."""
    seen = prev.attendance.get(session.id)
    if previous is None or seen is None or seen.attended is None:
        return False
    if seen.attended:
        return True  # attendance once recorded is kept
    # An absence is final once a snapshot was taken well after the session ended.
    ended = datetime.fromisoformat(session.end).replace(tzinfo=ZoneInfo(previous.timezone))
    return previous.taken_at >= ended + final_after
