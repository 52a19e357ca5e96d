"""Who earns the attestation: the programme's rule, validated; each participant judged; counts per group."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from lms_sync.errors import ConfigError
from lms_sync.program import AttestationRule, load_programme
from lms_sync.reports import build_report
from lms_sync.reports.attestation import (
    AttestationStatus,
    NoAttestationRule,
    Shortfall,
    attestation_rule,
    build_attestation,
)
from lms_sync.snapshots import Attendance, ParticipantRow, SessionInfo, Snapshot, save_snapshot
from lms_sync.store import Store
from tests.test_program import GOOD

FOUR = (
    SessionInfo("s1", "Séance 1", "2020-12-09T09:00:00", "2020-12-09T12:00:00"),
    SessionInfo("s2", "Séance 2", "2020-12-23T09:00:00", "2020-12-23T12:00:00"),
    SessionInfo("s3", "Séance 3", "2021-01-06T09:00:00", "2021-01-06T12:00:00"),
    SessionInfo("s4", "Séance 4", "2021-01-20T09:00:00", "2021-01-20T12:00:00"),
    SessionInfo("s5", "Séance 5", "2021-01-27T09:00:00", "2021-01-27T12:00:00", cancelled=True),
)
ADMIN, IT = "Administrations et entreprises publiques", "Responsables informatiques"


def _att(*marks: bool | None) -> dict[str, Attendance]:
    return {s.id: Attendance(m) for s, m in zip(FOUR, (*marks, None), strict=True)}


def _store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "state.sqlite3")
    rows = [
        # 4 of 4, completed
        ParticipantRow(1, "a", fullname="Amel", institution="STEG", completed=True, attendance=_att(True, True, True, True),
                       cohort=IT),
        # 3 of 4 (one absent), not completed
        ParticipantRow(2, "b", fullname="Bilel", institution="STEG", completed=False,
                       attendance=_att(True, True, False, True), cohort=IT),
        # 2 attended, one absent, one not taken yet
        ParticipantRow(3, "c", fullname="Chiraz", institution="Ministère de l'Industrie", completed=True,
                       attendance=_att(True, True, False, None), cohort=ADMIN),
        # never came; completion unreadable
        ParticipantRow(4, "d", fullname="Dora", institution="Ministère de l'Industrie", status="failed",
                       completed=None, attendance=_att(False, False, False, False), cohort=ADMIN),
        # left the course after attending everything
        ParticipantRow(5, "e", fullname="Ezzeddine", institution="", status="no_access", completed=True,
                       attendance=_att(True, True, True, True)),
    ]
    taken = datetime(2021, 1, 21, 9, tzinfo=UTC)
    run = store.start_run("pull", taken)
    save_snapshot(store, Snapshot(run, "p1", "Programme", "Africa/Tunis", 2, taken, "calls", complete=False,
                                  completion_enabled=True, sessions=FOUR), rows)
    store.finish_run(run, "partial", 1)
    return store


def _by_name(att: object) -> dict[str, object]:
    return {line.participant.fullname: line for line in att.lines}  # type: ignore[attr-defined]


def test_three_of_four_sessions(tmp_path: Path) -> None:
    """At least 3 sessions: 4 and 3 qualify, 2 is one short, 0 is not; cancelled sessions do not count."""
    att = build_attestation(build_report(_store(tmp_path)), AttestationRule(sessions_attended=3))
    lines = _by_name(att)
    assert att.sessions_held == 4
    assert {n: line.status for n, line in lines.items()} == {  # type: ignore[attr-defined]
        "Amel": AttestationStatus.QUALIFIES, "Bilel": AttestationStatus.QUALIFIES,
        "Chiraz": AttestationStatus.ONE_SESSION_SHORT, "Dora": AttestationStatus.NOT_QUALIFIED,
        "Ezzeddine": AttestationStatus.QUALIFIES,
    }
    chiraz = lines["Chiraz"]
    assert (chiraz.attended, chiraz.needed, chiraz.unknown, chiraz.shortfalls) == (  # type: ignore[attr-defined]
        2, 3, 1, (Shortfall.SESSIONS,))
    assert lines["Ezzeddine"].shortfalls == (Shortfall.NOT_ENROLLED,)  # type: ignore[attr-defined]
    assert (att.totals.participants, att.totals.qualifies, att.totals.one_session_short, att.totals.not_qualified) == (
        5, 3, 1, 1)
    # In the report's order: institution, then name ("" first).
    assert [line.participant.fullname for line in att.having(AttestationStatus.QUALIFIES)] == [
        "Ezzeddine", "Amel", "Bilel"]


def test_both_criteria_are_needed(tmp_path: Path) -> None:
    """Sessions and completion: a missing completion is never "one session short"."""
    att = build_attestation(build_report(_store(tmp_path)),
                            AttestationRule(sessions_attended=3, course_completed=True))
    lines = _by_name(att)
    assert lines["Amel"].status is AttestationStatus.QUALIFIES  # type: ignore[attr-defined]
    assert lines["Bilel"].shortfalls == (Shortfall.COMPLETION,)  # type: ignore[attr-defined]
    assert lines["Bilel"].status is AttestationStatus.NOT_QUALIFIED  # type: ignore[attr-defined]
    assert lines["Chiraz"].status is AttestationStatus.ONE_SESSION_SHORT  # type: ignore[attr-defined]
    assert lines["Dora"].shortfalls == (Shortfall.SESSIONS, Shortfall.COMPLETION_UNKNOWN)  # type: ignore[attr-defined]


def test_counts_per_institution_and_cohort(tmp_path: Path) -> None:
    """Per institution and per cohort, like the completion report's views, in French order."""
    att = build_attestation(build_report(_store(tmp_path)), AttestationRule(course_completed=True))
    assert [(c.label, c.participants, c.qualifies, c.one_session_short, c.not_qualified)
            for c in att.institutions] == [("", 1, 1, 0, 0), ("Ministère de l'Industrie", 2, 1, 0, 1),
                                           ("STEG", 2, 1, 0, 1)]
    assert [(c.label, c.participants, c.qualifies, c.not_qualified) for c in att.cohorts] == [
        ("", 1, 1, 0), (ADMIN, 2, 1, 1), (IT, 2, 1, 1)]


