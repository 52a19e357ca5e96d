"""The roster CSV as Excel writes it, and every mistake reported with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lms_sync.cli import main
from lms_sync.errors import ConfigError
from lms_sync.program import load_roster
from tests.conftest import SHIPPED_ROSTER

HEADER = "username;email;firstname;lastname;institution;department\n"


def write(tmp_path: Path, text: str, *, bom: bool = False) -> Path:
    path = tmp_path / "roster.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_roster(path)
    return [str(p) for p in info.value.problems]


def test_shipped_example_has_accented_names() -> None:
    participants, warnings = load_roster(SHIPPED_ROSTER)
    assert warnings == []
    names = [(p.firstname, p.lastname) for p in participants]
    assert ("Zoé-Gaëlle", "Dubœuf d'Arçy") in names and ("Hélène", "Lefèvre") in names
    assert participants[0].line == 2


@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("delimiter", [";", ","])
def test_excel_variants_read_the_same(tmp_path: Path, bom: bool, delimiter: str) -> None:
    text = HEADER + "hlefevre;h@x.tn;Hélène;Lefèvre;Ministère de l'Industrie;DGIDT\n"
    participants, _ = load_roster(write(tmp_path, text.replace(";", delimiter), bom=bom))
    assert [(p.username, p.firstname, p.institution) for p in participants] == [
        ("hlefevre", "Hélène", "Ministère de l'Industrie")
    ]


def test_quoted_fields_with_delimiters_and_extra_columns(tmp_path: Path) -> None:
    text = "username,email,firstname,lastname,institution,department,phone\n" \
           'zdubeuf,z@x.tn,Zoé,"Dubœuf, d\'Arçy",STEG,DSI,71000000\n'
    (participant,), _ = load_roster(write(tmp_path, text))
    assert participant.lastname == "Dubœuf, d'Arçy"


def test_french_headers_are_understood(tmp_path: Path) -> None:
    text = "Identifiant;Courriel;Prénom;Nom;Établissement;Direction\nhl;h@x.tn;Hélène;Lefèvre;ENA;DSI\n"
    (participant,), _ = load_roster(write(tmp_path, text))
    assert (participant.username, participant.email, participant.institution) == ("hl", "h@x.tn", "ENA")


def test_duplicates_malformed_and_empty_values_with_line_numbers(tmp_path: Path) -> None:
    text = HEADER + (
        "a;a@x.tn;A;A;I;D\n"
        "\n"
        "b;A@x.tn;B;B;I;D\n"
        "a;c@x.tn;C;C;I;D\n"
        "d;not-an-email;D;D;I;D\n"
        "Émile;e@x.tn;E;E;I;D\n"
        "f;f@x.tn;;F;I;D\n"
    )
    path = write(tmp_path, text)
    assert problems_of(path) == [
        f"{path}: line 4: error: email 'a@x.tn' already used on line 2",
        f"{path}: line 5: error: username 'a' already used on line 2",
        f"{path}: line 6: error: email 'not-an-email' is malformed (Moodle accepts ASCII addresses like nom@domaine.tn)",
        f"{path}: line 7: error: username 'Émile' is not accepted by Moodle: lower-case ASCII letters, digits, "
        "_ - . @ only; use 'emile'",
        f"{path}: line 8: error: column 'firstname' is empty",
    ]


def test_missing_required_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "username;firstname;lastname\na;A;A\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}: line 1: error: missing required column(s): email;")


def test_missing_optional_columns_is_a_warning(tmp_path: Path) -> None:
    participants, warnings = load_roster(write(tmp_path, "username,email,firstname,lastname\na,a@x.tn,A,A\n"))
    assert len(participants) == 1
    assert [w.severity for w in warnings] == ["warning", "warning"]


def test_a_roster_from_french_excel_plain_csv_is_read_with_a_warning(workdir: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Excel's plain « CSV (séparateur: point-virgule) » in a French Windows is Windows-1252."""
    path = workdir / "roster.csv"
    path.write_bytes((HEADER + "hlefevre;h@x.tn;Hélène;Lefèvre;Ministère de l'Industrie;Études\n").encode("cp1252"))
    participants, warnings = load_roster(path)
    assert (participants[0].firstname, participants[0].lastname, participants[0].institution) == (
        "Hélène", "Lefèvre", "Ministère de l'Industrie")
    assert [str(w) for w in warnings] == [
        f"{path}: warning: read as Windows-1252, what Excel writes for a plain « CSV (séparateur: point-virgule) »; "
        "to be sure every accent is right, save it as « CSV UTF-8 »"]
    assert main(["--roster", "roster.csv", "validate"]) == 0
    assert "read as Windows-1252" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ((HEADER + "a;a@x.tn;Hélène;L;I;D\n").encode("utf-16"), "is UTF-16 (Excel's « Texte Unicode »), not UTF-8"),
        (HEADER.encode() + b"a;a@x.tn;H\x81l;L;I;D\n", "line 2: error: is neither UTF-8 nor Windows-1252"),
        # Mostly UTF-8 with one bad byte: not taken for Windows-1252 (that would garble every accent).
        (HEADER.encode() + "a;a@x.tn;Hélène;".encode() + b"L\xe8;I;D\n", "line 2: error: not valid UTF-8"),
    ],
    ids=["utf-16", "not-1252", "broken-utf-8"],
)
def test_other_encodings_are_an_error_saying_how_to_save(tmp_path: Path, data: bytes, words: str) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        load_roster(path)
    [problem] = [str(p) for p in info.value.problems]
    assert words in problem
    assert "« CSV UTF-8 (délimité par des virgules) »" in problem  # the fix travels with the problem


