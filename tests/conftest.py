"""Shared test helpers: repository paths and small file builders."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
SHIPPED_PROGRAM = REPO / "config" / "program.toml"
SHIPPED_ROSTER = REPO / "config" / "roster.example.csv"
# Request/answer pairs recorded from a real Moodle 5.1 (copied into the repository, plus those tests/realmoodle recorded).
RECORDINGS = REPO / "tests" / "recordings"

# Hypothesis profiles, picked by HYPOTHESIS_PROFILE: by default each property test runs its own example
# count; "mutation" (set by benchmarks/mutation.py) runs a few fixed examples of each, since every mutant
# reruns them; "long" runs many, to hunt for rare failures.
settings.register_profile("mutation", max_examples=8, stateful_step_count=12, derandomize=True, database=None)
settings.register_profile("long", max_examples=3000, stateful_step_count=50)
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
if HYPOTHESIS_PROFILE not in ("default", "mutation", "long"):
    raise pytest.UsageError(f"HYPOTHESIS_PROFILE={HYPOTHESIS_PROFILE!r} is not a profile: use mutation or long, "
                            "or leave it unset")
settings.load_profile(HYPOTHESIS_PROFILE)


def example_counts(**counts: int) -> dict[str, Any]:
    """A property test's own example counts (``max_examples``, ``stateful_step_count``), unless a profile is set."""
    return counts if HYPOTHESIS_PROFILE == "default" else {}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory with the shipped config/ and no LMS_SYNC_* variables."""
    for name in list(__import__("os").environ):
        if name.startswith("LMS_SYNC_"):
            monkeypatch.delenv(name)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "program.toml").write_bytes(SHIPPED_PROGRAM.read_bytes())
    (tmp_path / "config" / "roster.example.csv").write_bytes(SHIPPED_ROSTER.read_bytes())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def next_cycle_text() -> str:
    """The shipped programme as ENA would copy it for the next cycle: new id, course and dates a year later."""
    text = SHIPPED_PROGRAM.read_text(encoding="utf-8")
    text = text.replace('id = "dgidt-ia-2020"', 'id = "dgidt-ia-2021"').replace("DGIDT-IA-2020", "DGIDT-IA-2021")
    text = text.replace("(cycle 2020-2021)", "(cycle 2021-2022)")
    text = text.replace("2021-01-", "2022-01-").replace("2020-12-", "2021-12-")
    return text.replace("title = \"Cycle de formation", "title = \"Nouveau cycle de formation", 1)


def write_programmes(folder: Path) -> list[Path]:
    """config/programs/ with the 2020-2021 cycle and the 2021-2022 one."""
    folder.mkdir(parents=True, exist_ok=True)
    first, second = folder / "dgidt-ia-2020.toml", folder / "dgidt-ia-2021.toml"
    first.write_bytes(SHIPPED_PROGRAM.read_bytes())
    second.write_text(next_cycle_text(), encoding="utf-8")
    return [first, second]


@pytest.fixture(autouse=True)
def _reset_lms_sync_logging():
    """Commands install a stderr handler; drop it so no test logs into another test's capture."""
    yield
    import logging

    from lms_sync.log import set_run_id

    logger = logging.getLogger("lms_sync")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    set_run_id(None)


@contextmanager
def lock_held_by_another_process(state: Path, scope: str | None = None) -> Iterator[int]:
    """Another process holds the run lock of ``state`` (for ``scope``) for the block; yields its pid."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, pathlib; from lms_sync.lock import run_lock\n"
         f"with run_lock(pathlib.Path({str(state)!r}), {scope!r}):\n"
         "    print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield holder.pid
    finally:
        holder.communicate("")
