"""The state store: one SQLite file, WAL mode, explicit transactions, named forward migrations.

Every table lms_sync keeps lives here. A migration is appended to ``MIGRATIONS`` and never edited
once released; its name is recorded in ``_migrations`` when applied, and ``PRAGMA user_version``
holds the count, so a file written by a newer lms_sync is refused instead of being damaged.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .errors import StateError

log = logging.getLogger(__name__)

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_runs_and_feed",
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,                 -- feed, push, pull, sync...
            started_at TEXT NOT NULL,           -- ISO 8601 UTC
            finished_at TEXT,
            status TEXT NOT NULL DEFAULT 'running',  -- running, ok, partial, failed
            exit_code INTEGER,
            summary TEXT NOT NULL DEFAULT '{}'  -- JSON: counts, stages, timings
        );
        CREATE INDEX runs_kind_started ON runs (kind, started_at);
        CREATE TABLE feed_entries (
            uid TEXT PRIMARY KEY,
            session_id TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            schedule_hash TEXT NOT NULL,       -- start, end, status: changes raise SEQUENCE
            last_modified TEXT NOT NULL,       -- ISO 8601 UTC, DTSTAMP and LAST-MODIFIED
            status TEXT NOT NULL,              -- CONFIRMED or CANCELLED as published
            removed INTEGER NOT NULL DEFAULT 0,-- 1 when the session left the programme
            payload TEXT NOT NULL              -- JSON of what was published, to render removed sessions
        );
        """,
    ),
    (
        "0002_push_state",
        """
        CREATE TABLE push_mappings (
            kind TEXT NOT NULL,                -- category, course, event, user, enrolment
            key TEXT NOT NULL,                 -- idnumber, session id, username
            moodle_id INTEGER NOT NULL,        -- Moodle's id (the user id for an enrolment)
            content_hash TEXT NOT NULL,        -- hash of the desired fields as last pushed
            status TEXT NOT NULL DEFAULT 'active',  -- enrolments: active or suspended
            updated_at TEXT NOT NULL,
            PRIMARY KEY (kind, key)
        );
        CREATE TABLE push_journal (
            id INTEGER PRIMARY KEY,
            run_id INTEGER,
            action TEXT NOT NULL,              -- create, update, replace, delete, enrol, suspend
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            state TEXT NOT NULL,               -- pending (in doubt if left so), done, failed
            detail TEXT NOT NULL DEFAULT '',
            started_at TEXT NOT NULL,
            finished_at TEXT
        );
        CREATE INDEX push_journal_state ON push_journal (state);
        """,
    ),
    (
        "0003_completion",
        """
        CREATE TABLE participants (
            user_id INTEGER PRIMARY KEY,       -- Moodle user id
            username TEXT NOT NULL DEFAULT '',
            idnumber TEXT NOT NULL DEFAULT '',
            fullname TEXT NOT NULL DEFAULT '',
            firstname TEXT NOT NULL DEFAULT '',
            lastname TEXT NOT NULL DEFAULT '',
            email TEXT NOT NULL DEFAULT '',
            first_run INTEGER NOT NULL,        -- first pull that saw this participant
            last_run INTEGER NOT NULL          -- latest pull that saw this participant
        );
        CREATE TABLE snapshots (
            run_id INTEGER PRIMARY KEY REFERENCES runs (id),
            programme_id TEXT NOT NULL,
            programme_title TEXT NOT NULL DEFAULT '',
            timezone TEXT NOT NULL DEFAULT 'UTC',
            course_id INTEGER,
            taken_at TEXT NOT NULL,            -- ISO 8601 UTC: when the pull started
            source TEXT NOT NULL,              -- calls or reportbuilder
            complete INTEGER NOT NULL DEFAULT 0,  -- 1 only when every participant was read
            completion_enabled INTEGER NOT NULL DEFAULT 1,
            sessions TEXT NOT NULL DEFAULT '[]',  -- JSON: the programme's sessions as pulled
            notes TEXT NOT NULL DEFAULT '[]'   -- JSON: what the reader should know (no personal data)
        );
        CREATE TABLE snapshot_rows (
            run_id INTEGER NOT NULL REFERENCES snapshots (run_id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES participants (user_id),
            status TEXT NOT NULL,              -- ok, failed, no_access
            institution TEXT NOT NULL DEFAULT '',
            department TEXT NOT NULL DEFAULT '',
            completed INTEGER,                 -- NULL: unknown (failed, or completion disabled)
            time_completed INTEGER,            -- Unix seconds
            error TEXT,                        -- errorcode or error class of a failure
            PRIMARY KEY (run_id, user_id)
        );
        CREATE INDEX snapshot_rows_user ON snapshot_rows (user_id, run_id);
        CREATE TABLE snapshot_attendance (
            run_id INTEGER NOT NULL,
            user_id INTEGER NOT NULL,
            session_id TEXT NOT NULL,
            attended INTEGER,                  -- NULL: not tracked or not read
            time_completed INTEGER,
            PRIMARY KEY (run_id, user_id, session_id),
            FOREIGN KEY (run_id, user_id) REFERENCES snapshot_rows (run_id, user_id) ON DELETE CASCADE
        );
        """,
    ),
    (
        "0004_feed_versions",
        """
        CREATE TABLE feed_versions (
            lang TEXT PRIMARY KEY,             -- the feed is built per language
            sha256 TEXT NOT NULL,              -- of the serialised bytes
            changed_at TEXT NOT NULL           -- ISO 8601 UTC: when those bytes last changed (Last-Modified)
        );
        """,
    ),
    (
        "0005_attendance",
        """
        ALTER TABLE snapshots ADD COLUMN attendance_source TEXT;      -- activity_completion, mod_attendance
        ALTER TABLE snapshots ADD COLUMN attendance_id INTEGER;       -- the Attendance activity read
        ALTER TABLE snapshots ADD COLUMN full_read_at TEXT;           -- ISO 8601 UTC: last pull that read everyone
        ALTER TABLE snapshot_rows ADD COLUMN lastaccess TEXT NOT NULL DEFAULT '';  -- last course access, as Moodle said
        ALTER TABLE snapshot_rows ADD COLUMN read_at TEXT;            -- when this participant's completion was read
        ALTER TABLE snapshot_attendance ADD COLUMN status TEXT;       -- the Attendance status acronym (P, L, E, A)
        ALTER TABLE snapshot_attendance ADD COLUMN status_label TEXT; -- its description in the activity (Present...)
        ALTER TABLE snapshot_attendance ADD COLUMN taken_by INTEGER;  -- who last took the session (Moodle user id)
        ALTER TABLE snapshot_attendance ADD COLUMN taken_at INTEGER;  -- when (Unix seconds)
        """,
    ),
    (
        "0006_run_pid",
        """
        -- The process that runs it: a 'running' run of another process, seen by a run that holds the
        -- lock, was killed (or lost its disk) before it could record its outcome.
        ALTER TABLE runs ADD COLUMN pid INTEGER;
        """,
    ),
    (
        "0007_programmes",
        """
        -- Several programmes share one store. Before this migration a store held one programme: its
        -- course mapping's key is that programme's id, and its feed UIDs start with it.
        CREATE TABLE programmes (
            id TEXT PRIMARY KEY,
            status TEXT NOT NULL DEFAULT 'live',  -- as its file last said: live or archived
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,              -- last run that read its file (removed: it stopped)
            header TEXT NOT NULL DEFAULT '{}'     -- JSON: title, url, timezone..., to publish it once its file is gone
        );
        INSERT INTO programmes (id, first_seen, last_seen, header)
            SELECT programme_id, MIN(taken_at), MAX(taken_at),
                   json_object('title', programme_title, 'timezone', timezone)
            FROM snapshots GROUP BY programme_id;
        ALTER TABLE feed_entries ADD COLUMN programme_id TEXT NOT NULL DEFAULT '';
        UPDATE feed_entries SET programme_id = substr(uid, 1, instr(uid, '@') - length(session_id) - 2);
        INSERT OR IGNORE INTO programmes (id, first_seen, last_seen)
            SELECT programme_id, MIN(last_modified), MAX(last_modified) FROM feed_entries GROUP BY programme_id;
        CREATE TABLE push_mappings_0007 (
            programme_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            moodle_id INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'active',
            updated_at TEXT NOT NULL,
            PRIMARY KEY (programme_id, kind, key)
        );
        INSERT INTO push_mappings_0007
            SELECT COALESCE((SELECT key FROM push_mappings WHERE kind = 'course' LIMIT 1), ''),
                   kind, key, moodle_id, content_hash, status, updated_at
            FROM push_mappings;
        ALTER TABLE push_journal ADD COLUMN programme_id TEXT NOT NULL DEFAULT '';
        UPDATE push_journal SET programme_id = COALESCE((SELECT key FROM push_mappings WHERE kind = 'course' LIMIT 1), '');
        DROP TABLE push_mappings;
        ALTER TABLE push_mappings_0007 RENAME TO push_mappings;
        ALTER TABLE runs ADD COLUMN programme_id TEXT;  -- NULL: every programme (or a run from before 0007)
        CREATE TABLE feed_versions_0007 (
            scope TEXT NOT NULL,                  -- a programme id, or '*' for the feed of every programme
            lang TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            changed_at TEXT NOT NULL,
            PRIMARY KEY (scope, lang)
        );
        INSERT INTO feed_versions_0007 SELECT '*', lang, sha256, changed_at FROM feed_versions;
        DROP TABLE feed_versions;
        ALTER TABLE feed_versions_0007 RENAME TO feed_versions;
        """,
    ),
    (
        "0008_cohorts",
        """
        -- The cohort (audience) of each participant as pulled: the name of the course group lms_sync
        -- keeps for it (idnumber lms-sync-cohort:<key>); '' when in none, or in a snapshot from before.
        ALTER TABLE snapshot_rows ADD COLUMN cohort TEXT NOT NULL DEFAULT '';
        """,
    ),
]

