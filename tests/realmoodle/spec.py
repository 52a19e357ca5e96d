"""What ``admin_setup.php`` builds on the test site, from lms_sync's own declarations: ``python -m tests.realmoodle.spec``.

The external service holds exactly the functions ``lms-sync check --help`` lists, the role comes from
the shipped preset, and the hand-made course has the shipped programme's four sessions at the same
times, under other names, with no lms_sync marker: what an ENA teacher had set up before lms_sync.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

from lms_sync.moodle.functions import ALL_FEATURES, functions_for
from lms_sync.program import load_programme
from tests.conftest import SHIPPED_PROGRAM

STUDENTS = 300
COMPLETED = 90  # students who ticked "I have completed this course"
SERVICE = {"name": "lms_sync", "shortname": "lms_sync"}

FIRST = ["Amira", "Hélène", "Mohamed", "Sami", "Leïla", "Yassine", "Nour", "Karim", "Inès", "Zoé-Gaëlle",
         "Anis", "Salma", "Hédi", "Rim", "Walid", "Maïssa", "Omar", "Chédia", "Bilel", "Asma"]
LAST = ["Ben Salah", "Trabelsi", "Gharbi", "Jaziri", "Mejri", "Dubœuf d'Arçy", "Ben Ammar", "Chaâbane",
        "Haddad", "Khelifi", "Bouazizi", "Lefèvre", "Zouari", "Ferchichi", "Saïdi"]
INSTITUTIONS = ["Ministère de l'Industrie", "Ministère des Finances", "STEG", "Commune de Sfax",
                "Ministère de la Santé", "Tunisie Télécom", "Commune de Tunis", "Ministère de l'Éducation"]
DEPARTMENTS = ["DGIDT", "DSI", "DRH", "Direction des affaires administratives", "Centre informatique"]


def students(count: int = STUDENTS, completed: int = COMPLETED) -> list[dict[str, Any]]:
    """Deterministic participants with accented names; the first ``completed`` have completed the course."""
    rng = random.Random(2020)
    done_at = int(datetime(2021, 1, 25, 9, 0, tzinfo=timezone.utc).timestamp())
    people = []
    for n in range(1, count + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        people.append({
            "username": f"agent.{n:04d}",
            "firstname": first,
            "lastname": last,
            "email": f"agent.{n:04d}@admin.example.tn",
            "institution": rng.choice(INSTITUTIONS),
            "department": rng.choice(DEPARTMENTS),
            "idnumber": f"ENA-{n:04d}",
            "completed_at": done_at + n * 60 if n <= completed else None,
        })
    return people


def spec() -> dict[str, Any]:
    """The set-up: service functions, the hand-made course and its events, the students."""
    programme, _ = load_programme(SHIPPED_PROGRAM)
    sessions = programme.sessions
    start = programme.aware(sessions[0].start)
    end = programme.aware(sessions[-1].end) + timedelta(days=1)
    return {
        "service": {**SERVICE, "functions": [f.name for f in functions_for(ALL_FEATURES)]},
        "hand_made": {
            # The programme's category name and shortname (what the teacher typed), no idnumbers.
            "category_name": programme.course.category_name,
            "shortname": programme.course.shortname,
            "fullname": "IA pour les hauts cadres (cycle 2020-2021)",
            "summary": "<p>Cycle IA, saisi à la main.</p>",
            "startdate": int(start.timestamp()),
            "enddate": int(end.timestamp()),
            "events": [
                {
                    "name": f"Séance {n} (visioconférence)",
                    "description": "<p>Lien de la visioconférence communiqué par courriel.</p>",
                    "timestart": int(programme.aware(s.start).timestamp()),
                    "timeduration": int((s.end - s.start).total_seconds()),
                }
                for n, s in enumerate(sessions, start=1)
            ],
        },
        "students": students(),
    }


if __name__ == "__main__":
    json.dump(spec(), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
