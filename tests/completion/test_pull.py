"""Pull: the snapshot holds what Moodle said, by either path; failures are recorded, never dropped."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import responses

from lms_sync.cli import main
from lms_sync.errors import ConfigError, MoodleRemoteError, NotFound
from lms_sync.moodle.models import Course
from lms_sync.pull import pull_completion
from lms_sync.pull.calls import Calls as _Calls
from lms_sync.pull.report_builder import check_report_course
from lms_sync.pull.sources import resolve_idnumbers
from lms_sync.snapshots import (
    Attendance,
    ParticipantRow,
    completed_since,
    list_snapshots,
    load_rows,
    load_snapshot,
)
from lms_sync.store import Store
from lms_sync.sync.journal import Mapping, save_mapping
from tests.completion.conftest import (
    FIXTURES,
    PROGRAMME_ID,
    make_programme,
    make_settings,
)
from tests.fakes.moodle import BASE_URL, ENDPOINT, TOKEN, FakeMoodle
from tests.fakes.moodle_completion import (
    REPORT_HEADERS,
    CompletionState,
    Report,
    add_course,
    add_module,
    add_participant,
)

# ------------------------------------------------------------------------------ recorded fixtures


def _fixture(name: str) -> Any:
    path = FIXTURES / name
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


def test_no_criteria_is_recorded_as_unknown_not_as_failed(recorded: Any, client_for: Any, store: Store) -> None:
    """nocriteriaset (recorded on a course push made): completion unknown for everyone, the pull complete."""
    replay_by_call(recorded, {
        **BASE_ANSWERS,
        (COMPLETION, None): "core_completion_get_course_completion_status.no_criteria.error.json",
    })
    settings = make_settings()
    result = pull_completion(client_for(settings), store, make_programme({}), settings)

    assert result.complete and result.failed == 0
    rows = load_rows(store, result.run_id)
    assert rows and {(r.status, r.completed, r.error) for r in rows} == {("ok", None, "nocriteriaset")}
    assert any("no completion criteria" in n for n in result.notes)
    assert any("Course > Course completion" in h for h in result.hints)


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
        assert a.notes == b.notes == ()
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


def test_report_progress_spares_the_calls_of_who_completed_nothing(
    fake: FakeMoodle, completion: CompletionState, client_for: Any, store: Store
) -> None:
    """"Student progress" 0 %: no activity complete, so absent from both sessions without a call; the others are read."""
    ids = _site(fake, completion)
    result = _pull(fake, client_for, store, completion_report_id=1)
    asked = {c.params["userid"] for c in fake.calls if c.wsfunction == "core_completion_get_activities_completion_status"}
    assert asked == {str(ids["helene"]), str(ids["francois"])}  # Zoé and Amel completed nothing
    rows = {r.user_id: r for r in load_rows(store, result.run_id)}
    assert rows[ids["amel"]].attendance == {"seance-1": Attendance(False), "seance-2": Attendance(False)}
    # Without the column, everyone is read.
    completion.reports[1].headers = tuple(h for h in REPORT_HEADERS if h != "Student progress")
    fake.reset_calls()
    with Store(store.path.with_name("other.sqlite3")) as other:
        _pull(fake, client_for, other, completion_report_id=1)
    assert len([c for c in fake.calls if c.wsfunction == "core_completion_get_activities_completion_status"]) == 4


def test_report_progress_that_is_not_a_percentage_is_refused(
    fake: FakeMoodle, completion: CompletionState, client_for: Any, store: Store
) -> None:
    """A "Student progress" column holding something else (another format) is refused, not read as 0 %."""
    _site(fake, completion)
    completion.reports[1].percent = "{:.0f} pour cent"
    with pytest.raises(ConfigError, match="a percentage") as err:
        _pull(fake, client_for, store, completion_report_id=1)
    assert err.value.hint and "'Student progress'" in err.value.hint
    assert load_snapshot(store) is None


@pytest.mark.parametrize("runs", [1, 2])
def test_both_paths_agree_when_completion_has_no_criteria(
    fake: FakeMoodle, completion: CompletionState, client_for: Any, tmp_path: Path, runs: int
) -> None:
    """Completion on but no criteria (nocriteriaset, as the real Moodle answers for a course push made): both
    paths record "unknown" + the code and a note saying what to set, and the snapshot is complete.

    The report still shows "Completed" Yes/No; the report path must not trust it. A second run over a
    snapshot that already holds the error must say the same.
    """
    ids = _site(fake, completion)
    completion.no_criteria.add(ids["cid"])
    with Store(tmp_path / "a.sqlite3") as by_calls, Store(tmp_path / "b.sqlite3") as by_report:
        for _ in range(runs):
            a = _pull(fake, client_for, by_calls)
            b = _pull(fake, client_for, by_report, completion_report_id=1)
        rows_a, rows_b = load_rows(by_calls, a.run_id), load_rows(by_report, b.run_id)
        assert rows_a == rows_b
        assert {(r.status, r.completed, r.time_completed, r.error) for r in rows_b} == {
            ("ok", None, None, "nocriteriaset")}
        assert a.complete and b.complete and a.failed == b.failed == 0  # not a failed pull every night
        assert a.notes == b.notes and any("no completion criteria" in n for n in b.notes)
        assert a.hints == b.hints and any("Course completion" in h for h in b.hints)
        assert load_snapshot(by_report).notes == load_snapshot(by_calls).notes  # type: ignore[union-attr]
    helene = next(r for r in rows_b if r.user_id == ids["helene"])
    assert helene.attendance["seance-1"] == Attendance(True, 1607500000)  # attendance is still read


def test_completion_probe_skips_a_participant_it_cannot_read(
    fake: FakeMoodle, completion: CompletionState, client_for: Any, store: Store
) -> None:
    """The probed participant's record is broken: another is asked; the run neither aborts nor loses anyone."""
    ids = _site(fake, completion)
    _pull(fake, client_for, store, completion_report_id=1)
    completion.broken_users.add(ids["helene"])  # the first one probed: lowest id
    fake.reset_calls()
    result = _pull(fake, client_for, store, completion_report_id=1)
    probes = [c.params.get("userid") for c in fake.calls if c.wsfunction == COMPLETION]
    assert probes == [str(ids["helene"]), str(ids["francois"])]
    assert (result.participants, result.failed, result.completed) == (4, 0, 1)


