"""The programme file: the shipped one loads; each kind of mistake is reported with file, key and fix."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from lms_sync.cli import main
from lms_sync.errors import ConfigError
from lms_sync.program import SessionStatus, load_programme
from tests.conftest import SHIPPED_PROGRAM

GOOD = """
[program]
id = "p1"
title = "Programme"
timezone = "Africa/Tunis"
url = "https://formation.ena.tn/"
[program.organizer]
name = "DGIDT"
email = "dgidt@example.tn"

[[sessions]]
id = "s1"
title = "Séance 1"
start = 2020-12-09T09:00:00
end = 2020-12-09T12:00:00

[[sessions]]
id = "s2"
title = "Séance 2"
start = 2020-12-23T09:00:00
end = 2020-12-23T12:00:00
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "program.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_programme(path)
    return [str(p) for p in info.value.problems]


def test_shipped_programme_is_the_first_cycle() -> None:
    programme, warnings = load_programme(SHIPPED_PROGRAM)
    assert warnings == []
    assert programme.id == "dgidt-ia-2020"
    assert programme.timezone == "Africa/Tunis"
    assert programme.url == "https://formation.ena.tn/"
    assert set(programme.partners) == {"DGIDT", "ENA", "InstaDeep", "DSNAA"}
    assert [(s.start, s.end) for s in programme.sessions] == [
        (datetime(2020, 12, 9, 9), datetime(2020, 12, 9, 12)),
        (datetime(2020, 12, 23, 9), datetime(2020, 12, 23, 12)),
        (datetime(2021, 1, 6, 9), datetime(2021, 1, 6, 12)),
        (datetime(2021, 1, 20, 9), datetime(2021, 1, 20, 12)),
    ]
    assert all(s.status is SessionStatus.CONFIRMED for s in programme.sessions)


def test_end_before_start_names_the_key_path(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("end = 2020-12-23T12:00:00", "end = 2020-12-23T08:00:00"))
    assert problems_of(path) == [
        f"{path}: sessions[1].end: error: ends at 2020-12-23T08:00, not after its start 2020-12-23T09:00; "
        "fix end (or start)"
    ]


def test_duplicate_session_ids(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('id = "s2"', 'id = "s1"'))
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}: sessions[1].id: error: duplicate session id 's1' (also sessions[0])")


def test_unknown_keys_everywhere_with_a_suggestion(tmp_path: Path) -> None:
    text = GOOD.replace('title = "Séance 2"', 'title = "Séance 2"\ndescripton = "x"')
    text = text.replace('timezone = "Africa/Tunis"', 'timezone = "Africa/Tunis"\ncolour = "red"')
    text += '\n[extra]\nkey = 1\n'
    problems = problems_of(write(tmp_path, text))
    assert len(problems) == 3
    assert problems[0].endswith("extra: error: unknown key 'extra'; allowed keys: program, course, attendance, attestation, "
                                "sessions")
    assert "program.colour: error: unknown key 'colour'" in problems[1]
    assert "sessions[1].descripton: error: unknown key 'descripton'; did you mean 'description'?" in problems[2]


def test_unknown_timezone(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("Africa/Tunis", "Africa/Tunisia"))
    assert problems_of(path) == [
        f"{path}: program.timezone: error: unknown timezone 'Africa/Tunisia'; use an IANA name such as Africa/Tunis"
    ]


