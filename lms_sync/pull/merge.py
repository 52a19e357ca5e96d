"""Merging what the sources said into one snapshot row per participant.

Each row starts from the participant as listed; then, per part, the freshest reading wins: what
was read in this pull, else what the previous snapshot read (the plan decided nothing can have
changed), else unknown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from ..errors import MoodleError, NotFound
from ..moodle.batching import ItemResult
from ..snapshots import (
    STATUS_FAILED,
    STATUS_NO_ACCESS,
    STATUS_OK,
    Attendance,
    ParticipantRow,
    SessionInfo,
)
from .plan import Listed
from .sources import (
    AttendanceTaken,
    Reading,
    activity_attendance,
    course_time_completed,
    error_code,
)


def merge_rows(
    listed: Sequence[Listed],
    sessions: Sequence[SessionInfo],
    before: Mapping[int, ParticipantRow],
    readings: Mapping[int, ItemResult[int, Reading]],
    taken: AttendanceTaken | None,
    *,
    none_complete: frozenset[int] = frozenset(),
    completion_enabled: bool,
    flags_given: bool,
    now: datetime,
) -> list[ParticipantRow]:
    """One row per listed participant, ordered by user id."""
    tracked = {s.id for s in sessions if s.cmid is not None}
    rows = []
    for p in sorted(listed, key=lambda p: p.user_id):
        prev = before.get(p.user_id)
        carried = prev if prev is not None and prev.status == STATUS_OK else None
        row = ParticipantRow(
            user_id=p.user_id, username=p.username, idnumber=p.idnumber, fullname=p.fullname, email=p.email,
            institution=p.institution, department=p.department, lastaccess=p.lastaccess,
            completed=p.completed if completion_enabled and flags_given else None,
            attendance={s.id: Attendance(None) for s in sessions},
            read_at=carried.read_at if carried else None,
        )
        if completion_enabled and carried is not None:
            if not flags_given:
                row = replace(row, completed=carried.completed, error=carried.error)
            if row.completed and carried.completed:
                row = replace(row, time_completed=carried.time_completed)
            if carried.error and flags_given:
                row = replace(row, error=carried.error)
        if carried is not None and tracked:
            kept = {sid: a for sid, a in carried.attendance.items() if sid in tracked}
            row = replace(row, attendance={**row.attendance, **kept})
        if p.user_id in none_complete:  # the report's progress: not one activity complete
            row = replace(row, attendance={**row.attendance, **{sid: Attendance(False) for sid in tracked}})
        result = readings.get(p.user_id)
        if result is not None:
            row = _with_reading(row, result.value, result.error, sessions, flags_given=flags_given, now=now)
        if taken is not None:
            marks = taken.by_user.get(p.user_id, {})
            row = replace(row, attendance={**row.attendance, **marks})
        rows.append(row)
    return rows


def _with_reading(
    row: ParticipantRow,
    reading: Reading | None,
    error: MoodleError | None,
    sessions: Sequence[SessionInfo],
    *,
    flags_given: bool,
    now: datetime,
) -> ParticipantRow:
    if error is not None:
        # usernotenroled: the enrolment ended between the list and this call; Moodle's answer, not a failure.
        status = STATUS_NO_ACCESS if isinstance(error, NotFound) else STATUS_FAILED
        failed = replace(row, status=status, error=error_code(error))
        return failed if flags_given else replace(failed, completed=None, time_completed=None)
    assert reading is not None
    if reading.completion is not None:
        row = replace(row, completed=reading.completion.completed,
                      time_completed=course_time_completed(reading.completion), error=None)
    elif reading.completion_error is not None:
        row = replace(row, completed=None, time_completed=None, error=reading.completion_error)
    if reading.activities is not None:
        row = replace(row, attendance={**row.attendance, **activity_attendance(sessions, reading.activities)})
    return replace(row, read_at=now)
