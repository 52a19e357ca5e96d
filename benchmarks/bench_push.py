"""Benchmark of ``lms-sync push`` against the fake Moodle with 50 ms of simulated latency per call.

    /tmp/venv/bin/python benchmarks/bench_push.py

Scenarios, in order on one site and one state store: the first push of the shipped programme with
a generated 500-participant roster; a push with nothing changed; a push after one session moved.
Targets (issue 4): the no-op push makes at most 3 calls and no write; the first push makes at
most 10% of the calls of one call per participant (500). Prints calls (total and writes) and wall
time per scenario, PASS/FAIL per target, and exits 1 if any target fails.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import responses  # noqa: E402
from tests.fakes.moodle import BASE_URL, TOKEN, FakeMoodle  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from lms_sync.moodle.client import MoodleClient  # noqa: E402
from lms_sync.program import Participant, Programme, load_programme  # noqa: E402
from lms_sync.settings import MoodleSettings, PushSettings  # noqa: E402
from lms_sync.store import Store  # noqa: E402
from lms_sync.sync import desired_state, push  # noqa: E402

LATENCY = 0.05
PARTICIPANTS = 500
INSTITUTIONS = ("Ministère de l'Industrie", "STEG", "Commune de Sfax", "Office National des Postes", "DSI Santé")
FIRSTNAMES = ("Hélène", "François", "Zoé-Gaëlle", "Amira", "Mohamed Aziz", "Élodie", "Noûr")
LASTNAMES = ("Lefèvre", "Ménard", "Dubœuf d'Arçy", "Ben Salah", "Trabelsi", "Thiébaut", "Ghédira")


def roster(n: int) -> list[Participant]:
    """``n`` participants with accented names, institutions and departments."""
    return [
        Participant(
            username=f"participant.{i:04d}",
            email=f"participant.{i:04d}@example.tn",
            firstname=FIRSTNAMES[i % len(FIRSTNAMES)],
            lastname=LASTNAMES[i % len(LASTNAMES)],
            institution=INSTITUTIONS[i % len(INSTITUTIONS)],
            department=("DSI", "DRH", "DGIDT")[i % 3],
            idnumber=f"DGIDT-S{i:04d}",
        )
        for i in range(1, n + 1)
    ]


def moved(programme: Programme) -> Programme:
    """The programme with its third session a week later."""
    sessions = tuple(
        s.model_copy(update={"start": s.start + timedelta(days=7), "end": s.end + timedelta(days=7)}) if i == 2 else s
        for i, s in enumerate(programme.sessions)
    )
    return programme.model_copy(update={"sessions": sessions})


def main() -> int:
    """Run the three scenarios and check the targets."""
    programme = load_programme(ROOT / "config" / "program.toml")[0]
    people = roster(PARTICIPANTS)
    settings = MoodleSettings(url=BASE_URL, token=SecretStr(TOKEN))
    rows: list[tuple[str, int, int, float, int]] = []
    with tempfile.TemporaryDirectory() as tmp, responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeMoodle(latency=LATENCY, sleep=time.sleep).install(rsps)
        with Store(Path(tmp) / "state.sqlite3") as store, MoodleClient(settings) as client:
            for name, prog in (("first push (500 participants)", programme), ("no-op push", programme),
                               ("one session moved", moved(programme))):
                fake.reset_calls()
                started = time.perf_counter()
                outcome = push(client, store, desired_state(prog, people, PushSettings()))
                wall = time.perf_counter() - started
                rows.append((name, len(fake.calls), len(fake.write_calls), wall, outcome.exit_code))
    print(f"push benchmark: fake Moodle, {LATENCY * 1000:.0f} ms per call, {PARTICIPANTS} participants")
    print(f"{'scenario':32} {'calls':>6} {'writes':>7} {'wall s':>8}  exit")
    for name, calls, writes, wall, code in rows:
        print(f"{name:32} {calls:6d} {writes:7d} {wall:8.2f}  {code}")
    first, noop, move = rows
    baseline = PARTICIPANTS  # one call per participant, the naive client's lower bound
    targets = [
        ("every push exits 0", all(r[4] == 0 for r in rows)),
        (f"no-op push: {noop[1]} calls <= 3 and {noop[2]} writes == 0", noop[1] <= 3 and noop[2] == 0),
        (f"first push: {first[1]} calls <= 10% of {baseline} (one per participant)", first[1] <= baseline // 10),
        (f"one session moved: {move[2]} writes (create + delete of that event) <= 2", move[2] <= 2),
    ]
    failed = False
    for label, ok in targets:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
        failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