def test_report_about_another_course_is_refused(
    fake: FakeMoodle, completion: CompletionState, client_for: Any, store: Store
) -> None:
    """completion_report_id names another course's report: refused, naming the report and the fix; nothing recorded."""
    _site(fake, completion)
    other = add_course(fake, "autre-formation-2021")
    add_participant(fake, other, "stranger", "Sami", "Trabelsi")
    completion.reports[2] = Report(other)
    with pytest.raises(ConfigError) as err:
        _pull(fake, client_for, store, completion_report_id=2)
    message = str(err.value)
    assert "Report builder report 2 is about another course" in message
    assert "'autre-formation-2021'" in message and "'dgidt-ia-2020'" in message
    assert err.value.hint and "Course ID number is equal to 'dgidt-ia-2020'" in err.value.hint
    assert "completion_report_id" in err.value.hint
    assert load_snapshot(store) is None


@pytest.mark.parametrize("conditions", [
    {},  # no condition at all: every participant of every course
    {"course:idnumber_operator": 1, "course:idnumber_value": "dgidt"},  # "contains": could match several courses
])
def test_report_not_limited_to_the_course_is_refused(
    fake: FakeMoodle, completion: CompletionState, client_for: Any, store: Store, conditions: dict[str, Any]
) -> None:
    """A report whose conditions do not pin the course's ID number cannot be trusted to list this course only."""
    _site(fake, completion)
    completion.reports[1].conditions = conditions
    with pytest.raises(ConfigError, match="Report builder report 1 is not limited to one course"):
        _pull(fake, client_for, store, completion_report_id=1)


