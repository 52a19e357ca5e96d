"""Pull: the snapshot holds what Moodle said, by either path; failures are recorded, never dropped."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import responses
from tests.completion.conftest import FIXTURES, PROGRAMME_ID, make_programme, make_settings
from tests.fakes.moodle import BASE_URL, ENDPOINT, TOKEN, FakeMoodle
from tests.fakes.moodle_completion import REPORT_HEADERS, CompletionState, Report, add_course, add_module, add_participant

from lms_sync.cli import main
from lms_sync.completion import pull_completion
from lms_sync.errors import ConfigError
from lms_sync.snapshots import (
    Attendance,
    ParticipantRow,
    completed_since,
    list_snapshots,
    load_rows,
    load_snapshot,
)
from lms_sync.store import Store

# ------------------------------------------------------------------------------ recorded fixtures


def _fixture(name: str) -> Any:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"Moodle fixture {path} not found")
    return json.loads(path.read_text(encoding="utf-8"))["response"]


def replay_by_call(rsps: responses.RequestsMock, answers: dict[tuple[str, int | None], str]) -> list[str]:
    """Answer each call with the recorded fixture named for (wsfunction, userid); returns the calls made."""
    made: list[str] = []

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        form = dict(parse_qsl(request.body))
        fn = form["wsfunction"]
        made.append(fn)
        key = (fn, int(form["userid"])) if "userid" in form else (fn, None)
        body = answers[key] if key in answers else answers[(fn, None)]
        answer = _fixture(body) if body.endswith(".json") else json.loads(body)
        return 200, {"Content-Type": "application/json"}, json.dumps(answer)

    rsps.add_callback(responses.POST, ENDPOINT, callback=callback)
    return made


@pytest.fixture
def recorded() -> Any:
    """A responses mock for replaying recorded fixtures."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


COMPLETION = "core_completion_get_course_completion_status"
ACTIVITIES = "core_completion_get_activities_completion_status"
BASE_ANSWERS = {
    ("core_course_get_courses_by_field", None): "core_course_get_courses_by_field.idnumber.ok.json",
    ("core_enrol_get_enrolled_users", None): "core_enrol_get_enrolled_users.ok.json",
}


def test_snapshot_holds_what_the_recorded_moodle_said(recorded: Any, client_for: Any, store: Store) -> None:
    """Recorded answers: one completed via the page activity, one not, one no longer enrolled."""
    replay_by_call(recorded, {
        **BASE_ANSWERS,
        (COMPLETION, 5): "core_completion_get_course_completion_status.after_activity.ok.json",
        (ACTIVITIES, 5): "core_completion_get_activities_completion_status.after.ok.json",
        (COMPLETION, 6): "core_completion_get_course_completion_status.ok.json",
        (ACTIVITIES, 6): "core_completion_get_activities_completion_status.ok.json",
        (COMPLETION, 7): "core_completion_get_course_completion_status.not_enrolled.error.json",
    })
    settings = make_settings()
    result = pull_completion(client_for(settings), store, make_programme({"seance-1": 4, "seance-2": 5}), settings)

    assert (result.participants, result.completed, result.failed, result.no_access) == (3, 1, 0, 1)
    assert result.exit_code == 0
    rows = load_rows(store, result.run_id)
    assert [(r.user_id, r.username, r.status, r.completed, r.time_completed, r.error) for r in rows] == [
        (5, "hlefevre", "ok", True, 1795746859, None),
        (6, "fmenard", "ok", False, None, None),
        (7, "zdubreuil", "no_access", None, None, "usernotenroled"),
    ]
    assert rows[0].fullname == "Hélène Lefèvre"
    assert rows[2].fullname == "Zoé-Gaëlle Dubœuf d’Arçy"
    assert dict(rows[0].attendance) == {
        "seance-1": Attendance(True, 1795746859), "seance-2": Attendance(False, None)}
    assert dict(rows[1].attendance) == {"seance-1": Attendance(False, None), "seance-2": Attendance(False, None)}
    snap = load_snapshot(store)
    assert snap is not None and snap.complete and snap.course_id == 2 and snap.source == "calls"