def test_malformed_date_says_how_to_write_it(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("start = 2020-12-23T09:00:00", 'start = "23/12/2020 9h"'))
    assert problems_of(path) == [
        f"{path}: sessions[1].start: error: '23/12/2020 9h' is not a date-time; write a local date-time like "
        "2020-12-09T09:00:00 (no quotes, no offset)"
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("Africa/Tunis", "Mars/Base").replace('id = "s2"', 'id = "s1"')
    text = text.replace("end = 2020-12-09T12:00:00", "end = 2020-12-09T08:00:00")
    locations = [p.split(": ")[1] for p in problems_of(write(tmp_path, text))]
    assert locations == ["program.timezone", "sessions[1].id", "sessions[0].end"]


def test_unknown_key_in_a_nested_table_lists_that_tables_keys(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('name = "DGIDT"', 'name = "DGIDT"\nmail = "x@y.tn"'))
    assert problems_of(path) == [
        f"{path}: program.organizer.mail: error: unknown key 'mail'; did you mean 'email'? allowed keys: name, email"
    ]


def test_empty_file_says_what_is_missing_once(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    assert problems_of(path) == [
        f"{path}: program: error: the [program] table is missing; add it with id, title, timezone, url, organizer"
    ]


@pytest.mark.parametrize("value", ['"2020-12-09T08:00:00Z"', "2020-12-09T08:00:00Z", '"2020-12-09T09:00:00+01:00"'])
def test_quoted_or_unquoted_offsets_are_refused_not_converted(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, GOOD.replace("start = 2020-12-09T09:00:00", f"start = {value}"))
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}: sessions[0].start: error: 2020-12-09T0")
    assert "has an offset" in problem and "session times are local times in the programme's timezone " \
        "(Africa/Tunis)" in problem
    assert "without it" in problem


def test_offsets_with_a_bad_timezone_do_not_crash(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("Africa/Tunis", "Nowhere").replace(
        "start = 2020-12-09T09:00:00", "start = 2020-12-09T08:00:00Z"))
    assert [p.split(": ")[1] for p in problems_of(path)] == ["program.timezone", "sessions[0].start"]


@pytest.mark.parametrize(
    ("start", "words"),
    [
        ("2021-03-28T02:30:00", "2021-03-28T02:30 does not exist in Europe/Paris: on 2021-03-28 the clocks go "
                                "forward from 02:00 to 03:00"),
        ("2021-10-31T02:30:00", "2021-10-31T02:30 happens twice in Europe/Paris: on 2021-10-31 the clocks go "
                                "back from 03:00 to 02:00"),
    ],
)
def test_a_local_time_the_clocks_skip_or_repeat_is_an_error(tmp_path: Path, start: str, words: str) -> None:
    text = GOOD.replace("Africa/Tunis", "Europe/Paris").replace("start = 2020-12-09T09:00:00", f"start = {start}")
    text = text.replace("end = 2020-12-09T12:00:00", "end = 2021-12-09T12:00:00")
    [problem] = [p for p in problems_of(write(tmp_path, text)) if "overlaps" not in p]
    assert problem.startswith(f"{tmp_path / 'program.toml'}: sessions[0].start: error: session 's1': {words}")


def test_times_next_to_a_change_of_clocks_are_fine(tmp_path: Path) -> None:
    text = GOOD.replace("Africa/Tunis", "Europe/Paris").replace("start = 2020-12-09T09:00:00", "start = 2021-03-28T03:00:00")
    text = text.replace("end = 2020-12-09T12:00:00", "end = 2021-10-31T01:59:00")
    programme, _ = load_programme(write(tmp_path, text))
    assert programme.sessions[0].start == datetime(2021, 3, 28, 3, 0)


def test_a_session_in_year_9999_is_an_error_not_a_crash(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = workdir / "config" / "program.toml"
    program.write_text(program.read_text().replace("start = 2020-12-09T09:00:00", "start = 9999-12-31T22:00:00")
                       .replace("end = 2020-12-09T12:00:00", "end = 9999-12-31T23:59:00"))
    assert main(["feed", "--out", "x.ics"]) == 2
    err = capsys.readouterr().err
    assert "sessions[0].start: error: 9999-12-31T22:00 is outside the years lms_sync accepts (2000 to 2099)" in err
    assert "internal error" not in err and not (workdir / "x.ics").exists()


def test_a_date_without_time_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("start = 2020-12-09T09:00:00", "start = 2020-12-09"))
    assert problems_of(path) == [
        f"{path}: sessions[0].start: error: 2020-12-09 has no time of day; write it like 2020-12-09T09:00:00"
    ]


def test_control_characters_are_dropped_from_text(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('title = "Séance 1"', 'title = "Séance\\u000b 1\\u0000"'))
    programme, _ = load_programme(path)
    assert programme.sessions[0].title == "Séance 1"


def test_toml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('title = "Séance 1"', 'title = "Séance 1'))
    assert problems_of(path) == [f"{path}: line 13, column 18: error: not valid TOML: Illegal character '\\n'"]


