"""State-store queries for push: mappings (what lms_sync created or adopted) and the write journal.

The tables come from migrations ``0002_push_state`` and ``0007_programmes`` in ``lms_sync.store``:
every row belongs to one programme (its id), so programmes sharing a store never see each other's
mappings or in-doubt writes. A journal row is written
``pending`` (and committed) before each remote write; the mapping and ``done`` are written in one
transaction after it. A row still ``pending`` at the next run is *in doubt*: the write may or may
not have reached Moodle, and the next plan resolves it by looking the object up by its key.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from ..store import Store, to_text, utcnow

KINDS = ("category", "course", "event", "user", "enrolment", "attendance", "attendance_session", "group")


@dataclass(frozen=True)
class Mapping:
    """A Moodle object lms_sync manages: its key, Moodle id and the hash of what was pushed."""

    kind: str
    key: str
    moodle_id: int
    content_hash: str
    status: str = "active"  # enrolments: active or suspended


@dataclass(frozen=True)
class JournalRow:
    """One remote write as journaled."""

    id: int
    run_id: int | None
    action: str
    kind: str
    key: str
    state: str  # pending, done, failed
    detail: str


class State:
    """The mappings as a read-only snapshot, keyed by ``(kind, key)``; what ``plan`` reads."""

    def __init__(self, mappings: Iterable[Mapping] = ()) -> None:
        """Index the mappings."""
        self.mappings: dict[tuple[str, str], Mapping] = {(m.kind, m.key): m for m in mappings}

    def get(self, kind: str, key: str) -> Mapping | None:
        """The mapping of this object, if lms_sync knows it."""
        return self.mappings.get((kind, key))

    def of_kind(self, kind: str) -> list[Mapping]:
        """Every mapping of one kind, by key."""
        return sorted((m for (k, _), m in self.mappings.items() if k == kind), key=lambda m: m.key)


def load_state(store: Store, programme_id: str) -> State:
    """Read every mapping of one programme."""
    rows = store.db.execute(
        "SELECT kind, key, moodle_id, content_hash, status FROM push_mappings WHERE programme_id = ?", (programme_id,))
    return State(Mapping(r["kind"], r["key"], r["moodle_id"], r["content_hash"], r["status"]) for r in rows)


def programmes_with_mappings(store: Store) -> set[str]:
    """Every programme push has written for."""
    return {row[0] for row in store.db.execute("SELECT DISTINCT programme_id FROM push_mappings") if row[0]}


def save_mapping(db: sqlite3.Connection, programme_id: str, mapping: Mapping) -> None:
    """Insert or replace a programme's mapping (inside the caller's transaction)."""
    db.execute(
        """INSERT INTO push_mappings (programme_id, kind, key, moodle_id, content_hash, status, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (programme_id, kind, key) DO UPDATE SET moodle_id = excluded.moodle_id,
             content_hash = excluded.content_hash, status = excluded.status, updated_at = excluded.updated_at""",
        (programme_id, mapping.kind, mapping.key, mapping.moodle_id, mapping.content_hash, mapping.status,
         to_text(utcnow())),
    )


def delete_mapping(db: sqlite3.Connection, programme_id: str, kind: str, key: str, *,
                   moodle_id: int | None = None) -> None:
    """Forget a programme's mapping (only if it points at ``moodle_id``, when given), inside the caller's transaction."""
    sql = "DELETE FROM push_mappings WHERE programme_id = ? AND kind = ? AND key = ?"
    params: tuple[object, ...] = (programme_id, kind, key)
    if moodle_id is not None:
        sql, params = sql + " AND moodle_id = ?", (*params, moodle_id)
    db.execute(sql, params)


def journal_pending(db: sqlite3.Connection, programme_id: str, run_id: int | None, action: str, kind: str,
                    key: str) -> int:
    """Record that a remote write for a programme is about to be sent; returns the row id."""
    cur = db.execute(
        "INSERT INTO push_journal (programme_id, run_id, action, kind, key, state, started_at) "
        "VALUES (?, ?, ?, ?, ?, 'pending', ?)",
        (programme_id, run_id, action, kind, key, to_text(utcnow())),
    )
    return int(cur.lastrowid or 0)


def journal_finish(db: sqlite3.Connection, row_id: int, state: str, detail: str = "") -> None:
    """Mark a journal row done or failed (inside the transaction that records its outcome)."""
    db.execute(
        "UPDATE push_journal SET state = ?, detail = ?, finished_at = ? WHERE id = ?",
        (state, detail[:500], to_text(utcnow()), row_id),
    )


def in_doubt(store: Store, programme_id: str) -> list[JournalRow]:
    """A programme's rows left ``pending`` by a run that was killed or lost the connection mid-write."""
    rows = store.db.execute("SELECT * FROM push_journal WHERE state = 'pending' AND programme_id = ? ORDER BY id",
                            (programme_id,))
    return [_row(r) for r in rows]


def resolve_in_doubt(store: Store, rows: list[JournalRow], run_id: int | None) -> None:
    """Close in-doubt rows once this run's lookup has seen what Moodle really holds."""
    if not rows:
        return
    with store.transaction() as db:
        for row in rows:
            journal_finish(db, row.id, "failed", f"interrupted; resolved by lookup in run {run_id}")


def journal(store: Store, run_id: int | None = None) -> list[JournalRow]:
    """The journal rows, of one run or all, in order."""
    sql = "SELECT * FROM push_journal" + (" WHERE run_id = ?" if run_id is not None else "") + " ORDER BY id"
    rows = store.db.execute(sql, (run_id,) if run_id is not None else ())
    return [_row(r) for r in rows]


def _row(r: sqlite3.Row) -> JournalRow:
    """A ``push_journal`` row as a JournalRow."""
    return JournalRow(r["id"], r["run_id"], r["action"], r["kind"], r["key"], r["state"], r["detail"])
