"""Load the roster CSV the way Excel writes it (UTF-8 with or without BOM, or Windows-1252; ``,`` or ``;``)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Problem
from ..files import LEGACY_ENCODING, MAX_CSV_BYTES, decode_text, read_bytes
from ..markers import cohort_key
from .models import Participant

REQUIRED_COLUMNS = ("username", "email", "firstname", "lastname")
OPTIONAL_COLUMNS = ("institution", "department", "idnumber")

# French headers as ENA staff type them in Excel, mapped to Moodle's field names.
HEADER_ALIASES = {
    "identifiant": "username",
    "nom d'utilisateur": "username",
    "courriel": "email",
    "e-mail": "email",
    "mail": "email",
    "adresse e-mail": "email",
    "prenom": "firstname",
    "nom": "lastname",
    "etablissement": "institution",
    "organisme": "institution",
    "departement": "department",
    "direction": "department",
    "service": "department",
    "matricule": "idnumber",
    # The programme's audiences: each becomes a Moodle group of the course (see lms_sync.sync).
    "groupe": "cohort",
    "cohorte": "cohort",
}
COHORT_MAX = 254  # Moodle's groups.name

# Moodle's own rule for usernames (core_user::clean_field): lower case ASCII letters, digits, _ - . @
USERNAME_RE = re.compile(r"^[a-z0-9_.@-]+$")
# Moodle refuses non-ASCII addresses (see core_user_create_users.invalid_email_nonascii fixture).
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def load_roster(path: Path) -> tuple[list[Participant], list[Problem]]:
    """Read and validate a roster; return participants with warnings, or raise ConfigError."""
    file = str(path)
    raw = read_bytes(path, missing_hint="create it or pass another --roster PATH", max_bytes=MAX_CSV_BYTES)
    text, encoding = decode_roster(raw, file)
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ConfigError([Problem(file, "line 1", "the file is empty; the first line must name the columns")])
    delimiter = _delimiter(lines[first])
    # strict: a stray quote is an error to report, not a reason to swallow the following rows.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    for _ in range(first):
        next(reader)
    written = next(reader)
    header = [_canonical(h) for h in written]
    header_line = reader.line_num

    problems: list[Problem] = []
    if encoding != "utf-8":
        problems.append(Problem(file, "", "read as Windows-1252, what Excel writes for a plain « CSV (séparateur: "
                                "point-virgule) »; to be sure every accent is right, save it as « CSV UTF-8 »",
                                "warning"))
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        problems.append(
            Problem(
                file,
                f"line {header_line}",
                f"missing required column(s): {', '.join(missing)}; the header line must name "
                f"{', '.join(REQUIRED_COLUMNS)} (institution, department, cohort optional, more columns allowed)",
            )
        )
        raise ConfigError(problems)
    for column in ("institution", "department"):
        if column not in header:
            problems.append(
                Problem(file, f"line {header_line}", f"no {column!r} column: reports will not group by {column}",
                        "warning")
            )
    duplicates = sorted({h for h in header if h and header.count(h) > 1})
    if duplicates:
        # Aliases land on one name ("groupe" and "cohort" are both the cohort): say what was written.
        named = "; ".join(f"{d} (written {', '.join(repr(w.strip()) for w, h in zip(written, header, strict=True) if h == d)})"
                          for d in duplicates)
        problems.append(Problem(file, f"line {header_line}", f"column(s) named twice: {named}; keep one of each"))

    participants: list[Participant] = []
    usernames: dict[str, int] = {}
    emails: dict[str, int] = {}
    has_cohorts = "cohort" in header
    cohorts: dict[str, tuple[str, int]] = {}  # key -> (label as first written, its line)
    for row_line, row in _rows(reader, file):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            problems.append(
                Problem(file, f"line {row_line}", f"{len(row)} values for {len(header)} columns; check the delimiter")
            )
            continue
        values = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)}
        row_problems = _check_row(values)
        for message in row_problems:
            problems.append(Problem(file, f"line {row_line}", message))
        if row_problems:
            continue
        cohort = values.get("cohort", "") if has_cohorts else None
        if cohort:
            key = cohort_key(cohort)
            first_label, first_line = cohorts.setdefault(key, (cohort, row_line))
            if first_label != cohort:
                problems.append(Problem(file, f"line {row_line}", f"cohort {cohort!r} is written {first_label!r} on "
                                        f"line {first_line}: write every cohort exactly the same way (it names a "
                                        "Moodle group)"))
                continue
        for key, seen, label in (
            (values["username"], usernames, "username"),
            (values["email"].lower(), emails, "email"),
        ):
            if key in seen:
                problems.append(
                    Problem(file, f"line {row_line}", f"{label} {key!r} already used on line {seen[key]}")
                )
            else:
                seen[key] = row_line
        participants.append(
            Participant(
                line=row_line,
                **{c: values.get(c, "") for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS},
                cohort=cohort,
            )
        )
    if any(p.severity == "error" for p in problems):
        raise ConfigError(problems, hint=f"fix {file} and run `lms-sync validate` again")
    return participants, problems


def has_cohorts(participants: list[Participant] | None) -> bool:
    """True when the roster has a cohort column: push keeps a course group per cohort, pull reads them."""
    return participants is not None and any(p.cohort is not None for p in participants)


ENCODING_HINT = (
    "save it as UTF-8: in Excel, File > Save As > « CSV UTF-8 (délimité par des virgules) »; in LibreOffice, "
    "Save As > Text CSV, tick « Edit filter settings », character set « Unicode (UTF-8) »"
)
# Two-byte UTF-8 sequences (é is C3 A9): a file full of them is UTF-8 with a bad byte, not Windows-1252.
_UTF8_PAIR = re.compile(rb"[\xc2-\xdf][\x80-\xbf]")


def decode_roster(raw: bytes, file: str) -> tuple[str, str]:
    """The roster's text and encoding: UTF-8 (BOM or not), or Windows-1252 as French Excel saves plain CSV."""
    legacy = None if _UTF8_PAIR.search(raw) else LEGACY_ENCODING
    return decode_text(raw, file, encoding_hint=ENCODING_HINT, legacy=legacy)