def test_completion_disabled_is_recorded_as_unknown_with_a_note(recorded: Any, client_for: Any, store: Store) -> None:
    """cannotviewreport and empty activity statuses: completion and attendance unknown, not failures."""
    replay_by_call(recorded, {
        **BASE_ANSWERS,
        (COMPLETION, None): "core_completion_get_course_completion_status.completion_disabled.error.json",
        (ACTIVITIES, None): "core_completion_get_activities_completion_status.completion_disabled.ok.json",
    })
    settings = make_settings()
    result = pull_completion(client_for(settings), store, make_programme({"seance-1": 4}), settings)

    assert result.complete and result.failed == 0
    rows = load_rows(store, result.run_id)
    assert {(r.status, r.completed, r.error) for r in rows} == {("ok", None, "cannotviewreport")}
    assert {r.attendance["seance-1"] for r in rows} == {Attendance(None)}
    assert any("cannotviewreport" in n for n in result.notes)
    assert result.hints  # tells the administrator what to grant or set


def test_empty_course_gives_an_empty_complete_snapshot(recorded: Any, client_for: Any, store: Store) -> None:
    """No participant: a snapshot with no rows, complete, and only the two list calls."""
    made = replay_by_call(recorded, {**BASE_ANSWERS, ("core_enrol_get_enrolled_users", None): "[]"})
    settings = make_settings()
    result = pull_completion(client_for(settings), store, make_programme(), settings)
    assert (result.participants, result.complete) == (0, True)
    assert load_rows(store, result.run_id) == []
    assert made == ["core_course_get_courses_by_field", "core_enrol_get_enrolled_users"]


# --------------------------------------------------------------------------------- the fake site


def _site(fake: FakeMoodle, completion: CompletionState) -> dict[str, int]:
    cid = add_course(fake, PROGRAMME_ID)
    ids = {
        "cid": cid,
        "cm1": add_module(fake, cid, "Classe virtuelle 1", idnumber="seance-1", modname="bigbluebuttonbn"),
        "cm2": add_module(fake, cid, "Classe virtuelle 2", idnumber="seance-2", modname="bigbluebuttonbn"),
        "helene": add_participant(fake, cid, "hlefevre", "Hélène", "Lefèvre",
                                  institution="Ministère de l'Industrie", department="études & développement"),
        "francois": add_participant(fake, cid, "fmenard", "François", "Ménard", institution="STEG", department="DSI"),
        "zoe": add_participant(fake, cid, "zdubreuil", "Zoé-Gaëlle", "Dubœuf d’Arçy", institution="STEG"),
        "amel": add_participant(fake, cid, "abensaid", "Amel", "Ben Saïd", institution="Commune de Sfax"),
        "teacher": add_participant(fake, cid, "teacher", "Tea", "Cher", roleid=3),
    }
    completion.course_done[(cid, ids["helene"])] = 1607600000
    completion.activity[(cid, ids["helene"])] = {ids["cm1"]: (1, 1607500000), ids["cm2"]: (2, 1608700000)}
    completion.activity[(cid, ids["francois"])] = {ids["cm1"]: (1, 1607500100), ids["cm2"]: (3, 1608700100)}
    completion.reports[1] = Report(cid)
    return ids


ACTIVITIES_BY_IDNUMBER = {"seance-1": "seance-1", "seance-2": "seance-2"}


def _pull(fake: FakeMoodle, client_for: Any, store: Store, **moodle: Any) -> Any:
    settings = make_settings(**moodle)
    return pull_completion(client_for(settings), store, make_programme(ACTIVITIES_BY_IDNUMBER), settings)


