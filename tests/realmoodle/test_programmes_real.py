"""Two programmes in one deployment, on the real Moodle 5.1: two courses, one feed, the first archived untouched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import json

import icalendar

from tests.conftest import next_cycle_text
from tests.realmoodle.conftest import RealMoodle, write_roster
from tests.realmoodle.spec import STUDENTS


def statuses(path: Path) -> dict[str, str]:
    """STATUS of each event of a feed file, by UID."""
    return {str(e["UID"]): str(e["STATUS"]) for e in icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT")}


def test_two_cycles_then_the_first_archived(ena: Path, cli: Any, fresh: RealMoodle) -> None:
    """The 2020 cycle adopts the hand-made course, the 2021 one gets its own; archiving 2020 writes nothing."""
    programs = ena / "config" / "programs"
    programs.mkdir()
    (ena / "config" / "program.toml").rename(programs / "dgidt-ia-2020.toml")
    # The 2021 cycle's roster: twenty agents of the 2020 cycle come back (the same Moodle accounts).
    (programs / "dgidt-ia-2021.toml").write_text(next_cycle_text().replace(
        'lang = "fr"', 'lang = "fr"\nroster = "roster-2021.csv"', 1), encoding="utf-8")
    returning = write_roster(programs / "roster-2021.csv", known=20, new=0)
    before = fresh.snapshot()
    code, out, err = cli("push")
    assert code == 0, out + err
    assert "== programme dgidt-ia-2020" in out and "== programme dgidt-ia-2021" in out
    after = fresh.snapshot()
    assert after["course"] == before["course"] + 1  # the 2020 course was adopted, the 2021 one created
    assert after["event"] == before["event"] + 4
    assert after["user_enrolments"] == before["user_enrolments"] + 20 and after["user"] == before["user"]
    code, out, _ = cli("push")
    assert code == 0 and out.count("No changes.") == 2, out
    assert fresh.snapshot() == after

    code, out, err = cli("sync")
    assert code == 0, out + err
    every = statuses(ena / "var" / "sessions.ics")
    assert len(every) == 8 and set(every.values()) == {"CONFIRMED"}
    assert len(statuses(ena / "var" / "programs" / "dgidt-ia-2021" / "sessions.ics")) == 4

    # Across the two cycles: each agent once, the twenty who came back in both programmes.
    code, out, err = cli("report", "programmes", "--format", "json", "--out", "-")
    assert code == 0, err
    across = json.loads(out)
    assert [p["id"] for p in across["programmes"]] == ["dgidt-ia-2020", "dgidt-ia-2021"]
    assert across["totals"]["enrolled"] == {"dgidt-ia-2020": STUDENTS, "dgidt-ia-2021": 20}
    assert across["totals"]["people"] == STUDENTS
    twice = {p["username"] for p in across["people"] if p["trained"] == 2}
    assert twice == {r["username"] for r in returning}

    first = programs / "dgidt-ia-2020.toml"
    text = first.read_text(encoding="utf-8").replace('lang = "fr"', 'lang = "fr"\nstatus = "archived"', 1)
    first.write_text(text.replace("Séance 1 –", "Séance 1 (corrigée) –"), encoding="utf-8")
    frozen = fresh.snapshot()
    code, out, err = cli("sync")
    assert code == 0, out + err
    assert fresh.snapshot() == frozen  # nothing written to Moodle for the archived cycle
    every = statuses(ena / "var" / "sessions.ics")
    assert [s for uid, s in every.items() if uid.startswith("dgidt-ia-2020-")] == ["CONFIRMED"] * 4