def test_recorded_report_conditions_are_accepted_for_their_course() -> None:
    """The recorded report's conditiondata names course idnumber dgidt-ia-2020: accepted for it, refused for another."""
    details = _fixture("core_reportbuilder_retrieve_report.page0_perpage2.ok.json")["details"]
    course = Course(id=2, fullname="DGIDT-IA-2020", shortname="DGIDT-IA-2020", idnumber="dgidt-ia-2020")
    check_report_course(details["conditiondata"], course, 1)
    with pytest.raises(ConfigError, match="about another course"):
        check_report_course(details["conditiondata"], course.model_copy(update={"idnumber": "other"}), 1)
    with pytest.raises(ConfigError, match="did not give its conditions"):
        check_report_course(None, course, 1)


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
    # The report pages, then one participant's completion: can course completion be read at all?
    assert [c.wsfunction for c in fake.calls] == ["core_course_get_courses_by_field"] + [
        "core_reportbuilder_retrieve_report"] * 2 + ["core_completion_get_course_completion_status"]

    completion.course_done[(ids["cid"], ids["amel"])] = 1609000000
    fake.reset_calls()
    third = _pull(fake, client_for, store, completion_report_id=1)
    extra = [(c.wsfunction, c.params.get("userid")) for c in fake.calls][3:]
    # The newly complete participant's call is the probe too: no extra call.
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
    assert text.splitlines()[0].startswith("Nom;Courriel;")  # one table; the row itself says it was not read
    zoe_line = next(line for line in text.splitlines() if line.startswith("Zoé-Gaëlle"))
    assert zoe_line.endswith(";ÉCHEC DE LECTURE")
    assert (workdir / "r.csv").stat().st_mode & 0o777 == 0o600

    capsys.readouterr()
    assert main(["report", "runs"]) == 0
    listing = capsys.readouterr().out
    assert "INCOMPLETE" in listing and "calls" in listing
    with Store(workdir / "var" / "lms_sync.sqlite3") as s:
        assert [r.failed for r in list_snapshots(s)] == [1]


def test_course_found_again_through_the_last_snapshot(
    fake: FakeMoodle, completion: CompletionState, client_for: Any, store: Store
) -> None:
    """Its idnumber changed by hand in Moodle: pull reads the course the last snapshot read, with a warning."""
    ids = _site(fake, completion)
    _pull(fake, client_for, store)
    fake.courses[ids["cid"]]["idnumber"] = "renamed-in-moodle"
    result = _pull(fake, client_for, store)
    assert load_snapshot(store).course_id == ids["cid"]  # type: ignore[union-attr]
    assert result.participants == 4


def test_pull_does_not_read_pushs_state(fake: FakeMoodle, completion: CompletionState, client_for: Any,
                                        store: Store) -> None:
    """The course is the programme's by idnumber: a mapping push recorded does not decide it."""
    ids = _site(fake, completion)
    decoy = add_course(fake, "decoy")
    with store.transaction() as db:
        save_mapping(db, PROGRAMME_ID, Mapping("course", PROGRAMME_ID, decoy, "hash"))
    _pull(fake, client_for, store)
    assert load_snapshot(store).course_id == ids["cid"]  # type: ignore[union-attr]


# ------------------------------------------------------------------- activity idnumber -> cmid


def _replay_modules(rsps: responses.RequestsMock, contents: Any, idnumbers: dict[int, str]) -> list[tuple[str, Any]]:
    """Answer core_course_get_contents with ``contents`` and core_course_get_course_module from ``idnumbers``."""
    made: list[tuple[str, Any]] = []

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        form = dict(parse_qsl(request.body))
        fn = form["wsfunction"]
        made.append((fn, form.get("cmid")))
        if fn == "core_course_get_contents":
            answer = contents
        else:  # core_course_get_course_module, in its documented shape
            cmid = int(form["cmid"])
            answer = {"cm": {"id": cmid, "course": 2, "module": 1, "name": "x", "modname": "page", "instance": 1,
                             "section": 1, "idnumber": idnumbers[cmid], "completion": 1}, "warnings": []}
        return 200, {"Content-Type": "application/json"}, json.dumps(answer)

    rsps.add_callback(responses.POST, ENDPOINT, callback=callback)
    return made


def test_idnumbers_resolve_against_the_recorded_course_contents(recorded: Any, client_for: Any) -> None:
    """Recorded contents (no idnumber in them): modules without completion skipped, each other one read once."""
    contents = _fixture("core_course_get_contents.ok.json")
    made = _replay_modules(recorded, contents, {4: "", 5: "seance-1"})
    settings = make_settings()
    calls = _Calls()
    found = resolve_idnumbers(client_for(settings), 2, {"seance-1", "seance-9"}, calls)
    assert found == {"seance-1": 5}  # the BigBlueButton room; seance-9 is not in the course
    # Module 1 (the forum, completion 0) cannot record attendance: never read.
    assert made == [("core_course_get_contents", None), ("core_course_get_course_module", "4"),
                    ("core_course_get_course_module", "5")]
    assert calls.n == 3


