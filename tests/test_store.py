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
    with pytest.raises(StateError, match="is damaged or is not an lms_sync state store"):
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


def test_store_and_wal_are_created_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        with Store(tmp_path / "s.sqlite3") as store:
            store.start_run("feed")
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    finally:
        os.umask(old)
    assert modes == {"s.sqlite3": 0o600, "s.sqlite3-wal": 0o600, "s.sqlite3-shm": 0o600}


def test_a_world_readable_store_from_before_is_tightened(tmp_path: Path) -> None:
    import os
    import stat

    path = tmp_path / "s.sqlite3"
    Store(path).close()
    os.chmod(path, 0o644)
    Store(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # group kept, others removed


def test_a_run_left_running_by_a_killed_process_is_marked_by_the_next(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "s.sqlite3"
    # Another process starts a run and is killed before it can record the outcome.
    subprocess.run([sys.executable, "-c", "import os, sys; from lms_sync.store import Store\n"
                    f"Store({str(path)!r}).start_run('sync'); os._exit(9)"], check=False)
    with Store(path) as store:
        assert [r.status for r in store.runs()] == ["running"]
        new = store.start_run("sync")
        runs = {r.id: r for r in store.runs()}
    old = runs[new - 1]
    assert old.status == "interrupted" and runs[new].status == "running"
    assert old.summary["error"].startswith("interrupted: the process ended without recording its outcome")
    assert f"noticed by run {new}" in old.summary["error"]


def test_a_run_of_this_process_is_not_taken_for_a_killed_one(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite3") as store:
        outer = store.start_run("sync")
        store.start_run("push")  # the nightly run's own stage
        assert store.runs(kind="sync")[0].id == outer and store.runs(kind="sync")[0].status == "running"


def _without_root_powers() -> list[str]:
    """A command prefix under which file permissions apply even to root (they always do to others)."""
    import os
    import shutil

    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


@pytest.mark.parametrize("existing", [True, False])
def test_a_read_only_state_folder_is_a_clear_error_not_damage(tmp_path: Path, existing: bool) -> None:
    import os
    import subprocess
    import sys

    folder = tmp_path / "var"
    folder.mkdir()
    state = folder / "lms_sync.sqlite3"
    if existing:
        with Store(state) as store:
            store.start_run("feed")
    before = state.read_bytes() if existing else None
    os.chmod(folder, 0o555)
    try:
        result = subprocess.run(
            [*_without_root_powers(), sys.executable, "-m", "lms_sync", "--state", str(state),
             "--program", str(Path(__file__).parents[1] / "config" / "program.toml"), "feed", "--out",
             str(tmp_path / "out.ics")],
            capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(Path.cwd())},
        )
    finally:
        os.chmod(folder, 0o755)
    assert result.returncode == 2, result.stderr
    assert f"error: state store {state} cannot be opened or written" in result.stderr
    assert "needs write access" in result.stderr and "damaged" not in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    if existing:
        assert state.read_bytes() == before


def test_a_store_of_one_programme_is_kept_when_programmes_share_it(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A store written before programmes shared one (0007): its mappings, journal and feed become the programme's own."""
    import lms_sync.store as store_module

    path = tmp_path / "old.sqlite3"
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS[:6])
    with Store(path) as old:
        old.db.executescript("""
            INSERT INTO push_mappings VALUES ('course', 'dgidt-ia-2020', 7, 'h', 'active', '2021-01-01T00:00:00Z');
            INSERT INTO push_mappings VALUES ('event', 'seance-1', 70, 'h', 'active', '2021-01-01T00:00:00Z');
            INSERT INTO push_journal (action, kind, key, state, started_at)
                VALUES ('create', 'event', 'seance-2', 'pending', '2021-01-01T00:00:00Z');
            INSERT INTO feed_entries VALUES ('dgidt-ia-2020-seance-1@formation.ena.tn', 'seance-1', 2, 'c', 's',
                '2021-01-01T00:00:00Z', 'CONFIRMED', 0, '{}');
            INSERT INTO feed_versions VALUES ('fr', 'abc', '2021-01-02T00:00:00Z');
        """)
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS)
    from lms_sync.sync.journal import in_doubt, load_state

    with Store(path) as store:
        assert load_state(store, "dgidt-ia-2020").get("event", "seance-1").moodle_id == 70  # type: ignore[union-attr]
        assert load_state(store, "dgidt-ia-2021").mappings == {}
        assert [r.key for r in in_doubt(store, "dgidt-ia-2020")] == ["seance-2"]
        (entry,) = store.feed_entries()
        assert (entry.programme_id, entry.sequence) == ("dgidt-ia-2020", 2)
        assert [k.id for k in store.known_programmes()] == ["dgidt-ia-2020"]
        # The feed's Last-Modified survives: the same bytes keep the same date.
        assert store.feed_version("*", "fr", "abc", store_module.utcnow()).isoformat() == "2021-01-02T00:00:00+00:00"