def test_report_cut_by_cohort(tmp_path: Path) -> None:
    """The completion report's cohort view counts enrolled, attended and completed per cohort."""
    report = build_report(_store(tmp_path))
    assert {p.fullname: p.cohort for p in report.participants}["Bilel"] == IT
    cohorts = {c.label: c for c in report.cohorts}
    assert set(cohorts) == {"", ADMIN, IT}
    assert (cohorts[IT].enrolled, cohorts[IT].completed, cohorts[IT].attended[:4]) == (2, 1, (2, 2, 1, 2))
    assert (cohorts[""].enrolled, cohorts[""].no_access) == (0, 1)


def test_no_cohort_view_when_nobody_has_one(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    taken = datetime(2021, 1, 21, tzinfo=UTC)
    run = store.start_run("pull", taken)
    save_snapshot(store, Snapshot(run, "p1", "P", "Africa/Tunis", 2, taken, "calls", True, True, FOUR),
                  [ParticipantRow(1, "a", fullname="A", completed=True)])
    report = build_report(store)
    assert report.cohorts == ()
    assert build_attestation(report, AttestationRule(course_completed=True)).cohorts == ()


# ------------------------------------------------------------------------------------------ the rule


def _programme(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "program.toml"
    path.write_text(GOOD + table, encoding="utf-8")
    return path


def test_rule_is_read_from_the_programme(tmp_path: Path) -> None:
    programme, _ = load_programme(_programme(tmp_path, "[attestation]\nsessions_attended = 2\ncourse_completed = true\n"))
    assert attestation_rule(programme) == AttestationRule(sessions_attended=2, course_completed=True)


@pytest.mark.parametrize(("table", "where", "words"), [
    ("sessions_attended = 3", "attestation.sessions_attended", "only 2 session(s) of the programme take place"),
    ("sessions_attended = 0", "attestation.sessions_attended", "0 session(s) is no rule"),
    ("sessions_attended = \"3\"", "attestation.sessions_attended", "valid integer"),
    ("course_completed = false", "attestation", "needs a criterion"),
    ("sesions_attended = 2", "attestation.sesions_attended", "did you mean 'sessions_attended'"),
])
def test_impossible_rules_are_refused(tmp_path: Path, table: str, where: str, words: str) -> None:
    path = _programme(tmp_path, f"[attestation]\n{table}\n")
    with pytest.raises(ConfigError) as info:
        load_programme(path)
    found = [p for p in info.value.problems if p.location == where]
    assert found and found[0].file == str(path) and words in found[0].message, info.value.problems


def test_a_cancelled_session_does_not_count_for_the_rule(tmp_path: Path) -> None:
    text = GOOD.replace('id = "s2"', 'id = "s2"\nstatus = "cancelled"') + "[attestation]\nsessions_attended = 2\n"
    path = tmp_path / "program.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="only 1 session"):
        load_programme(path)


def test_no_rule_is_a_clear_error(tmp_path: Path) -> None:
    """Without [attestation] nothing is guessed: the error names the file and shows the table to add."""
    path = _programme(tmp_path, "")
    programme, _ = load_programme(path)
    with pytest.raises(NoAttestationRule) as info:
        attestation_rule(programme, path)
    assert info.value.exit_code == 2
    assert str(path) in str(info.value) and "[attestation]" in str(info.value)
    assert "sessions_attended = 3" in (info.value.hint or "")
