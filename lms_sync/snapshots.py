"""Completion snapshots in the state store: one per pull run, participants upserted, history queryable.

Tables (migration ``0003_completion`` in ``store.py``): ``participants`` (one row per Moodle user, the
latest name and email seen), ``snapshots`` (one per pull run), ``snapshot_rows`` (per participant:
status, course completion, institution, department and cohort as they were then; the cohort since
``0008_cohorts``) and
``snapshot_attendance`` (per participant and session). Only this module writes them; the reports
read them through ``load_snapshot`` and ``load_rows``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .errors import StateError
from .store import Store, from_text, to_text

STATUS_OK = "ok"
STATUS_FAILED = "failed"  # calls failed after retries: what Moodle holds is unknown
STATUS_NO_ACCESS = "no_access"  # Moodle said the user is not (or no longer) enrolled

SOURCE_CALLS = "calls"
SOURCE_REPORTBUILDER = "reportbuilder"


@dataclass(frozen=True)
class SessionInfo:
    """A programme session as it was when the snapshot was taken."""

    id: str
    title: str
    start: str  # naive local ISO time in the snapshot's timezone
    end: str
    cancelled: bool = False
    activity: int | str | None = None  # as written in the programme
    cmid: int | None = None  # resolved course-module id (activity completion); None when not tracked so
    attendance_session: int | None = None  # the Attendance activity's session (mod_attendance)

    @property
    def tracked(self) -> bool:
        """True when attendance of this session is read from Moodle."""
        return self.cmid is not None or self.attendance_session is not None


@dataclass(frozen=True)
class Attendance:
    """Whether a participant attended one session (None: not tracked, not read, or not marked).

    From activity completion: ``attended`` and when the activity was completed. From the Attendance
    activity: the status a teacher took (``status`` acronym, ``status_label`` as the activity names
    it), who took the session last and when.
    """

    attended: bool | None
    time_completed: int | None = None
    status: str | None = None
    status_label: str | None = None
    taken_by: int | None = None
    taken_at: int | None = None


@dataclass(frozen=True)
class ParticipantRow:
    """One participant in one snapshot: who they are and what Moodle said."""

    user_id: int
    username: str = ""
    idnumber: str = ""
    fullname: str = ""
    email: str = ""
    institution: str = ""
    department: str = ""
    status: str = STATUS_OK
    completed: bool | None = None
    time_completed: int | None = None
    error: str | None = None
    attendance: Mapping[str, Attendance] = field(default_factory=dict)
    # Not part of what was read about them, so two paths giving the same answers give equal rows:
    lastaccess: str = field(default="", compare=False)  # last course access as Moodle said it ("": unknown)
    read_at: datetime | None = field(default=None, compare=False)  # when their completion was last read
    cohort: str = ""  # the name of the lms_sync course group they are in ("": none, or cohorts not read)


@dataclass(frozen=True)
class Snapshot:
    """The header of one pull: when, from which course and path, and whether it is complete."""

    run_id: int
    programme_id: str
    programme_title: str
    timezone: str
    course_id: int | None
    taken_at: datetime
    source: str
    complete: bool
    completion_enabled: bool
    sessions: tuple[SessionInfo, ...]
    notes: tuple[str, ...] = ()
    attendance_source: str | None = None  # activity_completion or mod_attendance (None: no session tracked)
    attendance_id: int | None = None  # the Attendance activity read
    full_read_at: datetime | None = None  # the last pull that read every participant


@dataclass(frozen=True)
class SnapshotSummary:
    """A snapshot with its counts, for ``lms-sync report runs``."""

    snapshot: Snapshot
    participants: int
    completed: int
    failed: int
    no_access: int
    run_status: str
    exit_code: int | None


def save_snapshot(store: Store, snapshot: Snapshot, rows: Sequence[ParticipantRow]) -> None:
    """Record a snapshot and its rows and upsert the participants, all in one transaction."""
    sessions = json.dumps([_session_dict(s) for s in snapshot.sessions], ensure_ascii=False)
    with store.transaction() as db:
        db.execute(
            """INSERT INTO snapshots (run_id, programme_id, programme_title, timezone, course_id, taken_at,
                                      source, complete, completion_enabled, sessions, notes, attendance_source,
                                      attendance_id, full_read_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                snapshot.run_id,
                snapshot.programme_id,
                snapshot.programme_title,
                snapshot.timezone,
                snapshot.course_id,
                to_text(snapshot.taken_at),
                snapshot.source,
                int(snapshot.complete),
                int(snapshot.completion_enabled),
                sessions,
                json.dumps(list(snapshot.notes), ensure_ascii=False),
                snapshot.attendance_source,
                snapshot.attendance_id,
                to_text(snapshot.full_read_at) if snapshot.full_read_at else None,
            ),
        )
        # Upsert: keep the first run that saw someone; an empty field from a path that does not
        # read it (e.g. no idnumber column in the report) does not erase what another path read.
        db.executemany(
            """INSERT INTO participants (user_id, username, idnumber, fullname, email, first_run, last_run)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (user_id) DO UPDATE SET
                 username = COALESCE(NULLIF(excluded.username, ''), username),
                 idnumber = COALESCE(NULLIF(excluded.idnumber, ''), idnumber),
                 fullname = COALESCE(NULLIF(excluded.fullname, ''), fullname),
                 email = COALESCE(NULLIF(excluded.email, ''), email),
                 last_run = excluded.last_run""",
            [
                (r.user_id, r.username, r.idnumber, r.fullname, r.email, snapshot.run_id, snapshot.run_id)
                for r in rows
            ],
        )
        db.executemany(
            """INSERT INTO snapshot_rows (run_id, user_id, status, institution, department, completed,
                                          time_completed, error, lastaccess, read_at, cohort)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    snapshot.run_id,
                    r.user_id,
                    r.status,
                    r.institution,
                    r.department,
                    None if r.completed is None else int(r.completed),
                    r.time_completed,
                    r.error,
                    r.lastaccess,
                    to_text(r.read_at) if r.read_at else None,
                    r.cohort,
                )
                for r in rows
            ],
        )
        db.executemany(
            """INSERT INTO snapshot_attendance (run_id, user_id, session_id, attended, time_completed, status,
                                                status_label, taken_by, taken_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (snapshot.run_id, r.user_id, sid, None if a.attended is None else int(a.attended), a.time_completed,
                 a.status, a.status_label, a.taken_by, a.taken_at)
                for r in rows
                for sid, a in sorted(r.attendance.items())
            ],
        )