# A run that ended without recording how (killed, power loss, disk full), found by a later run.
INTERRUPTED = "interrupted"


def utcnow() -> datetime:
    """The current time in UTC, to the second (what the store records)."""
    return datetime.now(UTC).replace(microsecond=0)


def to_text(moment: datetime) -> str:
    """A UTC timestamp as stored: ISO 8601 with ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_text(text: str) -> datetime:
    """Inverse of ``to_text``."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Run:
    """One recorded run of a command."""

    id: int
    kind: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    exit_code: int | None
    summary: dict[str, Any]
    programme_id: str | None = None  # the programme it was about; None: every programme


@dataclass(frozen=True)
class KnownProgramme:
    """A programme the store has seen, even after its file was removed."""

    id: str
    status: str  # live or archived, as its file last said
    first_seen: datetime
    last_seen: datetime
    header: dict[str, Any]  # title, url, timezone... as last seen


@dataclass(frozen=True)
class FeedEntry:
    """One VEVENT as last published: what subscribers have, and when it last changed."""

    uid: str
    session_id: str
    sequence: int
    content_hash: str
    schedule_hash: str
    last_modified: datetime
    status: str
    removed: bool
    payload: dict[str, Any]
    programme_id: str = ""


class Store:
    """Owner of the SQLite state file; use ``with store.transaction() as db:`` for every write."""

    def __init__(self, path: Path | str, *, check_same_thread: bool = True) -> None:
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
                _create_private(self.path)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so transactions are explicit.
            self.db = sqlite3.connect(
                str(path), isolation_level=None, timeout=30, check_same_thread=check_same_thread
            )
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            if str(path) != ":memory:":
                _tighten(self.path)
        except (sqlite3.Error, OSError) as exc:
            raise state_error(self.path, exc) from None

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An IMMEDIATE transaction: committed when the block ends, rolled back on any exception.

        Nested use joins the outer transaction, so a caller can make several store calls atomic.
        """
        if self.db.in_transaction:
            yield self.db
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise state_error(self.path, exc) from None
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException as exc:
            if self.db.in_transaction:
                try:
                    self.db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # SQLite already rolled back (a full disk does that); the original error says why
            if isinstance(exc, sqlite3.Error):
                raise state_error(self.path, exc) from None
            raise

    @property
    def schema_version(self) -> int:
        """Number of migrations applied to this file."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        with self.transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
            applied = {row[0] for row in db.execute("SELECT name FROM _migrations")}
            known = {name for name, _ in MIGRATIONS}
            unknown = sorted(applied - known)
            if unknown:
                raise StateError(
                    f"state store {self.path} was written by a newer lms_sync (migrations {', '.join(unknown)})",
                    hint="upgrade lms_sync, or point --state at another file",
                )
            for name, sql in MIGRATIONS:
                if name in applied:
                    continue
                for statement in _statements(sql):
                    db.execute(statement)
                db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, to_text(utcnow())))
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")

    # --- runs --------------------------------------------------------------------------------

    def start_run(self, kind: str, started_at: datetime | None = None, *, programme_id: str | None = None) -> int:
        """Record a run as started and return its id; call it only while holding the run lock.

        A run still 'running' whose process is gone (killed, or unable to write its outcome) is
        marked interrupted so it never stays 'running' forever. Runs of other programmes may be
        running beside this one: only the process's absence tells.
        """
        pid = os.getpid()
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO runs (kind, started_at, pid, programme_id) VALUES (?, ?, ?, ?)",
                (kind, to_text(started_at or utcnow()), pid, programme_id),
            )
            run_id = int(cur.lastrowid or 0)
            running = db.execute(
                "SELECT id, pid FROM runs WHERE status = 'running' AND id != ? AND (pid IS NULL OR pid != ?)",
                (run_id, pid),
            ).fetchall()
            stale = [row for row in running if not _alive(row[1])]
            for (stale_id, _) in stale:
                note = {"error": f"{INTERRUPTED}: the process ended without recording its outcome (killed, "
                                 f"a crash, power loss or a full disk); noticed by run {run_id}"}
                db.execute("UPDATE runs SET status = ?, summary = ? WHERE id = ?",
                           (INTERRUPTED, json.dumps(note), stale_id))
            if stale:
                log.warning("run(s) %s ended without recording their outcome: marked %s",
                            ", ".join(str(r[0]) for r in stale), INTERRUPTED)
            return run_id

    def finish_run(
        self,
        run_id: int,
        status: str,
        exit_code: int,
        summary: dict[str, Any] | None = None,
        finished_at: datetime | None = None,
    ) -> None:
        """Record how a run ended."""
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, summary = ? WHERE id = ?",
                (to_text(finished_at or utcnow()), status, exit_code, json.dumps(summary or {}), run_id),
            )

    def runs(self, limit: int = 20, kind: str | None = None, *, programme_id: str | None = None) -> list[Run]:
        """The most recent runs (of one kind, about one programme), newest first."""
        where, params = [], []
        if kind:
            where.append("kind = ?")
            params.append(kind)
        if programme_id:
            where.append("programme_id = ?")
            params.append(programme_id)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?"
        return [_run(row) for row in self.db.execute(sql, (*params, limit))]

    # --- programmes --------------------------------------------------------------------------

    def register_programmes(self, programmes: list[tuple[str, str, dict[str, Any]]], now: datetime) -> None:
        """Record that these programmes' files were read: (id, status, header), in one transaction.

        Nothing is written when the status and header are as recorded and ``last_seen`` is less than a
        day old: serve publishes on every rebuild, and a write there would wake every other reader of
        the store (and serve's own promise is to write only when a programme really changed)."""
        stale = to_text(now - timedelta(days=1))
        with self.transaction() as db:
            db.executemany(
                """INSERT INTO programmes (id, status, first_seen, last_seen, header) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET status = excluded.status, last_seen = excluded.last_seen,
                     header = excluded.header
                   WHERE programmes.status IS NOT excluded.status OR programmes.header IS NOT excluded.header
                     OR programmes.last_seen < ?""",
                [(pid, status, to_text(now), to_text(now), json.dumps(header, ensure_ascii=False, sort_keys=True),
                  stale) for pid, status, header in programmes],
            )

    def known_programmes(self) -> list[KnownProgramme]:
        """Every programme the store has seen, by id."""
        return [
            KnownProgramme(r["id"], r["status"], from_text(r["first_seen"]), from_text(r["last_seen"]),
                           json.loads(r["header"]))
            for r in self.db.execute("SELECT * FROM programmes ORDER BY id")
        ]


    # --- feed entries ------------------------------------------------------------------------

    def feed_entries(self) -> list[FeedEntry]:
        """Every entry ever published in the feed, in session start order."""
        rows = self.db.execute("SELECT * FROM feed_entries")  # a few per session ever published
        entries = [
            FeedEntry(
                uid=row["uid"],
                session_id=row["session_id"],
                sequence=row["sequence"],
                content_hash=row["content_hash"],
                schedule_hash=row["schedule_hash"],
                last_modified=from_text(row["last_modified"]),
                status=row["status"],
                removed=bool(row["removed"]),
                payload=json.loads(row["payload"]),
                programme_id=row["programme_id"],
            )
            for row in rows
        ]
        return sorted(entries, key=lambda e: (str(e.payload.get("start", "")), e.session_id))

    def save_feed_entries(self, entries: list[FeedEntry]) -> None:
        """Insert or replace these entries in one transaction."""
        with self.transaction() as db:
            db.executemany(
                """INSERT INTO feed_entries
                   (uid, session_id, sequence, content_hash, schedule_hash, last_modified, status, removed, payload,
                    programme_id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (uid) DO UPDATE SET programme_id = excluded.programme_id,
                     session_id = excluded.session_id, sequence = excluded.sequence,
                     content_hash = excluded.content_hash, schedule_hash = excluded.schedule_hash,
                     last_modified = excluded.last_modified, status = excluded.status,
                     removed = excluded.removed, payload = excluded.payload""",
                [
                    (
                        e.uid,
                        e.session_id,
                        e.sequence,
                        e.content_hash,
                        e.schedule_hash,
                        to_text(e.last_modified),
                        e.status,
                        int(e.removed),
                        json.dumps(e.payload, ensure_ascii=False, sort_keys=True),
                        e.programme_id,
                    )
                    for e in entries
                ],
            )


    def feed_version(self, scope: str, lang: str, sha256: str, now: datetime) -> datetime:
        """When a feed (``scope``: a programme id, or ``*`` for all) in ``lang`` last changed; records ``now`` if it did."""
        with self.transaction() as db:
            row = db.execute("SELECT sha256, changed_at FROM feed_versions WHERE scope = ? AND lang = ?",
                             (scope, lang)).fetchone()
            if row is not None and row["sha256"] == sha256:
                return from_text(row["changed_at"])
            db.execute(
                "INSERT INTO feed_versions (scope, lang, sha256, changed_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (scope, lang) DO UPDATE SET sha256 = excluded.sha256, changed_at = excluded.changed_at",
                (scope, lang, sha256, to_text(now)),
            )
            return now