def test_report_builder_path_gives_the_same_snapshot(
    fake: FakeMoodle, completion: CompletionState, client_for: Any, tmp_path: Path
) -> None:
    """Same data, both paths: identical rows (escaping undone, "" completed as not complete, teacher left out)."""
    ids = _site(fake, completion)
    with Store(tmp_path / "a.sqlite3") as by_calls, Store(tmp_path / "b.sqlite3") as by_report:
        a = _pull(fake, client_for, by_calls)
        b = _pull(fake, client_for, by_report, completion_report_id=1)
        rows_a, rows_b = load_rows(by_calls, a.run_id), load_rows(by_report, b.run_id)
        assert (a.source, b.source) == ("calls", "reportbuilder")
        assert rows_a == rows_b
        assert load_snapshot(by_calls).sessions == load_snapshot(by_report).sessions  # type: ignore[union-attr]
    helene = next(r for r in rows_b if r.user_id == ids["helene"])
    assert helene == ParticipantRow(
        user_id=ids["helene"], username="hlefevre", fullname="Hélène Lefèvre", email="hlefevre@example.invalid",
        institution="Ministère de l'Industrie", department="études & développement", status="ok", completed=True,
        time_completed=1607600000,
        attendance={"seance-1": Attendance(True, 1607500000), "seance-2": Attendance(True, 1608700000)},
    )
    francois = next(r for r in rows_b if r.user_id == ids["francois"])
    assert francois.attendance["seance-2"] == Attendance(False, 1608700100)  # complete-fail is not attendance
    assert ids["teacher"] not in {r.user_id for r in rows_b}


def test_report_builder_second_run_makes_only_the_calls_that_add_something(
    fake: FakeMoodle, completion: CompletionState, client_for: Any, store: Store
) -> None:
    """Nothing changed: course + report pages only; a newly complete participant: one call for the time."""
    ids = _site(fake, completion)
    _pull(fake, client_for, store, completion_report_id=1)
    fake.reset_calls()
    second = _pull(fake, client_for, store, completion_report_id=1)
    n, page = 4, 2  # four students, make_settings pages the report by 2
    assert len(fake.calls) == second.calls <= math.ceil(n / page) + 2
    assert [c.wsfunction for c in fake.calls] == ["core_course_get_courses_by_field"] + [
        "core_reportbuilder_retrieve_report"] * 2

    completion.course_done[(ids["cid"], ids["amel"])] = 1609000000
    fake.reset_calls()
    third = _pull(fake, client_for, store, completion_report_id=1)
    extra = [(c.wsfunction, c.params.get("userid")) for c in fake.calls][3:]
    assert extra == [("core_completion_get_course_completion_status", str(ids["amel"]))]
    amel = next(r for r in load_rows(store, third.run_id) if r.user_id == ids["amel"])
    assert (amel.completed, amel.time_completed) == (True, 1609000000)
    assert completed_since(store, third.run_id) == {ids["amel"]}


def test_report_with_changed_headers_is_refused(
    fake: FakeMoodle, completion: CompletionState, client_for: Any, store: Store
) -> None:
    """Someone removed "Completed" and added a column: refused, naming what is missing, nothing recorded."""
    _site(fake, completion)
    completion.reports[1].headers = tuple(h for h in REPORT_HEADERS if h != "Completed") + ("Last access",)
    with pytest.raises(ConfigError) as err:
        _pull(fake, client_for, store, completion_report_id=1)
    message = str(err.value)
    assert "Report builder report 1" in message and "'Completed' is missing" in message
    assert "'Last access'" in message
    assert err.value.hint and "completion_report_id" in err.value.hint
    assert load_snapshot(store) is None
    assert store.runs(kind="pull")[0].status == "failed"


def test_localised_completed_values_are_refused(
    fake: FakeMoodle, completion: CompletionState, client_for: Any, store: Store
) -> None:
    """Titles as expected but "Completed" holds other words (a French account): refused, not misread."""
    _site(fake, completion)
    completion.reports[1].yes_no = ("Oui", "Non")
    with pytest.raises(ConfigError, match="Yes/No"):
        _pull(fake, client_for, store, completion_report_id=1)