def snapshots_signature(store: Store) -> tuple[object, ...]:
    """What changes whenever a report could: a snapshot added, or the run of one finishing."""
    row = store.db.execute(
        "SELECT count(*), max(s.run_id), max(runs.finished_at), group_concat(runs.status) "
        "FROM snapshots s JOIN runs ON runs.id = s.run_id"
    ).fetchone()
    return tuple(row)


def load_snapshot(store: Store, run: int | str = "latest", *, programme_id: str | None = None) -> Snapshot | None:
    """The snapshot of run ``run`` (an id, or ``"latest"``), or None when there is none."""
    if run == "latest":
        sql = "SELECT * FROM snapshots" + (" WHERE programme_id = ?" if programme_id else "")
        sql += " ORDER BY run_id DESC LIMIT 1"
        row = store.db.execute(sql, (programme_id,) if programme_id else ()).fetchone()
    else:
        try:
            run_id = int(run)
        except ValueError:
            raise StateError(f"--run must be a run number or 'latest', not {run!r}") from None
        row = store.db.execute("SELECT * FROM snapshots WHERE run_id = ?", (run_id,)).fetchone()
    return _snapshot(row) if row else None


def previous_snapshot(store: Store, run_id: int, *, programme_id: str | None = None) -> Snapshot | None:
    """The snapshot taken just before run ``run_id`` (same programme when given), or None."""
    sql = "SELECT * FROM snapshots WHERE run_id < ?" + (" AND programme_id = ?" if programme_id else "")
    params: tuple[object, ...] = (run_id, programme_id) if programme_id else (run_id,)
    row = store.db.execute(sql + " ORDER BY run_id DESC LIMIT 1", params).fetchone()
    return _snapshot(row) if row else None