def test_overlapping_sessions_are_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("2020-12-23T09:00:00", "2020-12-09T11:00:00").replace(
        "2020-12-23T12:00:00", "2020-12-09T13:00:00"))
    programme, warnings = load_programme(path)
    assert len(programme.sessions) == 2
    assert [str(w) for w in warnings] == [
        f"{path}: sessions[1].start: warning: session 's2' overlaps session 's1' (sessions[0])"
    ]


def test_a_session_nested_inside_a_long_one_is_reported(tmp_path: Path) -> None:
    text = GOOD.replace("end = 2020-12-09T12:00:00", "end = 2020-12-09T17:00:00")
    text = text.replace("2020-12-23T09:00:00", "2020-12-09T10:00:00").replace("2020-12-23T12:00:00", "2020-12-09T11:00:00")
    text += '[[sessions]]\nid = "s3"\ntitle = "S3"\nstart = 2020-12-09T12:00:00\nend = 2020-12-09T13:00:00\n'
    _, warnings = load_programme(write(tmp_path, text))
    assert [w.location for w in warnings] == ["sessions[1].start", "sessions[2].start"]


def test_validate_exits_2_without_traceback_and_writes_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = workdir / "config" / "program.toml"
    program.write_text(program.read_text().replace('end = 2021-01-20T12:00:00', 'end = 2021-01-20T08:00:00'))
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert "config/program.toml: sessions[3].end: error: ends at 2021-01-20T08:00" in err
    assert "hint: fix the files named above" in err
    assert "Traceback" not in err
    assert main(["feed", "--out", "public/sessions.ics"]) == 2
    assert not (workdir / "var").exists() and not (workdir / "public").exists()


def test_missing_programme_file(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--program", "nowhere.toml", "validate"]) == 2
    assert "nowhere.toml: error: file not found" in capsys.readouterr().err


def session_text(session_id: str | None, start: str, end: str, extra: str = "") -> str:
    """One more [[sessions]] table (without id when ``session_id`` is None)."""
    head = f'id = "{session_id}"\n' if session_id else ""
    return f'\n[[sessions]]\n{head}title = "S"\nstart = {start}\nend = {end}\n{extra}'


def test_the_course_table_is_read(tmp_path: Path) -> None:
    text = GOOD + '\n[course]\nshortname = "IA-2020"\nfullname = "Cycle IA"\ncategory_name = "Formations"\n'
    programme, _ = load_programme(write(tmp_path, text))
    assert (programme.course.shortname, programme.course.fullname, programme.course.category_name) == (
        "IA-2020", "Cycle IA", "Formations")


def test_a_course_that_is_not_a_table_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, 'course = "IA"\n' + GOOD)
    assert problems_of(path) == [f"{path}: course: error: must be a table of key = value pairs"]


def test_a_session_of_no_length_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("end = 2020-12-23T12:00:00", "end = 2020-12-23T09:00:00"))
    assert problems_of(path) == [
        f"{path}: sessions[1].end: error: ends at 2020-12-23T09:00, not after its start 2020-12-23T09:00; "
        "fix end (or start)"
    ]


def test_back_to_back_sessions_do_not_overlap(tmp_path: Path) -> None:
    text = GOOD.replace("2020-12-23T09:00:00", "2020-12-09T12:00:00").replace("2020-12-23T12:00:00", "2020-12-09T14:00:00")
    _, warnings = load_programme(write(tmp_path, text))
    assert warnings == []


def test_sessions_out_of_order_are_checked_for_overlap(tmp_path: Path) -> None:
    # s2 first in the file, s1 later; s3 (written last) starts inside s2.
    text = GOOD.replace("2020-12-09T09:00:00", "2020-12-24T09:00:00").replace("2020-12-09T12:00:00", "2020-12-24T12:00:00")
    text += session_text("s3", "2020-12-23T11:00:00", "2020-12-23T13:00:00")
    path = write(tmp_path, text)
    _, warnings = load_programme(path)
    assert [str(w) for w in warnings] == [
        f"{path}: sessions[2].start: warning: session 's3' overlaps session 's2' (sessions[1])"
    ]