def _rows(reader: Any, file: str) -> Iterator[tuple[int, list[str]]]:
    """Rows with the line each starts on; a malformed row stops the read with its line named."""
    line = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ConfigError(
                [Problem(file, f"line {line + 1}", f"malformed CSV ({exc})")],
                hint="check the quotes on that line: a value with quotes must be wholly quoted",
            ) from None
        yield line + 1, row
        line = reader.line_num


def _delimiter(header_line: str) -> str:
    # Excel in a French locale writes ';', elsewhere ','; the header line alone decides.
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _without_accents(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in plain if not unicodedata.combining(ch))


def _canonical(header: str) -> str:
    plain = _without_accents(header.strip().lower())
    return HEADER_ALIASES.get(plain, plain)


def _check_row(values: dict[str, str]) -> list[str]:
    messages = [f"column {c!r} is empty" for c in REQUIRED_COLUMNS if not values.get(c)]
    username, email = values.get("username", ""), values.get("email", "")
    if username and not USERNAME_RE.match(username):
        suggestion = _username_suggestion(username)
        hint = f"; use {suggestion!r}" if suggestion else ""
        messages.append(
            f"username {username!r} is not accepted by Moodle: lower-case ASCII letters, digits, _ - . @ only{hint}"
        )
    if email and not EMAIL_RE.match(email):
        messages.append(f"email {email!r} is malformed (Moodle accepts ASCII addresses like nom@domaine.tn)")
    if len(values.get("cohort", "")) > COHORT_MAX:
        messages.append(f"cohort is {len(values['cohort'])} characters long; Moodle's group names hold {COHORT_MAX}")
    return messages


def _username_suggestion(username: str) -> str:
    return re.sub(r"[^a-z0-9_.@-]", "", _without_accents(username.lower()))
