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