def _create_private(path: Path) -> None:
    """Create the store file owner-only (it holds names and e-mails); SQLite gives -wal and -shm its mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _tighten(path: Path) -> None:
    """Take other users' access away from a store made before lms_sync created it 0600 (and its -wal, -shm)."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            st = file.stat()
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o007 or st.st_uid != os.geteuid():
            continue
        os.chmod(file, stat.S_IMODE(st.st_mode) & ~0o007)
        log.warning("%s was readable by every user of this machine (it holds names and e-mails): "
                    "other users' access removed", file)


def state_error(path: Path, exc: BaseException) -> StateError:
    """A StateError saying what went wrong with the store file and what to do; "damaged" only when it is."""
    name = str(getattr(exc, "sqlite_errorname", ""))
    code = getattr(exc, "errno", None)
    folder = path.parent if str(path.parent) else Path(".")
    reason = str(exc) if isinstance(exc, sqlite3.Error) else (getattr(exc, "strerror", None) or str(exc))
    if code in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR) or (name.startswith("SQLITE_CANTOPEN") and path.is_dir()):
        return StateError(
            f"state store {path} cannot be used: it, or a folder on its path, is not what it should be ({reason})",
            hint="check the path (--state / LMS_SYNC_STATE_PATH): it names a file, in folders that are folders",
        )
    if name.startswith("SQLITE_FULL") or code in (errno.ENOSPC, errno.EDQUOT):
        return StateError(
            f"state store {path}: the disk is full ({reason})",
            hint=f"free space on the disk holding {folder}, then run again: nothing is lost, SQLite rolled the "
            "unfinished change back, and a Moodle write left in doubt is looked up by the next push",
        )
    if (name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH"))
            or code in (errno.EACCES, errno.EPERM, errno.EROFS)):
        return StateError(
            f"state store {path} cannot be opened or written ({reason})",
            hint=f"the user running lms-sync needs write access to {path} and to its folder {folder} (SQLite "
            "keeps -wal and -shm files beside it), on a filesystem mounted read-write; or point --state "
            "(LMS_SYNC_STATE_PATH) elsewhere",
        )
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return StateError(
            f"state store {path} is damaged or is not an lms_sync state store ({reason})",
            hint="check --state (LMS_SYNC_STATE_PATH) names the right file; if it does, restore it from your "
            "backup, or move it aside to start afresh (its history is then lost)",
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StateError(
            f"state store {path} stayed locked by another program ({reason})",
            hint="a backup tool or a sqlite3 shell holds it; let it finish, then run again",
        )
    if name.startswith("SQLITE_IOERR") or isinstance(exc, OSError):
        return StateError(
            f"state store {path}: the disk reported an error ({reason})",
            hint=f"check the disk holding {folder} (dmesg, free space, mount state), then run again",
        )
    return StateError(f"state store {path} cannot be used ({reason})",
                      hint="check --state (LMS_SYNC_STATE_PATH); run again with -v for details")


def _run(row: sqlite3.Row) -> Run:
    return Run(
        id=row["id"],
        kind=row["kind"],
        started_at=from_text(row["started_at"]),
        finished_at=from_text(row["finished_at"]) if row["finished_at"] else None,
        status=row["status"],
        exit_code=row["exit_code"],
        summary=json.loads(row["summary"]),
        programme_id=row["programme_id"],
    )


def _alive(pid: int | None) -> bool:
    """Whether the process that started a run still exists (the store is local: same host)."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    return True


def _statements(sql: str) -> list[str]:
    # executescript() would COMMIT our transaction; split instead (migrations hold no ';' or '--'
    # inside string literals).
    without_comments = re.sub(r"--[^\n]*", "", sql)
    return [s.strip() for s in without_comments.split(";") if s.strip()]