def test_failing_participant_is_recorded_as_failed_after_retries(
    fake: FakeMoodle, completion: CompletionState, client_for: Any, store: Store, sleeps: list[float]
) -> None:
    """HTTP 500 on every attempt for one participant: recorded failed, snapshot incomplete, exit code 1."""
    ids = _site(fake, completion)
    for _ in range(2):  # make_settings: retry_attempts = 2
        fake.inject("http500", "core_completion_get_course_completion_status")
    result = _pull(fake, client_for, store, concurrency=1)
    assert (result.failed, result.complete, result.exit_code) == (1, False, 1)
    assert len(sleeps) == 1  # one backoff between the two attempts, never really slept
    rows = load_rows(store, result.run_id)
    failed = [r for r in rows if r.status == "failed"]
    assert len(failed) == 1 and failed[0].user_id == min(ids[k] for k in ("helene", "francois", "zoe", "amel"))
    assert failed[0].completed is None
    assert load_snapshot(store).complete is False  # type: ignore[union-attr]
    assert store.runs(kind="pull")[0].status == "partial"


def test_cli_pull_with_a_failed_participant_exits_1_and_reports_say_so(
    fake: FakeMoodle, completion: CompletionState, workdir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Through lms_sync.cli.main: exit 1, one-line summary, the report marks the failure and the snapshot."""
    ids = _site(fake, completion)
    completion.broken_users.add(ids["zoe"])
    monkeypatch.setenv("LMS_SYNC_MOODLE__URL", BASE_URL)
    monkeypatch.setenv("LMS_SYNC_MOODLE__TOKEN", TOKEN)
    assert main(["pull", "--no-progress"]) == 1
    out = capsys.readouterr()
    summary = out.out.strip().splitlines()
    assert len(summary) == 1 and "4 participant(s)" in summary[0] and "1 failed" in summary[0]
    assert "INCOMPLETE" in summary[0] and "dmlreadexception: 1" in summary[0]
    assert "Zoé" not in out.out + out.err and "zdubreuil" not in out.out + out.err  # nothing personal

    assert main(["report", "completion", "--format", "csv", "--out", "r.csv"]) == 0
    text = (workdir / "r.csv").read_bytes().decode("utf-8-sig")
    assert text.splitlines()[0].startswith('"INSTANTANÉ INCOMPLET : 1 participant(s)')
    zoe_line = next(line for line in text.splitlines() if line.startswith("Zoé-Gaëlle"))
    assert zoe_line.endswith(";ÉCHEC DE LECTURE")
    assert (workdir / "r.csv").stat().st_mode & 0o777 == 0o600

    capsys.readouterr()
    assert main(["report", "runs"]) == 0
    listing = capsys.readouterr().out
    assert "INCOMPLETE" in listing and "calls" in listing
    with Store(workdir / "var" / "lms_sync.sqlite3") as s:
        assert [r.failed for r in list_snapshots(s)] == [1]


def test_course_found_through_the_push_mapping(
    fake: FakeMoodle, completion: CompletionState, client_for: Any, store: Store
) -> None:
    """When push recorded the course, pull reads it by id even if its idnumber was changed in Moodle."""
    ids = _site(fake, completion)
    fake.courses[ids["cid"]]["idnumber"] = "renamed-in-moodle"
    with store.transaction() as db:
        try:
            db.execute(
                "INSERT INTO push_mappings (kind, key, moodle_id, content_hash, updated_at) VALUES (?, ?, ?, '', '')",
                ("course", PROGRAMME_ID, ids["cid"]),
            )
        except Exception:
            pytest.skip("the push mapping table is not in this store yet")
    result = _pull(fake, client_for, store)
    assert load_snapshot(store).course_id == ids["cid"]  # type: ignore[union-attr]
    assert result.participants == 4