def test_a_cancelled_session_overlaps_nothing(tmp_path: Path) -> None:
    text = GOOD.replace("2020-12-23T09:00:00", "2020-12-09T11:00:00").replace("2020-12-23T12:00:00", "2020-12-09T13:00:00")
    _, warnings = load_programme(write(tmp_path, text.replace('title = "Séance 2"', 'title = "Séance 2"\nstatus = "cancelled"')))
    assert warnings == []
    _, warnings = load_programme(write(tmp_path, text.replace('title = "Séance 1"', 'title = "Séance 1"\nstatus = "cancelled"')))
    assert warnings == []


def test_sessions_that_are_not_an_array_of_tables(tmp_path: Path) -> None:
    head = GOOD.split("[[sessions]]")[0]
    path = write(tmp_path, 'sessions = "s1"\n' + head)
    assert problems_of(path) == [
        f"{path}: sessions: error: must be an array of tables: write each session as [[sessions]]"
    ]
    path = write(tmp_path, 'sessions = ["s1"]\n' + head)
    assert problems_of(path) == [f"{path}: sessions[0]: error: must be a table of key = value pairs"]


def test_a_session_without_id_does_not_hide_later_duplicates(tmp_path: Path) -> None:
    text = GOOD + session_text(None, "2021-01-06T09:00:00", "2021-01-06T12:00:00")
    text += session_text("s1", "2021-01-20T09:00:00", "2021-01-20T12:00:00")
    path = write(tmp_path, text)
    problems = problems_of(path)
    assert problems[0] == f"{path}: sessions[2].id: error: required key is missing"
    assert problems[1].startswith(f"{path}: sessions[3].id: error: duplicate session id 's1' (also sessions[0])")
    assert len(problems) == 2


def test_a_programme_without_sessions_loads_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.split("[[sessions]]")[0])
    programme, warnings = load_programme(path)
    assert programme.sessions == ()
    assert [str(w) for w in warnings] == [f"{path}: sessions: warning: the programme has no [[sessions]]"]


def test_a_program_that_is_not_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, 'program = "p1"\n' + GOOD.split("[[sessions]]", 1)[1].join(["[[sessions]]", ""]))
    assert problems_of(path)[0] == (
        f"{path}: program: error: the [program] table is missing; add it with id, title, timezone, url, organizer")


def test_an_activity_per_session_is_refused_with_the_attendance_activity(tmp_path: Path) -> None:
    text = GOOD.replace('title = "Séance 2"', 'title = "Séance 2"\nactivity = 12')
    text += '\n[attendance]\nsource = "mod_attendance"\nactivity = "presence"\n'
    path = write(tmp_path, text)
    assert problems_of(path) == [
        f'{path}: sessions[1].activity: error: with [attendance] source = "mod_attendance" attendance is taken in '
        "the Attendance activity: remove this session's activity"
    ]
    programme, _ = load_programme(write(tmp_path, text.replace("activity = 12\n", "")))
    assert programme.attendance is not None and programme.attendance.activity == "presence"


def test_an_activity_per_session_is_kept_with_activity_completion(tmp_path: Path) -> None:
    text = GOOD.replace('title = "Séance 2"', 'title = "Séance 2"\nactivity = 12')
    programme, _ = load_programme(write(tmp_path, text + '\n[attendance]\nsource = "activity_completion"\n'))
    assert programme.sessions[1].activity == 12


@pytest.mark.parametrize(("value", "words"), [
    ('"2020-12-09T08:00:00Z"', "2020-12-09T08:00:00Z has an offset (Z); "),
    ("2020-12-09T09:00:00+01:00", "2020-12-09T09:00:00+01:00 has an offset (+01:00); "),
    ('"2020-12-09T07:30:00-01:30"', "2020-12-09T07:30:00-01:30 has an offset (-01:30); "),
])
def test_the_offset_refused_is_named_with_the_local_time_to_write(tmp_path: Path, value: str, words: str) -> None:
    path = write(tmp_path, GOOD.replace("start = 2020-12-09T09:00:00", f"start = {value}"))
    local = value.strip('"')[:19]
    assert problems_of(path) == [
        f"{path}: sessions[0].start: error: {words}session times are local times in the programme's timezone "
        f"(Africa/Tunis): write {local} without it, after checking it is the local time meant"
    ]


