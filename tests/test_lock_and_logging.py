"""One run at a time per state store; logs carry the run id, as text or JSON."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from lms_sync.errors import LockHeld
from lms_sync.lock import run_lock
from lms_sync.log import set_run_id, setup_logging
from tests.conftest import lock_held_by_another_process


def test_second_holder_is_refused_at_once_and_lock_is_released(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    with run_lock(state):
        with pytest.raises(LockHeld, match=r"another lms-sync run \(pid \d+\) is using"):
            with run_lock(state):
                pass
    with run_lock(state):  # released when the first block ended
        pass


def test_lock_held_by_another_process(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    with lock_held_by_another_process(state) as pid:
        with pytest.raises(LockHeld, match=f"pid {pid}"):
            with run_lock(state):
                pass
    with run_lock(state):  # the holder exited: free again
        pass


def test_json_logs_carry_the_run_id(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "json")
    set_run_id(42)
    try:
        logging.getLogger("lms_sync.test").info("pushed %d events", 4)
    finally:
        set_run_id(None)
    record = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (record["run_id"], record["level"], record["message"]) == (42, "info", "pushed 4 events")


def test_text_logs_carry_the_run_id(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "text")
    set_run_id(7)
    try:
        logging.getLogger("lms_sync.test").warning("retrying")
    finally:
        set_run_id(None)
    assert capsys.readouterr().err.strip().splitlines()[-1] == "warning: run=7 retrying"