def test_validate_with_a_bad_roster_exits_2(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "bad.csv").write_text(HEADER + "a;a@x;A;A;I;D\n", encoding="utf-8")
    assert main(["--roster", "bad.csv", "validate"]) == 2
    assert "bad.csv: line 2: error: email 'a@x' is malformed" in capsys.readouterr().err


def test_a_stray_quote_is_reported_not_swallowed(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + 'a;a@x.tn;"A;A;I;D\nb;b@x.tn;B;B;I;D\n')
    with pytest.raises(ConfigError) as info:
        load_roster(path)
    (problem,) = info.value.problems
    assert problem.location == "line 2" and problem.message.startswith("malformed CSV")


def test_leading_blank_lines_are_skipped(tmp_path: Path) -> None:
    participants, _ = load_roster(write(tmp_path, "\n\n" + HEADER + "a;a@x.tn;A;A;I;D\nb;b@x.tn;B;B;I;\n"))
    assert [(p.username, p.line) for p in participants] == [("a", 4), ("b", 5)]


def test_multi_line_quoted_cells_keep_line_numbers(tmp_path: Path) -> None:
    text = HEADER + 'a;a@x.tn;A;A;"Ministère\nde l\'Industrie";D\nb;bad;B;B;I;D\n'
    path = write(tmp_path, text)
    assert problems_of(path) == [
        f"{path}: line 4: error: email 'bad' is malformed (Moodle accepts ASCII addresses like nom@domaine.tn)"
    ]


def test_the_count_above_the_problems_matches_them(tmp_path: Path) -> None:
    """Errors and warnings counted apart, as listed (it once said "2 problem(s)" above three lines)."""
    path = tmp_path / "roster.csv"
    path.write_text("username;email;firstname;lastname\nBad User;x@y.tn;A;B\nok;not-an-email;A;B\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_roster(path)
    lines = str(caught.value).splitlines()
    assert lines[0] == "2 problems and 2 warnings found:"
    assert sum(": error: " in line for line in lines) == 2 and sum(": warning: " in line for line in lines) == 2


@pytest.mark.parametrize("column", ["cohort", "Groupe", "Cohorte"])
def test_a_cohort_column_under_its_french_names(tmp_path: Path, column: str) -> None:
    """The cohort column (groupe, cohorte) gives each participant a cohort; an empty cell is none."""
    text = (f"username;email;firstname;lastname;institution;department;{column}\n"
            "a;a@x.tn;A;A;STEG;DSI;Responsables informatiques\nb;b@x.tn;B;B;STEG;DSI;\n")
    participants, _ = load_roster(write(tmp_path, text))
    assert [p.cohort for p in participants] == ["Responsables informatiques", ""]


def test_without_a_cohort_column_cohorts_are_left_alone(tmp_path: Path) -> None:
    participants, _ = load_roster(write(tmp_path, HEADER + "a;a@x.tn;A;A;STEG;DSI\n"))
    assert participants[0].cohort is None


def test_a_cohort_spelt_two_ways_is_refused(tmp_path: Path) -> None:
    """Two spellings of one cohort would make two groups, or fight over one: the line is named."""
    text = ("username;email;firstname;lastname;institution;department;groupe\n"
            "a;a@x.tn;A;A;STEG;DSI;Responsables informatiques\nb;b@x.tn;B;B;STEG;DSI;responsables  Informatiques\n")
    problems = problems_of(write(tmp_path, text))
    assert len(problems) == 1 and "line 3" in problems[0] and "'Responsables informatiques' on line 2" in problems[0]


def test_shipped_example_has_the_two_audiences() -> None:
    participants, _ = load_roster(SHIPPED_ROSTER)
    assert {p.cohort for p in participants} == {"Administrations et entreprises publiques",
                                               "Responsables informatiques"}


def test_a_cohort_column_under_two_names_says_which_were_written(tmp_path: Path) -> None:
    """"groupe" and "cohort" both mean the cohort: the error names what the file says, not the inner name only."""
    text = ("username;email;firstname;lastname;institution;department;Groupe;cohort\n"
            "a;a@x.tn;A;A;STEG;DSI;Responsables informatiques;x\n")
    assert problems_of(write(tmp_path, text)) == [
        f"{tmp_path / 'roster.csv'}: line 1: error: column(s) named twice: cohort (written 'Groupe', 'cohort'); "
        "keep one of each"]
