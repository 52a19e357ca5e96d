"""First pull through activity completion on the real test Moodle, against a plain sequential client.

    sudo tests/realmoodle/site.sh up                 # the test Moodle (once; about 2 minutes)
    sudo .venv/bin/python benchmarks/real_moodle_pull.py

Root, because the teacher's marks and the custom report go through Moodle's PHP API as the web
server's user (``moodle_admin.php``). Each scenario starts from the site as built (300 students,
the first 90 course-complete), pushes the shipped programme, maps sessions 1 and 2 to two
activities and has a teacher mark who attended, then measures:

* ``sequential``: one plain client making the 2 calls per participant a naive pull makes
  (course completion, activity completion), one after the other;
* ``calls``: ``lms-sync pull`` reading participants one by one (the pool of moodle.concurrency);
* ``report``: ``lms-sync pull`` through a Report builder report with the "Student progress" column
  (who completed nothing is not read);
* ``nothing changed``: the same again.

Scenarios: ``half`` (150 of the 300 completed something: session 1 by agents 61-120, session 2 by
101-150) and ``all`` (everyone attended session 1: the report's progress saves nothing).
Prints the figures and, per scenario, the speed-up of the first pull over the sequential client
(issue 12 asks for 10x); exits 1 if a pull fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
SITE_SH = ROOT / "tests" / "realmoodle" / "site.sh"
HOME = Path(os.environ.get("TEST_MOODLE_HOME", "/var/tmp/lms-sync-test-moodle"))
REPORT_COLUMNS = ("user:fullnamewithlink", "user:username", "user:fullname", "user:email", "user:institution",
                  "user:department", "completion:completed", "completion:timecompleted",
                  "completion:progresspercent", "access:timeaccess")
SCENARIOS = {"half": ((1, range(61, 121)), (2, range(101, 151))), "all": ((1, range(1, 301)),)}


def admin(*args: str) -> Any:
    """``moodle_admin.php`` as the web server's user; its JSON answer."""
    done = subprocess.run(["runuser", "-u", "www-data", "--", "php", str(HOME / "setup" / "moodle_admin.php"),
                           str(HOME / "moodle" / "config.php"), *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def lms_sync(folder: Path, env: dict[str, str], *argv: str) -> tuple[float, str]:
    """Run lms-sync in ``folder``; (seconds, its output). Exits the benchmark if it fails."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lms_sync", *argv], cwd=folder, env=env, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"lms-sync {' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return seconds, done.stdout + done.stderr


def calls_of(output: str) -> int:
    """The Moodle calls a pull made, from its summary line."""
    found = re.search(r"(\d+) Moodle call\(s\)", output)
    return int(found.group(1)) if found else -1


def sequential(url: str, token: str, course_id: int, users: list[int]) -> tuple[float, int]:
    """What a naive pull does: two calls per participant, one after the other."""
    session = requests.Session()
    calls = 0
    start = time.perf_counter()
    for user in users:
        for function in ("core_completion_get_course_completion_status",
                         "core_completion_get_activities_completion_status"):
            answer = session.post(f"{url}/webservice/rest/server.php", data={
                "wstoken": token, "wsfunction": function, "moodlewsrestformat": "json",
                "courseid": course_id, "userid": user}, timeout=60)
            answer.raise_for_status()
            calls += 1
    return time.perf_counter() - start, calls


def scenario(name: str, info: dict[str, Any]) -> dict[str, Any]:
    """One scenario from the site as built; its figures."""
    subprocess.run([str(SITE_SH), "reset"], check=True, capture_output=True)
    folder = Path(tempfile.mkdtemp(prefix=f"bench-pull-real-{name}-"))
    (folder / "config").mkdir()
    program = (ROOT / "config" / "program.toml").read_text(encoding="utf-8")
    for n in (1, 2):
        program = program.replace(f'id = "seance-{n}"\n', f'id = "seance-{n}"\nactivity = "seance-{n}"\n', 1)
    (folder / "config" / "program.toml").write_text(program, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_SYNC_")}
    env |= {"LMS_SYNC_MOODLE__URL": info["url"], "LMS_SYNC_MOODLE__TOKEN": info["tokens"]["sync"],
            "PYTHONPATH": str(ROOT)}
    lms_sync(folder, env, "push")
    course_id = int(info["hand_made"]["course_id"])
    students = info["students"]
    for n in (1, 2):
        cmid = admin("activity", str(course_id), f"seance-{n}", f"Séance {n} – présence")["cmid"]
        for session, attended in SCENARIOS[name]:
            if session == n:
                admin("complete", str(cmid), *(str(students[f"agent.{k:04d}"]) for k in attended))
    report = admin("report", "dgidt-ia-2020", str(info["accounts"]["sync"]), *REPORT_COLUMNS)["report"]

    figures: dict[str, Any] = {"scenario": name, "participants": len(students)}
    figures["sequential"] = sequential(info["url"], info["tokens"]["sync"], course_id, sorted(students.values()))
    s, out = lms_sync(folder, env, "--state", "calls.sqlite3", "pull")
    figures["calls"] = (s, calls_of(out))
    env["LMS_SYNC_MOODLE__COMPLETION_REPORT_ID"] = str(report)
    s, out = lms_sync(folder, env, "--state", "report.sqlite3", "pull")
    figures["report"] = (s, calls_of(out))
    s, out = lms_sync(folder, env, "--state", "report.sqlite3", "pull")
    figures["nothing changed"] = (s, calls_of(out))
    return figures


def main() -> int:
    """Run the scenarios and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), action="append")
    args = parser.parse_args()
    site_json = HOME / "site.json"
    if not site_json.is_file():
        sys.exit(f"no test Moodle at {HOME}: run `sudo tests/realmoodle/site.sh up` first")
    info = json.loads(site_json.read_text(encoding="utf-8"))
    results = [scenario(name, info) for name in (args.scenario or ["half", "all"])]
    print("\nreal test Moodle (2 cores, same host), 300 students, sessions 1-2 through activity completion\n")
    print(f"{'scenario':10} {'pull':16} {'calls':>6} {'wall s':>7} {'x sequential':>13}")
    for r in results:
        base = r["sequential"][0]
        for key in ("sequential", "calls", "report", "nothing changed"):
            seconds, calls = r[key]
            print(f"{r['scenario']:10} {key:16} {calls:6d} {seconds:7.1f} {base / seconds:12.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