@pytest.mark.parametrize("contents", [
    {"sections": []},  # an object where a list of sections is expected
    [{"id": 1, "modules": [{"id": "four", "completion": 1}]}],  # a module id that is not a number
    [{"id": 1, "modules": [{"name": "no id", "completion": 1}]}],
])
def test_unexpected_course_contents_raise_a_typed_error(recorded: Any, client_for: Any, contents: Any) -> None:
    """An answer of the wrong shape is a MoodleRemoteError naming the function, not a KeyError or TypeError."""
    _replay_modules(recorded, contents, {})
    settings = make_settings()
    with pytest.raises(MoodleRemoteError, match="core_course_get_contents: unexpected answer shape"):
        resolve_idnumbers(client_for(settings), 2, {"seance-1"}, _Calls())


def test_course_contents_error_arrives_typed(recorded: Any, client_for: Any) -> None:
    """Moodle's own error (recorded: a course that does not exist) is the transport's typed NotFound."""
    replay_by_call(recorded, {
        ("core_course_get_contents", None): "core_course_get_contents.nonexistent_course.error.json"})
    settings = make_settings()
    with pytest.raises(NotFound):
        resolve_idnumbers(client_for(settings), 999999, {"seance-1"}, _Calls())


# ------------------------------------------------------------------------ the read plan (pure)

from datetime import UTC, datetime, timedelta  # noqa: E402

from lms_sync.pull.plan import Listed, plan_reads  # noqa: E402
from lms_sync.snapshots import STATUS_FAILED, SessionInfo, Snapshot  # noqa: E402

NOW = datetime(2021, 2, 1, 12, tzinfo=UTC)
# Two sessions with activities; the second ended on 20 January at 12:00 Tunis time (11:00Z).
SESSIONS = (SessionInfo("s1", "S1", "2021-01-06T09:00:00", "2021-01-06T12:00:00", cmid=11),
            SessionInfo("s2", "S2", "2021-01-20T09:00:00", "2021-01-20T12:00:00", cmid=12))
S2_ENDED = datetime(2021, 1, 20, 11, tzinfo=UTC)
WEEK, FINAL = timedelta(days=7), timedelta(days=3)


def previous(taken_at: datetime = NOW - timedelta(days=1), full_read_at: datetime | None = NOW - timedelta(days=2),
             completion_enabled: bool = True, sessions: tuple[SessionInfo, ...] = SESSIONS) -> Snapshot:
    """The last snapshot: taken yesterday, its last full read the day before."""
    return Snapshot(1, PROGRAMME_ID, "P", "Africa/Tunis", 2, taken_at, "calls", True, completion_enabled, sessions,
                    full_read_at=full_read_at)


def row(user_id: int = 5, lastaccess: str = "1612000000", read_at: datetime | None = NOW - timedelta(days=1),
        attended: tuple[bool | None, bool | None] = (True, True), **kw: Any) -> ParticipantRow:
    """What the last snapshot read of one participant."""
    attendance = {s.id: Attendance(a) for s, a in zip(SESSIONS, attended, strict=True)}
    return ParticipantRow(user_id, completed=False, attendance=attendance, lastaccess=lastaccess, read_at=read_at, **kw)


def reads(listed: list[Listed], last: Snapshot | None, before: list[ParticipantRow], **kw: Any):
    options: dict[str, Any] = dict(now=NOW, full_every=WEEK, final_after=FINAL, completion_enabled=True,
                                   read_activities=True, flags_given=False, sessions=SESSIONS)
    options.update(kw)
    return plan_reads(listed, last, {r.user_id: r for r in before}, **options)


@pytest.mark.parametrize(("last", "why"), [
    (None, "first pull"),
    (previous(full_read_at=None), "last full read more than 7 day(s) ago"),
    (previous(full_read_at=NOW - WEEK), "last full read more than 7 day(s) ago"),
    (previous(full_read_at=NOW - WEEK + timedelta(seconds=1)), ""),
    (previous(completion_enabled=False), "completion was switched on or off in the course"),
    (previous(sessions=(SESSIONS[0], SessionInfo("s2", "S2", "2021-01-20T09:00:00", "2021-01-20T12:00:00", cmid=13))),
     "the sessions' activities changed"),
    (previous(sessions=(SESSIONS[0], SessionInfo("s2", "S2", "2021-01-20T09:00:00", "2021-01-20T12:00:00"))),
     "the sessions' activities changed"),
])
def test_why_everyone_is_read_again(last: Snapshot | None, why: str) -> None:
    """The reason the pull's summary gives ("full read: first pull"), or an incremental pull."""
    plan = reads([Listed(5, lastaccess="1612000000")], last, [row()])
    assert (plan.full, plan.why) == (bool(why), why)
    assert plan.completion == ({5} if why else set())


