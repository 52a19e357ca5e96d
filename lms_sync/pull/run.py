"""``lms-sync pull``: one run, one snapshot. List, plan, read, merge, save.

1. the course, and the participants: enrolled users in pages, or the Report builder report;
2. the plan (``plan.py``, pure): whose course and activity completion to read again;
3. the reads: per participant in the bounded pool, the Attendance activity in one call;
4. the merge (``merge.py``) into the snapshot, saved in one transaction.

A participant whose calls fail after the transport's retries is recorded as ``failed``: the
snapshot is marked incomplete and the run exits 1. Nothing personal is logged.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..errors import (
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_PARTIAL,
    AccessDenied,
    LmsSyncError,
    MoodleError,
    MoodleUnavailable,
)
from ..moodle.batching import ItemResult
from ..moodle.client import MoodleClient
from ..moodle.models import CourseCompletion
from ..program import Programme
from ..settings import Settings
from ..snapshots import (
    SOURCE_CALLS,
    SOURCE_REPORTBUILDER,
    STATUS_FAILED,
    STATUS_NO_ACCESS,
    STATUS_OK,
    Snapshot,
    load_rows,
    load_snapshot,
    save_snapshot,
)
from ..store import Store, utcnow
from .calls import Calls
from .merge import merge_rows
from .plan import Listed, ReadPlan, plan_reads
from .report_builder import read_report
from .sources import (
    COMPLETION_OFF,
    COURSE_WIDE,
    NO_CRITERIA,
    AttendanceTaken,
    ProgressFn,
    Reading,
    attendance_taken,
    course_time_completed,
    enrolled_participants,
    error_code,
    find_attendance_activity,
    find_course,
    per_participant,
    plan_sessions,
    read_cohorts,
)

log = logging.getLogger("lms_sync.pull")

# Participants tried in turn to learn whether course completion can be read (see _probe_completion).
_PROBES = 3


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
    read: int = 0  # participants whose completion was read this time (the others kept the last reading)
    full: bool = True
    why_full: str = ""
    programme_id: str = ""  # why everyone was read ("first pull", ...)

    @property
    def exit_code(self) -> int:
        """0 when every participant was read, 1 when some failed."""
        return EXIT_OK if self.complete else EXIT_PARTIAL

    def summary(self) -> str:
        """One line for cron mail and terminals alike (counts only, nothing personal)."""
        state = "complete" if self.complete else "INCOMPLETE"
        reading = (f"full read: {self.why_full or 'everyone'}" if self.full
                   else f"incremental: {self.read} read again, the others unchanged")
        text = (
            f"pull run {self.run_id} ({self.programme_id}): {self.participants} participant(s), {self.completed} completed, "
            f"{self.failed} failed, {self.no_access} without access; {self.calls} Moodle call(s) "
            f"via {self.source} ({reading}) in {self.seconds:.1f} s; snapshot {state}"
        )
        if self.errors:
            text += " (" + ", ".join(f"{code}: {n}" for code, n in self.errors) + ")"
        return text


def pull_completion(
    client: MoodleClient,
    store: Store,
    programme: Programme,
    settings: Settings,
    *,
    progress: ProgressFn | None = None,
    now: Callable[[], datetime] = utcnow,
    cohorts: bool = False,
) -> PullResult:
    """Read the course's participants, completion and attendance (and ``cohorts``: each one's cohort) into a
    new snapshot; one run, one snapshot."""
    started = time.monotonic()
    taken_at = now()
    run_id = store.start_run("pull", taken_at, programme_id=programme.id)
    calls = Calls()
    try:
        result = _pull(client, store, programme, settings, run_id, taken_at, calls, progress, cohorts)
    except LmsSyncError as err:
        store.finish_run(run_id, "failed", err.exit_code, {"error": type(err).__name__, "calls": calls.n})
        raise
    except BaseException:
        store.finish_run(run_id, "failed", EXIT_INTERNAL, {"error": "internal", "calls": calls.n})
        raise
    result = replace(result, calls=calls.n, seconds=time.monotonic() - started)
    store.finish_run(
        run_id, "ok" if result.complete else "partial", result.exit_code,
        {"source": result.source, "participants": result.participants, "completed": result.completed,
         "failed": result.failed, "no_access": result.no_access, "calls": result.calls, "read": result.read,
         "full": result.full, "seconds": round(result.seconds, 3)},
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
    calls: Calls,
    progress: ProgressFn | None,
    cohorts: bool = False,
) -> PullResult:
    previous = load_snapshot(store, "latest", programme_id=programme.id)
    course = find_course(client, programme, previous, calls)
    sessions, notes = plan_sessions(client, course.id, programme, previous, calls)
    enabled = bool(course.enablecompletion)
    if not enabled:
        notes.append("completion is disabled on the course: course completion and attendance are unknown")
    report_id = settings.moodle.completion_report_id
    flags_given = report_id is not None
    if report_id is not None:
        listed = read_report(client, report_id, settings.pull.report_page_size, calls, course)
    else:
        listed = enrolled_participants(client, course.id, role_id=settings.pull.role_id,
                                       page_size=settings.pull.enrolled_page_size, calls=calls)
    before = {r.user_id: r for r in load_rows(store, previous.run_id)} if previous else {}
    reads = plan_reads(
        listed, previous, before, sessions, now=taken_at,
        full_every=timedelta(days=settings.pull.full_reread_days),
        final_after=timedelta(days=settings.pull.attendance_final_days),
        completion_enabled=enabled, read_activities=enabled, flags_given=flags_given,
    )
    completion_off: str | None = None
    probed: dict[int, CourseCompletion] = {}
    if flags_given and enabled and listed:
        reads, completion_off, probed = _probe_completion(client, course.id, listed, reads, calls)
    readings = per_participant(client, course.id, reads.completion, reads.activities, calls, progress)
    for user_id, status in probed.items():  # the probe's answer is that participant's completion reading
        other = readings.get(user_id)
        activities = other.value.activities if other is not None and other.value is not None else None
        if other is None or other.error is None:
            readings[user_id] = ItemResult(user_id, Reading(status, None, activities))
    if not readings and progress is not None:
        progress(len(listed), len(listed))

    taken: AttendanceTaken | None = None
    attendance_source = "activity_completion" if any(s.cmid for s in sessions) else None
    if programme.takes_attendance_in_moodle:
        attendance_source = "mod_attendance"
        attendance_id, found = find_attendance_activity(client, course, programme, previous, calls)
        if attendance_id is None:
            notes.append("the Attendance activity does not exist yet (`lms-sync push` creates it)")
        else:
            taken = attendance_taken(attendance_id, found, programme, sessions)
            sessions = tuple(replace(s, attendance_session=taken.sessions.get(s.id)) for s in sessions)
            if taken.unknown_statuses:
                notes.append(f"{taken.unknown_statuses} attendance status(es) with an id that is not one of the "
                             "activity's own statuses: not counted")

    rows = merge_rows(listed, sessions, before, readings, taken, none_complete=reads.none_complete,
                      completion_enabled=enabled,
                      flags_given=flags_given, now=taken_at)
    if completion_off:
        rows = [replace(r, completed=None, time_completed=None, error=completion_off)
                if r.status == STATUS_OK else r for r in rows]
    hints: list[str] = []
    if cohorts:
        try:
            cohort_of = read_cohorts(client, course.id, calls)
        except AccessDenied:
            cohort_of = {}
            notes.append("Moodle refused the course's groups: the cohorts were not read")
            hints.append("grant the sync account moodle/course:managegroups (see `lms-sync check`)")
        rows = [replace(r, cohort=cohort_of.get(r.user_id, "")) for r in rows]
    if any(r.error == NO_CRITERIA and r.status == STATUS_OK for r in rows):
        notes.append("the course has no completion criteria (nocriteriaset): nobody can complete it yet")
        hints.append("set the course's completion criteria in Moodle (Course > Course completion)")
    if any(r.error == COMPLETION_OFF and r.status == STATUS_OK for r in rows):
        notes.append(
            "Moodle refused course completion (cannotviewreport): the course has no completion criteria, "
            "or the sync account lacks report/completion:view"
        )
        hints.append("set completion criteria on the course and grant the sync account report/completion:view")
    failed = [r for r in rows if r.status == STATUS_FAILED]
    full_read_at = taken_at if reads.full and not failed else (previous.full_read_at if previous else None)
    snapshot = Snapshot(
        run_id=run_id, programme_id=programme.id, programme_title=programme.title, timezone=programme.timezone,
        course_id=course.id, taken_at=taken_at, source=SOURCE_REPORTBUILDER if flags_given else SOURCE_CALLS,
        complete=not failed, completion_enabled=enabled, sessions=sessions, notes=tuple(notes),
        attendance_source=attendance_source, attendance_id=taken.attendance_id if taken else None,
        full_read_at=full_read_at,
    )
    save_snapshot(store, snapshot, rows)
    return PullResult(
        run_id=run_id, source=snapshot.source, participants=len(rows),
        completed=sum(1 for r in rows if r.completed), failed=len(failed),
        no_access=sum(1 for r in rows if r.status == STATUS_NO_ACCESS), calls=calls.n, seconds=0.0,
        complete=not failed, notes=tuple(notes), errors=tuple(Counter(r.error or "error" for r in failed).most_common()),
        hints=tuple(hints), read=len(readings), full=reads.full, why_full=reads.why, programme_id=programme.id,
    )


def _probe_completion(
    client: MoodleClient, course_id: int, listed: list[Listed], reads: ReadPlan, calls: Calls
) -> tuple[ReadPlan, str | None, dict[int, CourseCompletion]]:
    """Ask Moodle for one participant's course completion, so the report path records what the calls path would.

    The report shows "Completed" Yes/No even when the course has completion on but no criteria
    (nocriteriaset for everyone through the per-participant call) or cannot be read (cannotviewreport):
    the calls path then records "unknown" with that code. One call tells which case this is; someone
    whose completion time is needed anyway goes first, so the probe costs nothing extra. Returns the
    plan without what the probe already read, the course-wide code that stops completion being read
    (None when it can be), and the probe's answer by user id.
    """
    order = list(dict.fromkeys([*sorted(reads.completion), *sorted(p.user_id for p in listed)]))[:_PROBES]
    for user_id in order:
        calls.add()
        try:
            status = client.get_course_completion_status(course_id, user_id).completionstatus
        except MoodleUnavailable:
            raise  # Moodle is down or refuses the token: every other call would fail too
        except MoodleError as exc:
            if exc.errorcode in COURSE_WIDE:
                return replace(reads, completion=frozenset()), exc.errorcode, {}
            # Most likely this participant's own trouble (left the course, a server bug on their
            # record): try another. If it is not, their own reads below record the failure.
            log.warning("completion probe: %s for one participant; trying another", error_code(exc))
            continue
        if user_id in reads.completion:
            return replace(reads, completion=reads.completion - {user_id}), None, {user_id: status}
        return reads, None, {}
    log.warning("completion probe: no participant could be read; the report's Completed flags are kept")
    return reads, None, {}


__all__ = ["PullResult", "course_time_completed", "pull_completion"]
