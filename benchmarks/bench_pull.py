"""Benchmark of ``lms-sync pull`` against the fake Moodle with 50 ms of simulated latency per call.

    /tmp/venv/bin/python benchmarks/bench_pull.py            # all scenarios, about 3 minutes
    /tmp/venv/bin/python benchmarks/bench_pull.py --quick    # 500 participants only

Scenarios, each in its own process so its peak memory (ru_maxrss) is its own:

* per-participant path, sequential (concurrency 1) and through the pool at the default settings
  (``MoodleSettings.concurrency`` and ``requests_per_second``), for 500 and 5,000 participants.
  Sequential 5,000 would take about 9 minutes: it is measured on a sample of participants and
  extrapolated per participant, and labelled so.
* Report builder path when nothing changed since the last snapshot (the previous snapshot is made
  first with the latency switched off, so only the measured pull pays it).
* Nothing changed, per-participant path with two sessions read through activity completion
  (``incremental``), and with attendance taken in the Attendance activity (``attendance``: four
  sessions, half the participants marked in two of them): the previous snapshot is made first.

Targets: pool at least 6x faster than sequential; Report builder at most ceil(N / page size) + 2
calls when nothing changed (issue 5); nothing changed, activity completion and Attendance activity,
at most ceil(N / page size) + 4 calls (issue 12); peak memory under 150 MB at 5,000. Prints
PASS/FAIL per target and exits 1 if any fails.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LATENCY = 0.05
SAMPLE = 300  # participants measured for the extrapolated sequential 5,000 case
INSTITUTIONS = ("Ministère de l'Industrie", "STEG", "Commune de Sfax", "Office National des Postes", "DSI Santé")


def _setup(n: int) -> tuple[Any, Any, Any]:
    from tests.fakes.moodle import FakeMoodle
    from tests.fakes.moodle_completion import Report, add_completion, add_course, add_module, add_participant

    fake = FakeMoodle(latency=0.0)
    state = add_completion(fake)
    cid = add_course(fake, "dgidt-ia-2020")
    cms = [add_module(fake, cid, f"Classe virtuelle {i}", modname="bigbluebuttonbn") for i in (1, 2)]
    for i in range(n):
        uid = add_participant(fake, cid, f"user.{i:05d}", "Prénom", f"Nom{i:05d}",
                              institution=INSTITUTIONS[i % len(INSTITUTIONS)], department="DRH")
        if i % 3 == 0:  # a third complete, as in the recorded course (166 of 500)
            state.course_done[(cid, uid)] = 1_607_600_000 + i
        state.activity[(cid, uid)] = {cms[0]: (1, 1_607_500_000), cms[1]: (i % 2, 1_608_700_000 if i % 2 else 0)}
    state.reports[1] = Report(cid)
    return fake, cms, FakeAdapter(fake)


def _setup_attendance(n: int) -> tuple[Any, Any, Any]:
    from tests.fakes.moodle import FakeMoodle
    from tests.fakes.moodle_attendance import add_attendance_support, add_instance
    from tests.fakes.moodle_completion import add_course, add_participant

    fake = FakeMoodle(latency=0.0)
    add_attendance_support(fake)
    cid = add_course(fake, "dgidt-ia-2020")
    users = [add_participant(fake, cid, f"user.{i:05d}", "Prénom", f"Nom{i:05d}",
                             institution=INSTITUTIONS[i % len(INSTITUTIONS)]) for i in range(n)]
    instance = add_instance(fake, cid, "Présence aux séances")
    for k, day in enumerate((9, 23, 37, 51)):
        sid = fake.new_id()
        start = int(datetime(2020, 12, 1).timestamp()) + day * 86400
        log = {uid: instance.statuses[i % 4]["id"] for i, uid in enumerate(users) if k < 2 and i % 2 == 0}
        instance.sessions[sid] = {"id": sid, "sessdate": start, "duration": 10800, "log": log,
                                  "description": f"Séance {k + 1} #lms-sync:dgidt-ia-2020:seance-{k + 1}",
                                  "lasttaken": 1_607_600_000 if log else None, "lasttakenby": 2,
                                  "calendarevent": False}
    return fake, [], FakeAdapter(fake)


def FakeAdapter(fake: Any) -> Any:  # noqa: N802 - builds the adapter class lazily (requests imported late)
    """A requests adapter answering from the fake in-process.

    The tests put the fake behind ``responses``; here that would keep every request and response
    of 10,000 calls in ``rsps.calls`` and measure the mock's memory instead of the pull's.
    """
    import requests
    from requests.adapters import BaseAdapter

    class Adapter(BaseAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:
            status, headers, body = fake._callback(request)
            response = requests.Response()
            response.status_code = status
            response.headers.update(headers)
            response._content = body.encode("utf-8")
            response._content_consumed = True  # the transport streams the body: it reads these bytes in chunks
            response.request = request
            response.url = request.url
            return response

        def close(self) -> None:
            pass

    return Adapter()


def _programme(cms: list[int], attendance: bool = False) -> Any:
    from lms_sync.program import AttendanceSource, AttendanceSpec, Programme, Session

    if attendance:
        return Programme(
            id="dgidt-ia-2020", title="Cycle IA", timezone="Africa/Tunis", url="https://formation.ena.tn/",
            organizer={"name": "DGIDT", "email": "dgidt@example.invalid"},
            attendance=AttendanceSpec(source=AttendanceSource.MOD_ATTENDANCE, create=True),
            sessions=tuple(Session(id=f"seance-{k + 1}", title=f"Séance {k + 1}",
                                   start=datetime(2020, 12, 9, 9) + timedelta(days=14 * k),
                                   end=datetime(2020, 12, 9, 12) + timedelta(days=14 * k))
                           for k in range(4)),
        )
    return Programme(
        id="dgidt-ia-2020", title="Cycle IA", timezone="Africa/Tunis", url="https://formation.ena.tn/",
        organizer={"name": "DGIDT", "email": "dgidt@example.invalid"},
        sessions=tuple(
            Session(id=f"seance-{i + 1}", title=f"Séance {i + 1}", start=datetime(2020, 12, 9 + 14 * i, 9),
                    end=datetime(2020, 12, 9 + 14 * i, 12), activity=cm)
            for i, cm in enumerate(cms)
        ),
    )


def run_scenario(name: str, n: int) -> dict[str, Any]:
    """Run one scenario in this process and return its measurements."""
    from tests.fakes.moodle import BASE_URL, TOKEN
    from pydantic import SecretStr

    from lms_sync.pull import pull_completion
    from lms_sync.moodle.client import MoodleClient
    from lms_sync.settings import MoodleSettings, Settings
    from lms_sync.store import Store

    fake, cms, adapter = _setup_attendance(n) if name == "attendance" else _setup(n)
    defaults = MoodleSettings()
    moodle: dict[str, Any] = {"url": BASE_URL, "token": SecretStr(TOKEN)}
    if name.startswith("sequential"):
        moodle["concurrency"] = 1
    if name == "reportbuilder":
        moodle["completion_report_id"] = 1
    settings = Settings(moodle=moodle)
    programme = _programme(cms, attendance=name == "attendance")
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "state.sqlite3") as store:
        client = MoodleClient(settings.moodle)
        client.transport._session.mount(BASE_URL, adapter)  # longest prefix wins over the https:// adapter
        if name in ("reportbuilder", "incremental", "attendance"):
            pull_completion(client, store, programme, settings)  # the previous snapshot, latency off
        if name == "sequential-sample":
            # Only SAMPLE participants stay enrolled; the per-participant time is extrapolated to n.
            for key in list(fake.enrolments)[SAMPLE:]:
                del fake.enrolments[key]
        fake.reset_calls()
        fake.latency = LATENCY
        started = time.perf_counter()
        result = pull_completion(client, store, programme, settings)
        wall = time.perf_counter() - started
        client.close()
    out = {
        "scenario": name,
        "n": n,
        "calls": len(fake.calls),
        "wall": wall,
        "participants": result.participants,
        "complete": result.complete,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "concurrency": settings.moodle.concurrency,
        "rps": settings.moodle.requests_per_second,
        "page_size": settings.pull.report_page_size,
        "enrolled_page_size": settings.pull.enrolled_page_size,
        "default_concurrency": defaults.concurrency,
    }
    if name == "sequential-sample":
        # Two list-type calls (course, enrolled page) are fixed; the rest scales with participants.
        per_participant = (wall - 2 * LATENCY) / SAMPLE
        out.update(extrapolated=True, measured_participants=result.participants, measured_wall=wall,
                   wall=2 * LATENCY * math.ceil(n / settings.pull.enrolled_page_size) + per_participant * n,
                   calls=2 + math.ceil(n / settings.pull.enrolled_page_size) + 2 * n - 1)
    return out


def _child(name: str, n: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--scenario", name, "--n", str(n)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"scenario {name} ({n}) failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios, print the table and the targets."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="500 participants only")
    args = parser.parse_args(argv)
    if args.scenario:
        print(json.dumps(run_scenario(args.scenario, args.n)))
        return 0

    sizes = (500,) if args.quick else (500, 5000)
    results: dict[tuple[str, int], dict[str, Any]] = {}
    for n in sizes:
        seq = "sequential" if n <= 500 else "sequential-sample"
        for name in (seq, "pool", "reportbuilder", "incremental", "attendance"):
            print(f"running {name} with {n} participants...", file=sys.stderr, flush=True)
            results[(name if name != "sequential-sample" else "sequential", n)] = _child(name, n)

    print(f"\nfake Moodle latency {LATENCY * 1000:.0f} ms per call; pool = defaults "
          f"(concurrency {results[('pool', sizes[0])]['concurrency']}, "
          f"{results[('pool', sizes[0])]['rps']:g} requests/s)\n")
    print(f"{'scenario':<16}{'N':>6}{'calls':>8}{'wall s':>9}{'peak RSS MB':>13}  note")
    for (name, n), r in results.items():
        note = (f"extrapolated from {r['measured_participants']} participants "
                f"measured in {r['measured_wall']:.1f} s") if r.get("extrapolated") else ""
        print(f"{name:<16}{n:>6}{r['calls']:>8}{r['wall']:>9.1f}{r['peak_rss_mb']:>13.1f}  {note}")

    failures = 0
    print()
    for n in sizes:
        seq, pool, rb = results[("sequential", n)], results[("pool", n)], results[("reportbuilder", n)]
        speedup = seq["wall"] / pool["wall"]
        ok = speedup >= 6
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'}  N={n}: pool {speedup:.1f}x faster than sequential (target >= 6x)")
        limit = math.ceil(n / rb["page_size"]) + 2
        ok = rb["calls"] <= limit
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'}  N={n}: Report builder, nothing changed: {rb['calls']} calls "
              f"(target <= ceil({n}/{rb['page_size']}) + 2 = {limit})")
        for name, what in (("incremental", "activity completion, 2 sessions"), ("attendance", "Attendance activity")):
            r = results[(name, n)]
            limit = math.ceil(n / r["enrolled_page_size"]) + 4
            ok = r["calls"] <= limit and r["complete"]
            failures += not ok
            print(f"{'PASS' if ok else 'FAIL'}  N={n}: {what}, nothing changed: {r['calls']} calls "
                  f"(target <= ceil({n}/{r['enrolled_page_size']}) + 4 = {limit})")
    if 5000 in sizes:
        peak = max(results[(name, 5000)]["peak_rss_mb"]
                   for name in ("sequential", "pool", "reportbuilder", "incremental", "attendance"))
        ok = peak < 150
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'}  N=5000: peak memory {peak:.1f} MB (process RSS, fake included; "
              f"target < 150 MB)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