def test_an_unchanged_participant_is_not_read_again() -> None:
    plan = reads([Listed(5, lastaccess="1612000000")], previous(), [row()])
    assert (plan.completion, plan.activities, plan.calls) == (frozenset(), frozenset(), 0)


def test_who_is_new_failed_or_opened_the_course_is_read_again() -> None:
    listed = [Listed(5, lastaccess="1612000000"), Listed(6, lastaccess="1612000000"), Listed(7, lastaccess="1612100000"),
              Listed(8, lastaccess="1612000000")]
    before = [row(5), row(6, status=STATUS_FAILED), row(7)]
    plan = reads(listed, previous(), before)
    assert plan.completion == plan.activities == {6, 7, 8}
    assert plan.calls == 6


def test_without_activities_to_read_only_completion_is_read() -> None:
    plan = reads([Listed(5, lastaccess="1612100000")], previous(), [row()], read_activities=False)
    assert (plan.completion, plan.activities) == ({5}, frozenset())


def test_a_source_without_last_access_reads_completion_every_time() -> None:
    """No last-access column: nothing tells whether they did something, so completion is read again."""
    plan = reads([Listed(5)], previous(), [row(lastaccess="")])
    assert plan.completion == {5}
    assert plan.activities == frozenset()  # both sessions attended: attendance once recorded is kept


def test_a_last_access_in_words_is_compared_not_parsed() -> None:
    plan = reads([Listed(5, lastaccess="1 févr. 2021")], previous(), [row(lastaccess="1 févr. 2021")])
    assert plan.calls == 0


def test_a_full_read_reads_activities_even_without_last_access() -> None:
    plan = reads([Listed(5)], previous(full_read_at=None), [row(lastaccess="", attended=(False, False))],
                 now=S2_ENDED + timedelta(days=20))
    assert plan.activities == {5}


@pytest.mark.parametrize(("attended", "taken_after_s2", "read"), [
    ((True, None), FINAL, True),  # unknown last time: read again
    ((True, False), FINAL, False),  # an absence recorded long enough after the session is final
    ((True, False), FINAL - timedelta(seconds=1), True),  # ... and not a second sooner
    ((True, False), timedelta(days=1), True),
    ((True, True), timedelta(0), False),  # attendance once recorded is kept
])
def test_an_absence_is_read_again_until_it_is_final(attended: tuple[bool | None, bool | None],
                                                    taken_after_s2: timedelta, read: bool) -> None:
    last = previous(taken_at=S2_ENDED + taken_after_s2, full_read_at=NOW - timedelta(days=1))
    plan = reads([Listed(5)], last, [row(lastaccess="", attended=attended)])
    assert plan.activities == ({5} if read else set())


def test_a_session_never_read_for_someone_is_read() -> None:
    before = [ParticipantRow(5, completed=False, attendance={"s1": Attendance(True)}, lastaccess="", read_at=NOW)]
    assert reads([Listed(5)], previous(), before).activities == {5}


@pytest.mark.parametrize(("opened_before_read", "read"), [
    (timedelta(minutes=5), False), (timedelta(minutes=5) - timedelta(seconds=1), True), (timedelta(minutes=1), True)])
def test_who_opened_the_course_just_before_being_read_is_read_again(opened_before_read: timedelta, read: bool) -> None:
    """Moodle records an access at most once a minute: what they did right before the read may not show."""
    read_at = NOW - timedelta(days=1)
    lastaccess = str(int((read_at - opened_before_read).timestamp()))
    plan = reads([Listed(5, lastaccess=lastaccess)], previous(), [row(lastaccess=lastaccess, read_at=read_at)])
    assert plan.completion == ({5} if read else set())


def test_a_row_never_timed_or_never_opened_is_not_read_for_that() -> None:
    plan = reads([Listed(5, lastaccess="1612000000"), Listed(6, lastaccess="0")], previous(),
                 [row(5, read_at=None), row(6, lastaccess="0")])
    assert plan.calls == 0