def load_rows(store: Store, run_id: int) -> list[ParticipantRow]:
    """Every participant row of a snapshot, ordered by Moodle user id."""
    attendance: dict[int, dict[str, Attendance]] = {}
    for a in store.db.execute("SELECT * FROM snapshot_attendance WHERE run_id = ?", (run_id,)):
        attended = None if a["attended"] is None else bool(a["attended"])
        attendance.setdefault(a["user_id"], {})[a["session_id"]] = Attendance(
            attended, a["time_completed"], a["status"], a["status_label"], a["taken_by"], a["taken_at"])
    rows = store.db.execute(
        """SELECT r.*, p.username, p.idnumber, p.fullname, p.email
           FROM snapshot_rows r JOIN participants p USING (user_id)
           WHERE r.run_id = ? ORDER BY r.user_id""",
        (run_id,),
    )
    return [
        ParticipantRow(
            user_id=r["user_id"],
            username=r["username"],
            idnumber=r["idnumber"],
            fullname=r["fullname"],
            email=r["email"],
            institution=r["institution"],
            department=r["department"],
            status=r["status"],
            completed=None if r["completed"] is None else bool(r["completed"]),
            time_completed=r["time_completed"],
            error=r["error"],
            attendance=attendance.get(r["user_id"], {}),
            lastaccess=r["lastaccess"],
            read_at=from_text(r["read_at"]) if r["read_at"] else None,
            cohort=r["cohort"],
        )
        for r in rows
    ]


def list_snapshots(store: Store, limit: int = 50) -> list[SnapshotSummary]:
    """The most recent snapshots with their counts and their run's outcome, newest first."""
    rows = store.db.execute(
        """SELECT s.*, runs.status AS run_status, runs.exit_code AS run_exit_code,
                  COUNT(r.user_id) AS n,
                  COALESCE(SUM(r.completed = 1), 0) AS n_completed,
                  COALESCE(SUM(r.status = 'failed'), 0) AS n_failed,
                  COALESCE(SUM(r.status = 'no_access'), 0) AS n_no_access
           FROM snapshots s
           JOIN runs ON runs.id = s.run_id
           LEFT JOIN snapshot_rows r ON r.run_id = s.run_id
           GROUP BY s.run_id ORDER BY s.run_id DESC LIMIT ?""",
        (limit,),
    )
    return [
        SnapshotSummary(
            snapshot=_snapshot(row),
            participants=row["n"],
            completed=row["n_completed"],
            failed=row["n_failed"],
            no_access=row["n_no_access"],
            run_status=row["run_status"],
            exit_code=row["run_exit_code"],
        )
        for row in rows
    ]


def completed_since(store: Store, run_id: int, *, since: datetime | None = None) -> set[int]:
    """User ids complete in run ``run_id`` who completed after ``since``, or (no date) since the previous snapshot."""
    if since is not None:
        cutoff = int(since.timestamp())
        found = store.db.execute(
            "SELECT user_id FROM snapshot_rows WHERE run_id = ? AND completed = 1 AND time_completed >= ?",
            (run_id, cutoff),
        )
        return {r[0] for r in found}
    current = load_snapshot(store, run_id)
    before = previous_snapshot(store, run_id, programme_id=current.programme_id if current else None)
    found = store.db.execute(
        """SELECT r.user_id FROM snapshot_rows r
           WHERE r.run_id = ? AND r.completed = 1
             AND NOT EXISTS (SELECT 1 FROM snapshot_rows p
                             WHERE p.run_id = ? AND p.user_id = r.user_id AND p.completed = 1)""",
        (run_id, before.run_id if before else -1),
    )
    return {r[0] for r in found}


def _session_dict(s: SessionInfo) -> dict[str, object]:
    return {
        "id": s.id,
        "title": s.title,
        "start": s.start,
        "end": s.end,
        "cancelled": s.cancelled,
        "activity": s.activity,
        "cmid": s.cmid,
        "attendance_session": s.attendance_session,
    }


def _snapshot(row: sqlite3.Row) -> Snapshot:
    return Snapshot(
        run_id=row["run_id"],
        programme_id=row["programme_id"],
        programme_title=row["programme_title"],
        timezone=row["timezone"],
        course_id=row["course_id"],
        taken_at=from_text(row["taken_at"]),
        source=row["source"],
        complete=bool(row["complete"]),
        completion_enabled=bool(row["completion_enabled"]),
        sessions=tuple(SessionInfo(**s) for s in json.loads(row["sessions"])),
        notes=tuple(json.loads(row["notes"])),
        attendance_source=row["attendance_source"],
        attendance_id=row["attendance_id"],
        full_read_at=from_text(row["full_read_at"]) if row["full_read_at"] else None,
    )
