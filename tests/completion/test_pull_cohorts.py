"""Pull records each participant's cohort (the lms_sync group they are in), by either path, in two calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lms_sync.pull import pull_completion
from lms_sync.reports import build_report
from lms_sync.snapshots import load_rows
from lms_sync.store import Store
from tests.completion.conftest import make_programme, make_settings
from tests.completion.test_pull import ACTIVITIES_BY_IDNUMBER, _site
from tests.fakes.moodle import FakeMoodle
from tests.fakes.moodle_completion import CompletionState

IT = "Responsables informatiques & sécurité"


def _groups(fake: FakeMoodle, ids: dict[str, int]) -> None:
    cid = ids["cid"]
    fake.groups[900] = {"id": 900, "courseid": cid, "name": "Administrations", "idnumber": "lms-sync-cohort:administrations",
                        "description": "", "members": {ids["helene"]}}
    fake.groups[901] = {"id": 901, "courseid": cid, "name": IT, "idnumber": "lms-sync-cohort:responsables-informatiques",
                        "description": "", "members": {ids["francois"], ids["zoe"]}}
    # Made by hand: not a cohort, whoever is in it.
    fake.groups[902] = {"id": 902, "courseid": cid, "name": "Atelier", "idnumber": "", "description": "",
                        "members": {ids["amel"], ids["helene"]}}


def _pull(client_for: Any, store: Store, *, cohorts: bool = True, **moodle: Any) -> Any:
    settings = make_settings(**moodle)
    return pull_completion(client_for(settings), store, make_programme(ACTIVITIES_BY_IDNUMBER), settings,
                           cohorts=cohorts)


def _names_to_cohorts(store: Store, run_id: int) -> dict[str, str]:
    return {r.username: r.cohort for r in load_rows(store, run_id)}


def test_both_paths_record_the_cohorts(fake: FakeMoodle, completion: CompletionState, client_for: Any,
                                       tmp_path: Path) -> None:
    ids = _site(fake, completion)
    _groups(fake, ids)
    with Store(tmp_path / "a.sqlite3") as a, Store(tmp_path / "b.sqlite3") as b:
        fake.reset_calls()
        by_calls = _pull(client_for, a)
        group_calls = [c.wsfunction for c in fake.calls if c.wsfunction.startswith("core_group_")]
        assert group_calls == ["core_group_get_course_groups", "core_group_get_group_members"]
        by_report = _pull(client_for, b, completion_report_id=1)
        expected = {"hlefevre": "Administrations", "fmenard": IT, "zdubreuil": IT, "abensaid": ""}
        assert _names_to_cohorts(a, by_calls.run_id) == expected == _names_to_cohorts(b, by_report.run_id)
        report = build_report(a)
        assert [(c.label, c.enrolled, c.completed) for c in report.cohorts] == [
            ("", 1, 0), ("Administrations", 1, 1), (IT, 2, 0)]


def test_without_cohorts_no_group_call(fake: FakeMoodle, completion: CompletionState, client_for: Any,
                                       store: Store) -> None:
    ids = _site(fake, completion)
    _groups(fake, ids)
    fake.reset_calls()
    result = _pull(client_for, store, cohorts=False)
    assert not [c for c in fake.calls if c.wsfunction.startswith("core_group_")]
    assert set(_names_to_cohorts(store, result.run_id).values()) == {""}
    assert build_report(store).cohorts == ()


def test_groups_refused_is_a_note_not_a_failure(fake: FakeMoodle, completion: CompletionState, client_for: Any,
                                                store: Store) -> None:
    ids = _site(fake, completion)
    _groups(fake, ids)
    fake.capabilities.discard("moodle/course:managegroups")
    result = _pull(client_for, store)
    assert result.complete and result.exit_code == 0
    assert "the cohorts were not read" in " ".join(result.notes)
    assert any("moodle/course:managegroups" in h for h in result.hints)