def test_an_offset_without_a_timezone_points_at_the_setting(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('timezone = "Africa/Tunis"\n', "").replace(
        "start = 2020-12-09T09:00:00", "start = 2020-12-09T08:00:00Z"))
    problems = problems_of(path)
    assert f"{path}: program.timezone: error: required key is missing" in problems
    assert any("session times are local times in the programme's timezone ([program] timezone)" in p for p in problems)


@pytest.mark.parametrize(("zone", "start", "words"), [
    # Tunis moved its clocks in 2008; Lord Howe moves them by half an hour.
    ("Africa/Tunis", "2008-03-30T02:15:00", "does not exist in Africa/Tunis: on 2008-03-30 the clocks go forward "
                                            "from 02:00 to 03:00"),
    ("Australia/Lord_Howe", "2021-04-04T01:45:00", "happens twice in Australia/Lord_Howe: on 2021-04-04 the clocks "
                                                   "go back from 02:00 to 01:30"),
    ("Europe/Paris", "2021-03-28T02:59:00", "does not exist in Europe/Paris: on 2021-03-28 the clocks go forward "
                                            "from 02:00 to 03:00"),
])
def test_the_change_of_clocks_is_named_to_the_minute(tmp_path: Path, zone: str, start: str, words: str) -> None:
    text = GOOD.replace("Africa/Tunis", zone).replace("start = 2020-12-09T09:00:00", f"start = {start}")
    text = text.replace("end = 2020-12-09T12:00:00", "end = 2021-12-10T12:00:00")
    [problem] = [p for p in problems_of(write(tmp_path, text)) if "overlaps" not in p]
    assert f"sessions[0].start: error: session 's1': {start[:16]} {words}; choose a time outside that hour" in problem


def test_years_outside_the_range_are_refused_at_both_ends(tmp_path: Path) -> None:
    text = GOOD.replace("start = 2020-12-09T09:00:00", "start = 1999-12-31T09:00:00")
    text = text.replace("end = 2020-12-23T12:00:00", "end = 2100-01-01T12:00:00")
    path = write(tmp_path, text)
    problems = problems_of(path)
    assert f"{path}: sessions[0].start: error: 1999-12-31T09:00 is outside the years lms_sync accepts (2000 to 2099); " \
        "check the year" in problems
    assert any(p.startswith(f"{path}: sessions[1].end: error: 2100-01-01T12:00 is outside") for p in problems)
    ok = GOOD.replace("start = 2020-12-09T09:00:00", "start = 2000-01-01T09:00:00").replace(
        "end = 2020-12-23T12:00:00", "end = 2099-12-31T12:00:00")
    assert load_programme(write(tmp_path, ok))[0].sessions[1].end.year == 2099


