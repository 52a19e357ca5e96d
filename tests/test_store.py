"""The state store: migrations recorded and applied once, explicit transactions, newer files refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lms_sync.errors import StateError
from lms_sync.store import MIGRATIONS, Store


def test_migrations_are_recorded_and_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        run = store.start_run("feed")
    with Store(path) as store:  # reopening must not re-run migrations or lose data
        assert [r.id for r in store.runs()] == [run]
        names = [row[0] for row in store.db.execute("SELECT name FROM _migrations ORDER BY name")]
        assert names == sorted(name for name, _ in MIGRATIONS)
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite3") as store:
        with pytest.raises(RuntimeError):
            with store.transaction() as db:
                db.execute("INSERT INTO runs (kind, started_at) VALUES ('x', '2020-01-01T00:00:00Z')")
                raise RuntimeError("boom")
        assert store.runs() == []


def test_file_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO _migrations VALUES ('9999_future', '2030-01-01T00:00:00Z')")
    db.commit()
    db.close()
    with pytest.raises(StateError, match="written by a newer lms_sync"):
        Store(path)


def test_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    path.write_text("not a database" * 100)
    with pytest.raises(StateError, match="cannot be used"):
        Store(path)


def test_run_outcome_is_kept(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite3") as store:
        run = store.start_run("push")
        store.finish_run(run, "partial", 1, {"failed": 2})
        (recorded,) = store.runs(kind="push")
        assert (recorded.status, recorded.exit_code, recorded.summary) == ("partial", 1, {"failed": 2})
        assert recorded.finished_at is not None


def test_a_state_path_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(StateError, match="cannot be used"):
        Store(tmp_path / "afile" / "state.sqlite3")


def test_nested_transactions_join_the_outer_one(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite3") as store:
        with pytest.raises(RuntimeError):
            with store.transaction():
                store.start_run("a")  # its own transaction() joins the outer one
                raise RuntimeError("boom")
        assert store.runs() == []