@pytest.mark.parametrize(("old", "new", "message"), [
    ('email = "dgidt@example.tn"', 'email = "dgidt"', "program.organizer.email: error: 'dgidt' is not an email address"),
    ('id = "s1"', 'id = "S 1"', "sessions[0].id: error: 'S 1': use lower-case letters, digits, '-', '_' or '.', "
                                "starting with a letter or digit"),
    ('title = "Séance 1"', 'title = "Séance 1"\nstatus = "postponed"',
     "sessions[0].status: error: 'postponed' is not allowed; use one of: 'confirmed' or 'cancelled'"),
])
def test_each_kind_of_bad_value_gets_its_own_message(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = write(tmp_path, GOOD.replace(old, new, 1))
    assert problems_of(path) == [f"{path}: {message}"]


def test_both_ends_of_one_session_are_checked(tmp_path: Path) -> None:
    """A bad start does not hide a bad end of the same session, nor a fine start a skipped end."""
    text = GOOD.replace("start = 2020-12-09T09:00:00", "start = 1999-12-31T09:00:00").replace(
        "end = 2020-12-09T12:00:00", "end = 2100-01-01T12:00:00")
    locations = [p.split(": ")[1] for p in problems_of(write(tmp_path, text)) if "outside the years" in p]
    assert locations == ["sessions[0].start", "sessions[0].end"]
    paris = GOOD.replace("Africa/Tunis", "Europe/Paris").replace("start = 2020-12-09T09:00:00", "start = 2021-03-27T20:00:00")
    paris = paris.replace("end = 2020-12-09T12:00:00", "end = 2021-03-28T02:30:00")
    [problem] = [p for p in problems_of(write(tmp_path, paris)) if "overlaps" not in p]
    assert "sessions[0].end: error: session 's1': 2021-03-28T02:30 does not exist in Europe/Paris" in problem


def test_a_missing_file_says_how_to_get_one(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The loader's hint reaches the user instead of a general "fix the programme file"."""
    assert main(["--program", "nowhere.toml", "feed", "--out", "x.ics"]) == 2
    err = capsys.readouterr().err
    assert "nowhere.toml: error: file not found" in err
    assert "hint: create it (see config/program.toml in the repository) or pass --program PATH" in err


def test_the_error_names_the_file_to_fix(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("end = 2020-12-23T12:00:00", "end = 2020-12-23T08:00:00"))
    with pytest.raises(ConfigError) as info:
        load_programme(path)
    assert info.value.hint == f"fix {path} and run `lms-sync validate` again"


def test_a_bad_item_of_a_list_is_named_by_its_index(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + '\n[attendance]\nsource = "mod_attendance"\ncreate = true\nattended = ["P", 3]\n')
    assert [p.split(": ")[1] for p in problems_of(path)] == ["attendance.attended[1]"]


def test_of_two_sessions_ending_together_the_first_is_named(tmp_path: Path) -> None:
    text = GOOD.replace("2020-12-23T09:00:00", "2020-12-09T10:00:00").replace("2020-12-23T12:00:00", "2020-12-09T12:00:00")
    text += session_text("s3", "2020-12-09T11:00:00", "2020-12-09T13:00:00")
    path = write(tmp_path, text)
    _, warnings = load_programme(path)
    assert [str(w).split("warning: ")[1] for w in warnings] == [
        "session 's2' overlaps session 's1' (sessions[0])", "session 's3' overlaps session 's1' (sessions[0])"]


def test_a_session_of_no_length_is_not_also_reported_as_overlapping(tmp_path: Path) -> None:
    text = GOOD.replace("start = 2020-12-23T09:00:00", "start = 2020-12-09T10:00:00").replace(
        "end = 2020-12-23T12:00:00", "end = 2020-12-09T10:00:00")
    path = write(tmp_path, text)
    assert problems_of(path) == [
        f"{path}: sessions[1].end: error: ends at 2020-12-09T10:00, not after its start 2020-12-09T10:00; fix end (or start)"]


def test_an_end_with_an_offset_is_refused_too(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("end = 2020-12-09T12:00:00", "end = 2020-12-09T11:00:00Z"))
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}: sessions[0].end: error: 2020-12-09T11:00:00+00:00 has an offset (Z)")


def test_only_start_and_end_are_read_as_times(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('title = "Séance 1"', 'title = "2020-12-09T09:00:00+01:00"'))
    programme, _ = load_programme(path)
    assert programme.sessions[0].title == "2020-12-09T09:00:00+01:00"


def test_each_problem_names_its_file_and_table(tmp_path: Path) -> None:
    text = GOOD.replace('id = "s2"', 'id = "s1"') + '\n[extra]\nkey = 1\n\n[attendance]\nsource = "paper"\n'
    path = write(tmp_path, text)
    assert problems_of(path) == [
        f"{path}: extra: error: unknown key 'extra'; allowed keys: program, course, attendance, attestation, sessions",
        f"{path}: attendance.source: error: 'paper' is not allowed; use one of: 'activity_completion' or "
        "'mod_attendance'",
        f"{path}: sessions[1].id: error: duplicate session id 's1' (also sessions[0]); each session needs its own id, "
        "and an id must never be reused for another session",
    ]
